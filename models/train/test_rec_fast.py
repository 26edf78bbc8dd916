#!/usr/bin/env python3
"""Checks for rec_fast.py's scene-crop labels (not part of `make test`; needs numpy and Pillow):
    .tools/train-venv/bin/python models/train/test_rec_fast.py"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rec_fast import best_substring, scene_label, whole_words  # noqa: E402

GT = ["Name: John Smith", "Shop Existing customer", "of themselves many house death part of it", "Yes No Maybe"]


def main():
    # a reading that is part of a printed line is the label
    assert scene_label("Name: John Smith", GT) == "Name: John Smith"
    assert scene_label("Smith", GT) == "Smith"
    # PP-OCR's misreadings are corrected to the closest ground truth, within 15 % of edits
    assert scene_label("John Srnith", GT) == "John Smith"
    assert scene_label("of themselves many house death pat", GT) == "of themselves many house death part"
    # a checkbox read as a CJK glyph, or as "x" beside a label, is not part of the label
    assert scene_label("口Yes口No", GT) == "Yes No"
    assert scene_label("x Existing customer", GT) == "Existing customer"
    # a word cut at either end is made whole when at least half of it is inside, else dropped
    assert scene_label("ohn Smith", GT) == "John Smith"
    assert whole_words("Shop Existing", 3, 13) == "Existing"
    assert whole_words("Shop Existing", 2, 13) == "Shop Existing"
    # nothing located: no label
    assert scene_label("xyzzy plugh", GT) is None
    assert scene_label("口", GT) is None
    assert scene_label("", GT) is None
    d, sub = best_substring("Srnith", "John Smith")
    assert (d, sub) == (2, "Smith"), (d, sub)
    print("test_rec_fast: ok")


if __name__ == "__main__":
    main()
