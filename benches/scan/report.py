#!/usr/bin/env python3
"""Table 3 of models/REPORT.md: the scan pipeline per document type, original vs compressed
models, beside the paper's numbers; plus our decoder against zxing-wasm and the browser timings.

Reads the committed results (standard library only, well under a second):
  benches/scan/results/eval.json     `slimscan eval scan` with both model sets (make scan-eval)
  benches/scan/results/browser.json  benches/scan/bench_browser.mjs (make bench-scan)
and replaces the text between the `scan-report` markers in models/REPORT.md.

    python3 benches/scan/report.py [--check]
    python3 benches/scan/report.py --ingest COMPRESSED.json ORIGINAL.json --command "..."

--ingest keeps the summaries and the per-scene answers (page texts cut) of two `eval scan
--json` outputs in eval.json. --check exits 1 when REPORT.md differs from what the JSON gives.
"""
import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../.."))
REPORT = os.path.join(ROOT, "models", "REPORT.md")
EVAL = os.path.join(HERE, "results", "eval.json")
BROWSER = os.path.join(HERE, "results", "browser.json")
REAL = os.path.join(ROOT, "benches", "real", "results.json")
START, END = "<!-- scan-report:start -->", "<!-- scan-report:end -->"

# ../shared/DESIGN.md: per document type, original → compressed (%).
PAPER = {"text": (98.5, 97.9), "barcode": (99.7, 99.3), "qr": (99.8, 99.2), "form": (96.3, 94.9)}
ROWS = [  # (type, metric key, label)
    ("text", "char_accuracy", "Text pages: character accuracy"),
    ("barcode", "decode_rate", "Barcodes: exact decode rate"),
    ("qr", "decode_rate", "QR and 2D codes: exact decode rate"),
    ("form", "field_match", "Forms: field-level exact match"),
    ("all", "type_accuracy", "Document type: accuracy (all scenes)"),
    ("all", "page_rate", "Page found (corners within 3 % of the diagonal)"),
]


def ingest(compressed, original, command):
    def trim(r):
        items = [{k: (v[:80] if k == "text" and isinstance(v, str) else v) for k, v in it.items()}
                 for it in r["items"]]
        return {"model_bytes": r["model_bytes"], "types": r["types"], "all": r["all"], "items": items}
    with open(compressed) as fh:
        c = json.load(fh)
    with open(original) as fh:
        o = json.load(fh)
    if c["models"] != "compressed" or o["models"] != "original":
        sys.exit("report.py: --ingest wants the compressed run first, then the original one")
    out = {"command": command, "set": c["set"], "page_tolerance": c["page_tolerance"],
           "compressed": trim(c), "original": trim(o)}
    os.makedirs(os.path.dirname(EVAL), exist_ok=True)
    with open(EVAL, "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    print(f"report.py: {EVAL}")


def pct(v):
    return "—" if v is None else f"{v:.2f} %"


def table3(e):
    lines = ["| per type | scenes | original | compressed | drop (points) | paper: original → compressed (drop) "
             "| drop ≤ paper's |", "|---|--:|--:|--:|--:|---|---|"]
    for t, key, label in ROWS:
        o = (e["original"]["all"] if t == "all" else e["original"]["types"].get(t, {})).get(key)
        c = (e["compressed"]["all"] if t == "all" else e["compressed"]["types"].get(t, {})).get(key)
        n = (e["compressed"]["all"] if t == "all" else e["compressed"]["types"].get(t, {})).get("scenes", 0)
        drop = None if o is None or c is None else o - c
        p = PAPER.get(t) if key != "page_rate" and t != "all" else None
        ptxt = "—" if p is None else f"{p[0]} → {p[1]} ({p[0] - p[1]:.1f})"
        ok = "—" if p is None or drop is None else ("yes" if drop <= p[0] - p[1] + 1e-9 else "**no**")
        dtxt = "—" if drop is None else f"{drop:+.2f}"
        lines.append(f"| {label} | {n} | {pct(o)} | {pct(c)} | {dtxt} | {ptxt} | {ok} |")
    return "\n".join(lines)


def extra(e):
    c, o = e["compressed"], e["original"]
    a = c["all"]
    out = [f"- Model bytes: original {o['model_bytes']:,}, compressed {c['model_bytes']:,} "
           f"({o['model_bytes'] / max(1, c['model_bytes']):.1f}x smaller): PP-OCRv4 det + rec + direction "
           "classifier, the fast recogniser and the MobileNetV2 document-type classifier.",
           f"- Codes reported that are not on the scene: {a['codes_invented']} (compressed run), "
           f"{o['all']['codes_invented']} (original); pages found on code- and document-free scenes: "
           f"{a['pages_invented']}; none scenes that got text or fields: {a['invented_text']} (compressed), "
           f"{o['all']['invented_text']} (original).",
           f"- Median ms per scene, native CLI on this 2-core machine (not the browser figure): compressed "
           f"{a['ms_median']:.0f}, original {o['all']['ms_median']:.0f}."]
    wt = c["types"].get("text", {}).get("word_accuracy")
    if wt is not None:
        out.append(f"- Text pages, word accuracy: original {o['types']['text']['word_accuracy']:.2f} %, "
                   f"compressed {wt:.2f} %.")
    return out


def browser(b):
    lines = ["| images | codes | ours: live preview (frame) | ours: full scan (frame + page) | zxing-wasm (tryHarder) "
             "| invented (preview / scan / zxing) | ms: ours preview (page + codes) | ms: zxing-wasm |",
             "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for k, g in sorted(b["codes"].items()):
        r, m = g["decode_rate"], g["ms_median"]
        f = lambda v: "—" if v is None else f"{v:.1f} %"  # noqa: E731
        inv = g["codes_invented"]
        lines.append(f"| {k} ({g['images']}) | {g['codes']} | {f(r['ours_preview'])} | {f(r['ours_scan'])} "
                     f"| {f(r['zxing_wasm'])} | {inv['preview']} / {inv['scan']} / {inv['zxing']} "
                     f"| {m['ours_preview']:.1f} ({m['page']:.1f} + {m['codes']:.1f}) | {m['zxing_wasm']:.1f} |")
    out = ["\n".join(lines), ""]
    crit = b.get("criteria", {}).get("preview_ms_at_1280x720")
    if crit is not None:
        out.append(f"- Live preview (page detection + codes) on the 1280x720 frames: median **{crit:.1f} ms** "
                   f"(target ≤ 60 ms: {'met' if crit <= 60 else '**not met**'}).")
    if b.get("full_scan_date"):
        out.append(f"- The full scans below were measured again on {b['full_scan_date'][:10]} "
                   f"(`bench_browser.mjs --only-full-scan`, merged into this file); the codes above on "
                   f"{b['date'][:10]}.")
    fast_first = b.get("full_scan", {}).get("compressed_ppocr") is not None
    names = {"compressed": "compressed models" + (", the fast recogniser first" if fast_first else ""),
             "original": "original models" + (", the fast recogniser first" if fast_first else ""),
             "compressed_ppocr": "compressed models, PP-OCRv4's recogniser alone (`--no-fast-rec`)",
             "compressed_fast": "compressed models with the fast recogniser first (`--fast-rec`)"}
    for kind in ("compressed", "original", "compressed_ppocr", "compressed_fast"):
        f = b.get("full_scan", {}).get(kind)
        if f:
            lines_n = [p["lines"] for p in f["pages"]]
            reads = [p["reads"] for p in f["pages"] if p.get("reads")]
            reread = (f"; crops read again by PP-OCR's recogniser: {sum(r['main'] for r in reads)} of "
                      f"{sum(r['fast'] for r in reads)}" if reads and any(r["fast"] for r in reads) else "")
            first = (f"; a page's first capture (new sizes to plan): median {f['ms_first_median']:.0f} ms"
                     if f.get("ms_first_median") is not None else "")
            stages = ", ".join(
                f"{k} {statistics.median(p['timings'][k] for p in f['pages']):.0f}"
                for k in ("page", "codes", "ocr_det", "ocr_cls", "ocr_rec", "ocr_rec_fast")
                if all(k in p["timings"] for p in f["pages"]))
            out.append(f"- Full scan of a text page ({names[kind]}; {len(f['pages'])} pages of the set with the most "
                       f"lines, {min(lines_n)}–{max(lines_n)} lines read): median **{f['ms_median']:.0f} ms**"
                       + (f" (target ≤ 1,000 ms: {'met' if f['ms_median'] <= 1000 else '**not met**'})"
                          if kind in ("compressed", "compressed_fast") else "") + first
                       + (f"; median ms per stage: {stages}" if stages else "") + reread
                       + f"; wasm memory after the run {f['wasm_memory_bytes'] / 1048576:.0f} MiB (it only grows).")
    return out


REAL_SHAPES = [("word", "A single word (tight crop)"), ("line", "A single scanned line"),
               ("screenshot", "A small screenshot"), ("scan300", "A 300-dpi page scan"),
               ("phone_page", "A phone photo of a page"), ("no_page", "A photo without text or code"),
               ("page_barcode", "A label or cover with a code beside text"), ("all", "All")]


def real(r):
    """Table 3's real-image section from benches/real/results.json (benches/real/compare.mjs)."""
    by = {s["id"]: s for s in r["systems"]}
    ours, orig, tess = by.get("slim"), by.get("original"), by.get("tesseract")
    if not (ours and orig and tess):
        return ["_benches/real/results.json lacks one of the three systems (slim, original, tesseract)._"]
    head = ("| shape | images | characters: original | compressed | drop (points) | Tesseract.js | "
            "images with text that got none (compressed / Tesseract.js) | images without text that got some | "
            "codes read (compressed) | codes invented |")
    out = [head, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for key, name in REAL_SHAPES:
        o, c, t = orig["byShape"].get(key), ours["byShape"].get(key), tess["byShape"].get(key)
        if not c:
            continue
        drop = "—" if c["charAcc"] is None else f"{100 * (o['charAcc'] - c['charAcc']):+.2f}"
        name = f"**{name}**" if key == "all" else name
        acc = lambda v: pct(None if v is None else 100 * v)  # noqa: E731 (fractions in results.json)
        out.append(f"| {name} | {c['n']} | {acc(o['charAcc'])} | {acc(c['charAcc'])} | {drop} | {acc(t['charAcc'])} | "
                   f"{c['noTextReturned']} / {t['noTextReturned']} of {c['withText']} | "
                   f"{c['invented']} of {c['textless']} | {c['codesRead']} of {c['codesWanted']} | {c['codesInvented']} |")
    types = {}
    for im in r["images"]:
        t = im["results"]["slim"].get("type")
        types.setdefault(im["shape"], {}).setdefault(t, 0)
        types[im["shape"]][t] += 1
    right = {}
    for im in r["images"]:
        ok = im["results"]["slim"].get("type") in expected_types(im["shape"], im.get("codes", []))
        n, k = right.get(im["shape"], (0, 0))
        right[im["shape"]] = (n + 1, k + ok)
    n_all, k_all = sum(n for n, _ in right.values()), sum(k for _, k in right.values())
    out += ["", "- Document type given (compressed): " + "; ".join(
        f"{shape} " + ", ".join(f"{k} {v}" for k, v in sorted(types[shape].items())) for shape, _ in REAL_SHAPES
        if shape in types) + ".",
        f"- Document type right (compressed; text or form for words, lines, screenshots, scans and page "
        f"photos, none for photos without text, the code's class or text for a cover or label with a code): "
        f"**{k_all} of {n_all}** (" + ", ".join(f"{shape} {right[shape][1]}/{right[shape][0]}"
                                               for shape, _ in REAL_SHAPES if shape in right) + ")."]
    return out


def expected_types(shape, codes):
    """The types a scan of a benches/real image may rightly give (its shape and codes)."""
    if shape == "no_page":
        return {"none"}
    if shape == "page_barcode":
        return {"text"} | {"qr" if c["format"].startswith("qr") else "barcode" for c in codes}
    return {"text", "form"}


def load(path):
    """A results file's JSON, or None when it is not there."""
    if not os.path.exists(path):
        return None
    with open(path) as fh:
        return json.load(fh)


def section():
    parts = [START, "## Table 3: the scan pipeline per document type", "",
             "Generated by `make report` (benches/scan/report.py) from benches/scan/results/*.json; do not edit "
             "by hand. The scenes come from `make scan-set` (benches/scan/make_set.py, default seed: camera-like "
             "photos of text pages, 1D barcodes, QR and other 2D codes, filled forms and document-free "
             "clutter; see benches/scan/README.md); the same pipeline runs with the original models "
             "(PP-OCRv4 ONNX, the fast recogniser's f32 ONNX and the f32 MobileNetV2, tract f32) and with the "
             "compressed ones (.slim). Text is read as the app reads it: the fast recogniser first, PP-OCRv4's "
             "recogniser for the lines it is unsure of (models/REPORT.md, \"Fast recogniser\"). Codes do "
             "not depend on the networks (rxing on the frame and on the rectified page), so their drop is zero "
             "by construction.", ""]
    e, r, b = (load(path) for path in (EVAL, REAL, BROWSER))
    if e:
        parts += [f"`{e['command']}`", "", table3(e), ""] + extra(e) + [""]
    else:
        parts += ["_No evaluation results yet (make scan-eval)._", ""]
    if r:
        parts += ["### Real images (benches/real)", "",
                  "Real screenshots, scans and photos with hand-checked answers (benches/real/README.md: 86 "
                  "images, sources and licences), given whole to `slimscan scan --json` as a user would, "
                  "with the compressed and the original models, and to Tesseract.js 7 (eng, LSTM) in the same "
                  "run with the page segmentation mode that suits the shape (word 8, line 7, else 3). "
                  "Character accuracy pools every image's edit distance over its answer's characters "
                  "(benches/ocr/metrics.mjs), so long pages weigh most.", "",
                  f"`{r['command']}` ({r['date'][:10]})", ""] + real(r) + [""]
    if b:
        parts += ["### Codes against zxing-wasm, and browser timings", "",
                  "`node benches/scan/bench_browser.mjs` (make bench-scan): headless Chromium, wasm, one thread; "
                  "zxing-wasm (ZXing-C++) decodes the same pixels in the same page. \"set\" rows are the scene "
                  "set, \"real\" rows the photos of ../shared/data/codes.", ""] + browser(b) + [""]
    parts.append(END)
    return "\n".join(parts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--ingest", nargs=2, metavar=("COMPRESSED", "ORIGINAL"))
    ap.add_argument("--command", default="slimscan eval scan --set benches/scan/set [--original]")
    a = ap.parse_args(argv)
    if a.ingest:
        ingest(*a.ingest, a.command)
        return
    text = open(REPORT).read()
    new_section = section()
    if START in text and END in text:
        new = text[:text.index(START)] + new_section + text[text.index(END) + len(END):]
    else:
        new = text.rstrip("\n") + "\n\n" + new_section + "\n"
    if a.check:
        if new != text:
            sys.exit("benches/scan/report.py: models/REPORT.md is stale (run make report)")
        return
    with open(REPORT, "w") as fh:
        fh.write(new)
    print("benches/scan/report.py -> models/REPORT.md (Table 3)")


if __name__ == "__main__":
    main()
