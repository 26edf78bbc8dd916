#!/usr/bin/env python3
"""Per-layer compression plan from a sensitivity scan, for a byte budget (models/REPORT.md,
"PP-OCR compression").

Inputs: the model, `slimscan compress --sensitivity --json` rows of it (each layer's relative
output error when pruned to 50/70/80/90/95 % at 8 bits, or unpruned at 6/5/4 bits; with --gptq
the variants are rounded by GPTQ), and the same compress settings the plan is for (--vocab,
--gptq, --manifest: passed through after `--`). The script measures what each option costs: it
compresses the model once per option applied to every layer (8, 6, 5, 4 bits; 50..95 % sparsity
at 8 bits) and reads each layer's bytes from the report. Then it allocates: every layer starts
at 8 bits; the move with the smallest increase of Σ error² per byte saved (any cheaper option of
one layer) is taken until the layers fit `--budget` bytes (layer bytes only; the graph and the
f32 biases come on top, see the report). The plan file it writes is what
`slimscan compress --prune-plan` reads: per-layer "bits" and "layers" (sparsities).

    python3 models/ppocr_plan.py --slimscan target/release/slimscan \\
        --model models/ch_PP-OCRv4_rec_infer.onnx --sensitivity rec_sens.json \\
        --budget 1000000 --out models/ppocr_rec.plan.json -- --vocab models/vocab_latin.txt

Standard library only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

BITS = [8, 6, 5, 4]
SPARSITIES = [0.5, 0.7, 0.8, 0.9, 0.95]


def layer_bytes(slimscan: str, model: str, plan: dict, extra: list[str], tmp: Path) -> dict[str, int]:
    plan_file = tmp / "plan.json"
    plan_file.write_text(json.dumps(plan))
    out = subprocess.run(
        [slimscan, "compress", model, "-o", str(tmp / "x.slim"), "--prune-plan", str(plan_file), "--json", *extra],
        check=True, capture_output=True, text=True).stdout
    return {layer["name"]: layer["bytes"] for layer in json.loads(out)["layers"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slimscan", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--sensitivity", required=True, help="`compress --sensitivity --json` output")
    ap.add_argument("--budget", type=int, required=True, help="bytes for the compressed layers")
    ap.add_argument("--out", required=True)
    ap.add_argument("--no-prune", action="store_true", help="only lower bits, no sparsity options")
    ap.add_argument("extra", nargs="*", help="compress options after --, e.g. --vocab FILE")
    args = ap.parse_args()

    rows = json.loads(Path(args.sensitivity).read_text())
    options: list[tuple[str, dict]] = [(f"{b} bit", {"default_bits": b}) for b in BITS]
    if not args.no_prune:
        options += [(f"{s:.0%} pruned", {"default": s}) for s in SPARSITIES]
    with tempfile.TemporaryDirectory() as t:
        sizes = {name: layer_bytes(args.slimscan, args.model, plan, args.extra, Path(t)) for name, plan in options}

    # Per layer: option -> (bytes, error, plan entries).
    choices: dict[str, dict[str, tuple[int, float]]] = {}
    for r in rows:
        errs = {f"{b} bit": e for b, e in zip(r["bits"], r["bit_errors"])}
        errs["8 bit"] = r["errors"][r["sparsities"].index(0.0)]
        if not args.no_prune:
            errs.update({f"{s:.0%} pruned": e for s, e in zip(r["sparsities"], r["errors"]) if s > 0})
        choices[r["name"]] = {o: (sizes[o][r["name"]], errs[o]) for o in errs if o in sizes}

    current = {name: "8 bit" for name in choices}
    total = sum(choices[n]["8 bit"][0] for n in choices)
    start = total
    while total > args.budget:
        best = None
        for name, opts in choices.items():
            b0, e0 = opts[current[name]]
            for o, (b, e) in opts.items():
                if b >= b0:
                    continue
                cost = (e * e - e0 * e0) / (b0 - b)
                if best is None or cost < best[0]:
                    best = (cost, name, o)
        if best is None:
            sys.exit(f"ppocr_plan: cannot reach {args.budget} bytes (least: {total})")
        _, name, o = best
        total += choices[name][o][0] - choices[name][current[name]][0]
        current[name] = o

    plan = {
        "comment": (f"models/ppocr_plan.py: layer budget {args.budget} bytes (8 bit: {start}), "
                    f"sensitivity {Path(args.sensitivity).name}; see models/REPORT.md"),
        "default": 0.0,
        "default_bits": 8,
        "bits": {n: int(o.split()[0]) for n, o in current.items() if o.endswith("bit") and o != "8 bit"},
        "layers": {n: float(o.split("%")[0]) / 100 for n, o in current.items() if o.endswith("pruned")},
    }
    Path(args.out).write_text(json.dumps(plan, indent=2) + "\n")
    err2 = sum(choices[n][o][1] ** 2 for n, o in current.items())
    print(f"{args.out}: layers {total:,} bytes (8 bit: {start:,}), Σ error² {err2:.4f}")
    for n, o in current.items():
        b, e = choices[n][o]
        print(f"  {n:<16} {o:<12} {b:>8,} bytes  error {e * 100:6.2f} %")


if __name__ == "__main__":
    main()
