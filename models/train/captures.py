"""Captures without a desk for the document classifier (issue 26, item 3).

scenes.py draws camera scenes: a page, form or code lying on a background, photographed. Real
inputs are often not that: a flat scan or a screenshot fills the frame, a tight crop holds a
few lines or one word, a single scanned line is 20-60x wider than high, a receipt is long and
narrow, a monitor is photographed with its bezel, a page lies sideways, the room is dark. The
classifier sees the whole frame squashed to its square input (src/scan/doctype.rs), so each
capture here is drawn at its own aspect and squashed the same way.

Labels follow what the scanner should call them: anything that is mostly printed text
(screenshots, lines, words, receipts) is `text`; web and paper forms are `form`; a tight crop
of a code is `barcode` or `qr`; textures, photos and blank paper are `none`.
"""
import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from scenes import (DRAW, _color, _ink, _paper, _sentence, draw_form, draw_text_page,
                    font, render)

# What each class can look like away from a desk. "camera:*" kinds go through scenes.render
# (background, perspective, light, blur, noise), the others are squashed to the frame as a
# scanner or a screenshot gives them.
KINDS = {
    "text": ["flat_page", "screenshot", "lines", "lines", "word", "receipt", "camera:receipt",
             "camera:monitor", "camera:dark", "camera:sideways"],
    "form": ["flat_page", "web_form", "flat_page", "camera:monitor", "camera:dark", "camera:sideways"],
    "barcode": ["flat_code", "flat_code", "camera:dark"],
    "qr": ["flat_code", "flat_code", "camera:monitor", "camera:dark"],
    "none": ["flat_texture", "flat_photo", "flat_photo", "blank_scan", "camera:dark"],
}


def _mono_fonts(ctx):
    mono = [f for f in ctx["fonts"] if "mono" in f.lower() or "inconsolata" in f.lower()]
    return mono or ctx["fonts"]


def _rand_font(rng, ctx, px):
    return font(ctx["fonts"][int(rng.integers(len(ctx["fonts"])))], int(px))


def _contrast_pair(rng):
    """(background, ink) with readable contrast: dark on light mostly, light on dark sometimes."""
    if rng.random() < 0.22:
        bg = tuple(int(v) for v in rng.integers(0, 70, 3))
        ink = tuple(int(v) for v in rng.integers(170, 256, 3))
    else:
        bg = tuple(int(v) for v in rng.integers(200, 256, 3)) if rng.random() < 0.8 else \
            tuple(int(v) for v in _color(rng, 120, 255))
        ink = _ink(rng)
    return bg, ink


def draw_lines(rng, ctx):
    """A tight crop of 1-4 lines of text (a scanned line, a caption, a label)."""
    n = 1 if rng.random() < 0.6 else int(rng.integers(2, 5))
    px = int(rng.integers(10, 44))
    f = _rand_font(rng, ctx, px)
    bg, ink = _contrast_pair(rng)
    words = ctx["words"]
    lines = [_sentence(rng, words, int(rng.integers(2, 16))) for _ in range(n)]
    if rng.random() < 0.3:
        lines = [ln.capitalize() + "." for ln in lines]
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    tw = max(int(probe.textlength(ln, font=f)) for ln in lines)
    lh = int(px * rng.uniform(1.15, 1.6))
    mx, my = int(px * rng.uniform(0.05, 1.0)), int(px * rng.uniform(0.05, 0.6))
    img = Image.new("RGB", (tw + 2 * mx, n * lh + 2 * my), bg)
    d = ImageDraw.Draw(img)
    for i, ln in enumerate(lines):
        d.text((mx, my + i * lh), ln, font=f, fill=ink)
    return img


def draw_word(rng, ctx):
    """One word: a cropped word of a scan, or scene text (a sign) on a textured background."""
    word = ctx["words"][int(rng.integers(len(ctx["words"])))]
    word = [word, word.upper(), word.capitalize()][int(rng.integers(3))]
    px = int(rng.integers(16, 64))
    f = _rand_font(rng, ctx, px)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    tw = int(probe.textlength(word, font=f))
    mx, my = int(px * rng.uniform(0.05, 0.5)), int(px * rng.uniform(0.05, 0.4))
    w, h = tw + 2 * mx, int(px * 1.25) + 2 * my
    if rng.random() < 0.5:  # sign: texture or colour behind coloured letters
        fam = ctx["bgs"][int(rng.integers(len(ctx["bgs"])))]
        arr = np.clip(fam(rng, max(w, h)), 0, 255).astype(np.uint8)[:h, :w]
        img = Image.fromarray(arr)
        lum = float(arr.mean())
        ink = tuple(int(v) for v in (rng.integers(0, 60, 3) if lum > 128 else rng.integers(200, 256, 3)))
    else:
        bg, ink = _contrast_pair(rng)
        img = Image.new("RGB", (w, h), bg)
    ImageDraw.Draw(img).text((mx, my), word, font=f, fill=ink)
    return img


def _screen(rng, widths, aspects):
    """A blank screen: (image, its drawing context, background, ink)."""
    w = int(rng.integers(*widths)); h = int(w * rng.uniform(*aspects))
    bg, ink = _contrast_pair(rng)
    img = Image.new("RGB", (w, h), bg)
    return img, ImageDraw.Draw(img), bg, ink


def draw_screenshot(rng, ctx):
    """A screen: title bar, sidebar or toolbar, blocks of UI text, buttons; light or dark."""
    img, d, bg, ink = _screen(rng, (300, 900), (0.3, 1.2))
    w, h = img.size
    words = ctx["words"]
    y = 0
    if rng.random() < 0.6:  # title bar
        bar = int(rng.integers(18, 32))
        d.rectangle([0, 0, w, bar], fill=tuple(int(v) for v in _color(rng)))
        d.text((8, 3), _sentence(rng, words, 3).title(), font=_rand_font(rng, ctx, bar * 0.55), fill=ink)
        y = bar
    x0 = 8
    if rng.random() < 0.35:  # sidebar
        sw = int(w * rng.uniform(0.15, 0.3))
        d.rectangle([0, y, sw, h], fill=tuple(max(0, min(255, c + int(rng.integers(-30, 30)))) for c in bg))
        sf = _rand_font(rng, ctx, rng.integers(10, 15))
        for yy in range(y + 10, h - 14, int(rng.integers(18, 28))):
            d.text((6, yy), _sentence(rng, words, int(rng.integers(1, 3))).capitalize(), font=sf, fill=ink)
        x0 = sw + 10
    px = int(rng.integers(10, 18)); f = _rand_font(rng, ctx, px); lh = int(px * rng.uniform(1.3, 1.8))
    y += 10
    while y < h - lh:
        if rng.random() < 0.15:  # button row
            x = x0
            for _ in range(int(rng.integers(1, 4))):
                label = words[int(rng.integers(len(words)))].capitalize()
                bw = int(d.textlength(label, font=f)) + 16
                col = tuple(int(v) for v in _color(rng))
                d.rounded_rectangle([x, y, x + bw, y + lh + 4], radius=4, fill=col)
                d.text((x + 8, y + 2), label, font=f, fill=(255, 255, 255) if sum(col) < 380 else (0, 0, 0))
                x += bw + 10
            y += lh + 14
            continue
        for _ in range(int(rng.integers(1, 6))):  # a block of lines
            if y >= h - lh:
                break
            line = _sentence(rng, words, 20)
            maxw = (w - x0 - 8) * rng.uniform(0.4, 1.0)
            while line and d.textlength(line, font=f) > maxw:
                line = line.rsplit(" ", 1)[0] if " " in line else ""
            d.text((x0, y), line, font=f, fill=ink)
            y += lh
        y += int(lh * rng.uniform(0.3, 1.2))
    return img


def draw_web_form(rng, ctx):
    """A form on a screen: a title, labels beside or above input boxes."""
    img, d, _, ink = _screen(rng, (300, 800), (0.6, 1.4))
    w, h = img.size
    labels = ctx["labels"]
    px = int(rng.integers(10, 16)); f = _rand_font(rng, ctx, px)
    box = tuple(int(v) for v in rng.integers(90, 200, 3))
    y = 14
    d.text((14, y), _sentence(rng, ctx["words"], 3).title(), font=_rand_font(rng, ctx, px * 1.6), fill=ink)
    y += int(px * 3)
    above = rng.random() < 0.5
    while y < h - 3 * px:
        lab = labels[int(rng.integers(len(labels)))]
        d.text((14, y), lab, font=f, fill=ink)
        if above:
            y += int(px * 1.4); x = 14
        else:
            x = 14 + int(w * 0.3)
        d.rectangle([x, y - 2, w - 14, y + int(px * 1.6)], outline=box, width=1)
        y += int(px * rng.uniform(2.6, 3.6))
    return img


def draw_receipt(rng, ctx):
    """A till receipt: narrow, long, monospaced; header, items with prices, a total."""
    f = font(_mono_fonts(ctx)[int(rng.integers(len(_mono_fonts(ctx))))], int(rng.integers(9, 14)))
    cols = int(rng.integers(24, 40))
    words = ctx["words"]
    rows = []
    for _ in range(int(rng.integers(1, 4))):
        rows.append(_sentence(rng, words, int(rng.integers(1, 4))).upper().center(cols))
    rows.append("-" * cols)
    for _ in range(int(rng.integers(4, 18))):
        item = _sentence(rng, words, int(rng.integers(1, 3))).upper()[: cols - 9]
        price = f"{rng.uniform(0.5, 99):.2f}"
        rows.append(item + price.rjust(cols - len(item)))
    rows.append("-" * cols)
    rows.append("TOTAL" + f"{rng.uniform(10, 400):.2f}".rjust(cols - 5))
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    cw = probe.textlength("M" * cols, font=f)
    lh = int(f.size * 1.35)
    img = Image.new("RGB", (int(cw) + 20, lh * len(rows) + 30), tuple(int(v) for v in rng.integers(225, 256, 3)))
    d = ImageDraw.Draw(img)
    ink = tuple(int(v) for v in rng.integers(40, 130, 1).repeat(3))  # faded thermal print
    for i, r in enumerate(rows):
        d.text((10, 15 + i * lh), r, font=f, fill=ink)
    return img


def monitor(rng, ctx, label):
    """A screen photographed: the screen's content inside a dark bezel, with a moiré ripple."""
    content = {"text": draw_screenshot, "form": draw_web_form}.get(label, DRAW[label])(rng, ctx)
    w, h = content.size
    arr = np.asarray(content, np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = rng.uniform(0, np.pi); p = rng.uniform(3, 9)
    arr = arr * (1 + rng.uniform(0.03, 0.12) * np.sin((np.cos(a) * xx + np.sin(a) * yy) * 2 * np.pi / p))[..., None]
    arr = arr * rng.uniform(0.75, 1.0) + rng.uniform(0, 30)  # backlight
    bez = int(max(w, h) * rng.uniform(0.03, 0.12))
    out = Image.new("RGB", (w + 2 * bez, h + 2 * bez + int(bez * rng.uniform(0, 1.5))),
                    tuple(int(v) for v in rng.integers(5, 60, 1).repeat(3)))
    out.paste(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)), (bez, bez))
    return out


def _flat(rng, obj, n):
    """A scanner's or screen's view: a small tilt at most, squashed to n x n, a light blur."""
    if rng.random() < 0.3:
        fill = obj.getpixel((0, 0))
        obj = obj.rotate(float(rng.normal(0, 1.5)), Image.BILINEAR, expand=True, fillcolor=fill)
    if rng.random() < 0.12:  # a page fed sideways or upside down
        obj = obj.transpose([Image.ROTATE_90, Image.ROTATE_270, Image.ROTATE_180][int(rng.integers(3))])
    # area-average down first, as the scanner does for large images
    w, h = obj.size
    if max(w, h) > 2 * n:
        obj = obj.reduce((max(1, w // (2 * n)), max(1, h // (2 * n))))
    im = obj.resize((n, n), Image.BILINEAR)
    if rng.random() < 0.3:
        im = im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.2))))
    return im


def _flat_code(rng, ctx, label):
    """A code cropped close: the code's own drawing, trimmed to within a few modules."""
    img = DRAW[label](rng, ctx)
    if rng.random() < 0.5:
        w, h = img.size
        l, t = int(w * rng.uniform(0, 0.15)), int(h * rng.uniform(0, 0.15))
        r, b = int(w * rng.uniform(0.85, 1.0)), int(h * rng.uniform(0.85, 1.0))
        img = img.crop((l, t, max(l + 8, r), max(t + 8, b)))
    return img


def _pattern(rng, n):
    """Stripes or a checkerboard filling the view (the barcode and QR confusers of scenes.py's
    `none`, without its large-glyph variant: a word filling the view is text here)."""
    fg, bg = _color(rng), _color(rng)
    yy, xx = np.mgrid[0:n, 0:n]
    if rng.random() < 0.5:
        p = int(rng.integers(3, 14)); on = (xx % p) < int(rng.integers(1, p))
    else:
        s = int(rng.integers(3, 16)); on = ((xx // s + yy // s) % 2).astype(bool)
    arr = np.empty((n, n, 3), np.uint8); arr[:] = bg.astype(np.uint8); arr[on] = fg.astype(np.uint8)
    return Image.fromarray(arr)


def _flat_photo(rng, ctx, n):
    """Something photographed close with no document: smooth colour fields, shapes, texture."""
    fams = ctx["bgs"]  # the split's own background families (train and test are disjoint)
    arr = np.clip(fams[int(rng.integers(len(fams)))](rng, n), 0, 255).astype(np.float32)
    img = Image.fromarray(arr.astype(np.uint8))
    d = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(0, 8))):
        x, y = rng.integers(0, n, 2); r = rng.integers(n // 20, n // 3, 2)
        d.ellipse([int(x - r[0]), int(y - r[1]), int(x + r[0]), int(y + r[1])], fill=tuple(int(v) for v in _color(rng)))
    return img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 3))))


def capture(label, rng, ctx, size):
    """JPEG bytes of one capture of class `label` away from a desk (see KINDS)."""
    kind = KINDS[label][int(rng.integers(len(KINDS[label])))]
    n = size * 2
    if kind.startswith("camera:"):
        what = kind.split(":")[1]
        if what == "receipt":
            return render(label, rng, ctx, size, obj=draw_receipt(rng, ctx))
        if what == "monitor":
            return render(label, rng, ctx, size, obj=monitor(rng, ctx, label))
        if what == "sideways":
            return render(label, rng, ctx, size, turn=float(rng.choice([-1, 1]) * np.pi / 2))
        return render(label, rng, ctx, size, light=float(rng.uniform(0.15, 0.45)))
    if kind == "flat_page":
        im = _flat(rng, (draw_text_page if label == "text" else draw_form)(rng, ctx), n)
    elif kind == "screenshot":
        im = _flat(rng, draw_screenshot(rng, ctx), n)
    elif kind == "web_form":
        im = _flat(rng, draw_web_form(rng, ctx), n)
    elif kind == "lines":
        im = _flat(rng, draw_lines(rng, ctx), n)
    elif kind == "word":
        im = _flat(rng, draw_word(rng, ctx), n)
    elif kind == "receipt":
        im = _flat(rng, draw_receipt(rng, ctx), n)
    elif kind == "flat_code":
        im = _flat(rng, _flat_code(rng, ctx, label), n)
    elif kind == "flat_texture":
        im = _flat(rng, _pattern(rng, n), n)
    elif kind == "blank_scan":
        im = _flat(rng, _paper(rng, n, int(n * rng.uniform(0.7, 1.5))), n)
    else:
        im = _flat_photo(rng, ctx, n)
    im = im.resize((size, size), Image.BILINEAR)
    arr = np.asarray(im, np.float32)
    arr = arr + rng.normal(0, rng.uniform(0, 4), arr.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=int(rng.integers(50, 96)))
    return buf.getvalue()
