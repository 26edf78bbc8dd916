#!/usr/bin/env python3
"""Check a scan set made by make_set.py: decode every code with zxing-cpp and summarise.

    .tools/scan-venv/bin/python benches/scan/check_set.py DIR [--all]

For barcode and qr scenes it prints the exact-decode rate per type and per format (a code
counts when zxing-cpp returns a result with the same format and text, in the manifest's
conventions), codes zxing-cpp found that the ground truth does not list, and per-scene
failures. none scenes (and with --all also text and form scenes) are decoded too, to count
false codes. For text and form scenes it prints the number of lines and the x-height in the
frame: the generator's exact value from DIR/meta.jsonl and an estimate from the image (the
page rectified from its ground-truth corners, the x-height band of each text line's ink
profile).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

import numpy as np
import zxingcpp
from PIL import Image, ImageFilter

ZX_FORMAT = {"QR Code": "qr_code", "Micro QR Code": "micro_qr_code", "Data Matrix": "data_matrix",
             "Aztec": "aztec", "Aztec Code": "aztec", "PDF417": "pdf_417", "EAN-13": "ean_13",
             "EAN-8": "ean_8", "UPC-A": "upc_a", "UPC-E": "upc_e", "Code 128": "code_128",
             "Code 39": "code_39", "Code 39 Standard": "code_39", "Code 39 Extended": "code_39",
             "Code 93": "code_93", "ITF": "itf", "ITF-14": "itf", "Codabar": "codabar"}


def decoded_codes(result) -> set[tuple[str, str]]:
    """(format, text) pairs a zxing-cpp result stands for, in the manifest's conventions.
    zxing-cpp 3 reports a UPC-A as a 13-digit EAN-13 with a leading 0 (or as UPC-A with 13
    digits), a UPC-E expanded to 13 digits (the 8 digits in extra["UPCE"]) and a Codabar with
    its start/stop letters; the manifest has 12, 8 digits and no start/stop letters."""
    name = ZX_FORMAT.get(str(result.format), str(result.format))
    text = result.text
    out = {(name, text)}
    if name in ("ean_13", "upc_a") and len(text) == 13 and text[0] == "0":
        out.add(("upc_a", text[1:]))
    if name == "upc_e":
        upce = (result.extra or {}).get("UPCE")
        if upce:
            out.add(("upc_e", upce))
    if name == "codabar" and len(text) >= 2 and text[0] in "ABCDTN*E" and text[-1] in "ABCDTN*E":
        out.add(("codabar", text[1:-1]))
    return out


def decode_all(img) -> set[tuple[str, str]]:
    found = set()
    for r in zxingcpp.read_barcodes(img):
        found |= decoded_codes(r)
    return found


def read_results(img):
    return [(decoded_codes(r), r) for r in zxingcpp.read_barcodes(img)]


# ---------------------------------------------------------------------------------------------
# x-height from the image


def _coeffs(out_quad, in_quad):
    rows, rhs = [], []
    for (x, y), (u, v) in zip(out_quad, in_quad):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    return list(np.linalg.solve(np.array(rows, float), np.array(rhs, float)))


def estimate_xheight(img: Image.Image, quad) -> float | None:
    """Median x-height (px) of the text lines of the page, rectified at the frame's scale."""
    q = np.array(quad, float)
    w = (np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[3])) / 2
    h = (np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])) / 2
    w, h = int(round(w)), int(round(h))
    rect = np.array([[0, 0], [w, 0], [w, h], [0, h]], float)
    page = img.convert("L").transform((w, h), Image.Transform.PERSPECTIVE, _coeffs(rect, q), Image.Resampling.BICUBIC)
    g = np.asarray(page, np.float32)
    bg = np.asarray(page.filter(ImageFilter.MaxFilter(9)).filter(ImageFilter.GaussianBlur(12)), np.float32)
    ink = g < bg * 0.72
    mx, my = int(0.05 * w), int(0.03 * h)
    ink = ink[my:h - my, mx:w - mx]
    prof = ink.sum(axis=1).astype(np.float32)
    if prof.max() <= 0:
        return None
    on = prof > 0.12 * prof.max()
    heights = []
    y = 0
    n = len(on)
    while y < n:
        if not on[y]:
            y += 1
            continue
        y0 = y
        while y < n and on[y]:
            y += 1
        seg = prof[y0:y]
        if len(seg) >= 4:
            heights.append(int((seg >= 0.5 * seg.max()).sum()))
    return float(np.median(heights)) if heights else None


# ---------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--all", action="store_true", help="also decode text and form scenes (false codes)")
    ap.add_argument("--quiet", action="store_true", help="no per-scene failure lines")
    a = ap.parse_args(argv)
    rows = [json.loads(line) for line in open(a.dir / "manifest.jsonl", encoding="utf-8")]
    meta = {}
    if (a.dir / "meta.jsonl").exists():
        for line in open(a.dir / "meta.jsonl", encoding="utf-8"):
            m = json.loads(line)
            meta[m["path"]] = m
    t0 = time.time()
    per_type = collections.defaultdict(lambda: [0, 0])
    per_fmt = collections.defaultdict(lambda: [0, 0])
    scenes_ok = collections.defaultdict(lambda: [0, 0])
    false_codes = collections.Counter()
    false_scenes = collections.Counter()
    lines = collections.defaultdict(list)
    xh_meta = collections.defaultdict(list)
    xh_img = collections.defaultdict(list)
    failures = []
    false_list = []
    for row in rows:
        kind = row["type"]
        img = Image.open(a.dir / row["path"])
        img.load()
        if kind in ("text", "form"):
            lines[kind].append(len(row["text"].split("\n")) if row["text"] else 0)
            m = meta.get(row["path"])
            if m and "xheight_min" in m:
                xh_meta[kind].append((m["xheight_min"], m["xheight_median"]))
            est = estimate_xheight(img, row["page"])
            if est is not None:
                xh_img[kind].append(est)
        if kind in ("barcode", "qr", "none") or a.all:
            results = read_results(img)
            found = set().union(*(c for c, _ in results)) if results else set()
            want = {(c["format"], c["text"]) for c in row["codes"]}
            all_ok = True
            for c in row["codes"]:
                ok = (c["format"], c["text"]) in found
                per_type[kind][0] += ok; per_type[kind][1] += 1
                per_fmt[c["format"]][0] += ok; per_fmt[c["format"]][1] += 1
                if not ok:
                    all_ok = False
                    failures.append((row["path"], c["format"], c["text"],
                                     [(str(r.format), r.text) for _, r in results]))
            if row["codes"]:
                scenes_ok[kind][0] += all_ok; scenes_ok[kind][1] += 1
            extra = [r for c, r in results if not (c & want)]
            false_codes[kind] += len(extra)
            false_scenes[kind] += bool(extra)
            for r in extra:
                false_list.append((row["path"], str(r.format), r.text))
    print(f"check_set: {len(rows)} scenes in {a.dir} ({time.time() - t0:.1f} s)")
    print("\nzxing-cpp exact decodes (format and text)")
    tot = [0, 0]
    for kind in ("barcode", "qr"):
        ok, n = per_type[kind]
        tot[0] += ok; tot[1] += n
        so, sn = scenes_ok[kind]
        if n:
            print(f"  {kind:8s} codes {ok:4d}/{n:<4d} {100 * ok / n:5.1f} %   scenes fully decoded {so}/{sn}")
    if tot[1]:
        print(f"  {'all':8s} codes {tot[0]:4d}/{tot[1]:<4d} {100 * tot[0] / tot[1]:5.1f} %")
    print("\nper format")
    for fmt in sorted(per_fmt, key=lambda f: (-per_fmt[f][1], f)):
        ok, n = per_fmt[fmt]
        print(f"  {fmt:14s} {ok:4d}/{n:<4d} {100 * ok / n:5.1f} %")
    print("\ncodes found that are not in the ground truth")
    for kind in [k for k in ("barcode", "qr", "none", "text", "form") if k in false_codes or k in per_type]:
        n_sc = sum(1 for r in rows if r["type"] == kind)
        print(f"  {kind:8s} {false_codes[kind]} codes in {false_scenes[kind]}/{n_sc} scenes")
    for kind in ("text", "form"):
        if not lines[kind]:
            continue
        ln = np.array(lines[kind])
        print(f"\n{kind}: {len(ln)} scenes, printed lines mean {ln.mean():.1f} (min {ln.min()}, max {ln.max()})")
        if xh_meta[kind]:
            mn = np.array([v[0] for v in xh_meta[kind]]); md = np.array([v[1] for v in xh_meta[kind]])
            print(f"  x-height in the frame (generator, smallest line of each page): min {mn.min():.1f} px, "
                  f"median {np.median(mn):.1f} px; per-page median of lines: median {np.median(md):.1f} px, "
                  f"max {md.max():.1f} px")
        if xh_img[kind]:
            e = np.array(xh_img[kind])
            print(f"  x-height estimated from the image (rectified page, ink profile): median {np.median(e):.1f} px, "
                  f"10th percentile {np.percentile(e, 10):.1f} px, min {e.min():.1f} px")
    if meta:
        print("\ncoverage of the page/card (bounding box span, tighter dimension | quad area / frame area)")
        for kind in ("text", "form", "barcode", "qr"):
            ms = [m for p, m in meta.items() if p.startswith(kind + "/")]
            if ms:
                cb = np.array([m["coverage_bbox"] for m in ms]); ca = np.array([m["coverage_area"] for m in ms])
                print(f"  {kind:8s} span {cb.min():.2f}-{cb.max():.2f} (median {np.median(cb):.2f}) | "
                      f"area {ca.min():.2f}-{ca.max():.2f} (median {np.median(ca):.2f})")
    if failures and not a.quiet:
        print("\nnot decoded")
        for path, fmt, text, got in failures:
            m = meta.get(path, {})
            info = f"module {m.get('module_px')} blur {m.get('blur')} q {m.get('jpeg_quality')} finger {m.get('finger')}"
            print(f"  {path} {fmt} {text!r}: got {got}; {info}")
    if false_list and not a.quiet:
        print("\nfound but not in the ground truth")
        for path, fmt, text in false_list:
            print(f"  {path} {fmt} {text!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
