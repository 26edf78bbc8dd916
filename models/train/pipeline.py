#!/usr/bin/env python3
"""From trained checkpoints to the Table 1/2 rows (issue 6): compress, measure, record.

For one architecture whose `train.py` run finished in WORK/<arch>/, this
  1. writes the evaluation inputs (prepare_eval.py: synthetic test split + real photos),
  2. compresses one file per method with the release `slimscan` CLI:
       ptq        f32.onnx, 8-bit weights, static 8-bit activation ranges calibrated on 100
                  training images, 99.99th percentile (the engine then runs W8A8)
       ptq_kl     the same with KL (entropy) calibration (extra row)
       ptq_w8     f32.onnx, 8-bit weights only; the engine quantizes activations dynamically
                  (as for the QAT files, whose QDQ nodes carry weight scales only)
       ptq_gptq   the same plus GPTQ rounding on 128 training images (extra row)
       qat        qat_qdq.onnx, 8-bit with the QAT weight scales as they are
       pruned     pruned.onnx in f32 (--quant none): f32 byte planes, Huffman-coded, so the
                  zeros compress; the engine runs these layers as f32 ONNX ops
       prune_qat  prune_qat_qdq.onnx, sparse int8 with QAT scales, fixed-width streams
       dc         prune_qat_qdq.onnx, sparse int8 + Huffman: the full slimscan file
     (the trained zeros are kept as they are: the compressor stores any weight tensor with
     enough zeros sparse, so no --prune is given),
  3. measures top-1 of every file (and of f32.onnx, run by tract f32 in the same wasm) with
     benches/classifier/eval.mjs (our wasm engine, Node),
  4. times them in headless Chromium, 1 thread, with benches/engine/bench.mjs (median of
     --runs runs, round-robin, peak wasm memory), beside onnxruntime-web on f32.onnx,
  5. copies the committed files to models/classifier/ and writes
     models/train/results/<arch>.json.

Without the training outputs (a fresh clone: WORK/<arch>/ holds no ONNX files) it re-measures
the committed files instead: models/classifier/<arch>_f32.onnx as the f32 row (the PTQ rows
are compressed from it again), the committed .slim file of every row whose source is
missing, and the training section of the committed results JSON. So an engine change is
measured on the same models without retraining.

    python models/train/pipeline.py --arch mobilenet_v2 --work models/train/work --size 112
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../.."))
sys.path.insert(0, HERE)
from train import CLASSES, MEAN, STD  # noqa: E402

METHODS = [
    # (key, source file in WORK/<arch>, compress options)
    ("ptq", "f32.onnx", ["--calib", "{calib}", "--calib-count", "100", "--calib-method", "percentile"]),
    ("ptq_kl", "f32.onnx", ["--calib", "{calib}", "--calib-count", "100", "--calib-method", "entropy"]),
    ("ptq_w8", "f32.onnx", []),
    ("ptq_gptq", "f32.onnx", ["--calib", "{calib}", "--calib-count", "100", "--calib-method", "percentile",
                              "--gptq", "{calib}", "--gptq-count", "128"]),
    ("qat", "qat_qdq.onnx", []),
    ("pruned", "pruned.onnx", ["--quant", "none"]),
    ("prune_qat", "prune_qat_qdq.onnx", ["--no-huffman"]),
    ("dc", "prune_qat_qdq.onnx", []),
]


def run(cmd, log):
    log(" ".join(cmd))
    t = time.time()
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"pipeline.py: {' '.join(cmd)} failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}")
    log(f"  ({time.time() - t:.0f} s) {r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ''}")
    return r.stdout


def newer(path, than):
    """path exists and is at least as new as every file in `than`."""
    return os.path.exists(path) and all(os.path.getmtime(path) >= os.path.getmtime(t) for t in than)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", required=True)
    ap.add_argument("--work", default=os.path.join(HERE, "work"))
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--slimscan", default=os.environ.get("SLIMSCAN", "slimscan"))
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--commit", default="f32.onnx,ptq,ptq_w8,qat,pruned,prune_qat,dc",
                    help="files copied to models/classifier/ (method keys, or f32.onnx)")
    ap.add_argument("--methods", default=",".join(m[0] for m in METHODS),
                    help="rows to make (default: all)")
    ap.add_argument("--skip-timing", action="store_true",
                    help="no Chromium timing (e.g. while another model trains); rerun later to add it")
    ap.add_argument("--redo", action="store_true", help="recompress and re-evaluate even if current")
    a = ap.parse_args(argv)
    wd = os.path.join(a.work, a.arch)
    out = os.path.join(wd, "slim")
    os.makedirs(out, exist_ok=True)
    log_fh = open(os.path.join(wd, "pipeline.log"), "a")

    def log(msg):
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, file=sys.stderr, flush=True)
        log_fh.write(line + "\n"); log_fh.flush()

    dest = os.path.join(ROOT, "models", "classifier")
    results_path = os.path.join(HERE, "results", f"{a.arch}.json")
    train_json = os.path.join(wd, "train_results.json")
    prev = json.load(open(results_path)) if os.path.exists(results_path) else {}
    if os.path.exists(train_json):
        train = json.load(open(train_json))
    elif "train" in prev:
        log(f"{train_json} missing: training numbers taken from {os.path.relpath(results_path, ROOT)}")
        train = prev["train"]
    else:
        sys.exit(f"pipeline.py: neither {train_json} nor {results_path} exists: run train.py first")
    t_start = time.time()

    def is_committed(path):
        """The file lies in models/classifier/ (a committed copy, measured where it lies)."""
        return os.path.dirname(os.path.abspath(path)) == dest

    def source(name):
        """A training output in WORK/<arch>/, or for the f32 ONNX its committed copy."""
        path = os.path.join(wd, name)
        committed_f32 = os.path.join(dest, f"{a.arch}_f32.onnx")
        if not os.path.exists(path) and name == "f32.onnx" and os.path.exists(committed_f32):
            return committed_f32
        return path

    # 1. evaluation inputs
    sets = os.path.join(a.work, f"eval_{a.size}")
    if not all(os.path.exists(os.path.join(sets, f"{n}.json")) for n in ("test", "world", "real_set")):
        run([sys.executable, os.path.join(HERE, "prepare_eval.py"), "--data", os.path.join(a.work, "data"),
             "--size", str(a.size), "--out", sets], log)

    # 2. compression
    manifest = os.path.join(out, "manifest.json")
    with open(manifest, "w") as fh:
        json.dump({"input_size": [a.size, a.size], "mean": MEAN, "std": STD, "channel_order": "RGB",
                   "labels": CLASSES, "task": "document-type", "arch": a.arch}, fh)
    calib = os.path.join(a.work, "data", "train")
    fmt = {"calib": calib}
    files = {"f32": source("f32.onnx")}
    if not os.path.exists(files["f32"]):
        sys.exit(f"pipeline.py: {files['f32']} missing: run train.py first")
    reports = {}
    wanted = set(a.methods.split(","))
    for key, src, opts in METHODS:
        if key not in wanted:
            continue
        src_path = source(src)
        dst = os.path.join(out, f"{a.arch}_{key}.slim")
        kept = os.path.join(dest, os.path.basename(dst))
        if not os.path.exists(src_path):
            if os.path.exists(kept):
                log(f"{key}: {src} missing, re-measuring the committed {os.path.relpath(kept, ROOT)}")
                files[key] = kept
                if key in prev.get("compress_reports", {}):
                    reports[key] = prev["compress_reports"][key]
            else:
                log(f"{key}: {src} missing, row skipped")
            continue
        cmd = [a.slimscan, "compress", src_path, "-o", dst, "--manifest", manifest, "--json"]
        cmd += [o.format(**fmt) for o in opts]
        report_path = dst + ".report.json"
        if newer(report_path, [src_path, dst]) and not a.redo:
            log(f"{key}: {os.path.basename(dst)} is current")
        else:
            with open(report_path, "w") as fh:
                fh.write(run(cmd, log))
        reports[key] = json.load(open(report_path))
        files[key] = dst

    # 3. accuracy in our engine
    # (per file: a file evaluated before and unchanged since keeps its numbers, so rows can be
    # added while later training stages still run)
    acc_json = os.path.join(wd, "engine_accuracy.json")
    acc = {} if a.redo or not os.path.exists(acc_json) else json.load(open(acc_json))["results"]
    stale = [p for p in files.values() if p not in acc or not newer(acc_json, [p])]
    if stale:
        part = acc_json + ".part"
        run(["node", "benches/classifier/eval.mjs", "--sets", sets, "--json", part, *stale], log)
        acc.update(json.load(open(part))["results"])
        with open(acc_json, "w") as fh:
            json.dump({"results": acc}, fh, indent=1)
        os.remove(part)

    # 4. speed and memory in headless Chromium
    timing = None
    tjson = os.path.join(wd, "timing.json")
    if a.skip_timing and os.path.exists(tjson) and newer(tjson, list(files.values())):
        timing = json.load(open(tjson))  # an earlier timing of these same files
    elif not a.skip_timing:
        cases = os.path.join(wd, "timing_cases.json")
        engines = [{"id": f"slim-{k}", "path": p} for k, p in files.items() if k != "f32"]
        engines += [{"id": "tract-f32", "path": files["f32"]}, {"id": "ort-f32", "path": files["f32"]}]
        with open(cases, "w") as fh:
            json.dump([{"name": a.arch, "shape": [1, 3, a.size, a.size], "engines": engines}], fh)
        run(["node", "benches/engine/bench.mjs", "--host", "chromium", "--cases", cases, "--out", tjson,
             "--runs", str(a.runs), "--warmup", "3"], log)
        timing = json.load(open(tjson))
    by_id = {e["id"]: e for e in timing["cases"][0]["engines"]} if timing else {}

    # 5. committed files (copied before the rows are written, so that the rows name them)
    committed = {}
    for key in filter(None, a.commit.split(",")):
        k = "f32" if key == "f32.onnx" else key
        if k in files and is_committed(files[k]):
            committed[k] = os.path.relpath(files[k], ROOT)  # re-measured where it lies
        elif k in files:
            os.makedirs(dest, exist_ok=True)
            name = f"{a.arch}_f32.onnx" if k == "f32" else os.path.basename(files[k])
            shutil.copyfile(files[k], os.path.join(dest, name))
            committed[k] = os.path.relpath(os.path.join(dest, name), ROOT)

    # 6. rows
    f32_bytes = os.path.getsize(files["f32"])
    base_acc = acc[files["f32"]]["test"]["top1"]
    base_real = acc[files["f32"]].get("real", {}).get("top1")
    rows = []
    for key, path in files.items():
        eng = by_id.get("tract-f32" if key == "f32" else f"slim-{key}", {})
        r = {"method": key, "file": committed.get(key, os.path.relpath(path, ROOT)),
             "committed": key in committed, "bytes": os.path.getsize(path),
             "reduction": f32_bytes / os.path.getsize(path),
             "sparsity": reports[key]["overall_sparsity"] if key in reports and "overall_sparsity" in reports[key]
             else (0.0 if key == "f32" else None),
             "top1": acc[path]["test"]["top1"], "drop": base_acc - acc[path]["test"]["top1"],
             "per_class": acc[path]["test"]["per_class"],
             "top1_real": acc[path].get("real", {}).get("top1"),
             "real_correct": acc[path].get("real", {}).get("correct"),
             "real_n": acc[path].get("real", {}).get("n"),
             "drop_real": (base_real - acc[path]["real"]["top1"]) if base_real is not None and "real" in acc[path] else None,
             # captures without a desk (generated) and benches/real's images (issue 26)
             "top1_world": acc[path].get("world", {}).get("top1"),
             "top1_real_set": acc[path].get("real_set", {}).get("top1"),
             "real_set_correct": acc[path].get("real_set", {}).get("correct"),
             "real_set_n": acc[path].get("real_set", {}).get("n"),
             "ms_median": eng.get("median_ms"), "ms_min": eng.get("min_ms"),
             "wasm_peak_bytes": eng.get("mem_peak"), "load_ms": eng.get("load_ms")}
        rows.append(r)
        log(f"{key}: {r['bytes']} B ({r['reduction']:.1f}x), top-1 {r['top1']:.2f} % (drop {r['drop']:+.2f}), "
            f"real {r['top1_real']}, {r['ms_median']} ms")
    result = {
        "arch": a.arch, "input_size": a.size, "date": time.strftime("%Y-%m-%d"),
        "f32_onnx_bytes": f32_bytes, "torch_versions": train.get("versions"),
        "train": {k: {kk: vv for kk, vv in v.items() if kk != "layer_sparsity"} for k, v in train.items() if isinstance(v, dict)},
        "ort_f32_ms": by_id.get("ort-f32", {}).get("median_ms"),
        "rows": rows,
        "timing_runtime": timing["runtime"] if timing else None,
        "timing_machine": timing["machine"] if timing else None,
        "pipeline_s": round(time.time() - t_start),
        # rows measured on committed files because the training outputs were absent
        "remeasured": sorted(k for k, p in files.items() if is_committed(p)),
        "compress_reports": {k: {kk: v.get(kk) for kk in ("original_bytes", "slim_bytes", "overall_sparsity", "warnings")} for k, v in reports.items()},
        "real_wrong": {k: acc[p].get("real", {}).get("wrong") for k, p in files.items()},
        "real_set_wrong": {k: acc[p].get("real_set", {}).get("wrong") for k, p in files.items()},
    }
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(results_path, "w") as fh:
        json.dump(result, fh, indent=1)
        fh.write("\n")

    log(f"results -> models/train/results/{a.arch}.json ({time.time() - t_start:.0f} s)")


if __name__ == "__main__":
    main()
