"""Renders the app's PNG icons (192 and 512 px, also usable as maskable: the drawing keeps to
the central safe zone) from the same shapes as www/icons/icon.svg. Run once when the icon
changes; the PNGs are committed.

    .tools/ocr-venv/bin/python www/tools/make_icons.py
"""
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "icons"


def draw(size: int) -> Image.Image:
    k = size / 512
    img = Image.new("RGBA", (size, size), "#1d3557")
    d = ImageDraw.Draw(img)
    s = lambda *v: [round(x * k) for x in v]  # noqa: E731
    d.polygon([tuple(s(136, 96)), tuple(s(316, 96)), tuple(s(376, 156)), tuple(s(376, 416)), tuple(s(136, 416))], fill="#f1faee")
    d.polygon([tuple(s(316, 96)), tuple(s(316, 156)), tuple(s(376, 156))], fill="#a8dadc")
    for x, y, w in [(168, 180, 176), (168, 220, 140), (168, 300, 176), (168, 340, 110)]:
        d.rounded_rectangle(s(x, y, x + w, y + 18), radius=round(9 * k), fill="#457b9d")
    d.rounded_rectangle(s(104, 252, 408, 276), radius=round(12 * k), fill="#e63946")
    return img


for size in (192, 512):
    draw(size).save(OUT / f"icon-{size}.png", optimize=True)
    print(OUT / f"icon-{size}.png")
