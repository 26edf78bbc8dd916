#!/usr/bin/env python3
"""Make a synthetic OCR evaluation set: English text-line crops and whole document pages.

Text comes from files on this machine (licence texts, Debian package notes, Python
docstrings) mixed with generated document content (invoices, dates, addresses, IDs). It is
rendered with Debian's font packages and degraded like a phone photo or a scan: skew,
perspective, blur, noise, uneven light, paper and ink colours, JPEG. Everything is drawn
from one seed, so the same seed, fonts and source files give the same set.

Output: DIR/lines/*, DIR/pages/* and DIR/manifest.tsv (relative_path, kind, ground_truth),
in the format of shared/data/ocr/manifest.tsv. See benches/ocr/README.md.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import math
import re
import string
import sys
import sysconfig
import time
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

DEFAULT_SEED = 20240517
FONT_ROOT = Path("/usr/share/fonts")
MIN_FONT_FAMILIES = 4

# ---------------------------------------------------------------------------------------------
# Fonts: Debian package -> (folder under /usr/share/fonts, its families as (family, category,
# regular, bold, italic)). Decorative, symbol and hairline faces (Z003, D050000L, Lato Thin,
# ...) are left out.

# fmt: off
FONT_TABLE = {
    "fonts-dejavu-core": ("truetype/dejavu", [
        ("DejaVu Sans", "sans", "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf"),
        ("DejaVu Serif", "serif", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf"),
        ("DejaVu Sans Mono", "mono", "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", None),
    ]),
    "fonts-dejavu-extra": ("truetype/dejavu", [
        ("DejaVu Sans Condensed", "condensed", "DejaVuSansCondensed.ttf", "DejaVuSansCondensed-Bold.ttf", None),
        ("DejaVu Serif Condensed", "condensed", "DejaVuSerifCondensed.ttf", "DejaVuSerifCondensed-Bold.ttf", None),
    ]),
    "fonts-liberation": ("truetype/liberation", [
        ("Liberation Sans", "sans", "LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf", "LiberationSans-Italic.ttf"),
        ("Liberation Serif", "serif", "LiberationSerif-Regular.ttf", "LiberationSerif-Bold.ttf", "LiberationSerif-Italic.ttf"),
        ("Liberation Mono", "mono", "LiberationMono-Regular.ttf", "LiberationMono-Bold.ttf", None),
        ("Liberation Sans Narrow", "condensed", "LiberationSansNarrow-Regular.ttf", "LiberationSansNarrow-Bold.ttf", None),
    ]),
    "fonts-freefont-ttf": ("truetype/freefont", [
        ("FreeSans", "sans", "FreeSans.ttf", "FreeSansBold.ttf", "FreeSansOblique.ttf"),
        ("FreeSerif", "serif", "FreeSerif.ttf", "FreeSerifBold.ttf", "FreeSerifItalic.ttf"),
        ("FreeMono", "mono", "FreeMono.ttf", "FreeMonoBold.ttf", None),
    ]),
    "fonts-urw-base35": ("opentype/urw-base35", [
        ("Nimbus Roman", "serif", "NimbusRoman-Regular.otf", "NimbusRoman-Bold.otf", "NimbusRoman-Italic.otf"),
        ("Nimbus Sans", "sans", "NimbusSans-Regular.otf", "NimbusSans-Bold.otf", None),
        ("Nimbus Sans Narrow", "condensed", "NimbusSansNarrow-Regular.otf", "NimbusSansNarrow-Bold.otf", None),
        ("Nimbus Mono PS", "mono", "NimbusMonoPS-Regular.otf", "NimbusMonoPS-Bold.otf", None),
        ("C059", "serif", "C059-Roman.otf", "C059-Bold.otf", "C059-Italic.otf"),
        ("P052", "serif", "P052-Roman.otf", "P052-Bold.otf", None),
        ("URW Bookman", "serif", "URWBookman-Light.otf", "URWBookman-Demi.otf", None),
        ("URW Gothic", "sans", "URWGothic-Book.otf", "URWGothic-Demi.otf", None),
    ]),
    "fonts-crosextra-carlito": ("truetype/crosextra", [
        ("Carlito", "sans", "Carlito-Regular.ttf", "Carlito-Bold.ttf", "Carlito-Italic.ttf"),
    ]),
    "fonts-crosextra-caladea": ("truetype/crosextra", [
        ("Caladea", "serif", "Caladea-Regular.ttf", "Caladea-Bold.ttf", "Caladea-Italic.ttf"),
    ]),
    "fonts-open-sans": ("truetype/open-sans", [
        ("Open Sans", "sans", "OpenSans-Regular.ttf", "OpenSans-Bold.ttf", "OpenSans-Italic.ttf"),
        ("Open Sans Condensed", "condensed", "OpenSans-CondBold.ttf", None, None),
    ]),
    "fonts-lato": ("truetype/lato", [
        ("Lato", "sans", "Lato-Regular.ttf", "Lato-Bold.ttf", "Lato-Italic.ttf"),
    ]),
    "fonts-inconsolata": ("truetype/inconsolata", [
        ("Inconsolata", "mono", "Inconsolata.otf", None, None),
    ]),
}
# fmt: on

# How often each category is drawn, relative to the others (documents are mostly sans/serif).
CATEGORY_WEIGHT = {"sans": 1.0, "serif": 1.0, "condensed": 0.6, "mono": 0.5}


@dataclass(frozen=True)
class FontFamily:
    name: str
    category: str
    regular: str
    bold: str | None
    italic: str | None


def installed(folder: str, name: str | None) -> str | None:
    """The font file's path if it is installed."""
    path = FONT_ROOT / folder / name if name else None
    return str(path) if path and path.is_file() else None


def find_fonts() -> list[FontFamily]:
    """The families of FONT_TABLE whose regular face is installed (bold/italic if present)."""
    families = []
    for folder, rows in FONT_TABLE.values():
        for family, category, *faces in rows:
            regular, bold, italic = (installed(folder, face) for face in faces)
            if regular:
                families.append(FontFamily(family, category, regular, bold, italic))
    return families


def pick_family(
    rng: np.random.Generator, families: list[FontFamily], categories: tuple[str, ...] | None = None
) -> FontFamily:
    pool = [f for f in families if categories is None or f.category in categories] or families
    weights = np.array([CATEGORY_WEIGHT[f.category] for f in pool])
    return pool[rng.choice(len(pool), p=weights / weights.sum())]


@lru_cache(maxsize=4096)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)


@lru_cache(maxsize=256)
def text_height_ratio(path: str) -> float:
    """Ink height of "Hg" (cap top to descender bottom) per pixel of font size."""
    left, top, right, bottom = load_font(path, 200).getbbox("Hg", anchor="ls")
    return (bottom - top) / 200.0


def font_for_text_height(path: str, height_px: float) -> ImageFont.FreeTypeFont:
    return load_font(path, max(6, round(height_px / text_height_ratio(path))))


# ---------------------------------------------------------------------------------------------
# Text sources: a fixed list, read in a fixed order, so the corpus does not depend on what
# else is installed. Missing files are skipped; the licence texts (base-files) are always there.

# fmt: off
LICENCE_FILES = ["Apache-2.0", "Artistic", "BSD", "CC0-1.0", "GFDL-1.3", "GPL-2", "GPL-3",
                 "LGPL-2.1", "MPL-2.0"]
DOC_PACKAGES = ["apt", "base-files", "bash", "coreutils", "dpkg", "fontconfig", "grep", "gzip",
                "sed", "tar", "fonts-dejavu-core", "fonts-liberation", "fonts-freefont-ttf",
                "fonts-urw-base35", "fonts-open-sans", "fonts-lato"]
NEWS_PACKAGES = ["coreutils", "grep", "sed", "tar", "gzip"]
PYTHON_MODULES = ["argparse", "calendar", "csv", "difflib", "fractions", "functools", "heapq",
                  "inspect", "pathlib", "pprint", "queue", "shutil", "statistics", "string",
                  "subprocess", "tarfile", "tempfile", "textwrap", "threading", "zipfile",
                  "collections/__init__", "email/message", "http/client", "json/__init__",
                  "logging/__init__", "unittest/case", "urllib/parse"]
# fmt: on
MAX_SOURCE_CHARS = 200_000
MIN_PARAGRAPHS = 200

ASCII_MAP = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2022": "-",
        "\u00a0": " ",
        "\u2026": "...",
        "\u00a9": "(c)",
        "\u00ae": "(R)",
    }
)


def to_ascii(text: str) -> str:
    """Printable ASCII with single spaces: quotes/dashes mapped, accents stripped, rest dropped."""
    text = unicodedata.normalize("NFKD", text.translate(ASCII_MAP))
    text = "".join(c for c in text if " " <= c <= "~" or c in "\t\n\r")
    return " ".join(text.split())


def read_text(path: Path) -> str:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        return f.read(MAX_SOURCE_CHARS)


def docstrings(path: Path) -> str:
    """All docstrings of a Python file, blank-line separated, code examples removed."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = [
        n
        for n in ast.walk(tree)
        if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    parts = []
    for node in nodes:
        doc = ast.get_docstring(node) or ""
        for par in doc.split("\n\n"):
            if ">>>" in par or any(line.startswith((" ", "\t")) for line in par.splitlines()):
                continue
            par = re.sub(r":\w+:`~?([^`]*)`", r"\1", par).replace("``", "")
            parts.append(par)
    return "\n\n".join(parts)


# Source groups and how often each is drawn: the release notes and licences would otherwise
# dominate by sheer size.
GROUP_WEIGHT = {
    "licence texts": 0.3,
    "release notes": 0.3,
    "python docstrings": 0.3,
    "debian copyright files": 0.1,
}


def source_files() -> list[tuple[str, Path]]:
    """(group, path) of every source that exists, in a fixed order."""
    doc = Path("/usr/share/doc")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    candidates = (
        [("licence texts", Path("/usr/share/common-licenses") / n) for n in LICENCE_FILES]
        + [("debian copyright files", doc / p / "copyright") for p in DOC_PACKAGES]
        + [("release notes", doc / p / "NEWS.gz") for p in NEWS_PACKAGES]
        + [("python docstrings", stdlib / f"{m}.py") for m in PYTHON_MODULES]
    )
    return [(group, path) for group, path in candidates if path.is_file()]


def is_prose(par: str) -> bool:
    """A paragraph of real running text, not a rule, a table or a file list."""
    if len(par) < 30 or len(par.split()) < 5 or re.search(r"([^\w\s])\1{3,}", par):
        return False
    visible = [c for c in par if c != " "]
    return sum(c.isalpha() for c in visible) >= 0.7 * len(visible)


def paragraphs(raw: str) -> list[str]:
    """Blank-line separated paragraphs, cleaned to ASCII, without e-mail addresses or very
    long tokens (URLs, paths), keeping only prose."""
    out = []
    for block in re.split(r"\n\s*\n", raw):
        words = [w for w in to_ascii(block).split() if "@" not in w and len(w) <= 30]
        par = " ".join(words)
        if is_prose(par):
            out.append(par)
    return out


@dataclass
class Corpus:
    """Paragraphs of real English, per group and per source file, in reading order."""

    groups: dict[str, list[list[str]]] = field(default_factory=dict)

    def add(self, group: str, pars: list[str]):
        self.groups.setdefault(group, []).append(pars)

    def size(self) -> int:
        return sum(len(p) for sources in self.groups.values() for p in sources)

    def passage(self, rng: np.random.Generator, count: int = 1) -> str:
        """`count` consecutive paragraphs of one source: a group by GROUP_WEIGHT, a source
        in it by its size, a random starting paragraph."""
        names = sorted(self.groups)
        weights = np.array([GROUP_WEIGHT[n] for n in names])
        sources = self.groups[names[rng.choice(len(names), p=weights / weights.sum())]]
        sizes = np.array([len(s) for s in sources], float)
        pars = sources[rng.choice(len(sources), p=sizes / sizes.sum())]
        start = int(rng.integers(len(pars)))
        return " ".join(pars[start : start + count])


def load_corpus() -> tuple[Corpus, list[str]]:
    """The corpus and a description of the sources used."""
    corpus, used = Corpus(), []
    for group, path in source_files():
        raw = docstrings(path) if path.suffix == ".py" else read_text(path)
        pars = paragraphs(raw)
        if pars:
            corpus.add(group, pars)
            used.append(f"{group}: {path} ({len(pars)} paragraphs)")
    if corpus.size() < MIN_PARAGRAPHS:
        sys.exit(
            f"error: only {corpus.size()} paragraphs of text found (need {MIN_PARAGRAPHS}); "
            "are /usr/share/common-licenses and the Python stdlib sources present?"
        )
    return corpus, used


# ---------------------------------------------------------------------------------------------
# Generated document content. All names, numbers and addresses are made up; e-mail and web
# addresses use the reserved example.* domains, phone numbers the fictional 555-01xx range.

# fmt: off
FIRST_NAMES = ["James", "Mary", "Robert", "Linda", "Ahmed", "Sofia", "Chen", "Priya", "Olivia",
               "Lucas", "Emma", "Noah", "Fatima", "Daniel", "Grace", "Ivan", "Hannah", "Mateo",
               "Chloe", "Samuel", "Aisha", "Peter", "Laura", "Kenji", "Nora", "Victor"]
LAST_NAMES = ["Smith", "Johnson", "Garcia", "Brown", "Miller", "Davis", "Wilson", "Anderson",
              "Thompson", "Martinez", "Robinson", "Clark", "Lewis", "Walker", "Young", "Allen",
              "Nguyen", "Patel", "Kowalski", "Schmidt", "Okafor", "Hughes", "Foster", "Reyes"]
STREETS = ["Maple Avenue", "Oak Street", "High Street", "Station Road", "Park Lane", "Mill Road",
           "Church Street", "Elm Drive", "Harbour View", "Cedar Court", "Riverside Walk",
           "King Street", "Victoria Road", "Lakeshore Blvd", "Bridge Street"]
CITIES = [("Springfield", "IL"), ("Riverton", "WY"), ("Fairview", "OR"), ("Madison", "WI"),
          ("Greenville", "SC"), ("Franklin", "TN"), ("Clinton", "IA"), ("Salem", "MA"),
          ("Georgetown", "TX"), ("Ashland", "KY"), ("Dover", "DE"), ("Oxford", "MS")]
COMPANIES = ["Northwind Supplies", "Bluebird Logistics", "Acme Office Products",
             "Harbor Street Bakery", "Summit Engineering Ltd", "Greenleaf Garden Centre",
             "Pioneer Hardware Co.", "Riverside Dental Clinic", "Atlas Print & Copy",
             "Brightside Electrical", "Oakwood Furniture", "Keystone Accounting LLP"]
PRODUCTS = ["A4 copy paper, 500 sheets", "Stainless steel bracket", "USB-C cable 2 m",
            "Ballpoint pens (box of 12)", "Printer toner cartridge", "Desk lamp, LED",
            "Wall shelf, oak", "Safety gloves size L", "Hex bolts M8 x 40", "Coffee beans 1 kg",
            "Labour (hours)", "Delivery charge", "Cable ties 200 mm", "Notebook A5 ruled",
            "Paint, white matt 5 L", "Extension lead 4-way", "Filing cabinet key",
            "Consultation fee", "Wood screws 4 x 30", "Monitor stand"]
HEADINGS = ["INVOICE", "TERMS AND CONDITIONS", "PAYMENT DETAILS", "SHIPPING ADDRESS",
            "ORDER SUMMARY", "CUSTOMER INFORMATION", "DELIVERY NOTE", "RECEIPT",
            "STATEMENT OF ACCOUNT", "NOTES", "WARRANTY", "RETURNS POLICY", "MEETING MINUTES",
            "PROJECT UPDATE", "PURCHASE ORDER", "REMITTANCE ADVICE", "QUOTATION", "SUMMARY"]
SECTION_TITLES = ["Introduction", "Scope", "Definitions", "Payment terms", "Delivery", "Warranty",
                  "Limitation of liability", "Contact", "Background", "Next steps",
                  "Summary of changes", "Cancellation", "Confidentiality", "Notes"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
# fmt: on


def pick(rng: np.random.Generator, items: list):
    return items[rng.integers(len(items))]


def money(rng: np.random.Generator, low: float = 0.5, high: float = 2000.0) -> float:
    return round(float(np.exp(rng.uniform(np.log(low), np.log(high)))), 2)


def fmt_money(rng: np.random.Generator, value: float) -> str:
    plain = f"{value:,.2f}"
    style = rng.integers(4)
    return [f"${plain}", plain, f"{plain} USD", f"EUR {plain}"][style]


def date(rng: np.random.Generator) -> str:
    y, m, d = int(rng.integers(1998, 2031)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    hh, mm = int(rng.integers(0, 24)), int(rng.integers(0, 60))
    return pick(
        rng,
        [
            f"{y}-{m:02d}-{d:02d}",
            f"{d:02d}/{m:02d}/{y}",
            f"{m}/{d}/{y % 100:02d}",
            f"{MONTHS[m - 1]} {d}, {y}",
            f"{d} {MONTHS[m - 1][:3]} {y}",
            f"{d}.{m:02d}.{y}",
            f"{WEEKDAYS[(y + m + d) % 7]}, {d} {MONTHS[m - 1][:3]} {y} {hh:02d}:{mm:02d}",
        ],
    )


def phone(rng: np.random.Generator) -> str:
    area, last = int(rng.integers(200, 990)), int(rng.integers(100, 200))
    return pick(
        rng,
        [
            f"({area}) 555-{last:04d}",
            f"+1 {area} 555 {last:04d}",
            f"{area}-555-{last:04d}",
            f"555-{last:04d}",
        ],
    )


def person(rng: np.random.Generator) -> str:
    return f"{pick(rng, FIRST_NAMES)} {pick(rng, LAST_NAMES)}"


def email(rng: np.random.Generator) -> str:
    first, last = pick(rng, FIRST_NAMES).lower(), pick(rng, LAST_NAMES).lower()
    user = pick(
        rng,
        [
            f"{first}.{last}",
            f"{first[0]}{last}",
            "billing",
            "info",
            "orders",
            f"{last}{int(rng.integers(1, 99))}",
        ],
    )
    return f"{user}@{pick(rng, ['example.com', 'example.org', 'example.net', 'mail.example.com'])}"


def url(rng: np.random.Generator) -> str:
    path = pick(
        rng,
        [
            "",
            "/help",
            "/orders/" + str(rng.integers(10000, 99999)),
            "/docs/start.html",
            "/support?id=" + str(rng.integers(100, 9999)),
            "/returns",
            "/account/invoices",
        ],
    )
    return (
        pick(rng, ["https://www.", "http://", "www.", "https://"])
        + pick(rng, ["example.com", "example.org", "shop.example.net"])
        + path
    )


def identifier(rng: np.random.Generator) -> str:
    n = int(rng.integers(1000, 999999))
    letters = "".join(chr(65 + int(c)) for c in rng.integers(0, 26, 3))
    return pick(
        rng,
        [
            f"INV-{n:06d}",
            f"PO/{int(rng.integers(2015, 2031))}/{n % 10000:04d}",
            f"{letters}-{n % 1000:03d}-{int(rng.integers(10, 99))}",
            f"#{n}",
            f"SKU {n % 100:02d}-{n % 9973:04d}-{letters[0]}",
            f"{n % 10000:04d} {int(rng.integers(1000, 9999))} {int(rng.integers(1000, 9999))}",
        ],
    )


def street_address(rng: np.random.Generator) -> str:
    return pick(
        rng,
        [
            f"{int(rng.integers(1, 9999))} {pick(rng, STREETS)}",
            f"{int(rng.integers(1, 300))} {pick(rng, STREETS)}, Suite {int(rng.integers(100, 999))}",
            f"PO Box {int(rng.integers(100, 9999))}",
            f"Unit {int(rng.integers(1, 40))}, {pick(rng, STREETS)}",
        ],
    )


def city_line(rng: np.random.Generator) -> str:
    city, state = pick(rng, CITIES)
    return f"{city}, {state} {int(rng.integers(10000, 99999))}"


FORM_FIELDS = [
    ("Invoice No:", identifier),
    ("Order number:", identifier),
    ("Reference:", identifier),
    ("Account No.:", identifier),
    ("Date:", date),
    ("Due date:", date),
    ("Customer:", person),
    ("Contact:", person),
    ("Phone:", phone),
    ("Email:", email),
    ("Website:", url),
    ("Address:", street_address),
    ("Customer ID:", lambda rng: f"C-{int(rng.integers(1000, 99999)):05d}"),
    ("Amount due:", lambda rng: fmt_money(rng, money(rng, 10))),
    (
        "Payment terms:",
        lambda rng: pick(rng, ["Net 30", "Net 14", "Due on receipt", "30 days EOM"]),
    ),
    ("VAT rate:", lambda rng: f"{pick(rng, [5, 7, 10, 12.5, 19, 20, 21])}%"),
    (
        "Time:",
        lambda rng: (
            f"{int(rng.integers(1, 13))}:{int(rng.integers(0, 60)):02d} {pick(rng, ['AM', 'PM'])}"
        ),
    ),
    ("Pages:", lambda rng: str(int(rng.integers(1, 40)))),
    ("Status:", lambda rng: pick(rng, ["Paid", "Open", "Overdue", "Shipped"])),
]


def key_value(rng: np.random.Generator) -> tuple[str, str]:
    """A form field: ("Invoice No:", "INV-004213")."""
    key, value = pick(rng, FORM_FIELDS)
    return key, value(rng)


def invoice_row(rng: np.random.Generator) -> list[str]:
    """One table row: description, quantity, unit price, amount."""
    qty = int(rng.choice([1, 1, 2, 3, 4, 5, 6, 10, 12, 24, 50]))
    unit = money(rng, 0.2, 400)
    return [pick(rng, PRODUCTS), str(qty), f"{unit:,.2f}", f"{qty * unit:,.2f}"]


def heading(rng: np.random.Generator) -> str:
    n = int(rng.integers(1, 12))
    return pick(
        rng,
        [
            pick(rng, HEADINGS),
            f"SECTION {n}. {pick(rng, HEADINGS)}",
            f"{n}. {pick(rng, SECTION_TITLES)}",
            f"{n}.{int(rng.integers(1, 9))} {pick(rng, SECTION_TITLES)}",
            pick(rng, SECTION_TITLES).upper(),
        ],
    )


def document_line(rng: np.random.Generator) -> str:
    """One line of document-like content (invoice, address, form, heading, ...)."""
    kind = rng.integers(12)
    if kind == 0:
        return " ".join(invoice_row(rng))
    if kind == 1:
        desc, qty, unit, amount = invoice_row(rng)
        return pick(
            rng,
            [
                f"{qty} x {desc} @ {unit} = {amount}",
                f"{desc} ... {fmt_money(rng, float(amount.replace(',', '')))}",
            ],
        )
    if kind == 2:
        return date(rng)
    if kind == 3:
        return pick(
            rng, [street_address(rng), city_line(rng), f"{street_address(rng)}, {city_line(rng)}"]
        )
    if kind == 4:
        return pick(
            rng, [phone(rng), f"Tel: {phone(rng)}", f"Phone {phone(rng)} / Fax {phone(rng)}"]
        )
    if kind == 5:
        return pick(
            rng, [email(rng), f"Email: {email(rng)}", f"Contact {person(rng)} <{email(rng)}>"]
        )
    if kind == 6:
        return pick(rng, [url(rng), f"Visit {url(rng)} for details"])
    if kind == 7:
        return pick(rng, [identifier(rng), f"Order {identifier(rng)}", f"Ref: {identifier(rng)}"])
    if kind == 8:
        return heading(rng)
    if kind == 9:
        return " ".join(key_value(rng))
    if kind == 10:
        return pick(
            rng,
            [
                f"Subtotal {fmt_money(rng, money(rng, 10))}",
                "Total",
                f"Page {int(rng.integers(1, 5))} of {int(rng.integers(5, 12))}",
                f"VAT 20%: {money(rng, 1, 300):,.2f}",
                pick(rng, COMPANIES),
                f"Thank you for your order, {pick(rng, FIRST_NAMES)}!",
                f"{pick(rng, COMPANIES)} - {city_line(rng)}",
            ],
        )
    return f"{person(rng)}, {pick(rng, ['Manager', 'Accounts', 'Sales', 'Director', 'Support'])}"


def prose_fragment(rng: np.random.Generator, corpus: Corpus, target: int) -> str:
    """Consecutive words of a random paragraph, about `target` characters, at most 80."""
    words = corpus.passage(rng).split()
    start = int(rng.integers(max(1, len(words) - target // 6)))  # leave room for ~target chars
    out = words[start]
    for w in words[start + 1 :]:
        if len(out) >= target or len(out) + 1 + len(w) > 80:
            break
        out += " " + w
    return out[:80]


def line_length_target(rng: np.random.Generator) -> int:
    """Mostly 15-60 characters, some shorter and some up to 80."""
    r = rng.random()
    if r < 0.1:
        return int(rng.integers(1, 15))
    if r < 0.88:
        return int(rng.integers(15, 61))
    return int(rng.integers(61, 81))


def line_text(rng: np.random.Generator, corpus: Corpus) -> str:
    """Text of one line image: half real prose, half document content; ASCII, 1-80 chars."""
    if rng.random() < 0.5:
        text = prose_fragment(rng, corpus, line_length_target(rng))
    else:
        text = document_line(rng)
    return to_ascii(text)[:80].strip() or "Total"


# ---------------------------------------------------------------------------------------------
# Geometry


def perspective_coeffs(out_quad: np.ndarray, in_quad: np.ndarray) -> list[float]:
    """PIL PERSPECTIVE coefficients that map points of the output image to the input image."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(out_quad, in_quad, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    return list(np.linalg.solve(np.array(rows, float), np.array(rhs, float)))


def map_points(coeffs: list[float], pts: np.ndarray) -> np.ndarray:
    a, b, c, d, e, f, g, h = coeffs
    x, y = pts[:, 0], pts[:, 1]
    w = g * x + h * y + 1
    return np.stack([(a * x + b * y + c) / w, (d * x + e * y + f) / w], axis=1)


def rect_corners(w: float, h: float) -> np.ndarray:
    return np.array([[0, 0], [w, 0], [w, h], [0, h]], float)


def rotate(pts: np.ndarray, degrees: float, centre: np.ndarray) -> np.ndarray:
    t = math.radians(degrees)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    return (pts - centre) @ rot.T + centre


def warp(img: Image.Image, dst_quad: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """Map img's corners to dst_quad in an output of `size`; outside is 0 (transparent)."""
    coeffs = perspective_coeffs(dst_quad, rect_corners(*img.size))
    return img.transform(size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC)


# ---------------------------------------------------------------------------------------------
# Colours, paper, light and degradations (float32 arrays, 0-255, H x W x 3)


@dataclass
class Colours:
    paper: np.ndarray
    ink: np.ndarray
    heading_ink: np.ndarray


def pick_colours(rng: np.random.Generator) -> Colours:
    """Paper and ink colours; some tinted, a few low contrast."""
    tint = pick(
        rng,
        [
            np.array([0, 0, 0]),
            np.array([2, 0, -8]),
            np.array([3, 1, -12]),
            np.array([-3, 0, 3]),
            np.array([0, 2, 0]),
        ],
    )
    if rng.random() < 0.1:  # low contrast: grey paper, faded ink
        paper = rng.uniform(170, 210) + tint
        ink = np.full(3, rng.uniform(70, 115))
    else:
        paper = rng.uniform(222, 252) + tint
        ink = pick(
            rng,
            [
                np.full(3, rng.uniform(5, 60)),
                np.array([25, 30, 80.0]),
                np.array([45, 35, 30.0]),
                np.full(3, rng.uniform(10, 40)),
            ],
        )
    heading_ink = (
        ink
        if rng.random() < 0.7
        else pick(rng, [np.array([20, 40, 110.0]), np.array([110, 20, 20.0])])
    )
    return Colours(paper.astype(np.float32), ink.astype(np.float32), heading_ink.astype(np.float32))


def smooth_noise(rng: np.random.Generator, w: int, h: int, cell: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1]-ish of size h x w (a random grid, upscaled)."""
    grid = rng.standard_normal((h // cell + 2, w // cell + 2)).astype(np.float32)
    return np.asarray(Image.fromarray(grid).resize((w, h), Image.Resampling.BICUBIC))


def paper(rng: np.random.Generator, w: int, h: int, colour: np.ndarray) -> np.ndarray:
    texture = smooth_noise(rng, w, h, max(8, min(w, h) // 6)) * rng.uniform(1, 5)
    return np.clip(colour[None, None, :] + texture[..., None], 0, 255).astype(np.float32)


def lighting(rng: np.random.Generator, w: int, h: int, strength: float) -> np.ndarray:
    """Uneven light as an h x w gain: gradient, vignette and sometimes a soft shadow edge.
    strength scales everything (about 0.5 for line crops, 1 for pages)."""
    x = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    y = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    angle = rng.uniform(0, 2 * math.pi)
    gain = 1 + strength * rng.uniform(0, 0.18) * (x * math.cos(angle) + y * math.sin(angle))
    gain = gain * (1 - strength * rng.uniform(0, 0.25) * (x * x + y * y) / 2)
    if rng.random() < 0.35 * strength:
        angle = rng.uniform(0, 2 * math.pi)
        d = x * math.cos(angle) + y * math.sin(angle) - rng.uniform(-0.6, 0.6)
        edge = 1 / (1 + np.exp(-d / rng.uniform(0.02, 0.15)))
        gain = gain * (1 - rng.uniform(0.12, 0.35) * edge)
    return np.clip(gain * rng.uniform(0.9, 1.06), 0.45, 1.15).astype(np.float32)


def motion_blur(arr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Average of copies shifted along a random direction (3-6 px)."""
    length = int(rng.integers(3, 7))
    angle = rng.uniform(0, math.pi)
    pad = length
    padded = np.pad(arr, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    h, w = arr.shape[:2]
    acc = np.zeros_like(arr)
    for k in range(length):
        t = k - (length - 1) / 2
        dx, dy = round(t * math.cos(angle)), round(t * math.sin(angle))
        acc += padded[pad + dy : pad + dy + h, pad + dx : pad + dx + w]
    return acc / length


def blur(arr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gaussian (defocus) blur with sigma 0.3-1.5 px for most, none for some, motion for a few."""
    r = rng.random()
    if r < 0.07:
        return motion_blur(arr, rng)
    if r < 0.3:
        return arr
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.5))))
    return np.asarray(img, dtype=np.float32)


def add_noise(arr: np.ndarray, rng: np.random.Generator, max_sigma: float) -> np.ndarray:
    sigma = rng.uniform(0, max_sigma)
    noise = rng.standard_normal(arr.shape[:2], dtype=np.float32)[..., None] * sigma
    if rng.random() < 0.5:  # colour noise as well
        noise = noise + rng.standard_normal(arr.shape, dtype=np.float32) * (sigma * 0.5)
    return arr + noise


def finish(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8))


def save(img: Image.Image, path_stem: Path, jpeg_quality: int | None, grey: bool) -> Path:
    if grey:
        img = img.convert("L")
    if jpeg_quality is None:
        path = path_stem.with_suffix(".png")
        img.save(path, optimize=False, compress_level=6)
    else:
        path = path_stem.with_suffix(".jpg")
        img.save(path, quality=jpeg_quality)
    return path


# ---------------------------------------------------------------------------------------------
# Line images


def pick_face(rng: np.random.Generator, family: FontFamily) -> str:
    r = rng.random()
    if r < 0.12 and family.bold:
        return family.bold
    if r < 0.22 and family.italic:
        return family.italic
    return family.regular


def line_text_height(rng: np.random.Generator, text: str) -> float:
    """16-64 px, log-uniform, capped so that very long lines stay under ~2200 px wide."""
    h = float(np.exp(rng.uniform(np.log(16), np.log(64))))
    return max(16.0, min(h, 2200 / (0.6 * max(len(text), 1))))


def render_line_mask(text: str, font: ImageFont.FreeTypeFont, pad: int) -> Image.Image:
    left, top, right, bottom = font.getbbox(text, anchor="ls")
    mask = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ImageDraw.Draw(mask).text((pad - left, pad - top), text, font=font, fill=255, anchor="ls")
    return mask


def line_geometry(rng: np.random.Generator, w: int, h: int, text_h: float) -> np.ndarray:
    """Where the mask's corners go: no change, a small rotation, and/or mild perspective."""
    quad = rect_corners(w, h)
    if rng.random() < 0.5:
        quad = rotate(quad, rng.uniform(-2, 2), np.array([w / 2, h / 2]))
    if rng.random() < 0.35:
        jitter = rng.uniform(-1, 1, (4, 2)) * np.array([0.1 * text_h, 0.15 * text_h])
        quad = quad + jitter
    return quad - quad.min(axis=0)


def make_line(rng: np.random.Generator, text: str, families: list[FontFamily]) -> Image.Image:
    """One text line as a detector would crop it: ink plus a 2-10 px margin, degraded."""
    family = pick_family(rng, families)
    face = pick_face(rng, family)
    text_h = line_text_height(rng, text)
    font = font_for_text_height(face, text_h)
    pad = max(24, int(text_h))
    mask = render_line_mask(text, font, pad)
    quad = line_geometry(rng, *mask.size, text_h)
    size = tuple(int(math.ceil(v)) + 1 for v in quad.max(axis=0))
    mask = warp(mask, quad, size)
    x0, y0, x1, y1 = mask.getbbox()
    ml, mt, mr, mb = (int(v) for v in rng.integers(2, 11, 4))
    box = (x0 - ml, y0 - mt, x1 + mr, y1 + mb)
    assert box[0] >= 0 and box[1] >= 0 and box[2] <= size[0] and box[3] <= size[1], box
    alpha = np.asarray(mask.crop(box), dtype=np.float32)[..., None] / 255.0
    colours = pick_colours(rng)
    w, h = box[2] - box[0], box[3] - box[1]
    arr = paper(rng, w, h, colours.paper)
    arr = arr * (1 - alpha * rng.uniform(0.85, 1.0)) + colours.ink * alpha * rng.uniform(0.85, 1.0)
    arr = arr * lighting(rng, w, h, 0.5)[..., None]
    return finish(add_noise(blur(arr, rng), rng, 7))


# ---------------------------------------------------------------------------------------------
# Pages: layout (what goes where) and rendering


@dataclass
class Piece:
    x: float
    baseline: float
    text: str
    font: ImageFont.FreeTypeFont
    heading: bool = False


@dataclass
class PageLayout:
    width: int
    height: int
    body_font: str
    lines: list[list[Piece]] = field(default_factory=list)

    def ground_truth(self) -> str:
        return "\n".join(" ".join(p.text for p in line) for line in self.lines)


@dataclass
class PageStyle:
    """Fonts and spacing of one page, derived from its size in pixels and its dpi."""

    body: ImageFont.FreeTypeFont
    bold: ImageFont.FreeTypeFont
    title: ImageFont.FreeTypeFont
    table: ImageFont.FreeTypeFont
    table_bold: ImageFont.FreeTypeFont
    pitch: float
    left: float
    right: float
    max_chars: int


# Average character width of English text, to size the text block to at most max_chars.
CHAR_WIDTH_SAMPLE = "The quick brown fox jumps over the lazy dog; 24 items were listed in 2019."


def char_width(font: ImageFont.FreeTypeFont) -> float:
    return font.getlength(CHAR_WIDTH_SAMPLE) / len(CHAR_WIDTH_SAMPLE)


def body_points(path: str, points: float, dpi: float, text_w: float, max_chars: int) -> float:
    """Body size in points (10-14): `points`, raised toward 14 when a line of the text block
    would otherwise hold many more than max_chars characters."""
    fits = text_w / char_width(load_font(path, max(8, round(points * dpi / 72))))
    return min(14.0, max(points, points * fits / max_chars))


def page_style(
    rng: np.random.Generator, families: list[FontFamily], width: int, dpi: float
) -> PageStyle:
    body_family = pick_family(rng, families, ("sans", "serif", "condensed"))
    head_family = (
        body_family if rng.random() < 0.5 else pick_family(rng, families, ("sans", "serif"))
    )
    table_family = body_family if rng.random() < 0.7 else pick_family(rng, families, ("mono",))
    head_face = head_family.bold or head_family.regular
    px = lambda pt: max(8, round(pt * dpi / 72))  # noqa: E731
    max_chars = int(rng.integers(50, 81))
    margin = rng.uniform(0.6, 1.2) * dpi
    available = width - 2 * margin
    body_pt = body_points(body_family.regular, rng.uniform(10, 14), dpi, available, max_chars)
    body = load_font(body_family.regular, px(body_pt))
    text_w = min(available, max_chars * char_width(body))
    left = margin + (available - text_w) * rng.uniform(0, 0.35)
    return PageStyle(
        body=body,
        bold=load_font(head_face, px(body_pt * rng.uniform(1.1, 1.4))),
        title=load_font(head_face, px(rng.uniform(17, 26))),
        table=load_font(table_family.regular, px(body_pt * rng.uniform(0.9, 1.0))),
        table_bold=load_font(table_family.bold or table_family.regular, px(body_pt * 0.95)),
        pitch=px(body_pt) * rng.uniform(1.2, 1.55),
        left=left,
        right=left + text_w,
        max_chars=max_chars,
    )


def wrap(text: str, font: ImageFont.FreeTypeFont, width: float, max_chars: int) -> list[str]:
    """Greedy word wrap to a pixel width and at most max_chars characters per line."""
    lines, current = [], ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and (len(candidate) > max_chars or font.getlength(candidate) > width):
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return [line for line in lines if len(line) <= 80 and font.getlength(line) <= width]


class PageWriter:
    """Places lines top to bottom and stops when the next one would not fit."""

    def __init__(self, layout: PageLayout, top: float, bottom: float, right: float):
        self.layout, self.y, self.bottom, self.right = layout, top, bottom, right

    def add(
        self,
        pieces: list[tuple[float, str, ImageFont.FreeTypeFont]],
        pitch: float,
        heading: bool = False,
    ) -> bool:
        """Adds one line of pieces (x, text, font); False when the page is full. A line that
        would pass the right edge of the text block is left out."""
        font = max((p[2] for p in pieces), key=lambda f: f.size)
        ascent, descent = font.getmetrics()
        if self.y + ascent + descent > self.bottom:
            return False
        if any(x + f.getlength(t) > self.right + 1 for x, t, f in pieces):
            return True
        baseline = self.y + ascent
        self.layout.lines.append([Piece(x, baseline, t, f, heading) for x, t, f in pieces])
        self.y += max(pitch, (ascent + descent) * 1.05)
        return True

    def gap(self, pixels: float):
        self.y += pixels


def add_paragraph(w: PageWriter, rng, corpus, st: PageStyle, indent: bool) -> bool:
    text = corpus.passage(rng, 2 if rng.random() < 0.3 else 1)
    lines = wrap(text, st.body, st.right - st.left, st.max_chars)[: int(rng.integers(3, 9))]
    for i, line in enumerate(lines):
        x = st.left + (st.pitch if indent and i == 0 else 0)
        if x + st.body.getlength(line) > st.right:
            x = st.left
        if not w.add([(x, line, st.body)], st.pitch):
            return False
    w.gap(st.pitch * rng.uniform(0.3, 0.8))
    return True


def add_heading(w: PageWriter, rng, st: PageStyle, text: str, font) -> bool:
    text = wrap(text, font, st.right - st.left, 80)[:1]
    if not text:
        return True
    w.gap(st.pitch * rng.uniform(0.2, 0.6))
    ok = w.add([(st.left, text[0], font)], font.size * 1.4, heading=True)
    w.gap(st.pitch * rng.uniform(0.1, 0.4))
    return ok


def add_key_values(w: PageWriter, rng, st: PageStyle) -> bool:
    """Form fields; values either in an aligned column or right after the key."""
    fields = rng.choice(len(FORM_FIELDS), int(rng.integers(3, 7)), replace=False)
    pairs = [(FORM_FIELDS[i][0], FORM_FIELDS[i][1](rng)) for i in fields]
    aligned = rng.random() < 0.6
    key_font = st.bold if rng.random() < 0.3 else st.body
    key_font = load_font(key_font.path, st.body.size)
    col = st.left + max(key_font.getlength(k) for k, _ in pairs) + st.body.size * rng.uniform(1, 3)
    for key, value in pairs:
        if aligned and col + st.body.getlength(value) <= st.right:
            pieces = [(st.left, key, key_font), (col, value, st.body)]
        else:
            pieces = [(st.left, f"{key} {value}", st.body)]
        if not w.add(pieces, st.pitch * 0.95):
            return False
    w.gap(st.pitch * 0.6)
    return True


def table_columns(
    rows: list[list[str]], fonts: list, left: float, right: float, gap: float
) -> list[float] | None:
    """Right edges of the columns (first column left-aligned), or None if it does not fit."""
    widths = [
        max(f.getlength(r[c]) for r, f in zip(rows, fonts, strict=True))
        for c in range(len(rows[0]))
    ]
    edges, x = [], left
    for i, cw in enumerate(widths):
        x += cw + (gap if i else 0)
        edges.append(x)
    return edges if edges[-1] <= right else None


def add_table(w: PageWriter, rng, st: PageStyle) -> bool:
    """A small item list with aligned columns: header, rows, total."""
    header = pick(
        rng,
        [
            ["Item", "Qty", "Price", "Amount"],
            ["Description", "Qty", "Unit", "Total"],
            ["Product", "Quantity", "Unit price", "Line total"],
        ],
    )
    rows = [invoice_row(rng) for _ in range(int(rng.integers(3, 8)))]
    total = sum(float(r[3].replace(",", "")) for r in rows)
    body = [header] + rows + [["Total", "", "", f"{total:,.2f}"]]
    fonts = [st.table_bold] + [st.table] * len(rows) + [st.table_bold]
    gap = st.table.size * rng.uniform(1.5, 3.5)
    edges = table_columns(body, fonts, st.left, st.right, gap)
    while edges is None and gap > st.table.size * 0.8:
        gap *= 0.8
        edges = table_columns(body, fonts, st.left, st.right, gap)
    if edges is None:
        return True
    w.gap(st.pitch * 0.3)
    for row, font in zip(body, fonts, strict=True):
        pieces = [(st.left, row[0], font)]
        pieces += [
            (edges[c] - font.getlength(row[c]), row[c], font) for c in range(1, len(row)) if row[c]
        ]
        if not w.add(pieces, st.pitch):
            return False
    w.gap(st.pitch * 0.7)
    return True


def add_header_block(w: PageWriter, rng, st: PageStyle) -> bool:
    """Sender: company, street, city, phone/email; sometimes a right-aligned date line."""
    lines = [
        pick(rng, COMPANIES),
        street_address(rng),
        city_line(rng),
        pick(rng, [f"Tel: {phone(rng)}", email(rng), url(rng)]),
    ]
    for i, text in enumerate(lines):
        font = st.bold if i == 0 else st.body
        if not w.add([(st.left, text, font)], st.pitch):
            return False
    if rng.random() < 0.5:
        text = date(rng)
        if not w.add([(st.right - st.body.getlength(text), text, st.body)], st.pitch):
            return False
    w.gap(st.pitch * 0.8)
    return True


def layout_page(rng: np.random.Generator, corpus: Corpus, families: list[FontFamily]) -> PageLayout:
    width = int(rng.integers(900, 1701))
    inches_w, inches_h = pick(rng, [(8.5, 11.0), (8.27, 11.69)])
    dpi = width / inches_w
    height = round(inches_h * dpi)
    st = page_style(rng, families, width, dpi)
    layout = PageLayout(width, height, st.body.path)
    top = rng.uniform(0.5, 1.0) * dpi
    w = PageWriter(layout, top, height - rng.uniform(0.5, 0.9) * dpi, st.right)
    if rng.random() < 0.5:
        add_header_block(w, rng, st)
    title = (
        pick(rng, HEADINGS)
        if rng.random() < 0.6
        else string.capwords(prose_fragment(rng, corpus, 30))
    )
    add_heading(w, rng, st, title, st.title)
    blocks = ["kv", "table"] + ["par"] * int(rng.integers(3, 6))
    rng.shuffle(blocks)
    ok = True
    for block in blocks + ["par"] * 10:
        if not ok:
            break
        if block == "kv":
            ok = add_key_values(w, rng, st)
        elif block == "table":
            ok = add_table(w, rng, st)
        else:
            if rng.random() < 0.45:
                ok = add_heading(
                    w,
                    rng,
                    st,
                    heading(rng) if rng.random() < 0.5 else pick(rng, SECTION_TITLES),
                    st.bold,
                )
            ok = ok and add_paragraph(w, rng, corpus, st, indent=rng.random() < 0.3)
    if layout.lines and layout.lines[-1][0].heading:  # no dangling heading at the bottom
        layout.lines.pop()
    return layout


def render_page(rng: np.random.Generator, layout: PageLayout, colours: Colours) -> Image.Image:
    img = finish(paper(rng, layout.width, layout.height, colours.paper))
    draw = ImageDraw.Draw(img)
    for line in layout.lines:
        for p in line:
            ink = colours.heading_ink if p.heading else colours.ink
            draw.text(
                (p.x, p.baseline), p.text, font=p.font, anchor="ls", fill=tuple(int(v) for v in ink)
            )
    return img


def piece_boxes(layout: PageLayout) -> np.ndarray:
    """Corners of every piece's ink box, N x 4 x 2, in page pixels."""
    boxes = []
    for line in layout.lines:
        for p in line:
            x0, y0, x1, y1 = p.font.getbbox(p.text, anchor="ls")
            boxes.append(rect_corners(x1 - x0, y1 - y0) + [p.x + x0, p.baseline + y0])
    return np.array(boxes)


def background(rng: np.random.Generator, w: int, h: int, scan: bool) -> np.ndarray:
    """A desk or cloth for photos, a scanner lid (light or dark) for scans."""
    if scan:
        colour = np.full(3, pick(rng, [rng.uniform(200, 235), rng.uniform(15, 45)]))
    else:
        colour = pick(
            rng,
            [
                np.array([125, 85, 52.0]),
                np.array([60, 60, 62.0]),
                np.array([40, 70, 60.0]),
                np.array([170, 150, 120.0]),
                np.array([90, 100, 125.0]),
                np.array([25, 25, 28.0]),
            ],
        )
        colour = colour * rng.uniform(0.8, 1.2)
    texture = smooth_noise(rng, w, h, 24) * rng.uniform(3, 14)
    grain = smooth_noise(rng, w, h, 3) * rng.uniform(0, 6)
    return np.clip(colour[None, None, :] + (texture + grain)[..., None], 0, 255).astype(np.float32)


def page_quad(
    rng: np.random.Generator, w: int, h: int, scan: bool
) -> tuple[np.ndarray, tuple[int, int]]:
    """Where the page corners land and the size of the picture: skew up to 3 degrees and,
    for photos, each corner moved by up to 6% of the page size; a margin of background."""
    quad = rotate(rect_corners(w, h), rng.uniform(-3, 3), np.array([w / 2, h / 2]))
    if not scan:
        quad = quad + rng.uniform(-0.06, 0.06, (4, 2)) * np.array([w, h])
    margin = (rng.uniform(0.005, 0.02) if scan else rng.uniform(0.02, 0.08)) * np.array([w, h])
    quad = quad - quad.min(axis=0) + margin
    size = np.ceil(quad.max(axis=0) + margin).astype(int)
    return quad, (int(size[0]), int(size[1]))


def make_page(
    rng: np.random.Generator, corpus: Corpus, families: list[FontFamily]
) -> tuple[Image.Image, str, bool, dict]:
    """(image, ground truth, scanned?, info)."""
    layout = layout_page(rng, corpus, families)
    colours = pick_colours(rng)
    page = render_page(rng, layout, colours)
    scan = rng.random() < 0.3
    quad, size = page_quad(rng, layout.width, layout.height, scan)
    coeffs_page_to_out = perspective_coeffs(rect_corners(layout.width, layout.height), quad)
    boxes = piece_boxes(layout).reshape(-1, 2)
    assert boxes.min() >= 0 and (boxes.max(axis=0) <= [layout.width, layout.height]).all()
    corners = map_points(coeffs_page_to_out, boxes)
    assert corners.min() >= 0 and (corners.max(axis=0) <= np.array(size) - 1).all(), "text cut"
    page_rgba = page.convert("RGBA")
    warped = warp(page_rgba, quad, size)
    arr = background(rng, *size, scan)
    alpha = np.asarray(warped.getchannel("A"), dtype=np.float32)[..., None] / 255.0
    arr = arr * (1 - alpha) + np.asarray(warped.convert("RGB"), dtype=np.float32) * alpha
    arr = arr * lighting(rng, *size, 0.6 if scan else 1.0)[..., None]
    arr = add_noise(blur(arr, rng), rng, 4 if scan else 8)
    info = {
        "size": size,
        "page_w": layout.width,
        "lines": len(layout.lines),
        "font": Path(layout.body_font).name,
        "scan": scan,
    }
    return finish(arr), layout.ground_truth(), scan, info


# ---------------------------------------------------------------------------------------------
# Manifest and main


def escape_field(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def clear_previous(out: Path):
    """Remove images of an earlier run (only files this script names)."""
    for pattern in ("lines/line_*.png", "lines/line_*.jpg", "pages/page_*.png", "pages/page_*.jpg"):
        for path in out.glob(pattern):
            path.unlink()


def generate_lines(
    out: Path, count: int, seed: int, corpus, families
) -> list[tuple[str, str, str]]:
    rows, start = [], time.monotonic()
    for i in range(count):
        rng = np.random.default_rng([seed, 1, i])
        text = line_text(rng, corpus)
        img = make_line(rng, text, families)
        quality = int(rng.integers(30, 96)) if rng.random() < 0.35 else None
        path = save(img, out / "lines" / f"line_{i + 1:04d}", quality, grey=rng.random() < 0.3)
        rows.append((path.relative_to(out).as_posix(), "line", text))
        if (i + 1) % 50 == 0 or i + 1 == count:
            print(f"lines {i + 1}/{count} ({time.monotonic() - start:.1f} s)", file=sys.stderr)
    return rows


def generate_pages(
    out: Path, count: int, seed: int, corpus, families
) -> list[tuple[str, str, str]]:
    rows, start = [], time.monotonic()
    for i in range(count):
        rng = np.random.default_rng([seed, 2, i])
        img, truth, scan, info = make_page(rng, corpus, families)
        if scan:
            quality = None if rng.random() < 0.5 else int(rng.integers(45, 96))
            grey = rng.random() < 0.7
        else:
            quality, grey = int(rng.integers(40, 96)), False
        path = save(img, out / "pages" / f"page_{i + 1:03d}", quality, grey)
        rows.append((path.relative_to(out).as_posix(), "page", truth))
        print(
            f"page {i + 1}/{count}: {path.name} {info['size'][0]}x{info['size'][1]} "
            f"{info['lines']} lines, {'scan' if scan else 'photo'}, {info['font']} "
            f"({time.monotonic() - start:.1f} s)",
            file=sys.stderr,
        )
    return rows


def write_manifest(out: Path, rows: list[tuple[str, str, str]]):
    with open(out / "manifest.tsv", "w", encoding="ascii", newline="\n") as f:
        f.write("relative_path\tkind\tground_truth\n")
        for path, kind, truth in rows:
            f.write(f"{path}\t{kind}\t{escape_field(truth)}\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "set",
        help="output folder (default: benches/ocr/set)",
    )
    parser.add_argument("--lines", type=int, default=400, help="number of line images (400)")
    parser.add_argument("--pages", type=int, default=24, help="number of page images (24)")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.monotonic()
    families = find_fonts()
    print(f"fonts: {len(families)} families", file=sys.stderr)
    for f in families:
        faces = ", ".join(Path(p).name for p in (f.regular, f.bold, f.italic) if p)
        print(f"  {f.name} ({f.category}): {faces}", file=sys.stderr)
    if len(families) < MIN_FONT_FAMILIES:
        sys.exit(
            f"error: only {len(families)} font families installed, need at least "
            f"{MIN_FONT_FAMILIES}: apt-get install {' '.join(FONT_TABLE)} (or `make ocr-set`)"
        )
    corpus, sources = load_corpus()
    print(f"text: {corpus.size()} paragraphs from {len(sources)} sources", file=sys.stderr)
    for s in sources:
        print(f"  {s}", file=sys.stderr)
    for sub in ("lines", "pages"):
        (args.out / sub).mkdir(parents=True, exist_ok=True)
    clear_previous(args.out)
    rows = generate_lines(args.out, args.lines, args.seed, corpus, families)
    rows += generate_pages(args.out, args.pages, args.seed, corpus, families)
    write_manifest(args.out, rows)
    print(
        f"wrote {len(rows)} images and {args.out / 'manifest.tsv'} in "
        f"{time.monotonic() - start:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
