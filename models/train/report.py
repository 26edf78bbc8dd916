#!/usr/bin/env python3
"""Regenerate the classifier part of models/REPORT.md (Tables 1 and 2 beside the paper's) and
the size-vs-accuracy chart from the committed results JSON, in well under a second.

Reads models/train/results/{resnet50,mobilenet_v2}.json (written by pipeline.py), replaces the
text between the `classifier-report` markers in models/REPORT.md (appending the section the
first time) and writes models/train/results/size_vs_accuracy.svg. Standard library only.

    python3 models/train/report.py [--check]

--check exits 1 when REPORT.md or the SVG differ from what the JSON gives (CI uses it).
"""
import argparse
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../.."))
REPORT = os.path.join(ROOT, "models", "REPORT.md")
SVG = os.path.join(HERE, "results", "size_vs_accuracy.svg")
START, END = "<!-- classifier-report:start -->", "<!-- classifier-report:end -->"

# The paper's numbers (../shared/DESIGN.md): size MB, reduction x, accuracy drop points, ms.
PAPER = {
    "resnet50": {"name": "ResNet-50", "rows": {
        "f32": (97.8, 1.0, 0.0, 185), "ptq": (24.5, 4.0, 0.5, 125), "qat": (24.5, 4.0, 0.3, 126),
        "pruned": (9.8, 10.0, 0.7, 172), "prune_qat": (2.4, 40.0, 0.9, 104), "dc": (2.0, 49.0, 1.0, 108)}},
    "mobilenet_v2": {"name": "MobileNet", "rows": {
        "f32": (16.9, 1.0, 0.0, None), "ptq": (4.2, 4.0, 0.8, None), "qat": (4.2, 4.0, 0.4, None),
        "pruned": (3.4, 5.0, 0.9, None), "prune_qat": (0.9, 18.8, 1.2, None), "dc": (0.7, 24.1, 1.4, None)}},
}
TARGET = {"resnet50": (49.0, 1.0), "mobilenet_v2": (24.0, 1.4)}
LABEL = {"f32": "original f32 (ONNX, tract f32 in our engine)", "ptq": "8-bit PTQ (calibrated, W8A8 static)",
         "ptq_kl": "8-bit PTQ, KL (entropy) calibration (extra)",
         "ptq_w8": "8-bit PTQ, weights only (activations dynamic, like QAT)",
         "ptq_gptq": "8-bit PTQ + GPTQ rounding (extra)", "qat": "8-bit QAT (weights; activations dynamic)",
         "pruned": "pruning {p} (f32, Huffman-coded byte planes)", "prune_qat": "pruning {p} + 8-bit QAT (no Huffman)",
         "dc": "Deep Compression: pruning {p} + QAT + Huffman"}
ORDER = ["f32", "ptq", "ptq_kl", "ptq_w8", "ptq_gptq", "qat", "pruned", "prune_qat", "dc"]


def fmt_mb(b):
    return f"{b / 1e6:.2f}" if b < 10e6 else f"{b / 1e6:.1f}"


def table(r):
    arch = r["arch"]
    paper = PAPER[arch]
    rows = {x["method"]: x for x in r["rows"]}
    # captures without a desk and benches/real (issue 26): columns only where measured
    world = any(x.get("top1_world") is not None for x in r["rows"])
    lines = [
        f"| {paper['name']} ({r['input_size']} px) | file bytes | MB | reduction | top-1 % | drop (points) "
        "| real photos " + ("| captures | benches/real " if world else "")
        + "| ms (median) | peak wasm MiB | paper: MB / x / drop / ms |",
        "|---|--:|--:|--:|--:|--:|--:|" + ("--:|--:|" if world else "") + "--:|--:|---|"]
    for key in ORDER:
        x = rows.get(key)
        if not x:
            continue
        sp = x.get("sparsity")
        label = LABEL[key].format(p=f"{100 * sp:.0f} %" if sp else "")
        p = paper["rows"].get(key)
        ptxt = "—" if p is None else f"{p[0]} / {p[1]}x / {p[2]} / {p[3] if p[3] is not None else '—'}"
        real = "" if x.get("top1_real") is None else f"{x['top1_real']:.1f} % ({x['real_correct']}/{x['real_n']})"
        ms = "" if x.get("ms_median") is None else f"{x['ms_median']:.1f}"
        mem = "" if x.get("wasm_peak_bytes") is None else f"{x['wasm_peak_bytes'] / 1048576:.1f}"
        extra = ""
        if world:
            cap = "" if x.get("top1_world") is None else f"{x['top1_world']:.1f} %"
            rs = "" if x.get("top1_real_set") is None else \
                f"{x['top1_real_set']:.1f} % ({x['real_set_correct']}/{x['real_set_n']})"
            extra = f"| {cap} | {rs} "
        lines.append(f"| {label} | {x['bytes']:,} | {fmt_mb(x['bytes'])} | {x['reduction']:.1f}x | {x['top1']:.2f} "
                     f"| {x['drop']:+.2f} | {real} {extra}| {ms} | {mem} | {ptxt} |")
    return "\n".join(lines)


def verdict(r):
    arch = r["arch"]
    rows = {x["method"]: x for x in r["rows"]}
    need_x, need_drop = TARGET[arch]
    out = []
    dc = rows.get("dc")
    if dc:
        ok_x, ok_d = dc["reduction"] >= need_x, dc["drop"] <= need_drop
        out.append(f"- Deep Compression: **{dc['reduction']:.1f}x** smaller (target ≥ {need_x:g}x: "
                   f"{'met' if ok_x else 'NOT met'}), drop **{dc['drop']:+.2f}** points (target ≤ {need_drop:g}: "
                   f"{'met' if ok_d else 'NOT met'}), at {100 * dc['sparsity']:.1f} % sparsity.")
        f32_top1 = rows["f32"]["top1"] if "f32" in rows else None
        if f32_top1 is not None and f32_top1 < 95.0:
            out.append(f"- **Caveat:** the original scores {f32_top1:.2f} %, below the 95–99.5 % band the generator "
                       "is meant to give, so its drops are not comparable with the paper's (see the notes below).")
    ptq, qat = rows.get("ptq"), rows.get("qat")
    if ptq and qat:
        better = "QAT beats PTQ" if qat["top1"] > ptq["top1"] else ("QAT and PTQ tie" if qat["top1"] == ptq["top1"] else "QAT does NOT beat PTQ")
        out.append(f"- PTQ vs QAT: PTQ {ptq['top1']:.2f} % (drop {ptq['drop']:+.2f}), QAT {qat['top1']:.2f} % "
                   f"(drop {qat['drop']:+.2f}): {better} on this test split "
                   f"({r['rows'][0].get('n_test', 2000)} images; one image is 0.05 points).")
    w8 = rows.get("ptq_w8")
    if w8 and qat:
        out.append(f"- QAT vs PTQ weights-only (same engine numerics): QAT {qat['top1']:.2f} %, PTQ weights-only "
                   f"{w8['top1']:.2f} % ({qat['top1'] - w8['top1']:+.2f} points).")
    f32 = rows.get("f32")
    if f32 and f32.get("ms_median") and dc and dc.get("ms_median"):
        out.append(f"- Speed in our engine (headless Chromium, 1 thread, median): original {f32['ms_median']:.1f} ms "
                   f"(tract f32), Deep Compression {dc['ms_median']:.1f} ms: "
                   f"{f32['ms_median'] / dc['ms_median']:.2f}x {'faster' if dc['ms_median'] < f32['ms_median'] else 'SLOWER'}; "
                   f"onnxruntime-web f32 {r['ort_f32_ms']:.1f} ms." if r.get("ort_f32_ms") else "")
        slower = [k for k in ORDER if k in rows and k != "f32" and rows[k].get("ms_median")
                  and rows[k]["ms_median"] >= f32["ms_median"]]
        if slower:
            out.append(f"- Not faster than the original: {', '.join(slower)}.")
    return "\n".join(o for o in out if o)


def svg(results):
    """Size (log scale) vs top-1 for every row of both architectures."""
    pts = [(r["arch"], x["method"], x["bytes"], x["top1"]) for r in results for x in r["rows"]]
    if not pts:
        return ""
    w, h, ml, mr, mt, mb = 640, 400, 60, 150, 30, 50
    xs = [math.log10(p[2]) for p in pts]
    x0, x1 = math.floor(min(xs)), math.ceil(max(xs))
    ys = [p[3] for p in pts]
    y0, y1 = math.floor(min(ys) - 0.5), math.ceil(max(ys) + 0.5)
    sx = lambda v: ml + (math.log10(v) - x0) / max(1e-9, x1 - x0) * (w - ml - mr)  # noqa: E731
    sy = lambda v: h - mb - (v - y0) / max(1e-9, y1 - y0) * (h - mt - mb)  # noqa: E731
    colors = {"resnet50": "#c0392b", "mobilenet_v2": "#2471a3"}
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">',
         f'<rect width="{w}" height="{h}" fill="white"/>',
         f'<text x="{ml}" y="18" font-size="13">Document-type classifiers: file size vs top-1 (synthetic test split)</text>']
    for e in range(x0, x1 + 1):
        x = sx(10 ** e)
        o.append(f'<line x1="{x:.1f}" y1="{mt}" x2="{x:.1f}" y2="{h - mb}" stroke="#ddd"/>')
        o.append(f'<text x="{x:.1f}" y="{h - mb + 15}" text-anchor="middle">{10 ** e / 1e6:g} MB</text>')
    step = 1 if y1 - y0 <= 10 else 2
    for v in range(y0, y1 + 1, step):
        y = sy(v)
        o.append(f'<line x1="{ml}" y1="{y:.1f}" x2="{w - mr}" y2="{y:.1f}" stroke="#eee"/>')
        o.append(f'<text x="{ml - 6}" y="{y + 4:.1f}" text-anchor="end">{v} %</text>')
    o.append(f'<text x="{(ml + w - mr) / 2}" y="{h - 12}" text-anchor="middle">whole-file bytes (log scale)</text>')
    for arch, method, b, t in pts:
        c = colors.get(arch, "#555")
        o.append(f'<circle cx="{sx(b):.1f}" cy="{sy(t):.1f}" r="4" fill="{c}"/>')
        o.append(f'<text x="{sx(b) + 6:.1f}" y="{sy(t) - 5:.1f}" fill="{c}">{method}</text>')
    for i, r in enumerate(results):
        c = colors.get(r["arch"], "#555")
        o.append(f'<circle cx="{w - mr + 20}" cy="{mt + 20 + 18 * i}" r="5" fill="{c}"/>')
        o.append(f'<text x="{w - mr + 30}" y="{mt + 24 + 18 * i}">{PAPER[r["arch"]]["name"] if r["arch"] != "mobilenet_v2" else "MobileNetV2"}</text>')
    o.append("</svg>")
    return "\n".join(o) + "\n"


def section(results):
    parts = [START, "",
             "## Document-type classifiers: Tables 1 and 2 reproduced (issue 6)", "",
             "Generated by `make report` (models/train/report.py) from models/train/results/*.json; "
             "do not edit by hand. The models come from `make train` (models/train/README.md). "
             "Top-1 is measured in our wasm engine (benches/classifier/eval.mjs, Node) on the synthetic "
             "test split (2,000 images, 400 per class, fonts/texts/backgrounds/seed disjoint from training); "
             "\"real photos\" is the same engine on the labelled real photos of ../shared/data "
             "(models/train/real_labels.tsv), reported separately; where measured, \"captures\" is the "
             "generated test_world split (1,000 captures without a desk: flat scans, screenshots, lines, "
             "words, receipts, monitors, dark rooms, sideways pages; models/README.md) and \"benches/real\" "
             "the 86 images of issue 26's development set labelled by shape (models/train/prepare_eval.py), "
             "never trained on. Times: benches/engine/bench.mjs in headless "
             "Chromium, 1 thread, median of repeated runs, all rows of one architecture round-robin in the same "
             "page; memory is our wasm instance's size after the runs. The paper's column is its "
             "size MB / reduction / accuracy drop / ms.", ""]
    if results:
        parts += ["![size vs accuracy](train/results/size_vs_accuracy.svg)", ""]
    for arch in ("resnet50", "mobilenet_v2"):
        r = next((x for x in results if x["arch"] == arch), None)
        title = "Table 1: ResNet-50" if arch == "resnet50" else "Table 2: MobileNetV2"
        parts += [f"### {title}", ""]
        if r is None:
            parts += [f"No results yet (models/train/results/{arch}.json is missing: `make train` has not "
                      "finished this architecture).", ""]
            continue
        parts += [table(r), "", verdict(r), ""]
        tr = r.get("train", {})
        if tr:
            parts.append("Training (PyTorch, CPU, torch top-1 on the same split): " + "; ".join(
                f"{k} {v['torch_top1']:.2f} % ({v['epochs']:g} epochs) in {v['train_s'] / 60:.1f} min"
                for k, v in tr.items()) +
                (f". Re-measurement of the committed files of rows {', '.join(r['remeasured'])} (no retraining), "
                 f"with compression of the other rows, evaluation and timing: {r.get('pipeline_s', 0) / 60:.1f} min."
                 if r.get("remeasured") else
                 f". Last pipeline.py run (compression + evaluation + timing; results of earlier runs are reused "
                 f"while current): {r.get('pipeline_s', 0) / 60:.1f} min."))
            parts.append("")
        notes = os.path.join(HERE, "results", f"{arch}.notes.md")
        if os.path.exists(notes):  # hand-written findings beside the measured JSON
            with open(notes, encoding="utf-8") as fh:
                parts += [fh.read().strip(), ""]
    if results:
        parts += ["### How the rows are made", "",
                  "- **original f32**: the exported ONNX (BatchNorm folded by the exporter), run by tract f32 "
                  "inside our wasm; its file size is the denominator of every reduction.",
                  "- **8-bit PTQ**: `slimscan compress f32.onnx --calib` (activation ranges at the 99.99th "
                  "percentile of |x| on 100 training images, the default `--calib-method`): per-channel symmetric "
                  "int8 weights, static int8 activations (W8A8). **KL calibration**: the same with "
                  "`--calib-method entropy` (TensorRT's method; an extra row). "
                  "**PTQ, weights only**: the same without `--calib`; the engine then quantizes each layer's "
                  "input dynamically (per tensor, up to 15 bits as the accumulator allows), like the QAT rows. "
                  "**+ GPTQ**: data-aware rounding on 128 training images (an extra PTQ row).",
                  "- **8-bit QAT**: BatchNorm folded, then torch.ao fake quantization of the weights (per channel, "
                  "symmetric, scales rounded up to bfloat16), fine-tuned from the original; exported as QDQ ONNX, "
                  "compressed with its scales unchanged. Activations are not fake-quantized because the engine "
                  "quantizes them dynamically for such files, so compare **QAT with PTQ weights-only** for the "
                  "effect of training against weight rounding, and with PTQ (W8A8) for the deployed alternatives.",
                  "- **pruning**: gradual magnitude pruning (cubic schedule) with fine-tuning, stored in f32 "
                  "(`--quant none`: f32 byte planes, Huffman-coded, so the zeros compress); the engine runs these "
                  "layers as f32 ONNX ops.",
                  "- **pruning + 8-bit QAT**: the pruned model pruned further to the Deep Compression sparsity and "
                  "fine-tuned (f32), then QAT fine-tuned with the mask fixed (Deep Compression's order); sparse int8 "
                  "with fixed-width streams (`--no-huffman`). **Deep "
                  "Compression**: the same file Huffman-coded: the full slimscan file.",
                  "- **Why the last two rows are sparser than the pruning row**: in an unstructured mask a "
                  "nonzero's position costs at least H(s)/(1 − s) bits, the entropy of the mask per nonzero "
                  "(3.6 bits at 80 %, 4.7 at 90 %). With an 8-bit value (about 7 bits after Huffman) per nonzero "
                  "plus per-channel scales and biases, 80 % sparsity cannot give 24x nor 90 % give 49x of an "
                  "f32 file; the paper's figures at those sparsities are below that bound. Our rows state "
                  "their sparsity.", ""]
    parts.append(END)
    return "\n".join(parts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args(argv)
    results = []
    for arch in ("resnet50", "mobilenet_v2"):
        p = os.path.join(HERE, "results", f"{arch}.json")
        if os.path.exists(p):
            with open(p) as fh:
                results.append(json.load(fh))
    text = open(REPORT).read() if os.path.exists(REPORT) else "# Model report\n"
    new_section = section(results)
    if START in text and END in text:
        new = text[:text.index(START)] + new_section + text[text.index(END) + len(END):]
    else:
        new = text.rstrip("\n") + "\n\n" + new_section + "\n"
    new_svg = svg(results)
    if a.check:
        old_svg = open(SVG).read() if os.path.exists(SVG) else ""
        stale = [n for n, o, nn in (("models/REPORT.md", text, new), (SVG, old_svg, new_svg)) if o != nn]
        if stale:
            sys.exit(f"report.py: stale: {', '.join(stale)} (run make report)")
        return
    with open(REPORT, "w") as fh:
        fh.write(new)
    if new_svg:
        os.makedirs(os.path.dirname(SVG), exist_ok=True)
        with open(SVG, "w") as fh:
            fh.write(new_svg)
    print(f"report.py: {len(results)} architecture(s) -> models/REPORT.md, {os.path.relpath(SVG, ROOT)}")


if __name__ == "__main__":
    main()
