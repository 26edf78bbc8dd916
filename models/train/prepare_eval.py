#!/usr/bin/env python3
"""Write the classifier evaluation inputs the engine benchmark reads (issue 6).

Two sets, each as `<name>.u8` (N x size x size x 3 uint8, RGB, row-major) plus `<name>.json`
({"size", "classes", "labels": [...], "files": [...], "mean", "std"}):

  test   the synthetic test split (scenes.py --split test), resized like training does
  real   the real photos listed in models/train/real_labels.tsv (under ../shared/data), the
         whole frame (EXIF orientation applied) resized to size x size, as the scanner
         downscales a camera frame; skipped with a message when the folder is absent
  world  the generated captures without a desk (scenes.py --world 1: flat scans,
         screenshots, lines, words, receipts, monitors, dark rooms, sideways pages), when
         DATA/test_world exists
  real_set  benches/real's development images (make real-set), labelled by shape: word,
         line, screenshot, 300-dpi scan and phone photo of a page -> text, no page -> none,
         page with a code -> the code's class; never trained on

    python models/train/prepare_eval.py --data models/train/work/data --size 112 --out DIR
"""
import argparse
import csv
import json
import os
import sys

import numpy as np
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from train import CLASSES, MEAN, STD  # noqa: E402


def frame(path: str, size: int) -> np.ndarray:
    im = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    return np.asarray(im.resize((size, size), Image.BILINEAR))


def write(out: str, name: str, size: int, images: list, labels: list, files: list) -> None:
    x = np.stack(images).astype(np.uint8)
    with open(os.path.join(out, f"{name}.u8"), "wb") as fh:
        fh.write(x.tobytes())
    meta = {"size": size, "classes": CLASSES, "mean": MEAN, "std": STD, "labels": labels, "files": files}
    with open(os.path.join(out, f"{name}.json"), "w") as fh:
        json.dump(meta, fh)
    print(f"{name}: {len(files)} images -> {out}/{name}.u8", file=sys.stderr)


def real_set_label(shape: str, codes: str) -> str:
    """The class a scan of a benches/real image should get, from its shape and codes."""
    if shape == "no_page":
        return "none"
    if shape == "page_barcode":
        return "qr" if codes.startswith("qr:") else "barcode"
    return "text"


def write_real_set(out: str, size: int, root: str) -> None:
    manifest = os.path.join(root, "manifest.tsv")
    if not os.path.exists(manifest):
        print(f"real_set: {manifest} not found", file=sys.stderr)
        return
    with open(manifest) as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    rows = [r for r in rows if os.path.exists(os.path.join(root, "set", r["relative_path"]))]
    if not rows:
        print(f"real_set: no images under {root}/set (make real-set fetches them)", file=sys.stderr)
        return
    write(out, "real_set", size, [frame(os.path.join(root, "set", r["relative_path"]), size) for r in rows],
          [real_set_label(r["shape"], r["expected_codes"]) for r in rows], [r["relative_path"] for r in rows])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="scenes.py output folder (with test/)")
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--real-root", default=os.path.join(HERE, "../../../shared/data"))
    ap.add_argument("--real-labels", default=os.path.join(HERE, "real_labels.tsv"))
    ap.add_argument("--real-set", default=os.path.join(HERE, "../../benches/real"))
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)

    test = os.path.join(a.data, "test")
    with open(os.path.join(test, "labels.csv")) as fh:
        rows = list(csv.DictReader(fh))
    write(a.out, "test", a.size, [frame(os.path.join(test, r["file"]), a.size) for r in rows],
          [r["label"] for r in rows], [r["file"] for r in rows])

    world = os.path.join(a.data, "test_world")
    if os.path.exists(os.path.join(world, "labels.csv")):
        with open(os.path.join(world, "labels.csv")) as fh:
            rows = list(csv.DictReader(fh))
        write(a.out, "world", a.size, [frame(os.path.join(world, r["file"]), a.size) for r in rows],
              [r["label"] for r in rows], [r["file"] for r in rows])
    write_real_set(a.out, a.size, a.real_set)

    if not os.path.isdir(a.real_root):
        print(f"real: {a.real_root} not found, no real-photo set", file=sys.stderr)
        return
    with open(a.real_labels) as fh:
        rows = [r for r in csv.DictReader((ln for ln in fh if not ln.startswith("#")), delimiter="\t")]
    rows = [r for r in rows if os.path.exists(os.path.join(a.real_root, r["path"]))]
    bad = [r["label"] for r in rows if r["label"] not in CLASSES]
    if bad:
        sys.exit(f"prepare_eval.py: unknown labels {bad[:3]} in {a.real_labels}")
    write(a.out, "real", a.size, [frame(os.path.join(a.real_root, r["path"]), a.size) for r in rows],
          [r["label"] for r in rows], [r["path"] for r in rows])


if __name__ == "__main__":
    main()
