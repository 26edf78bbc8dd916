#!/usr/bin/env python3
"""Calibration image folders for the benchmark models, from shared/data plus synthetic images.

  <out>/calib224   ~50 JPEGs 224x224: centre crops of shared/data images (pages, codes, OCR)
                   and synthetic "document-like" images (text and boxes on paper colours);
                   for MobileNetV2 / ResNet-50 (`slimscan compress --calib`, ort_quantize.py).
  <out>/calib_det  page and code images, longer side at most 1024 px; for PP-OCR det (640x640).
  <out>/calib_rec  text-line shaped images (aspect 320:48): OCR lines/words padded with white,
                   and horizontal strips cut from the pages; for PP-OCR rec (48x320).

    python models/train/make_calib_images.py --data /work/shared/data --out /tmp
Needs Pillow only. Deterministic (seed 0).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

EXTS = {".png", ".jpg", ".jpeg"}


def images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in EXTS) if folder.is_dir() else []


def synthetic(rng: random.Random, size: int) -> Image.Image:
    im = Image.new("RGB", (size, size), tuple(rng.randint(150, 255) for _ in range(3)))
    d = ImageDraw.Draw(im)
    for _ in range(rng.randint(5, 30)):
        x, y = rng.randint(0, size - 24), rng.randint(0, size - 24)
        c = tuple(rng.randint(0, 120) for _ in range(3))
        if rng.random() < 0.5:
            d.rectangle((x, y, x + rng.randint(2, 60), y + rng.randint(2, 20)), fill=c)
        else:
            d.text((x, y), "".join(rng.choice("ABCDEFGH0123456789 ") for _ in range(10)), fill=c)
    return im.filter(ImageFilter.GaussianBlur(rng.random()))


def pad_to_aspect(im: Image.Image, aspect: float) -> Image.Image:
    """Pads on the right (white) to width/height >= aspect; crops the width to it otherwise."""
    w, h = im.size
    want = round(h * aspect)
    out = Image.new("RGB", (max(w, want), h), (255, 255, 255))
    out.paste(im, (0, 0))
    return out.crop((0, 0, want, h))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--out", type=Path, default=Path("/tmp"))
    ap.add_argument("--count", type=int, default=40, help="real images in calib224 (default 40)")
    ap.add_argument("--synthetic", type=int, default=12, help="synthetic images in calib224 (default 12)")
    args = ap.parse_args()
    rng = random.Random(0)

    everything = images(args.data)
    pages = images(args.data / "pages")
    codes = images(args.data / "codes")
    ocr = images(args.data / "ocr")

    c224 = args.out / "calib224"
    c224.mkdir(parents=True, exist_ok=True)
    pool = everything[:]
    rng.shuffle(pool)
    for i, f in enumerate(pool[: args.count]):
        im = Image.open(f).convert("RGB")
        s = min(im.size)
        left, top = (im.width - s) // 2, (im.height - s) // 2
        im.crop((left, top, left + s, top + s)).resize((224, 224), Image.BILINEAR).save(c224 / f"real_{i:03d}.jpg", quality=92)
    for i in range(args.synthetic):
        synthetic(rng, 224).save(c224 / f"synth_{i:03d}.jpg", quality=90)

    det = args.out / "calib_det"
    det.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(pages + codes):
        im = Image.open(f).convert("RGB")
        im.thumbnail((1024, 1024))
        im.save(det / f"det_{i:03d}.jpg", quality=92)

    rec = args.out / "calib_rec"
    rec.mkdir(parents=True, exist_ok=True)
    n = 0
    for f in ocr:
        im = Image.open(f).convert("RGB")
        pad_to_aspect(im, 320 / 48).save(rec / f"rec_{n:03d}.png")
        n += 1
    for f in pages:
        im = Image.open(f).convert("L").convert("RGB")
        for _ in range(3):
            h = max(16, im.height // rng.randint(20, 40))
            w = min(im.width, round(h * 320 / 48))
            x, y = rng.randint(0, im.width - w), rng.randint(0, im.height - h)
            im.crop((x, y, x + w, y + h)).save(rec / f"rec_{n:03d}.png")
            n += 1
    print(f"{c224}: {len(list(c224.iterdir()))} images, {det}: {len(list(det.iterdir()))}, {rec}: {n}")


if __name__ == "__main__":
    main()
