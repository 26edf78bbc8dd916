#!/usr/bin/env python3
"""Make the small evaluation set that the web app bundles (www/eval/).

Why: the app can measure, in the browser and on demand, how accurate the models it loaded
are on this device (document-type classifier, text-line OCR, whole-page OCR). That needs a
few images with known answers served next to the app. The big benchmark sets are
git-ignored and tens of MB; this one is small (<= 1.5 MB), committed, and made by the same
seeded generators, with seeds that no training, calibration or benchmark run uses:

- classifier: models/train/scenes.py, TEST split (held-out fonts, words, backgrounds), seed
  23 (the Makefile trains on seed 1 and tests on seed 2); 6 scenes per class, 128 px, the
  generator's JPEG bytes copied unchanged.
- lines, pages: benches/ocr/make_set.py, seed 31 (its default is 20240517, the calibration
  set uses 7). A line image over --line-max-kb is re-encoded as JPEG (quality 90; noisy PNG
  lines are 50-200 KB); a page over 1600 px on its long side or 250 KB is downscaled to 1600
  px and re-encoded as JPEG (quality 85, lower steps if still over 250 KB). Ground truth
  unchanged.

Output: www/eval/manifest.json ({"generated_by", "classifier": [{file, label}],
"lines": [{file, text}], "pages": [{file, text}]}, paths relative to www/eval/) and the
images in www/eval/{classifier,lines,pages}/ (those three folders are emptied first; README.md
is kept). Deterministic: the same fonts, text sources and package versions (Pillow, numpy,
python-barcode, segno) give byte-identical files.

Usage (from anywhere; the fonts come from `make fonts`, the venvs from `make ocr-set` and
`make scan-set`; a python3 without Pillow re-runs the script under --ocr-python, whose pinned
Pillow then does the re-encoding):

    python3 benches/app/make_eval_set.py
    python3 benches/app/make_eval_set.py --scenes-seed 23 --ocr-seed 31 --out www/eval \\
        --ocr-python .tools/ocr-venv/bin/python --scenes-python .tools/scan-venv/bin/python
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ["text", "form", "barcode", "qr", "none"]  # src/scan/doctype.rs CLASSES, same order
MAX_TOTAL = 1_500_000
PAGE_MAX_SIDE = 1600
PAGE_MAX_BYTES = 250_000
CLASSIFIER_MAX_SIDE = 224


def unescape(s: str) -> str:
    """manifest.tsv text fields: \\\\, \\t, \\n, \\r (benches/ocr/README.md, Format)."""
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            out.append({"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}.get(n, "\\" + n))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def jpeg(im, quality: int) -> bytes:
    from PIL import Image  # noqa: F401 (the caller's interpreter has Pillow)

    if im.mode not in ("L", "RGB"):
        im = im.convert("RGB")
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def run(cmd: list[str]) -> None:
    print("+", shlex.join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, cwd=ROOT)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "www" / "eval"), help="output folder (www/eval)")
    ap.add_argument("--scenes-python", default=str(ROOT / ".tools" / "scan-venv" / "bin" / "python"),
                    help="interpreter with pillow, numpy, python-barcode, segno for models/train/scenes.py")
    ap.add_argument("--ocr-python", default=str(ROOT / ".tools" / "ocr-venv" / "bin" / "python"),
                    help="interpreter with pillow, numpy for benches/ocr/make_set.py")
    ap.add_argument("--scenes-seed", type=int, default=23)
    ap.add_argument("--per-class", type=int, default=6)
    ap.add_argument("--ocr-seed", type=int, default=31)
    ap.add_argument("--lines", type=int, default=40)
    ap.add_argument("--pages", type=int, default=3)
    ap.add_argument("--line-max-kb", type=int, default=16,
                    help="line images over this many KB are re-encoded as JPEG quality 90 (16)")
    a = ap.parse_args(argv)
    if a.scenes_seed in (1, 2):
        sys.exit("--scenes-seed 1 and 2 are the classifier's train and test data (Makefile)")
    if a.ocr_seed in (7, 20240517):
        sys.exit("--ocr-seed 7 is the OCR calibration set and 20240517 the benchmark set")

    try:
        from PIL import Image  # the conversions below need Pillow
    except ImportError:  # e.g. a bare python3: run this script again under --ocr-python
        args = sys.argv[1:] if argv is None else list(argv)
        print(f"no Pillow here, re-running under {a.ocr_python}", file=sys.stderr)
        os.execv(a.ocr_python, [a.ocr_python, str(Path(__file__).resolve()), *args])

    out = Path(a.out).resolve()
    generated_by = shlex.join([
        "python3", "benches/app/make_eval_set.py", "--scenes-seed", str(a.scenes_seed),
        "--per-class", str(a.per_class), "--ocr-seed", str(a.ocr_seed), "--lines", str(a.lines),
        "--pages", str(a.pages), "--line-max-kb", str(a.line_max_kb)])
    manifest = {"generated_by": generated_by, "classifier": [], "lines": [], "pages": []}

    with tempfile.TemporaryDirectory(prefix="slimscan-eval-") as tmp:
        tmp = Path(tmp)
        run([a.scenes_python, "models/train/scenes.py", "--out", str(tmp / "scenes"),
             "--split", "test", "--count", str(a.per_class * len(CLASSES)),
             "--seed", str(a.scenes_seed), "--jobs", "2"])
        run([a.ocr_python, "benches/ocr/make_set.py", "--out", str(tmp / "ocr"),
             "--lines", str(a.lines), "--pages", str(a.pages), "--seed", str(a.ocr_seed)])

        for sub in ("classifier", "lines", "pages"):
            shutil.rmtree(out / sub, ignore_errors=True)
            (out / sub).mkdir(parents=True)
        (out / "manifest.json").unlink(missing_ok=True)

        # classifier: labels.csv is "file,label"; scene i has class CLASSES[i % 5]
        count = {c: 0 for c in CLASSES}
        with open(tmp / "scenes" / "labels.csv", newline="") as fh:
            for row in csv.DictReader(fh):
                label = row["label"]
                if label not in count:
                    sys.exit(f"scenes.py label {label!r} is not one of {CLASSES}")
                src = tmp / "scenes" / row["file"]
                name = f"classifier/{label}_{count[label]:02d}.jpg"
                count[label] += 1
                im = Image.open(src)
                if max(im.size) > CLASSIFIER_MAX_SIDE:
                    im.thumbnail((CLASSIFIER_MAX_SIDE, CLASSIFIER_MAX_SIDE), Image.LANCZOS)
                    (out / name).write_bytes(jpeg(im, 85))
                else:
                    shutil.copyfile(src, out / name)
                manifest["classifier"].append({"file": name, "label": label})
        if set(count.values()) != {a.per_class}:
            sys.exit(f"unexpected class counts {count}")

        with open(tmp / "ocr" / "manifest.tsv", newline="") as fh:
            rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
        if rows[0] != ["relative_path", "kind", "ground_truth"]:
            sys.exit(f"unexpected manifest.tsv header {rows[0]}")
        for rel, kind, gt in rows[1:]:
            src = tmp / "ocr" / rel
            text = unescape(gt)
            if kind == "line":
                if src.stat().st_size > a.line_max_kb * 1000:
                    name = str(Path(rel).with_suffix(".jpg"))
                    (out / name).write_bytes(jpeg(Image.open(src), 90))
                else:
                    name = rel
                    shutil.copyfile(src, out / name)
                manifest["lines"].append({"file": name, "text": text})
            elif kind == "page":
                im = Image.open(src)
                if max(im.size) > PAGE_MAX_SIDE or src.stat().st_size > PAGE_MAX_BYTES:
                    im.load()
                    if max(im.size) > PAGE_MAX_SIDE:
                        im.thumbnail((PAGE_MAX_SIDE, PAGE_MAX_SIDE), Image.LANCZOS)
                    for q in (85, 80, 75, 70, 65, 60):
                        data = jpeg(im, q)
                        if len(data) <= PAGE_MAX_BYTES:
                            break
                    name = str(Path(rel).with_suffix(".jpg"))
                    (out / name).write_bytes(data)
                else:
                    name = rel
                    shutil.copyfile(src, out / name)
                manifest["pages"].append({"file": name, "text": text})
            else:
                sys.exit(f"unexpected kind {kind!r} in manifest.tsv")

    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=True) + "\n")

    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    for part in ("classifier", "lines", "pages"):
        size = sum((out / e["file"]).stat().st_size for e in manifest[part])
        print(f"{part}: {len(manifest[part])} images, {size / 1000:.1f} KB", file=sys.stderr)
    print(f"total {out}: {total / 1000:.1f} KB (limit {MAX_TOTAL / 1000:.0f} KB)", file=sys.stderr)
    if total > MAX_TOTAL:
        sys.exit(f"{out} is {total} bytes, over {MAX_TOTAL}")


if __name__ == "__main__":
    main()
