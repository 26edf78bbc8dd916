#!/usr/bin/env python3
"""Checks for scenes.py (not part of `make test`):
    .tools/train-venv/bin/python models/train/test_scenes.py"""
import collections
import csv
import io
import os
import sys
import tempfile

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import barcode  # noqa: E402
import scenes  # noqa: E402


def main():
    # train/test disjointness: fonts, words, form labels, background families
    ftr, fte = scenes.fonts_for("train"), scenes.fonts_for("test")
    assert ftr and fte and not set(ftr) & set(fte), "train/test fonts overlap"
    assert not set(scenes.words_for("train")) & set(scenes.words_for("test")), "word pools overlap"
    assert not set(scenes.form_labels_for("train")) & set(scenes.form_labels_for("test"))
    assert not set(scenes.BG_FAMILIES["train"]) & set(scenes.BG_FAMILIES["test"])

    # determinism: same seed -> identical bytes; other seed or split -> different bytes
    for i in range(10):
        a = scenes.scene(i, "train", 5, 128)
        assert a == scenes.scene(i, "train", 5, 128), f"image {i} not deterministic"
        assert a[1] != scenes.scene(i, "train", 6, 128)[1]
        assert a[1] != scenes.scene(i, "test", 5, 128)[1]

    # the CLI: count, sizes, JPEG, balanced labels, reproducible files
    with tempfile.TemporaryDirectory() as d1, tempfile.TemporaryDirectory() as d2:
        for d in (d1, d2):
            scenes.main(["--out", d, "--split", "test", "--count", "50", "--size", "96", "--seed", "3"])
        rows = list(csv.DictReader(open(os.path.join(d1, "labels.csv"))))
        assert len(rows) == 50
        counts = collections.Counter(r["label"] for r in rows)
        assert set(counts) == set(scenes.CLASSES) and set(counts.values()) == {10}, counts
        for r in rows:
            p = os.path.join(d1, r["file"])
            im = Image.open(p)
            assert im.format == "JPEG" and im.size == (96, 96) and im.mode == "RGB"
            assert open(p, "rb").read() == open(os.path.join(d2, r["file"]), "rb").read()
        # not all one colour
        assert np.asarray(Image.open(os.path.join(d1, rows[0]["file"]))).std() > 3

    # barcode patterns come from python-barcode: EAN-13 check digit and module count
    code = barcode.get_barcode_class("ean13")("400638133393")
    assert code.get_fullcode() == "4006381333931" and len(code.build()[0]) == 95

    # the rendered codes are real: a decoder (zxing-cpp) reads every flat barcode and QR code
    # the generator draws, before the camera effects (which may then destroy them, as cameras do)
    import zxingcpp
    ctx = scenes.context("test")
    for kind, draw in (("barcode", scenes.draw_barcode), ("qr", scenes.draw_qr)):
        for i in range(60):
            img = draw(np.random.default_rng([11, i]), ctx)
            found = zxingcpp.read_barcodes(img)
            assert found, f"{kind} {i}: zxing-cpp found no code in the flat rendering"
            if kind == "qr":
                assert found[0].format == zxingcpp.BarcodeFormat.QRCode
    # captures without a desk (captures.py): every kind of every class renders in both splits,
    # deterministically, as a JPEG of the asked size; world=0 leaves the camera scenes as they were
    import captures
    for split in ("train", "test"):
        ctx = scenes.context(split)
        for label, kinds in captures.KINDS.items():
            seen = set()
            for j in range(200):
                rng = np.random.default_rng([12, j])
                kind = kinds[int(rng.integers(len(kinds)))]
                if kind in seen:
                    continue
                seen.add(kind)
                data = captures.capture(label, np.random.default_rng([12, j]), ctx, 96)
                assert data == captures.capture(label, np.random.default_rng([12, j]), ctx, 96), (label, kind)
                im = Image.open(io.BytesIO(data))
                assert im.format == "JPEG" and im.size == (96, 96), (label, kind, im.size)
            assert seen == set(kinds), (label, set(kinds) - seen)
    worlds = [scenes.scene(i, "train", 5, 96, world=1.0) for i in range(10)]
    assert all(w != scenes.scene(i, "train", 5, 96) for i, w in enumerate(worlds))
    assert [w[0] for w in worlds] == [scenes.CLASSES[i % 5] for i in range(10)]
    print("test_scenes: ok")


if __name__ == "__main__":
    main()
