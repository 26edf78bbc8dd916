#!/usr/bin/env python3
"""Make a labelled, camera-like scene set for `slimscan eval scan --set DIR`.

Five scene types, each a photo-like JPEG with its ground truth in DIR/manifest.jsonl:
text (a printed page of prose), form (a filled form), barcode (1D codes on a card or label),
qr (QR and other 2D codes on a card) and none (clutter, no document and no code). Pages and
cards are rendered flat at about the scale they appear in the frame, warped into the frame
(rotation, perspective), laid over cluttered, textured or low-contrast backgrounds (the
background families of models/train/scenes.py) and degraded like a phone photo: a finger on
the page edge, uneven light, shadow, defocus or motion blur, sharpening, sensor noise, JPEG.

Everything is drawn from one seed: scene i of a type depends only on (seed, type, i) and the
code texts of the scenes before it (no two scenes share a code text), so the same seed, fonts
and package versions give byte-identical files.

    .tools/scan-venv/bin/python benches/scan/make_set.py --out DIR --seed S --per-type N

See benches/scan/README.md for the manifest format.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import math
import string
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

import barcode
import segno
import zxingcpp

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "models" / "train"))
import scenes  # noqa: E402  (models/train/scenes.py: backgrounds, word pool)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_set import decode_all  # noqa: E402  (zxing-cpp results in the manifest's conventions)


def _load_ocr_set():
    """benches/ocr/make_set.py (fonts, document content, geometry helpers) under its own name."""
    path = ROOT / "benches" / "ocr" / "make_set.py"
    spec = importlib.util.spec_from_file_location("ocr_make_set", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["ocr_make_set"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


ocr = _load_ocr_set()

DEFAULT_SEED = 20250611
TYPES = ["text", "form", "barcode", "qr", "none"]
DOC_FRAMES = [(1920, 1080), (1600, 1200), (1280, 960)]
CODE_FRAMES = [(1280, 720)] * 8 + [(1920, 1080), (1280, 960)]  # "mostly 1280x720"
LINEAR = ["ean_13", "ean_8", "upc_a", "upc_e", "code_128", "code_39", "code_93", "itf", "codabar"]
MATRIX = ["qr_code"] * 6 + ["micro_qr_code", "data_matrix", "aztec", "pdf_417"]
MIN_XHEIGHT = 9.6  # px in the frame, every printed line, after the perspective (target >= 9)
MIN_MODULE_1D = 1.8  # px in the frame, narrowest module of a 1D code
MIN_MODULE_2D = 2.4  # px in the frame, a module of a 2D code
A4 = math.sqrt(2.0)

pick = ocr.pick
perspective_coeffs = ocr.perspective_coeffs
map_points = ocr.map_points
rect_corners = ocr.rect_corners


def u(rng, lo, hi):
    return float(rng.uniform(lo, hi))


def ri(rng, lo, hi):
    """Integer in [lo, hi] (inclusive)."""
    return int(rng.integers(lo, hi + 1))


def rgb(c):
    return tuple(int(round(float(v))) for v in c)


# ---------------------------------------------------------------------------------------------
# Fonts (the OCR set's table of Debian font families)

FAMILIES = ocr.find_fonts()
if len(FAMILIES) < ocr.MIN_FONT_FAMILIES:
    sys.exit("make_set.py: too few font families; install them with `make fonts` (see README)")
load_font = ocr.load_font


@lru_cache(maxsize=256)
def xheight_ratio(path: str) -> float:
    """Height of the letter x per pixel of font size."""
    return -load_font(path, 200).getbbox("x", anchor="ls")[1] / 200.0


@lru_cache(maxsize=256)
def ascent_ratio(path: str) -> float:
    """Height of 'H' per pixel of font size (cap height)."""
    return -load_font(path, 200).getbbox("H", anchor="ls")[1] / 200.0


def font_px_for_xheight(path: str, xh: float) -> int:
    return max(6, int(math.ceil(xh / xheight_ratio(path))))


@dataclass
class Face:
    path: str
    px: int

    @property
    def font(self):
        return load_font(self.path, self.px)

    @property
    def xh(self) -> float:
        return xheight_ratio(self.path) * self.px

    @property
    def cap(self) -> float:
        return ascent_ratio(self.path) * self.px

    def width(self, text: str) -> float:
        return self.font.getlength(text)


def face_path(rng, family, bold=False, italic=False) -> str:
    if bold and family.bold:
        return family.bold
    if italic and family.italic:
        return family.italic
    return family.regular


# ---------------------------------------------------------------------------------------------
# Text content

WORDS = sorted(set(w for w in scenes._WORDS if w.isalpha()))
TITLE_WORDS = [w for w in WORDS if len(w) > 3]
INKS = {
    "black": lambda rng: np.full(3, u(rng, 8, 45)),
    "grey": lambda rng: np.full(3, u(rng, 45, 75)),
    "blueblack": lambda rng: np.array([25, 30, 75.0]) + rng.uniform(-8, 8, 3),
    "blue": lambda rng: np.array([25, 45, 150.0]) + rng.uniform(-10, 15, 3),
    "brown": lambda rng: np.array([70, 45, 30.0]) + rng.uniform(-8, 8, 3),
    "red": lambda rng: np.array([130, 20, 25.0]) + rng.uniform(-10, 10, 3),
    "green": lambda rng: np.array([20, 75, 45.0]) + rng.uniform(-8, 8, 3),
}


def ink(rng, names=("black", "black", "black", "grey", "blueblack", "brown")) -> np.ndarray:
    return np.clip(INKS[pick(rng, list(names))](rng), 0, 255)


def paper_colour(rng) -> np.ndarray:
    tint = pick(rng, [np.array([0, 0, 0]), np.array([3, 1, -8]), np.array([2, 0, -5]),
                      np.array([-2, 0, 3]), np.array([0, 1, 0])])
    return np.clip(u(rng, 228, 252) + tint, 0, 255).astype(np.float32)


def sentence(rng) -> str:
    n = ri(rng, 5, 16)
    words = [pick(rng, WORDS) for _ in range(n)]
    if rng.random() < 0.12:
        words[ri(rng, 1, n - 1)] = str(pick(rng, [ri(rng, 2, 99), ri(rng, 1900, 2030), ri(rng, 100, 999)]))
    if n > 7 and rng.random() < 0.35:
        k = ri(rng, 2, n - 3)
        words[k] += ","
    words[0] = words[0].capitalize()
    return " ".join(words) + pick(rng, [".", ".", ".", ".", ".", "?", ";", ":"])


def paragraph_words(rng) -> list[str]:
    return " ".join(sentence(rng) for _ in range(ri(rng, 2, 6))).split()


def doc_title(rng) -> str:
    r = rng.random()
    if r < 0.3:
        return pick(rng, ocr.HEADINGS).title() if rng.random() < 0.5 else pick(rng, ocr.HEADINGS)
    if r < 0.5:
        return f"{ri(rng, 1, 12)}. {pick(rng, ocr.SECTION_TITLES)}"
    return " ".join(pick(rng, TITLE_WORDS) for _ in range(ri(rng, 2, 5))).title()


def fit_words(text: str, face: Face, width: float) -> str:
    """Drop words from the end until the text fits (at least one word stays)."""
    words = text.split()
    while len(words) > 1 and face.width(" ".join(words)) > width:
        words.pop()
    return " ".join(words)


# ---------------------------------------------------------------------------------------------
# Flat layouts: draw operations in page pixels plus the printed lines (ground truth order)


@dataclass
class Line:
    text: str
    x0: float
    x1: float
    baseline: float
    xh: float  # x-height in page pixels


@dataclass
class Layout:
    w: int
    h: int
    ops: list = field(default_factory=list)
    lines: list = field(default_factory=list)
    fields: list = field(default_factory=list)
    keep_out: list = field(default_factory=list)  # flat boxes a finger must not cover

    def text(self, x, baseline, s, face: Face, colour):
        self.ops.append(("text", (x, baseline), s, face, colour))
        return face.width(s)

    def ink_box(self):
        """Bounding box of everything printed (x0, y0, x1, y1)."""
        xs, ys = [], []
        for op in self.ops:
            if op[0] == "text":
                (x, b), s, face = op[1], op[2], op[3]
                l, t, r, bt = face.font.getbbox(s, anchor="ls")
                xs += [x + l, x + r]; ys += [b + t, b + bt]
            elif op[0] in ("rect", "check"):
                x0, y0, x1, y1 = op[1]
                xs += [x0, x1]; ys += [y0, y1]
            elif op[0] == "line":
                (x0, y0, x1, y1) = op[1]
                xs += [x0, x1]; ys += [y0, y1]
        return min(xs), min(ys), max(xs), max(ys)


def draw_layout(rng, lay: Layout, paper: np.ndarray) -> Image.Image:
    """Paper with a faint texture and the layout's ink."""
    texture = ocr.smooth_noise(rng, lay.w, lay.h, max(8, min(lay.w, lay.h) // 6)) * u(rng, 0.8, 3.5)
    arr = np.clip(paper[None, None, :] + texture[..., None], 0, 255).astype(np.uint8)
    img = Image.fromarray(arr)
    d = ImageDraw.Draw(img)
    for op in lay.ops:
        kind = op[0]
        if kind == "text":
            _, (x, b), s, face, col = op
            d.text((x, b), s, font=face.font, anchor="ls", fill=rgb(col))
        elif kind == "rect":
            _, box, col, width = op
            d.rectangle([round(v) for v in box], outline=rgb(col), width=width)
        elif kind == "fill":
            _, box, col = op
            d.rectangle([round(v) for v in box], fill=rgb(col))
        elif kind == "line":
            _, (x0, y0, x1, y1), col, width = op
            d.line([x0, y0, x1, y1], fill=rgb(col), width=width)
        elif kind == "check":
            _, (x0, y0, x1, y1), mark, col, width = op
            s = x1 - x0
            if mark == "tick":
                pts = [(x0 + 0.18 * s, y0 + 0.52 * s), (x0 + 0.42 * s, y0 + 0.8 * s), (x0 + 0.88 * s, y0 + 0.1 * s)]
                d.line(pts, fill=rgb(col), width=width, joint="curve")
            else:
                i = 0.2 * s
                d.line([x0 + i, y0 + i, x1 - i, y1 - i], fill=rgb(col), width=width)
                d.line([x0 + i, y1 - i, x1 - i, y0 + i], fill=rgb(col), width=width)
        elif kind == "image":
            _, (x, y), im = op
            img.paste(im, (int(round(x)), int(round(y))))
    return img


# ---------------------------------------------------------------------------------------------
# Text page


@dataclass
class TextStyle:
    body: object  # FontFamily
    title: object
    italic: bool
    lead: float
    title_scale: float
    margins: tuple  # left, right, top, bottom as fractions of (w, w, h, h)
    justify: bool
    indent: bool
    par_gap: float
    centre_title: bool
    footer: str | None
    ink: np.ndarray
    title_ink: np.ndarray
    xh_boost: float


def text_style(rng) -> TextStyle:
    body = ocr.pick_family(rng, FAMILIES)
    title = body if rng.random() < 0.5 else ocr.pick_family(rng, FAMILIES, ("sans", "serif"))
    body_ink = ink(rng)
    return TextStyle(
        body=body, title=title, italic=rng.random() < 0.08, lead=u(rng, 1.2, 1.6),
        title_scale=u(rng, 1.35, 2.0),
        margins=(u(rng, 0.07, 0.13), u(rng, 0.07, 0.13), u(rng, 0.05, 0.09), u(rng, 0.05, 0.09)),
        justify=rng.random() < 0.35, indent=rng.random() < 0.4,
        par_gap=0.0 if rng.random() < 0.4 else u(rng, 0.3, 1.0), centre_title=rng.random() < 0.4,
        footer=pick(rng, [None, None, "Page {k}", "- {k} -", "Page {k} of {n}"]),
        ink=body_ink, title_ink=body_ink if rng.random() < 0.6 else ink(rng, ("blueblack", "red", "black", "green")),
        xh_boost=u(rng, 1.0, 1.45),
    )


def layout_text(rng_words, st: TextStyle, w: int, h: int, xh: float, n_lines: int, paras, title):
    """Title plus n_lines of prose on a w x h page with body x-height xh; None if they do not fit."""
    lay = Layout(w, h)
    ml, mr, mt, mb = st.margins[0] * w, st.margins[1] * w, st.margins[2] * h, st.margins[3] * h
    tw = w - ml - mr
    bpath = face_path(None, st.body, italic=st.italic)
    body = Face(bpath, font_px_for_xheight(bpath, xh))
    tpath = face_path(None, st.title, bold=True)
    tface = Face(tpath, max(font_px_for_xheight(tpath, xh), round(body.px * st.title_scale)))
    pitch = body.px * st.lead
    y = mt + tface.cap
    ttext = fit_words(title, tface, tw)
    tx = ml + (tw - tface.width(ttext)) / 2 if st.centre_title else ml
    lay.text(tx, y, ttext, tface, st.title_ink)
    lay.lines.append(Line(ttext, tx, tx + tface.width(ttext), y, tface.xh))
    y += tface.px * 0.45 + pitch * 1.1
    bottom = h - mb
    space = body.width(" ")
    made = 0
    for words in paras:
        first = True
        i = 0
        while i < len(words) and made < n_lines:
            indent = body.px * 1.5 if first and st.indent else 0.0
            width = tw - indent
            j = i + 1
            while j < len(words) and body.width(" ".join(words[i:j + 1])) <= width:
                j += 1
            line_words = words[i:j]
            if y > bottom:
                return None
            text = " ".join(line_words)
            x = ml + indent
            if st.justify and j < len(words) and len(line_words) > 1:
                gap = (width - sum(body.width(wd) for wd in line_words)) / (len(line_words) - 1)
                if gap < 3 * space:
                    xx = x
                    for wd in line_words:
                        lay.text(xx, y, wd, body, st.ink)
                        xx += body.width(wd) + gap
                    lay.lines.append(Line(text, x, x + width, y, body.xh))
                    made += 1; y += pitch; i = j; first = False
                    continue
            lay.text(x, y, text, body, st.ink)
            lay.lines.append(Line(text, x, x + body.width(text), y, body.xh))
            made += 1; y += pitch; i = j; first = False
        if made >= n_lines:
            break
        y += pitch * st.par_gap
    if made < n_lines:
        return None
    if st.footer:
        k = ri(rng_words, 1, 9)
        ftext = st.footer.format(k=k, n=k + ri(rng_words, 0, 5))
        fy = max(y + pitch * 0.5, h - mb * 0.45)
        if fy > h - 2:
            return None
        fx = ml + (tw - body.width(ftext)) / 2
        lay.text(fx, fy, ftext, body, st.ink)
        lay.lines.append(Line(ftext, fx, fx + body.width(ftext), fy, body.xh))
    x0, y0, x1, y1 = lay.ink_box()
    lay.keep_out.append((x0 - body.px * 0.4, y0 - body.px * 0.4, x1 + body.px * 0.4, y1 + body.px * 0.4))
    return lay


# ---------------------------------------------------------------------------------------------
# Form page

FIRST = ocr.FIRST_NAMES
LAST = ocr.LAST_NAMES
COUNTRIES = ["United Kingdom", "Canada", "Ireland", "Germany", "France", "Spain", "Portugal",
             "Netherlands", "Australia", "New Zealand", "Norway", "Italy", "Poland", "Japan"]
JOBS = ["Engineer", "Teacher", "Nurse", "Accountant", "Electrician", "Designer", "Student",
        "Pharmacist", "Chef", "Architect", "Driver", "Librarian", "Retired", "Consultant"]
DEPTS = ["Finance", "Sales", "Operations", "Human Resources", "Research", "Logistics", "IT"]
FORM_TITLES = ["APPLICATION FORM", "Customer Registration Form", "Change of Address",
               "Membership Application", "ORDER FORM", "Patient Information", "Employee Details",
               "Delivery Request", "Warranty Registration", "EXPENSE CLAIM", "Booking Form",
               "Volunteer Sign-up", "Account Opening Form", "Visitor Registration"]
INSTRUCTIONS = ["Please complete all fields in block capitals.", "Use black or blue ink.",
                "Return this form to the front desk.", "All fields are required.",
                "Please print clearly.", "Office use only below this line."]
SECTIONS = ["Personal details", "Contact details", "Payment", "Delivery", "Declaration",
            "Employment", "Preferences", "Account details"]
CHECK_LABELS = ["I agree to the terms", "Subscribe to newsletter", "Email", "Phone", "Post",
                "Yes", "No", "New customer", "Existing customer", "Urgent", "Gift wrap",
                "Home delivery", "Collect in store", "Full time", "Part time", "Paid by card",
                "Cash", "Receipt required", "Same as above", "Contact me by SMS", "Large print",
                "Wheelchair access", "Vegetarian", "First visit", "Repeat order", "Insured"]
CHECK_GROUPS = ["Preferred contact:", "Options:", "Please tick:", "Payment method:", "Status:"]


def _digits(rng, n):
    return "".join(str(int(d)) for d in rng.integers(0, 10, n))


def _letters(rng, n, alphabet=string.ascii_uppercase):
    return "".join(pick(rng, list(alphabet)) for _ in range(n))


def _uk_postcode(rng):
    return (f"{pick(rng, ['SW', 'N', 'EH', 'M', 'BS'])}{ri(rng, 1, 19)} "
            f"{ri(rng, 1, 9)}{pick(rng, list('ABDEFGHJ'))}{pick(rng, list('LNPQRSTU'))}")


FORM_FIELDS = [
    ("Full name", ocr.person), ("First name", lambda r: pick(r, FIRST)), ("Surname", lambda r: pick(r, LAST)),
    ("Date of birth", ocr.date), ("Date", ocr.date), ("Start date", ocr.date),
    ("Address", ocr.street_address), ("City", lambda r: pick(r, ocr.CITIES)[0]),
    ("Postcode", lambda r: _digits(r, 5) if r.random() < 0.5 else _uk_postcode(r)),
    ("Phone", ocr.phone), ("Mobile", ocr.phone), ("Email", ocr.email), ("Website", ocr.url),
    ("Account number", lambda r: _digits(r, ri(r, 8, 12))), ("Reference", ocr.identifier),
    ("Invoice no.", ocr.identifier), ("Order number", ocr.identifier),
    ("Amount", lambda r: ocr.fmt_money(r, ocr.money(r, 5))), ("Company", lambda r: pick(r, ocr.COMPANIES)),
    ("Employer", lambda r: pick(r, ocr.COMPANIES)), ("Nationality", lambda r: pick(r, COUNTRIES)),
    ("Country", lambda r: pick(r, COUNTRIES)), ("Occupation", lambda r: pick(r, JOBS)),
    ("Department", lambda r: pick(r, DEPTS)), ("Customer ID", lambda r: f"C-{_digits(r, 6)}"),
    ("Emergency contact", ocr.person),
    ("Vehicle reg.", lambda r: f"{_letters(r, 2)}{ri(r, 10, 99)} {_letters(r, 3)}"),
    ("Number of guests", lambda r: str(ri(r, 1, 12))),
    ("Tax ID", lambda r: f"{_digits(r, 3)}-{_digits(r, 2)}-{_digits(r, 4)}"),
]
FIELD_STYLES = ["inline", "box_right", "underline_right", "underline_below", "label_above_box"]


@dataclass
class FormContent:
    title: str
    instruction: str | None
    # ("field", label, value, style, colon) | ("checks", group, [(label, checked)], per_row)
    # | ("section", text)
    items: list
    label_family: object
    value_family: object
    label_bold: bool
    value_italic: bool
    label_ink: np.ndarray
    value_ink: np.ndarray
    line_ink: np.ndarray
    margins: tuple
    pitch: float
    align: bool
    mark: str
    value_scale: float
    xh_boost: float


def form_content(rng) -> FormContent:
    n_check = ri(rng, 1, 4)
    n_other = ri(rng, max(3, 5 - n_check), 12 - n_check)
    idx = rng.permutation(len(FORM_FIELDS))[:n_other]
    styles = list(rng.choice(FIELD_STYLES, size=ri(rng, 2, 4), replace=False))
    caps = rng.random() < 0.2
    items = []
    sections = list(rng.permutation(SECTIONS))
    for k, i in enumerate(idx):
        label, gen = FORM_FIELDS[int(i)]
        value = gen(rng)
        if caps:
            value = value.upper()
        style = pick(rng, styles)
        colon = style in ("inline", "underline_right") or rng.random() < 0.5
        if k > 0 and rng.random() < 0.12:
            items.append(("section", str(sections.pop())))
        items.append(("field", label, value, style, colon))
    labels = list(rng.choice(CHECK_LABELS, size=n_check, replace=False))
    checks = [(str(lb), bool(rng.random() < 0.5)) for lb in labels]
    group = pick(rng, CHECK_GROUPS) if rng.random() < 0.5 else None
    per_row = 1 if rng.random() < 0.55 else ri(rng, 2, 3)
    pos = ri(rng, 0, len(items))
    items.insert(pos, ("checks", group, checks, per_row))
    lf = ocr.pick_family(rng, FAMILIES, ("sans", "serif", "condensed"))
    vf = ocr.pick_family(rng, [f for f in FAMILIES if f.name != lf.name])
    line_ink = ink(rng, ("black", "grey", "blueblack"))
    label_ink = ink(rng, ("black", "black", "grey", "blueblack"))
    value_ink = ink(rng, ("blue", "blue", "black", "blueblack", "blue", "green", "red")) \
        if rng.random() < 0.75 else label_ink
    return FormContent(
        title=pick(rng, FORM_TITLES), instruction=pick(rng, INSTRUCTIONS) if rng.random() < 0.4 else None,
        items=items, label_family=lf, value_family=vf, label_bold=rng.random() < 0.3,
        value_italic=rng.random() < 0.3, label_ink=label_ink, value_ink=value_ink, line_ink=line_ink,
        margins=(u(rng, 0.07, 0.12), u(rng, 0.07, 0.12), u(rng, 0.05, 0.08), u(rng, 0.05, 0.08)),
        pitch=u(rng, 1.9, 2.6), align=rng.random() < 0.6, mark=pick(rng, ["tick", "x"]),
        value_scale=u(rng, 1.0, 1.2), xh_boost=u(rng, 1.0, 1.35),
    )


def layout_form(fc: FormContent, w: int, h: int, xh: float):
    lay = Layout(w, h)
    ml, mr, mt, mb = fc.margins[0] * w, fc.margins[1] * w, fc.margins[2] * h, fc.margins[3] * h
    right = w - mr
    lpath = face_path(None, fc.label_family, bold=fc.label_bold)
    lab = Face(lpath, font_px_for_xheight(lpath, xh))
    vpath = face_path(None, fc.value_family, italic=fc.value_italic)
    val = Face(vpath, font_px_for_xheight(vpath, xh * fc.value_scale))
    tpath = face_path(None, fc.label_family, bold=True)
    tit = Face(tpath, max(round(lab.px * 1.6), font_px_for_xheight(tpath, xh)))
    pitch = lab.px * fc.pitch
    lw = max(1, round(lab.px / 14))
    y = mt + tit.cap
    title = fit_words(fc.title, tit, right - ml)
    lay.text(ml, y, title, tit, fc.label_ink)
    lay.lines.append(Line(title, ml, ml + tit.width(title), y, tit.xh))
    y += pitch * 1.2
    if fc.instruction:
        s = fit_words(fc.instruction, lab, right - ml)
        lay.text(ml, y, s, lab, fc.label_ink)
        lay.lines.append(Line(s, ml, ml + lab.width(s), y, lab.xh))
        y += pitch * 1.1
    gap = lab.width(" ")
    labels_w = [lab.width(it[1] + (":" if it[4] else "")) for it in fc.items
                if it[0] == "field" and it[3] in ("box_right", "underline_right")]
    col_x = ml + (max(labels_w) if labels_w else 0) + gap * 2
    box_pad = val.px * 0.35

    def value_fits(x, value):
        return x + val.width(value) + 2 * box_pad <= right

    for it in fc.items:
        if y > h - mb:
            return None
        if it[0] == "section":
            sec = Face(tpath, lab.px)
            lay.text(ml, y + pitch * 0.3, it[1], sec, fc.label_ink)
            lay.lines.append(Line(it[1], ml, ml + sec.width(it[1]), y + pitch * 0.3, sec.xh))
            y += pitch * 1.3
            continue
        if it[0] == "checks":
            _, group, checks, per_row = it
            if group:
                lay.text(ml, y, group, lab, fc.label_ink)
                lay.lines.append(Line(group, ml, ml + lab.width(group), y, lab.xh))
                y += pitch * 0.95
            s = lab.cap * 1.25
            row, x = [], ml
            rows = []
            for label, checked in checks:
                need = s + gap * 1.2 + lab.width(label)
                if row and (len(row) >= per_row or x + need > right):
                    rows.append(row); row, x = [], ml
                row.append((x, label, checked)); x += need + gap * 4
            rows.append(row)
            for row in rows:
                if y > h - mb:
                    return None
                for x, label, checked in row:
                    box = (x, y - lab.cap * 1.12, x + s, y - lab.cap * 1.12 + s)
                    lay.ops.append(("rect", box, fc.line_ink, max(1, lw)))
                    if checked:
                        lay.ops.append(("check", box, fc.mark, fc.value_ink, max(2, round(s / 7))))
                    lay.text(x + s + gap * 1.2, y, label, lab, fc.label_ink)
                    lay.fields.append({"label": label, "value": "checked" if checked else "unchecked",
                                       "kind": "checkbox"})
                text = " ".join(lb for _, lb, _ in row)
                x0, xe = row[0][0], row[-1][0] + s + gap * 1.2 + lab.width(row[-1][1])
                lay.lines.append(Line(text, x0, xe, y, lab.xh))
                y += pitch
            continue
        _, label, value, style, colon = it
        ltext = label + (":" if colon else "")
        lwid = lab.width(ltext)
        if style in ("inline", "box_right", "underline_right"):  # a long value gets a row of its own
            xv = ml + lwid + gap * 1.3 if style == "inline" else (col_x if fc.align else ml + lwid + gap * 2)
            if not value_fits(xv, value):
                style = "underline_below" if style == "underline_right" else "label_above_box"
        if not value_fits(ml, value):  # still too long: print (and record) what fits
            value = fit_words(value, val, right - ml - 2 * box_pad)
            if not value_fits(ml, value):
                return None
        if style == "inline":
            xv = ml + lwid + gap * 1.3
            if not value_fits(xv, value):
                return None
            lay.text(ml, y, ltext, lab, fc.label_ink)
            lay.text(xv, y, value, val, fc.value_ink)
            lay.lines.append(Line(f"{ltext} {value}", ml, xv + val.width(value), y, min(lab.xh, val.xh)))
            y += pitch
        elif style in ("box_right", "underline_right"):
            xv = col_x if fc.align else ml + lwid + gap * 2
            if not value_fits(xv, value):
                return None
            lay.text(ml, y, ltext, lab, fc.label_ink)
            x_end = right if fc.align or style == "box_right" else min(right, xv + val.width(value) + val.px * 4)
            if style == "box_right":
                box = (xv, y - val.cap - box_pad * 1.3, x_end, y + box_pad * 1.5)
                lay.ops.append(("rect", box, fc.line_ink, lw))
                lay.text(xv + box_pad, y, value, val, fc.value_ink)
            else:
                lay.ops.append(("line", (xv, y + val.px * 0.3, x_end, y + val.px * 0.3), fc.line_ink, lw))
                lay.text(xv + box_pad, y, value, val, fc.value_ink)
            lay.lines.append(Line(f"{ltext} {value}", ml, xv + box_pad + val.width(value), y, min(lab.xh, val.xh)))
            y += pitch * (1.1 if style == "box_right" else 1.0)
        else:  # two rows: the label, then the value on an underline or in a box
            if not value_fits(ml, value):
                return None
            lay.text(ml, y, ltext, lab, fc.label_ink)
            lay.lines.append(Line(ltext, ml, ml + lwid, y, lab.xh))
            y2 = y + pitch * 0.95 + (box_pad if style == "label_above_box" else 0)
            if y2 > h - mb:
                return None
            x_end = right if fc.align else min(right, ml + val.width(value) + val.px * 5)
            if style == "label_above_box":
                box = (ml, y2 - val.cap - box_pad * 1.3, x_end, y2 + box_pad * 1.5)
                lay.ops.append(("rect", box, fc.line_ink, lw))
            else:
                lay.ops.append(("line", (ml, y2 + val.px * 0.3, x_end, y2 + val.px * 0.3), fc.line_ink, lw))
            lay.text(ml + box_pad, y2, value, val, fc.value_ink)
            lay.lines.append(Line(value, ml + box_pad, ml + box_pad + val.width(value), y2, val.xh))
            y = y2 + pitch * 1.05
        lay.fields.append({"label": label, "value": value, "kind": "text"})
    if y - pitch > h - mb:
        return None
    x0, y0, x1, y1 = lay.ink_box()
    lay.keep_out.append((x0 - lab.px * 0.4, y0 - lab.px * 0.4, x1 + lab.px * 0.4, y1 + lab.px * 0.4))
    return lay


# ---------------------------------------------------------------------------------------------
# Codes: data, module patterns, flat rendering

def _check_digit(digits: str) -> str:
    """GS1 check digit (EAN-13, EAN-8, UPC-A)."""
    s = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - s % 10) % 10)


def upce_to_upca(upce7: str) -> str:
    """Number system + 6 digits (no check) -> the 11 UPC-A digits it stands for."""
    ns, d = upce7[0], upce7[1:]
    last = d[5]
    if last in "012":
        body = d[0:2] + last + "0000" + d[2:5]
    elif last == "3":
        body = d[0:3] + "00000" + d[3:5]
    elif last == "4":
        body = d[0:4] + "00000" + d[4]
    else:
        body = d[0:5] + "0000" + last
    return ns + body


def code_text(rng, fmt: str) -> str:
    """Random content for a format, as a decoder returns it."""
    if fmt == "ean_13":
        d = str(ri(rng, 1, 9)) + _digits(rng, 11)  # no leading 0: that reads as a UPC-A
        return d + _check_digit(d)
    if fmt == "ean_8":
        d = _digits(rng, 7)
        return d + _check_digit(d)
    if fmt == "upc_a":
        d = pick(rng, ["0", "0", "1", "6", "7", "8"]) + _digits(rng, 10)
        return d + _check_digit(d)
    if fmt == "upc_e":
        while True:  # zero suppression rules: the digit before the suppressed zeros is not 0
            d = pick(rng, ["0", "1"]) + _digits(rng, 6)
            last = d[6]
            if (last == "3" and d[3] in "012") or (last == "4" and d[4] == "0") or (last in "56789" and d[5] == "0"):
                continue
            return d + _check_digit(upce_to_upca(d))
    if fmt == "code_128":
        if rng.random() < 0.25:
            return _digits(rng, 2 * ri(rng, 4, 9))
        alpha = string.ascii_letters + string.digits + "-./:#"
        s = "".join(pick(rng, list(alpha)) for _ in range(ri(rng, 5, 14)))
        if rng.random() < 0.3 and len(s) > 6:
            k = ri(rng, 2, len(s) - 3)
            s = s[:k] + " " + s[k + 1:]
        return s
    if fmt in ("code_39", "code_93"):
        alpha = string.ascii_uppercase + string.digits + "-."
        n = ri(rng, 4, 10)
        s = "".join(pick(rng, list(alpha)) for _ in range(n))
        if rng.random() < 0.3 and n > 5:
            k = ri(rng, 2, n - 3)
            s = s[:k] + " " + s[k + 1:]
        return s
    if fmt == "itf":
        return _digits(rng, 2 * ri(rng, 3, 7))
    if fmt == "codabar":
        return "".join(pick(rng, list("0123456789" * 3 + "-$:/.+")) for _ in range(ri(rng, 5, 12)))
    if fmt == "qr_code":
        return qr_payload(rng)
    if fmt == "micro_qr_code":
        r = rng.random()
        if r < 0.4:
            return _digits(rng, ri(rng, 6, 20))
        if r < 0.8:
            return _letters(rng, ri(rng, 4, 12), string.ascii_uppercase + string.digits + " -./:").strip() or "A1"
        return pick(rng, ["Café", "Zoë", "Noël", "Crème"]) + " " + str(ri(rng, 1, 999))
    if fmt == "data_matrix":
        return pick(rng, [lambda: ocr.identifier(rng), lambda: _digits(rng, ri(rng, 8, 24)),
                          lambda: f"SN{_digits(rng, 8)} LOT {ri(rng, 100, 999)}",
                          lambda: short_text(rng, 12, 40)])()
    if fmt == "aztec":
        return pick(rng, [lambda: qr_url(rng), lambda: short_text(rng, 10, 50),
                          lambda: f"TKT{_digits(rng, 10)}/{pick(rng, ['ADULT', 'CHILD', 'SENIOR'])}"])()
    if fmt == "pdf_417":
        return pick(rng, [lambda: f"{ocr.person(rng).upper()}|{_digits(rng, 9)}|{ocr.date(rng)}",
                          lambda: short_text(rng, 20, 60),
                          lambda: f"ID {_digits(rng, 8)} {pick(rng, ocr.CITIES)[0].upper()} {ri(rng, 1950, 2010)}"])()
    raise ValueError(fmt)


UTF8_WORDS = ["Café", "crème brûlée", "naïve", "Zürich", "Grüße", "São Paulo", "piñata", "façade",
              "Ångström", "€ 12,50", "Málaga", "Kraków", "déjà vu", "smörgåsbord", "jalapeño"]


def short_text(rng, lo, hi) -> str:
    words = []
    while len(" ".join(words)) < lo:
        words.append(pick(rng, UTF8_WORDS) if rng.random() < 0.15 else pick(rng, WORDS))
    s = " ".join(words)[:hi].strip()
    return s + " " + str(ri(rng, 10, 9999))


def qr_url(rng) -> str:
    host = pick(rng, ["example.com", "www.example.org", "shop.example.net", "go.example.com"])
    path = "".join(pick(rng, list(string.ascii_letters + string.digits)) for _ in range(ri(rng, 4, 12)))
    tail = pick(rng, ["", f"?id={ri(rng, 100, 99999)}", f"?ref={pick(rng, WORDS)}&n={ri(rng, 1, 99)}", "/"])
    return f"{pick(rng, ['https://', 'https://', 'http://'])}{host}/{pick(rng, ['p/', 'menu/', 't/', ''])}{path}{tail}"


def qr_payload(rng) -> str:
    r = rng.random()
    if r < 0.35:
        return qr_url(rng)
    if r < 0.55:
        return short_text(rng, 12, 60)
    if r < 0.7:
        first, last = pick(rng, FIRST), pick(rng, LAST)
        return (f"BEGIN:VCARD\nVERSION:3.0\nN:{last};{first}\nFN:{first} {last}\n"
                f"TEL:{ocr.phone(rng)}\nEMAIL:{first.lower()}.{last.lower()}@example.com\nEND:VCARD")
    if r < 0.82:
        ssid = pick(rng, ["Cafe", "Home", "Office", "Guest", "Café"]) + "-" + \
            _letters(rng, ri(rng, 2, 6), string.ascii_uppercase + string.digits)
        pw = "".join(pick(rng, list(string.ascii_letters + string.digits)) for _ in range(ri(rng, 8, 16)))
        return f"WIFI:T:{pick(rng, ['WPA', 'WPA', 'WEP'])};S:{ssid};P:{pw};;"
    if r < 0.92:
        return _digits(rng, ri(rng, 10, 40))
    return f"geo:{u(rng, -60, 60):.5f},{u(rng, -170, 170):.5f}"


@dataclass
class Symbol:
    fmt: str
    text: str
    matrix: np.ndarray  # bool, True = dark; rows x modules (1 row for 1D codes)
    linear: bool
    quiet: tuple = (10, 10)  # modules left/right (or each side for 2D)
    ext: np.ndarray | None = None  # 1D: modules whose bars extend into the digits (EAN/UPC guards)
    hrt: list = field(default_factory=list)  # 1D: (text, module_x0, module_x1, kind) for digits


def _python_barcode(kind, data, **kw):
    code = barcode.get_barcode_class(kind)(data, **kw)
    return np.frombuffer(code.build()[0].encode(), np.uint8) == ord("1")


def _zxing_matrix(fmt, text, **kw) -> np.ndarray:
    b = zxingcpp.create_barcode(text, getattr(zxingcpp.BarcodeFormat, fmt), **kw)
    return np.asarray(b.to_image(scale=1, add_quiet_zones=False)) < 128


def make_symbol(rng, fmt: str, text: str) -> Symbol:
    if fmt in ("ean_13", "upc_a"):
        bits = _python_barcode("ean13" if fmt == "ean_13" else "upca", text[:-1])
        ext = np.zeros(95, bool); ext[[0, 1, 2, 45, 46, 47, 48, 49, 92, 93, 94]] = True
        if fmt == "ean_13":
            hrt = [(text[0], -8, -1, "side"), (text[1:7], 3, 45, "under"), (text[7:], 50, 92, "under")]
            return Symbol(fmt, text, bits[None], True, (11, 7), ext, hrt)
        ext[3:10] = True; ext[85:92] = True
        hrt = [(text[0], -8, -1, "side_small"), (text[1:6], 10, 45, "under"), (text[6:11], 50, 85, "under"),
               (text[11], 96, 103, "side_small")]
        return Symbol(fmt, text, bits[None], True, (9, 9), ext, hrt)
    if fmt == "ean_8":
        bits = _python_barcode("ean8", text[:-1])
        ext = np.zeros(67, bool); ext[[0, 1, 2, 31, 32, 33, 34, 35, 64, 65, 66]] = True
        hrt = [(text[:4], 3, 31, "under"), (text[4:], 36, 64, "under")]
        return Symbol(fmt, text, bits[None], True, (7, 7), ext, hrt)
    if fmt == "upc_e":
        bits = _zxing_matrix("UPCE", text)[0]
        assert len(bits) == 51, len(bits)
        ext = np.zeros(51, bool); ext[[0, 1, 2, 45, 46, 47, 48, 49, 50]] = True
        hrt = [(text[0], -8, -1, "side_small"), (text[1:7], 3, 45, "under"), (text[7], 52, 59, "side_small")]
        return Symbol(fmt, text, bits[None], True, (9, 7), ext, hrt)
    if fmt == "code_128":
        bits = _python_barcode("code128", text)
    elif fmt == "code_39":
        bits = _python_barcode("code39", text, add_checksum=False)
    elif fmt == "code_93":
        bits = _zxing_matrix("Code93", text)[0]
    elif fmt == "itf":  # narrow bar = 1 module, wide = 3 (python-barcode's default is 2 and 5)
        bits = _python_barcode("itf", text, narrow=1, wide=3)
    elif fmt == "codabar":
        a, b = pick(rng, list("ABCD")), pick(rng, list("ABCD"))
        bits = _python_barcode("codabar", a + text + b, narrow=1, wide=3)
    elif fmt == "qr_code":
        q = segno.make(text, micro=False, error=pick(rng, ["L", "M", "M", "Q", "H"]), boost_error=False)
        return Symbol(fmt, text, np.array(q.matrix, bool), False, (4, 4))
    elif fmt == "micro_qr_code":
        q = segno.make(text, micro=True)
        return Symbol(fmt, text, np.array(q.matrix, bool), False, (2, 2))
    elif fmt == "data_matrix":
        return Symbol(fmt, text, _zxing_matrix("DataMatrix", text), False, (2, 2))
    elif fmt == "aztec":
        return Symbol(fmt, text, _zxing_matrix("Aztec", text), False, (3, 3))
    elif fmt == "pdf_417":
        return Symbol(fmt, text, _zxing_matrix("PDF417", text), False, (2, 2))
    else:
        raise ValueError(fmt)
    shown = "*" + text + "*" if fmt == "code_39" and rng.random() < 0.4 else text
    n = len(bits)
    return Symbol(fmt, text, bits[None], True, (10, 10), None, [(shown, 0, n, "centre")])


def _box_resize(mask: np.ndarray, w: int, h: int) -> np.ndarray:
    """Area-average a boolean module mask (rows x cols) to w x h pixels (anti-aliased edges)."""
    rows, cols = mask.shape
    k = max(1, int(math.ceil(4 * max(w / cols, h / rows))))
    big = np.kron(mask.astype(np.uint8) * 255, np.ones((k, k), np.uint8))
    im = Image.fromarray(big).resize((w, h), Image.Resampling.BOX)
    return np.asarray(im, np.float32) / 255.0


def render_symbol(sym: Symbol, mod: float, bar_h: float, ink_col, bg_col, hrt_face_path, rng):
    """Flat RGB image of the symbol with its quiet zone (and digits), module width `mod` px.
    Returns (image, (x0, y0, x1, y1) of the symbol without quiet zone inside the image)."""
    ink_col = np.asarray(ink_col, np.float32); bg_col = np.asarray(bg_col, np.float32)
    if sym.linear:
        bits = sym.matrix[0]
        n = len(bits)
        ql, qr = sym.quiet
        digits = bool(sym.hrt) and rng.random() < 0.85
        fpx = max(10, int(round(mod * (9.5 if sym.ext is not None else 8.0))))
        face = Face(hrt_face_path, fpx)
        side_l = side_r = 0.0
        if digits:
            for s, a, b, kind in sym.hrt:
                if kind.startswith("side") and a < 0:
                    side_l = max(side_l, face.width(s) + mod * 2 - ql * mod)
                if kind.startswith("side") and b > n:
                    side_r = max(side_r, face.width(s) + mod * 2 - qr * mod)
            if sym.ext is None:
                side = max(0.0, (face.width(sym.hrt[0][0]) - n * mod) / 2 + mod)
                side_l = max(side_l, side); side_r = max(side_r, side)
        # ITF: bearer bars above and below (sometimes a full frame), as printed on cartons; they
        # stop a scanline that leaves the symbol through its top or bottom from a partial read
        bearer = 2.5 * mod if sym.fmt == "itf" else 0.0
        box = sym.fmt == "itf" and rng.random() < 0.4
        x0 = ql * mod + side_l + (bearer if box else 0)
        W = int(math.ceil(x0 + n * mod + qr * mod + side_r + (bearer if box else 0)))
        top = mod * u(rng, 3, 8) + bearer
        text_h = (face.cap + mod * 2.5) if digits else 0
        H = int(math.ceil(top + bar_h + bearer + text_h + mod * 3))
        cover = np.zeros((H, W), np.float32)
        xa, xb = int(math.floor(x0)), int(math.ceil(x0 + n * mod))
        # column coverage at 8x horizontal supersampling
        ss = 8
        cols = (np.arange((xb - xa) * ss) + 0.5) / ss + xa
        idx = np.floor((cols - x0) / mod).astype(int)
        ok = (idx >= 0) & (idx < n)
        dark = np.zeros(len(cols), np.float32)
        dark[ok] = bits[idx[ok]]
        col_cov = dark.reshape(-1, ss).mean(axis=1)
        ya, yb = int(round(top)), int(round(top + bar_h))
        cover[ya:yb, xa:xb] = col_cov[None, :]
        if digits and sym.ext is not None:  # guard bars run down into the digits
            ext_dark = np.zeros(len(cols), np.float32)
            ext_dark[ok] = bits[idx[ok]] & sym.ext[idx[ok]]
            ye = int(round(top + bar_h + face.cap * 0.55))
            cover[yb:ye, xa:xb] = ext_dark.reshape(-1, ss).mean(axis=1)[None, :]
        if bearer:
            bx0 = int(round(x0 - ql * mod - (bearer if box else 0)))
            bx1 = int(round(x0 + (n + qr) * mod + (bearer if box else 0)))
            bt = int(round(bearer))
            cover[ya - bt:ya, bx0:bx1] = 1.0
            cover[yb:yb + bt, bx0:bx1] = 1.0
            if box:
                cover[ya - bt:yb + bt, bx0:bx0 + bt] = 1.0
                cover[ya - bt:yb + bt, bx1 - bt:bx1] = 1.0
        arr = bg_col[None, None, :] * (1 - cover[..., None]) + ink_col[None, None, :] * cover[..., None]
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        if digits:
            d = ImageDraw.Draw(img)
            base = top + bar_h + bearer + mod * 1.5 + face.cap
            for s, a, b, kind in sym.hrt:
                f = face if kind != "side_small" else Face(hrt_face_path, max(8, int(fpx * 0.75)))
                if kind.startswith("side") and a < 0:
                    x = x0 - f.width(s) - mod * 2
                elif kind.startswith("side"):
                    x = x0 + n * mod + mod * 2
                else:
                    x = x0 + (a + b) / 2 * mod - f.width(s) / 2
                d.text((x, base), s, font=f.font, anchor="ls", fill=rgb(ink_col))
        return img, (x0, top, x0 + n * mod, top + bar_h)
    rows, cols = sym.matrix.shape
    q = sym.quiet[0]
    mw = mod
    # zxing's PDF417 bitmap has rows 3 modules high (the minimum); print them 3-6 modules high
    mh = mod * (u(rng, 1.2, 2.0) if sym.fmt == "pdf_417" else 1.0)
    w, h = int(round(cols * mw)), int(round(rows * mh))
    cover = _box_resize(sym.matrix, w, h)
    qx, qy = int(round(q * mod)), int(round(q * mod))
    full = np.zeros((h + 2 * qy, w + 2 * qx), np.float32)
    full[qy:qy + h, qx:qx + w] = cover
    arr = bg_col[None, None, :] * (1 - full[..., None]) + ink_col[None, None, :] * full[..., None]
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)), (qx, qy, qx + w, qy + h)


def symbol_extent(sym: Symbol) -> tuple[int, int]:
    """(modules across, modules down) without quiet zone."""
    return sym.matrix.shape[1], sym.matrix.shape[0]


# ---------------------------------------------------------------------------------------------
# Code cards (barcode and qr scenes)

PRODUCTS = ["Organic Oat Milk 1 L", "Sparkling Water", "Dark Chocolate 70%", "Green Tea 20 bags",
            "Whole Wheat Pasta", "Olive Oil 500 ml", "Paper Towels x4", "AA Batteries 8 pack",
            "Dish Soap Lemon", "Coffee Beans 250 g", "Basmati Rice 1 kg", "Tomato Ketchup",
            "Peanut Butter", "Sea Salt Crisps", "Vitamin C 60 tabs", "Notebook A5 ruled"]
CAPTIONS = ["Scan me", "Scan to pay", "Scan for the menu", "Connect to Wi-Fi", "Our website",
            "Add contact", "Boarding pass", "Ticket", "Scan for details", "Track your parcel"]


def code_card(rng, kind: str, frame, primary: str):
    """Flat card with one or two codes. Returns (image, symbols, code boxes incl. quiet zone,
    module px per symbol) or None when the codes do not fit the frame."""
    W, H = frame
    n_codes = 2 if rng.random() < 0.22 else 1
    fmts = [primary]
    if n_codes == 2:
        pool = LINEAR if kind == "barcode" else \
            ["qr_code", "qr_code", "micro_qr_code", "data_matrix", "aztec", "pdf_417"]
        fmts.append(pick(rng, pool))
    syms = []
    for f in fmts:
        for _ in range(20):
            t = code_text(rng, f)
            if any(t == s.text for s in syms):
                continue
            try:
                syms.append(make_symbol(rng, f, t))
                break
            except (ValueError, RuntimeError):  # a writer refused the content: draw another
                continue
        else:
            return None
    ink_col = ink(rng, ("black", "black", "black", "blueblack", "brown", "grey"))
    label_bg = np.clip(u(rng, 232, 253) + rng.uniform(-4, 4, 3), 0, 255) if rng.random() < 0.85 else \
        np.clip(rng.uniform(205, 250, 3), 0, 255)
    hrt_fam = ocr.pick_family(rng, FAMILIES, ("sans", "mono", "condensed"))
    images, boxes, mods, ratios = [], [], [], []
    if kind == "barcode":
        # the first code's width (without quiet zone) is 25-70 % of the frame width
        frac = u(rng, 0.25, 0.70) if n_codes == 1 else u(rng, 0.25, 0.5)
        n0 = symbol_extent(syms[0])[0]
        mod = frac * W / n0
        if mod < MIN_MODULE_1D:
            mod = MIN_MODULE_1D
            if mod * n0 > 0.75 * W:
                return None
        for k, s in enumerate(syms):
            n = symbol_extent(s)[0]
            m = mod if k == 0 else max(MIN_MODULE_1D, min(mod * u(rng, 0.8, 1.2), 0.6 * W / n))
            bar_h = max(22.0, n * m * (u(rng, 0.25, 0.7) if n_codes == 1 else u(rng, 0.18, 0.45)))
            ratios.append(bar_h / (n * m))
            img, box = render_symbol(s, m, bar_h, ink_col, label_bg, face_path(rng, hrt_fam), rng)
            images.append(img); boxes.append(box); mods.append(m)
    else:
        for k, s in enumerate(syms):
            cw, ch = symbol_extent(s)
            long_mod = max(cw, ch)
            lo = 0.12 * H if n_codes == 1 else 0.12 * H
            hi = 0.45 * H if n_codes == 1 else 0.34 * H
            if s.fmt == "pdf_417":  # a wide symbol: its width 30-65 % of the frame width
                side = u(rng, 0.3, 0.65) * W
            else:
                side = u(rng, lo, hi)
            m = side / long_mod
            if s.fmt == "pdf_417":
                m = max(m, 2.0)
                if m * cw > 0.8 * W:
                    return None
            elif m < MIN_MODULE_2D:
                m = MIN_MODULE_2D
                if m * long_mod > hi * 1.05:
                    return None
            img, box = render_symbol(s, m, 0, ink_col, label_bg, None, rng)
            images.append(img); boxes.append(box); mods.append(m)
    # arrange: codes side by side (qr) or stacked (barcode), on a label, on a card
    gap = max(images[0].width, images[0].height) * u(rng, 0.05, 0.25)
    side_by_side = kind == "qr" and n_codes == 2 and rng.random() < 0.7
    if side_by_side:
        lw = sum(im.width for im in images) + gap
        lh = max(im.height for im in images)
    else:
        lw = max(im.width for im in images)
        lh = sum(im.height for im in images) + gap * (len(images) - 1)
    pad = max(lw, lh) * u(rng, 0.03, 0.12)
    style = pick(rng, ["label", "label", "product", "paper"])
    caption_face = Face(face_path(rng, ocr.pick_family(rng, FAMILIES, ("sans", "serif")), bold=rng.random() < 0.5),
                        max(14, int(max(lw, lh) * u(rng, 0.05, 0.09))))
    caption = None
    if rng.random() < 0.6:
        caption = pick(rng, PRODUCTS) if kind == "barcode" else pick(rng, CAPTIONS)
        if kind == "barcode" and rng.random() < 0.4:
            caption += f"  ${ri(rng, 1, 49)}.{ri(rng, 0, 99):02d}"
    cap_h = caption_face.px * 1.6 if caption else 0
    label_w = int(math.ceil(lw + 2 * pad))
    label_h = int(math.ceil(lh + 2 * pad + cap_h))
    if style == "label":
        card_col = label_bg
        extra = (0, 0, 0, 0)
    elif style == "product":
        card_col = np.clip(rng.uniform(0, 255, 3), 0, 255)
        e = max(label_w, label_h)
        extra = tuple(e * u(rng, 0.04, 0.3) for _ in range(4))
    else:
        card_col = paper_colour(rng)
        e = max(label_w, label_h)
        extra = (e * u(rng, 0.05, 0.25), e * u(rng, 0.05, 0.25), e * u(rng, 0.1, 0.5), e * u(rng, 0.05, 0.3))
    cw = int(math.ceil(label_w + extra[0] + extra[1]))
    ch = int(math.ceil(label_h + extra[2] + extra[3]))
    # the card (rotated) must fit in the frame; shrink the extras first
    for _ in range(6):
        if max(cw / (0.92 * W), ch / (0.92 * H)) <= 1.0 / 1.12:
            break
        extra = tuple(v * 0.5 for v in extra)
        cw = int(math.ceil(label_w + extra[0] + extra[1])); ch = int(math.ceil(label_h + extra[2] + extra[3]))
    if max(label_w / (0.95 * W), label_h / (0.95 * H)) > 1.0:
        return None
    card = Image.new("RGB", (cw, ch), rgb(card_col))
    d = ImageDraw.Draw(card)
    lx, ly = extra[0], extra[2]
    if style == "product":  # decoration outside the label
        for _ in range(ri(rng, 1, 4)):
            col = rgb(rng.uniform(0, 255, 3))
            x, y = rng.uniform(0, cw), rng.uniform(0, ch)
            r = rng.uniform(0.05, 0.3) * max(cw, ch)
            (d.ellipse if rng.random() < 0.5 else d.rectangle)([x - r, y - r, x + r, y + r], fill=col)
        if rng.random() < 0.5:
            col = rgb(rng.uniform(0, 255, 3)); sw = rng.uniform(0.03, 0.1) * ch
            y0 = ch * u(rng, 0, 0.3)
            d.rectangle([0, y0, cw, y0 + sw], fill=col)
    if style != "label":
        d.rectangle([lx, ly, lx + label_w, ly + label_h], fill=rgb(label_bg))
    if style == "paper":  # a few address-like lines above the label (not part of any ground truth)
        f = Face(caption_face.path, max(10, int(caption_face.px * 0.6)))
        yy = max(f.px * 1.2, extra[2] * 0.2)
        for _ in range(3):
            if yy + f.px > extra[2] - f.px * 0.3:
                break
            s = pick(rng, [ocr.person(rng), ocr.street_address(rng), ocr.city_line(rng), ocr.identifier(rng)])
            d.text((lx, yy + f.cap), s, font=f.font, anchor="ls", fill=rgb(ink_col))
            yy += f.px * 1.4
    ty = ly + pad
    if caption:
        cap = fit_words(caption, caption_face, label_w - 2 * pad)
        d.text((lx + pad, ty + caption_face.cap), cap, font=caption_face.font, anchor="ls", fill=rgb(ink_col))
        ty += cap_h
    code_boxes, sym_boxes = [], []
    x = lx + pad
    for im, box in zip(images, boxes):
        if side_by_side:
            px, py = x, ty + (lh - im.height) / 2
            x += im.width + gap
        else:
            px, py = lx + pad + (lw - im.width) * u(rng, 0, 1), ty
            ty += im.height + gap
        px, py = int(round(px)), int(round(py))
        card.paste(im, (px, py))
        code_boxes.append((px, py, px + im.width, py + im.height))
        sym_boxes.append((px + box[0], py + box[1], px + box[2], py + box[3]))
    return card, syms, code_boxes, sym_boxes, mods, min(ratios, default=1.0)


# ---------------------------------------------------------------------------------------------
# Backgrounds, clutter, geometry, finger, camera

BG_FAMILIES = scenes.BG_FAMILIES["train"] + scenes.BG_FAMILIES["test"]


def bg_light(rng, n):
    """A light, nearly uniform surface (white desk, bed sheet): low contrast with the paper."""
    base = np.clip(u(rng, 195, 240) + rng.uniform(-8, 8, 3), 0, 255).astype(np.float32)
    return base[None, None, :] + ocr.smooth_noise(rng, n, n, max(8, n // 5))[..., None] * u(rng, 2, 8)


def background(rng, W, H):
    fams = BG_FAMILIES + [bg_light, bg_light]
    fam = fams[int(rng.integers(len(fams)))]
    n = (max(W, H) + 1) // 2
    arr = np.clip(fam(rng, n), 0, 255).astype(np.uint8)
    im = Image.fromarray(arr).resize((2 * n, 2 * n), Image.Resampling.BICUBIC).crop((0, 0, W, H))
    if rng.random() < 0.55:
        clutter(rng, im, ri(rng, 1, 5))
    return np.asarray(im, np.float32), fam.__name__


def clutter(rng, im: Image.Image, count: int):
    """Desk objects: a pen, a mug seen from above, a phone or tablet, a coloured box, a cable."""
    d = ImageDraw.Draw(im)
    W, H = im.size
    s = min(W, H)
    for _ in range(count):
        k = int(rng.integers(5))
        x, y = u(rng, -0.1, 1.1) * W, u(rng, -0.1, 1.1) * H
        col = rgb(rng.uniform(0, 255, 3))
        if k == 0:  # pen
            a = u(rng, 0, math.pi); L = u(rng, 0.2, 0.45) * s
            d.line([x, y, x + L * math.cos(a), y + L * math.sin(a)], fill=col, width=ri(rng, 6, 16))
        elif k == 1:  # mug
            r = u(rng, 0.06, 0.14) * s
            d.ellipse([x - r, y - r, x + r, y + r], fill=col)
            d.ellipse([x - r * 0.8, y - r * 0.8, x + r * 0.8, y + r * 0.8], fill=rgb(rng.uniform(20, 90, 3)))
        elif k == 2:  # phone / tablet: dark rounded rectangle
            w, h = u(rng, 0.1, 0.3) * s, u(rng, 0.2, 0.5) * s
            d.rounded_rectangle([x, y, x + w, y + h], radius=w * 0.1, fill=rgb(rng.uniform(10, 60, 3)))
        elif k == 3:
            w, h = u(rng, 0.08, 0.3) * s, u(rng, 0.08, 0.3) * s
            d.rectangle([x, y, x + w, y + h], fill=col)
        else:  # cable
            pts = [(x, y)]
            for _ in range(5):
                x += u(rng, -0.15, 0.15) * s; y += u(rng, -0.15, 0.15) * s
                pts.append((x, y))
            d.line(pts, fill=col, width=ri(rng, 3, 8), joint="curve")


def place(rng, w, h, W, H, rot_deg, jitter, frac):
    """Corners (tl, tr, br, bl) of a w x h object in a W x H frame: rotated, each corner moved
    by up to `jitter` of the side, scaled so that its bounding box spans `frac` of the frame
    (in the tighter dimension), at a random position inside the frame."""
    t = math.radians(rot_deg)
    c, s = math.cos(t), math.sin(t)
    base = rect_corners(w, h) - [w / 2, h / 2]
    base = base + rng.uniform(-jitter, jitter, (4, 2)) * [w, h]
    quad = base @ np.array([[c, s], [-s, c]])
    bw, bh = np.ptp(quad[:, 0]), np.ptp(quad[:, 1])
    scale = frac * min(W / bw, H / bh) if frac else 1.0
    quad = quad * scale
    bw, bh = bw * scale, bh * scale
    mx, my = 0.02 * W, 0.02 * H
    cx = u(rng, mx + bw / 2, max(mx + bw / 2, W - mx - bw / 2)) if bw < W - 2 * mx else W / 2
    cy = u(rng, my + bh / 2, max(my + bh / 2, H - my - bh / 2)) if bh < H - 2 * my else H / 2
    quad = quad - (quad.min(axis=0) + quad.max(axis=0)) / 2 + [cx, cy]
    return quad, scale


def local_scales(fwd, w, h, box=None, n=9):
    """Smallest stretch of the page->frame map along the page's x and y axes over a grid."""
    x0, y0, x1, y1 = box if box else (0, 0, w, h)
    gx, gy = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    p = np.stack([gx.ravel(), gy.ravel()], 1)
    d = 1.0
    q = map_points(fwd, p)
    sx = np.linalg.norm(map_points(fwd, p + [d, 0]) - q, axis=1) / d
    sy = np.linalg.norm(map_points(fwd, p + [0, d]) - q, axis=1) / d
    return float(sx.min()), float(sy.min())


def composite(rng, bg: np.ndarray, obj: Image.Image, quad: np.ndarray):
    """Warp obj onto bg at quad (with a soft drop shadow). Returns (array, alpha)."""
    H, W = bg.shape[:2]
    # a transparent 3 px border with the edge colours, so that the page edge is interpolated
    # (anti-aliased) like the inside instead of cut at whole pixels
    # (colour and alpha warped separately: Pillow premultiplies RGBA, which tints the edge)
    p = 3
    src = Image.fromarray(np.pad(np.asarray(obj.convert("RGB")), ((p, p), (p, p), (0, 0)), mode="edge"))
    src_a = Image.fromarray(np.pad(np.full(obj.size[::-1], 255, np.uint8), p))
    inv = perspective_coeffs(quad, rect_corners(*obj.size) + p)
    warped = src.transform((W, H), Image.Transform.PERSPECTIVE, inv, Image.Resampling.BICUBIC)
    alpha_im = src_a.transform((W, H), Image.Transform.PERSPECTIVE, inv, Image.Resampling.BICUBIC)
    alpha = np.asarray(alpha_im, np.float32)[..., None] / 255.0
    if rng.random() < 0.7:
        small = alpha_im.resize((W // 4, H // 4), Image.Resampling.BILINEAR)
        sh = small.filter(ImageFilter.GaussianBlur(u(rng, 1.5, 6))).resize((W, H), Image.Resampling.BILINEAR)
        sh = np.asarray(sh, np.float32)[..., None] / 255.0
        dx, dy = ri(rng, -12, 12), ri(rng, -4, 16)
        sh = np.roll(sh, (dy, dx), axis=(0, 1))
        bg = bg * (1 - u(rng, 0.15, 0.45) * sh)
    arr = bg * (1 - alpha) + np.asarray(warped, np.float32) * alpha
    return arr, alpha


SKIN = [(232, 190, 160), (224, 172, 140), (198, 140, 104), (160, 108, 76), (120, 80, 58), (90, 60, 45)]


def finger(rng, arr, fwd, w, h, margins_flat, keep_out, finger_w):
    """A thumb-like blob entering over one page edge, its tip in the page margin, not over any
    keep_out box (flat coordinates). Returns True when drawn."""
    H, W = arr.shape[:2]
    keep = Image.new("L", (W // 4, H // 4), 0)
    kd = ImageDraw.Draw(keep)
    for (x0, y0, x1, y1) in keep_out:
        q = map_points(fwd, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)) / 4
        kd.polygon([tuple(p) for p in q], fill=255)
    keep_arr = np.asarray(keep) > 0
    for _ in range(6):
        edge = int(rng.integers(4))  # top, right, bottom, left
        t = u(rng, 0.12, 0.88)
        depth = margins_flat[edge] * u(rng, 0.15, 0.7)
        if edge == 0:
            tip, out = (t * w, depth), (0, -1)
        elif edge == 1:
            tip, out = (w - depth, t * h), (1, 0)
        elif edge == 2:
            tip, out = (t * w, h - depth), (0, 1)
        else:
            tip, out = (depth, t * h), (-1, 0)
        p0 = map_points(fwd, np.array([tip], float))[0]
        p1 = map_points(fwd, np.array([[tip[0] + out[0] * 10, tip[1] + out[1] * 10]], float))[0]
        dvec = (p1 - p0) / (np.linalg.norm(p1 - p0) + 1e-9)
        a = math.atan2(dvec[1], dvec[0]) + math.radians(u(rng, -30, 30))
        dvec = np.array([math.cos(a), math.sin(a)])
        fw = finger_w * u(rng, 0.85, 1.15)
        tipc = p0 + dvec * fw * 0.5  # centre of the rounded tip
        # the finger widens toward the hand and runs out of the frame (a hand holding the page)
        to_edge = min((W - tipc[0]) / dvec[0] if dvec[0] > 1e-6 else (-tipc[0] / dvec[0] if dvec[0] < -1e-6 else 1e9),
                      (H - tipc[1]) / dvec[1] if dvec[1] > 1e-6 else (-tipc[1] / dvec[1] if dvec[1] < -1e-6 else 1e9))
        L = to_edge + fw
        taper = min(2.4, 1 + u(rng, 0.08, 0.15) * L / fw)
        end = tipc + dvec * L
        nrm = np.array([-dvec[1], dvec[0]])
        poly = [tipc + nrm * fw / 2, end + nrm * fw * taper / 2, end - nrm * fw * taper / 2, tipc - nrm * fw / 2]
        mask = Image.new("L", (W, H), 0)
        md = ImageDraw.Draw(mask)
        md.polygon([tuple(p) for p in poly], fill=255)
        r = fw / 2
        md.ellipse([tipc[0] - r, tipc[1] - r, tipc[0] + r, tipc[1] + r], fill=255)
        small = np.asarray(mask.resize((W // 4, H // 4), Image.Resampling.BILINEAR)) > 0
        if (small & keep_arr).any():
            continue
        m = np.asarray(mask.filter(ImageFilter.GaussianBlur(u(rng, 0.8, 2.0))), np.float32)[..., None] / 255.0
        # shadow of the finger on the paper
        sh = np.asarray(mask.filter(ImageFilter.GaussianBlur(fw * 0.25)), np.float32)[..., None] / 255.0
        off = (np.array([u(rng, -0.3, 0.3), u(rng, 0.1, 0.4)]) * fw).astype(int)
        sh = np.roll(sh, (int(off[1]), int(off[0])), axis=(0, 1))
        arr *= 1 - 0.35 * sh * (1 - m)
        # skin: shaded across the finger, a lighter nail near the tip sometimes
        yy, xx = np.mgrid[0:H, 0:W]
        along = np.clip(((xx - tipc[0]) * dvec[0] + (yy - tipc[1]) * dvec[1]) / L, 0, 1)
        across = ((xx - tipc[0]) * nrm[0] + (yy - tipc[1]) * nrm[1]) / (fw / 2 * (1 + (taper - 1) * along))
        shade = (0.72 + 0.33 * np.sqrt(np.clip(1 - across ** 2, 0, 1))).astype(np.float32)[..., None]
        skin = np.array(pick(rng, SKIN), np.float32) * rng.uniform(0.9, 1.08, 3).astype(np.float32)
        col = skin[None, None, :] * shade
        if rng.random() < 0.5:
            nail = Image.new("L", (W, H), 0)
            nc = tipc + dvec * fw * 0.35
            nr = fw * 0.3
            ImageDraw.Draw(nail).ellipse([nc[0] - nr, nc[1] - nr, nc[0] + nr, nc[1] + nr], fill=255)
            nm = np.asarray(nail.filter(ImageFilter.GaussianBlur(2)), np.float32)[..., None] / 255.0
            col = col * (1 - 0.5 * nm) + np.array([235, 200, 190], np.float32) * 0.5 * nm
        arr[:] = arr * (1 - m) + col * m
        return True
    return False


def lighting(rng, W, H, strong: float):
    """Gain field: gradient, vignette, a bright spot and sometimes a soft shadow edge."""
    w, h = max(8, W // 8), max(8, H // 8)
    x = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    y = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    a = u(rng, 0, 2 * math.pi)
    g = 1 + strong * u(rng, 0, 0.25) * (x * math.cos(a) + y * math.sin(a))
    g = g * (1 - strong * u(rng, 0, 0.3) * (x * x + y * y) / 2)
    cx, cy = u(rng, -1, 1), u(rng, -1, 1)
    g = g * (1 + strong * u(rng, 0, 0.25) * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / u(rng, 0.1, 0.8)))
    shadow = rng.random() < 0.4 * strong
    if shadow:
        a = u(rng, 0, 2 * math.pi)
        dd = x * math.cos(a) + y * math.sin(a) - u(rng, -0.5, 0.5)
        g = g * (1 - u(rng, 0.2, 0.45) / (1 + np.exp(-dd / u(rng, 0.02, 0.2))))
    g = np.clip(g, 0.35, 1.3).astype(np.float32)
    big = Image.fromarray(g).resize((W, H), Image.Resampling.BILINEAR)
    return np.asarray(big, np.float32), shadow


def motion_blur(arr, length, angle):
    pad = int(math.ceil(length))
    H, W = arr.shape[:2]
    padded = np.pad(arr, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    k = max(2, int(round(length)))
    acc = np.zeros_like(arr)
    for i in range(k):
        t = (i - (k - 1) / 2) * length / k
        dx, dy = int(round(t * math.cos(angle))), int(round(t * math.sin(angle)))
        acc += padded[pad + dy:pad + dy + H, pad + dx:pad + dx + W]
    return acc / k


def camera(rng, arr, meta, blur_cap):
    """Light, blur, sharpening, noise, JPEG. blur_cap = (max Gaussian sigma, max motion length)."""
    H, W = arr.shape[:2]
    gain, shadow = lighting(rng, W, H, 1.0)
    exposure = u(rng, 0.7, 1.12)
    cast = rng.uniform(0.9, 1.1, 3).astype(np.float32)
    arr = arr * gain[..., None] * (exposure * cast)[None, None, :]
    meta["light"] = {"exposure": round(exposure, 3), "shadow_edge": shadow}
    r = rng.random()
    smax, lmax = blur_cap
    if r < 0.55:
        sigma = u(rng, 0.3, smax)
        im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(sigma))
        meta["blur"] = {"kind": "defocus", "sigma": round(sigma, 2)}
    elif r < 0.8:
        length = u(rng, 1.5, lmax)
        ang = u(rng, 0, math.pi)
        im = Image.fromarray(np.clip(motion_blur(arr, length, ang), 0, 255).astype(np.uint8))
        meta["blur"] = {"kind": "motion", "length": round(length, 2), "angle": round(math.degrees(ang), 1)}
    else:
        im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        meta["blur"] = {"kind": "none"}
    if rng.random() < 0.3:
        im = im.filter(ImageFilter.UnsharpMask(radius=u(rng, 1.0, 2.0), percent=ri(rng, 40, 110), threshold=2))
    arr = np.asarray(im, np.float32)
    sigma = u(rng, 1.0, 5.0) * (1.6 if exposure < 0.85 else 1.0)
    noise = rng.standard_normal((H, W, 1), dtype=np.float32) * sigma
    noise = noise + rng.standard_normal((H, W, 3), dtype=np.float32) * (sigma * 0.4)
    arr = arr + noise * np.sqrt(np.clip(arr, 8, 255) / 160.0)
    q = ri(rng, 70, 95)
    meta["noise_sigma"] = round(sigma, 2)
    meta["jpeg_quality"] = q
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=q)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# Scenes


class SceneError(Exception):
    """This random draw cannot make the scene (it does not fit the frame)."""


def quad_json(quad):
    return [[round(float(x), 1), round(float(y), 1)] for x, y in quad]


def coverage(quad, W, H):
    bw, bh = np.ptp(quad[:, 0]), np.ptp(quad[:, 1])
    x, y = quad[:, 0], quad[:, 1]
    area = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    return round(float(max(bw / W, bh / H)), 3), round(float(area / (W * H)), 3)


def doc_scene(rng, kind):
    """text or form: (jpeg, gt, meta)."""
    W, H = pick(rng, DOC_FRAMES)
    landscape = rng.random() < (0.2 if kind == "text" else 0.1)
    uw, uh = (A4, 1.0) if landscape else (1.0, A4)
    rot = u(rng, -20, 20) if rng.random() < 0.45 else float(np.clip(rng.normal(0, 5), -20, 20))
    jitter = u(rng, 0.0, 0.08)
    jit = rng.uniform(-jitter, jitter, (4, 2))
    frac = u(rng, 0.35, 0.85)
    if kind == "text":
        st = text_style(rng)
        n_lines = ri(rng, 15, 30)
        paras = [paragraph_words(rng) for _ in range(12)]
        title = doc_title(rng)
    else:
        fc = form_content(rng)
    # page geometry at unit scale, then the scale that gives the coverage; grow until it fits
    t = math.radians(rot)
    rotm = np.array([[math.cos(t), math.sin(t)], [-math.sin(t), math.cos(t)]])
    lay = None
    while lay is None:
        base = (rect_corners(uw, uh) - [uw / 2, uh / 2] + jit * [uw, uh]) @ rotm
        bw, bh = np.ptp(base[:, 0]), np.ptp(base[:, 1])
        scale = frac * min(W / bw, H / bh)
        pw, ph = int(round(uw * scale)), int(round(uh * scale))
        quad = (rect_corners(pw, ph) - [pw / 2, ph / 2] + jit * [pw, ph]) @ rotm
        qb = quad.max(axis=0) - quad.min(axis=0)
        cx = u(rng, 0.02 * W + qb[0] / 2, max(0.02 * W + qb[0] / 2, 0.98 * W - qb[0] / 2))
        cy = u(rng, 0.02 * H + qb[1] / 2, max(0.02 * H + qb[1] / 2, 0.98 * H - qb[1] / 2))
        quad = quad - (quad.min(axis=0) + quad.max(axis=0)) / 2 + [cx, cy]
        fwd = perspective_coeffs(rect_corners(pw, ph), quad)
        sx, sy = local_scales(fwd, pw, ph)
        xh_min = MIN_XHEIGHT / sy
        if kind == "text":
            for xh in (xh_min * st.xh_boost, xh_min * (1 + st.xh_boost) / 2, xh_min * 1.04):
                lay = layout_text(rng, st, pw, ph, xh, n_lines, paras, title)
                if lay:
                    break
            # too long for this page: fewer lines (at least 15) or a larger page, half and half,
            # so that neither the line count nor the coverage piles up at its limit
            if lay is None and n_lines > 15 and (frac >= 0.96 or rng.random() < 0.5):
                n_lines -= 1
                continue
            if lay is None and frac >= 0.96:
                raise SceneError("text page cannot hold 15 lines")
        else:
            for xh in (xh_min * fc.xh_boost, xh_min * (1 + fc.xh_boost) / 2, xh_min * 1.04):
                lay = layout_form(fc, pw, ph, xh)
                if lay:
                    break
            if lay is None and frac >= 0.96:
                drop = [i for i, it in enumerate(fc.items) if it[0] == "field"]
                if len(drop) <= 3:
                    raise SceneError("form does not fit")
                fc.items.pop(drop[-1])
        if lay is None:
            frac = min(0.97, frac + 0.04)
    paper = paper_colour(rng)
    page = draw_layout(rng, lay, paper)
    # every printed line: x-height in the frame, measured along the page's vertical
    xhs = []
    for ln in lay.lines:
        xs = np.array([ln.x0, (ln.x0 + ln.x1) / 2, ln.x1])
        a = map_points(fwd, np.stack([xs, np.full(3, ln.baseline)], 1))
        b = map_points(fwd, np.stack([xs, np.full(3, ln.baseline - ln.xh)], 1))
        xhs.append(float(np.linalg.norm(a - b, axis=1).min()))
    assert min(xhs) >= 9.0, min(xhs)
    bg, bgname = background(rng, W, H)
    arr, _ = composite(rng, bg, page, quad)
    meta = {"frame": [W, H], "background": bgname, "rotation": round(rot, 1), "jitter": round(jitter, 3),
            "landscape": landscape, "coverage_bbox": coverage(quad, W, H)[0], "coverage_area": coverage(quad, W, H)[1],
            "lines": len(lay.lines), "xheight_min": round(min(xhs), 2), "xheight_median": round(float(np.median(xhs)), 2)}
    meta["finger"] = False
    if rng.random() < 0.35:
        m = (lay.keep_out[0][1], pw - lay.keep_out[0][2], ph - lay.keep_out[0][3], lay.keep_out[0][0])
        m = tuple(max(0.0, v) for v in m)
        fw = np.linalg.norm(quad[1] - quad[0]) * u(rng, 0.07, 0.11)  # a thumb is ~9 % of A4's width
        meta["finger"] = finger(rng, arr, fwd, pw, ph, m, lay.keep_out, fw)
    jpeg = camera(rng, arr, meta, (1.1, 4.0))
    gt = {"page": quad_json(quad), "text": "\n".join(ln.text for ln in lay.lines), "codes": [],
          "fields": lay.fields if kind == "form" else []}
    return jpeg, gt, meta


def code_scene(rng, kind, index):
    W, H = pick(rng, CODE_FRAMES)
    primary = LINEAR[index % len(LINEAR)] if kind == "barcode" else MATRIX[index % len(MATRIX)]
    for _ in range(50):
        made = code_card(rng, kind, (W, H), primary)
        if made is None:
            continue
        card, syms, code_boxes, sym_boxes, mods, bar_ratio = made
        flat = decode_all(card)
        if all((s.fmt, s.text) in flat for s in syms):
            break
    else:
        raise SceneError(f"could not make a decodable {primary} card")
    cw, ch = card.size
    rot = u(rng, -25, 25) if rng.random() < 0.6 else float(np.clip(rng.normal(0, 6), -25, 25))
    if kind == "barcode":
        # a scanline across the bars must cross the whole symbol for row-scanning readers: most
        # scenes keep tan(rotation) under 0.8 x bar height / symbol width, some do not (harder)
        lim = math.degrees(math.atan(0.8 * bar_ratio))
        if abs(rot) > lim and rng.random() < 0.85:
            rot = math.copysign(lim * u(rng, 0.3, 1.0), rot)
    elif any(s.fmt == "pdf_417" for s in syms) and abs(rot) > 8 and rng.random() < 0.85:
        # the same for PDF417: row-scanning readers (zxing-cpp) lose it beyond about 8-10 degrees
        rot = math.copysign(u(rng, 2, 8), rot)
    jitter = u(rng, 0.0, 0.06)
    for _ in range(20):
        quad, scale = place(rng, cw, ch, W, H, rot, jitter, 0)
        qb = np.ptp(quad, axis=0)
        if qb[0] > 0.96 * W or qb[1] > 0.96 * H:
            f = min(0.96 * W / qb[0], 0.96 * H / qb[1])
            c = quad.mean(axis=0)
            quad = (quad - c) * f + c
            quad = quad - np.minimum(quad.min(axis=0) - [0.02 * W, 0.02 * H], 0)
            quad = quad - np.maximum(quad.max(axis=0) - [0.98 * W, 0.98 * H], 0)
        fwd = perspective_coeffs(rect_corners(cw, ch), quad)
        mod_frame = []
        for sym, box, m in zip(syms, sym_boxes, mods):
            sx, sy = local_scales(fwd, cw, ch, box, 5)
            mod_frame.append(m * (sx if sym.linear else min(sx, sy)))
        ok = all(mf >= (MIN_MODULE_1D if s.linear else MIN_MODULE_2D) * 0.8 for s, mf in zip(syms, mod_frame))
        if ok:
            break
        rot *= 0.7; jitter *= 0.7
    bg, bgname = background(rng, W, H)
    arr, _ = composite(rng, bg, card, quad)
    mmin = min(mod_frame)
    meta = {"frame": [W, H], "background": bgname, "rotation": round(rot, 1), "jitter": round(jitter, 3),
            "coverage_bbox": coverage(quad, W, H)[0], "coverage_area": coverage(quad, W, H)[1],
            "module_px": [round(v, 2) for v in mod_frame], "finger": False}
    corners = [map_points(fwd, np.array([[b[0], b[1]], [b[2], b[1]], [b[2], b[3]], [b[0], b[3]]], float))
               for b in sym_boxes]
    if kind == "barcode":  # symbol width (along the bars' normal, middle row) / frame width
        widths = [np.linalg.norm((c[1] + c[2]) / 2 - (c[0] + c[3]) / 2) / W for c in corners]
        meta["code_width_frac"] = [round(float(v), 3) for v in widths]
    else:  # longer side of the symbol's bounding box / frame height
        sides = [max(np.ptp(c, axis=0)) / H for c in corners]
        meta["code_side_frac"] = [round(float(v), 3) for v in sides]
    if rng.random() < 0.3:
        m = (min(b[1] for b in code_boxes), cw - max(b[2] for b in code_boxes),
             ch - max(b[3] for b in code_boxes), min(b[0] for b in code_boxes))
        if max(m) > 8:
            fw = min(np.linalg.norm(quad[1] - quad[0]), np.linalg.norm(quad[3] - quad[0])) * u(rng, 0.12, 0.22)
            meta["finger"] = finger(rng, arr, fwd, cw, ch, m, code_boxes, fw)
    # blur no stronger than a fraction of a module: Gaussian sigma <= 0.5 module, motion <= 1.5 modules
    cap = (max(0.35, min(1.3, 0.5 * mmin)), max(1.6, min(5.0, 1.5 * mmin)))
    jpeg = camera(rng, arr, meta, cap)
    gt = {"page": quad_json(quad), "text": "", "codes": [{"format": s.fmt, "text": s.text} for s in syms], "fields": []}
    return jpeg, gt, meta


def none_object(rng, W, H):
    """A non-document, non-code object: stripes, a checkerboard, a texture patch, shapes, a dark
    tablet or a coloured box."""
    s = min(W, H)
    w, h = int(u(rng, 0.2, 0.55) * s), int(u(rng, 0.2, 0.55) * s)
    k = int(rng.integers(6))
    if k == 0:  # stripes (barcode confuser: regular period)
        img = Image.new("RGB", (w, h), rgb(rng.uniform(0, 255, 3)))
        d = ImageDraw.Draw(img); p = ri(rng, 4, 18); sw = ri(rng, 1, p - 1)
        col = rgb(rng.uniform(0, 255, 3))
        for x in range(0, w, p):
            d.rectangle([x, 0, x + sw - 1, h], fill=col)
        name = "stripes"
    elif k == 1:  # checkerboard (QR confuser)
        c = ri(rng, 6, 30)
        yy, xx = np.mgrid[0:h, 0:w]
        chk = ((xx // c + yy // c) % 2).astype(bool)
        arr = np.empty((h, w, 3), np.uint8)
        arr[:] = rgb(rng.uniform(0, 255, 3))
        arr[chk] = rgb(rng.uniform(0, 255, 3))
        img = Image.fromarray(arr); name = "checkerboard"
    elif k == 2:  # texture patch (cloth, wood, tiles)
        fam = BG_FAMILIES[int(rng.integers(len(BG_FAMILIES)))]
        n = max(w, h)
        img = Image.fromarray(np.clip(fam(rng, n), 0, 255).astype(np.uint8)).crop((0, 0, w, h)); name = "texture"
    elif k == 3:  # shapes
        img = Image.new("RGB", (w, h), rgb(rng.uniform(0, 255, 3)))
        d = ImageDraw.Draw(img)
        for _ in range(ri(rng, 3, 10)):
            x, y, r = u(rng, 0, w), u(rng, 0, h), u(rng, 0.05, 0.3) * min(w, h)
            shape = d.ellipse if rng.random() < 0.5 else d.rectangle
            shape([x - r, y - r, x + r, y + r], fill=rgb(rng.uniform(0, 255, 3)))
        name = "shapes"
    elif k == 4:  # tablet / phone: dark screen with a reflection
        img = Image.new("RGB", (w, h), rgb(rng.uniform(5, 40, 3)))
        d = ImageDraw.Draw(img)
        d.polygon([(0, 0), (w * u(rng, 0.3, 0.8), 0), (0, h * u(rng, 0.3, 0.8))], fill=rgb(rng.uniform(40, 80, 3)))
        name = "tablet"
    else:  # a coloured box with a grid of key-like squares (keyboard)
        img = Image.new("RGB", (w, h), rgb(rng.uniform(20, 200, 3)))
        d = ImageDraw.Draw(img)
        kk = ri(rng, 10, 24); col = rgb(rng.uniform(0, 255, 3))
        for yy in range(kk // 3, h - kk, kk + kk // 4):
            for xx in range(kk // 3, w - kk, kk + kk // 4):
                d.rounded_rectangle([xx, yy, xx + kk, yy + kk], radius=kk // 5, fill=col)
        name = "keys"
    return img, name


def none_scene(rng):
    W, H = pick(rng, DOC_FRAMES + CODE_FRAMES[:3])
    bg, bgname = background(rng, W, H)
    arr = bg
    objs = []
    for _ in range(ri(rng, 1, 4)):
        obj, name = none_object(rng, W, H)
        quad, _ = place(rng, obj.width, obj.height, W, H, u(rng, -180, 180), u(rng, 0, 0.08), 0)
        quad = quad + rng.uniform(-0.3, 0.3, 2) * [W, H]  # may leave the frame
        arr, _ = composite(rng, arr, obj, quad)
        objs.append(name)
    meta = {"frame": [W, H], "background": bgname, "objects": objs, "finger": False}
    jpeg = camera(rng, arr, meta, (1.5, 5.0))
    return jpeg, {"page": None, "text": "", "codes": [], "fields": []}, meta


def make_scene(seed: int, kind: str, index: int, attempt: int = 0):
    """(jpeg bytes, ground truth, meta) of scene `index` of type `kind`."""
    for tries in range(20):  # a layout or card that cannot be made: the next random draw
        rng = np.random.default_rng([seed, TYPES.index(kind), index, attempt, tries] if tries else
                                    [seed, TYPES.index(kind), index, attempt])
        try:
            if kind in ("text", "form"):
                jpeg, gt, meta = doc_scene(rng, kind)
            elif kind in ("barcode", "qr"):
                jpeg, gt, meta = code_scene(rng, kind, index)
            else:
                jpeg, gt, meta = none_scene(rng)
            break
        except SceneError as e:
            print(f"\nmake_set: {kind} {index}: {e}; drawing again", file=sys.stderr)
    else:
        raise RuntimeError(f"{kind} {index}: no scene in 20 draws")
    meta["redraws"] = tries
    w, h = meta["frame"]
    if gt["page"] is not None:
        q = np.array(gt["page"])
        assert (q >= 0).all() and (q[:, 0] <= w).all() and (q[:, 1] <= h).all(), ("page outside the frame", gt["page"])
    return jpeg, {"path": f"{kind}/{index:04d}.jpg", "type": kind, "width": w, "height": h, **gt}, meta


# ---------------------------------------------------------------------------------------------


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="output folder")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--per-type", type=int, default=60,
                    help="scenes per type (text, form, barcode, qr); none gets half as many")
    ap.add_argument("--types", default=",".join(TYPES),
                    help="comma-separated scene types to make (default all; e.g. text,form for the "
                         "fast recogniser's training crops, models/train/rec_fast.py)")
    ap.add_argument("--jobs", type=int, default=1,
                    help="worker processes (default 1; output does not depend on it)")
    return ap.parse_args(argv)


def _job(args):
    seed, kind, index, attempt = args
    return make_scene(seed, kind, index, attempt)


def main(argv=None) -> int:
    a = parse_args(argv)
    out = a.out
    types = [t.strip() for t in a.types.split(",") if t.strip()]
    unknown = [t for t in types if t not in TYPES]
    if unknown or not types:
        print(f"make_set: unknown scene types {unknown} (choose from {', '.join(TYPES)})", file=sys.stderr)
        return 2
    counts = {k: a.per_type for k in TYPES[:4]}
    counts["none"] = a.per_type // 2
    counts = {k: (n if k in types else 0) for k, n in counts.items()}
    jobs = [(a.seed, k, i, 0) for k in TYPES for i in range(counts[k])]
    total = len(jobs)
    for k in TYPES:  # images an earlier run left
        d = out / k
        d.mkdir(parents=True, exist_ok=True)
        for p in d.glob("[0-9][0-9][0-9][0-9].jpg"):
            p.unlink()
    print(f"make_set: {total} scenes into {out} (seed {a.seed}, {len(FAMILIES)} font families)", file=sys.stderr)
    t0 = time.time()
    used: set[str] = set()
    rows, metas = [], []
    tty = sys.stderr.isatty()
    pool = None
    if a.jobs > 1:
        import multiprocessing
        pool = multiprocessing.Pool(a.jobs)
        results = pool.imap(_job, jobs, chunksize=2)
    else:
        results = (_job(j) for j in jobs)
    for n, ((seed, kind, index, _), res) in enumerate(zip(jobs, results), 1):
        jpeg, row, meta = res
        attempt = 0
        while any(c["text"] in used for c in row["codes"]):  # no two scenes share a code text
            attempt += 1
            jpeg, row, meta = make_scene(seed, kind, index, attempt)
        used.update(c["text"] for c in row["codes"])
        (out / row["path"]).write_bytes(jpeg)
        rows.append(row)
        metas.append({"path": row["path"], "attempt": attempt, **meta})
        if tty or n % 10 == 0 or n == total:
            dt = time.time() - t0
            msg = f"{n}/{total} {kind} {index:04d}  {dt:.0f} s, {dt / n:.2f} s/scene"
            print(("\r" + msg) if tty else msg, end="" if tty and n < total else "\n", file=sys.stderr, flush=True)
    if pool:
        pool.close()
    with open(out / "manifest.jsonl", "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    with open(out / "meta.jsonl", "w", encoding="utf-8") as f:
        for m in metas:
            f.write(json.dumps(m, ensure_ascii=False) + "\n")
    print(f"make_set: {total} scenes in {time.time() - t0:.1f} s; {out / 'manifest.jsonl'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
