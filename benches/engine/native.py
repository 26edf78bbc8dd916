#!/usr/bin/env python3
"""Native engine against tract f32, same machine, same run (issue 27: "`slimscan bench` on every
shipped model at least as fast as tract f32 on the original ONNX").

For each shipped model, `slimscan bench --json` runs the compressed .slim (our integer kernels:
AVX2 where the CPU has it) and the original .onnx (tract f32, the peer) in alternating rounds, so
both see the same load on a shared machine; with --scalar a third column runs the .slim with
SLIMSCAN_SCALAR_KERNELS=1 (the scalar reference kernels, what the native engine ran before).
Prints, per model, the median over rounds of each run's median time and the ratio tract / slim
(> 1: the compressed model is faster).

    python3 benches/engine/native.py --bin target/release/slimscan [--rounds 5] [--runs 20]
        [--scalar] [--json OUT] [--only NAME]

Python 3 standard library only. Models missing on disk (PP-OCR: `make models`) are listed and
skipped.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
M = ROOT / "models"
# name, compressed, original, input shape (None: the model's own fixed shape)
MODELS = [
    ("classifier mobilenet_v2 (DC)", M / "classifier/mobilenet_v2_dc.slim", M / "classifier/mobilenet_v2_f32.onnx", None),
    ("fast recogniser, one 320-px line", M / "ocr_fast/rec_fast.slim", M / "ocr_fast/rec_fast_f32.onnx", "1,3,48,320"),
    ("PP-OCRv4 rec, one 320-px line", M / "ppocr_rec.slim", M / "ch_PP-OCRv4_rec_infer.onnx", "1,3,48,320"),
    ("PP-OCRv4 det, 960x736 page", M / "ppocr_det.slim", M / "ch_PP-OCRv4_det_infer.onnx", "1,3,736,960"),
    ("PP-OCR cls, 6 lines", M / "ppocr_cls.slim", M / "ch_ppocr_mobile_v2.0_cls_infer.onnx", "6,3,48,192"),
]


def bench(binary, model, shape, runs, env=None):
    cmd = [str(binary), "bench", str(model), "--runs", str(runs), "--json"]
    if shape:
        cmd += ["--shape", shape]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr.strip()}")
    return json.loads(out.stdout)["median_ms"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=str(Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release/slimscan"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=20, help="timed runs per bench call (its median is one sample)")
    ap.add_argument("--scalar", action="store_true", help="also time the .slim with the scalar reference kernels")
    ap.add_argument("--only", help="models whose name contains this")
    ap.add_argument("--json", help="write the samples here")
    a = ap.parse_args()
    if not Path(a.bin).exists():
        sys.exit(f"{a.bin}: no such binary (make cli, or pass --bin)")
    scalar_env = dict(os.environ, SLIMSCAN_SCALAR_KERNELS="1")
    rows, report = [], {"bin": a.bin, "rounds": a.rounds, "runs": a.runs, "models": []}
    for name, slim, onnx, shape in MODELS:
        if a.only and a.only not in name:
            continue
        missing = [str(p.relative_to(ROOT)) for p in (slim, onnx) if not p.exists()]
        if missing:
            print(f"skipped {name}: missing {', '.join(missing)} (make models)", file=sys.stderr)
            continue
        s, t, sc = [], [], []
        for r in range(a.rounds):
            s.append(bench(a.bin, slim, shape, a.runs))
            t.append(bench(a.bin, onnx, shape, a.runs))
            if a.scalar:
                sc.append(bench(a.bin, slim, shape, max(2, a.runs // 4), scalar_env))
            print(f"  {name}: round {r + 1}/{a.rounds}", file=sys.stderr)
        ms, mt = statistics.median(s), statistics.median(t)
        row = {"model": name, "shape": shape, "slim_ms": s, "tract_f32_ms": t, "slim_scalar_ms": sc}
        report["models"].append(row)
        rows.append((name, ms, mt, statistics.median(sc) if sc else None))
    print(f"| model | .slim (int8 kernels) | tract f32, original ONNX | tract / .slim |{' .slim, scalar kernels |' if a.scalar else ''}")
    print(f"|---|--:|--:|--:|{'--:|' if a.scalar else ''}")
    for name, ms, mt, msc in rows:
        extra = f" {msc:.2f} ms |" if msc is not None else ""
        print(f"| {name} | {ms:.2f} ms | {mt:.2f} ms | **{mt / ms:.2f}x** |{extra}")
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
