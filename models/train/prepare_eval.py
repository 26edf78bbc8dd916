#!/usr/bin/env python3
"""Write the classifier evaluation inputs the engine benchmark reads (issue 6).

Two sets, each as `<name>.u8` (N x size x size x 3 uint8, RGB, row-major) plus `<name>.json`
({"size", "classes", "labels": [...], "files": [...], "mean", "std"}):

  test   the synthetic test split (scenes.py --split test), resized like training does
  real   the real photos listed in models/train/real_labels.tsv (under ../shared/data), the
         whole frame (EXIF orientation applied) resized to size x size, as the scanner
         downscales a camera frame; skipped with a message when the folder is absent

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


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="scenes.py output folder (with test/)")
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--real-root", default=os.path.join(HERE, "../../../shared/data"))
    ap.add_argument("--real-labels", default=os.path.join(HERE, "real_labels.tsv"))
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)

    test = os.path.join(a.data, "test")
    with open(os.path.join(test, "labels.csv")) as fh:
        rows = list(csv.DictReader(fh))
    write(a.out, "test", a.size, [frame(os.path.join(test, r["file"]), a.size) for r in rows],
          [r["label"] for r in rows], [r["file"] for r in rows])

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
