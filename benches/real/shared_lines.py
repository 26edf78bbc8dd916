#!/usr/bin/env python3
"""Writes a benches/real-style manifest of the scanned text lines in the shared data folder
(`../shared/data/ocr`: 200 UW-III lines and 2 ocropy test lines, with their ground truth), so
that compare.mjs reads them as shape `line` (issue 26, item 5: OCR on real scanned lines at least
Tesseract.js's):

    python3 benches/real/shared_lines.py --out /tmp/shared_lines.tsv
    node benches/real/compare.mjs --set ../shared/data/ocr --manifest /tmp/shared_lines.tsv \\
        --systems slim,tesseract --json benches/real/shared_lines_results.json

Python 3 standard library only. The text fields are copied as they are escaped in the shared
manifest (the same convention as benches/real/manifest.tsv).
"""
import argparse
import sys
from pathlib import Path

HEADER = "relative_path\tshape\texpected_text\texpected_codes\tsource\tlicence\tnotes"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[3] / "shared/data"))
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    src = Path(a.shared) / "ocr/manifest.tsv"
    if not src.exists():
        sys.exit(f"{src}: not found (pass --shared /path/to/shared/data)")
    rows = [HEADER]
    for n, line in enumerate(src.read_text(encoding="utf-8").splitlines()[1:], start=2):
        fields = line.split("\t")
        if len(fields) != 3:
            sys.exit(f"{src} line {n}: expected 3 tab-separated fields, got {len(fields)}")
        path, kind, truth = fields
        if kind == "line":
            rows.append("\t".join([path, "line", truth, "", "shared data (UW-III / ocropy)", "Apache-2.0", ""]))
    Path(a.out).write_text("\n".join(rows) + "\n", encoding="utf-8")
    print(f"{len(rows) - 1} lines -> {a.out}")


if __name__ == "__main__":
    main()
