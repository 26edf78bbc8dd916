"""A small text-line recogniser for slimscan (issue 7): about 26x fewer multiply-accumulates per
input column than PP-OCRv4's, so a full A4 page can be read in the browser within a second.

PP-OCRv4's recogniser costs 2.03 MMAC per input column (height 48); a 27-line page is about
28,000 columns, 57 GMAC, 5 s in wasm. This network keeps PP-OCR's interface: input
`[N, 3, 48, W]` normalised as `(x / 255 - 0.5) / 0.5`, output `[N, W / 8, classes]` softmax,
class 0 the CTC blank, classes 1..n the `character` metadata's lines and the last one a
space. So the scan pipeline, the compressor and the CTC decoder use it as they use PP-OCR's.

Layers (0.077 MMAC per input column at height 48): a stride-2 3x3 conv, four
depthwise-separable blocks whose strided depthwise convs shrink the map to 3 x W/8, a 3x1 conv
that collapses the height, two residual depthwise (1x5) + pointwise blocks along the line for
context, and a 1x1 classifier. Convolutions, batch norm (folded at export), ReLU and add only:
no LSTM and no pooling, so every layer is one the engine compresses.

Data: text lines rendered by benches/ocr/make_set.py's `make_line` (the same fonts, text
sources and degradations as the OCR test set, but other seeds: training uses seeds
1000 + index, never the test set's), plus lower resolution and JPEG. Three font families are
held out of training (`HELD_OUT`) and get their own validation set, to measure how the network
reads fonts it never saw.

  python rec_fast.py data  --out work/rec --train 80000 --val 1000
  python rec_fast.py train --data work/rec --minutes 80
  python rec_fast.py export --data work/rec --out ../ocr_fast/rec_fast_f32.onnx
  python rec_fast.py eval --data work/rec

Run with .tools/train-venv/bin/python (torch, onnx, Pillow, numpy); `data` needs only Pillow
and numpy.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import math
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
HEIGHT = 48
MAX_WIDTH = 1600
# Printable ASCII without the space (the space is the last class, PP-OCR's convention).
CHARACTERS = [chr(c) for c in range(0x21, 0x7F)]
CLASSES = len(CHARACTERS) + 2
HELD_OUT = ("Caladea", "URW Gothic", "Inconsolata")


def _ocr_set():
    path = ROOT / "benches" / "ocr" / "make_set.py"
    spec = importlib.util.spec_from_file_location("ocr_make_set", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["ocr_make_set"] = mod
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------------------------------------
# Data


def degrade(rng: np.random.Generator, img: Image.Image) -> Image.Image:
    """Camera-page crops are often small and JPEG-compressed: sometimes render the line at a
    lower resolution (text 9-20 px high) and/or through JPEG."""
    if rng.random() < 0.5:
        scale = rng.uniform(0.25, 0.8)
        w, h = img.size
        small = img.resize((max(4, round(w * scale)), max(4, round(h * scale))), Image.Resampling.BILINEAR)
        img = small.resize((w, h), Image.Resampling.BILINEAR) if rng.random() < 0.5 else small
    if rng.random() < 0.4:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=int(rng.integers(35, 90)))
        img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return img


def to_height(img: Image.Image) -> np.ndarray:
    """Grey, resized to HEIGHT keeping the aspect ratio (as the pipeline resizes crops)."""
    w, h = img.size
    nw = min(MAX_WIDTH, max(1, math.ceil(HEIGHT * w / max(1, h))))
    return np.asarray(img.convert("L").resize((nw, HEIGHT), Image.Resampling.BILINEAR), dtype=np.uint8)


def _render(args):
    split, start, count = args
    m = _ocr_set()
    families = m.find_fonts()
    held = [f for f in families if f.name in HELD_OUT]
    fams = held if split == "heldout" else [f for f in families if f.name not in HELD_OUT]
    corpus, _ = m.load_corpus()
    seed_base = {"train": 1000, "val": 900_000, "heldout": 950_000}[split]
    out = []
    for i in range(start, start + count):
        rng = np.random.default_rng(seed_base + i)
        text = m.line_text(rng, corpus)
        img = m.make_line(rng, text, fams)
        out.append((to_height(degrade(rng, img)), text))
    return out


def cmd_data(a):
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", a.train), ("val", a.val), ("heldout", a.val)):
        t0 = time.time()
        chunk = 500
        jobs = [(split, s, min(chunk, n - s)) for s in range(0, n, chunk)]
        widths, texts = [], []
        with open(out / f"{split}.bin", "wb") as f, mp.Pool(a.procs) as pool:
            for k, part in enumerate(pool.imap(_render, jobs)):
                for arr, text in part:
                    f.write(arr.T.tobytes())  # column-major: a line is contiguous columns
                    widths.append(arr.shape[1])
                    texts.append(text)
                print(f"{split}: {min(n, (k + 1) * chunk)}/{n} lines, {time.time() - t0:.0f} s", file=sys.stderr)
        np.save(out / f"{split}.widths.npy", np.array(widths, dtype=np.int32))
        (out / f"{split}.txt").write_text("\n".join(texts) + "\n")


class Lines:
    """A split: grey lines at HEIGHT stored column-major in one file, their widths and texts."""

    def __init__(self, folder: Path, split: str):
        self.widths = np.load(folder / f"{split}.widths.npy")
        self.offsets = np.concatenate([[0], np.cumsum(self.widths.astype(np.int64) * HEIGHT)])
        self.data = np.memmap(folder / f"{split}.bin", dtype=np.uint8, mode="r")
        self.texts = (folder / f"{split}.txt").read_text().split("\n")[: len(self.widths)]

    def __len__(self):
        return len(self.widths)

    def image(self, i: int) -> np.ndarray:
        a = self.data[self.offsets[i] : self.offsets[i + 1]]
        return np.asarray(a).reshape(self.widths[i], HEIGHT).T


def encode(text: str) -> list[int]:
    idx = {c: i + 1 for i, c in enumerate(CHARACTERS)}
    return [idx.get(c, CLASSES - 1) for c in text]


def make_batch(lines: Lines, ids, rng: np.random.Generator | None):
    """Normalised `[n, 3, 48, W]` with zero (mid-grey) padding on the right, as the pipeline
    pads; training adds 0-160 random blank columns, evaluation the pipeline's 96 + rounding."""
    imgs = [lines.image(i) for i in ids]
    pad = int(rng.integers(0, 161)) if rng is not None else 96
    width = max(im.shape[1] for im in imgs) + pad
    width = max(320 if rng is None else 64, -(-width // 32) * 32)
    x = np.zeros((len(imgs), 1, HEIGHT, width), np.float32)
    for k, im in enumerate(imgs):
        v = im.astype(np.float32) / 127.5 - 1.0
        if rng is not None and rng.random() < 0.3:  # contrast / brightness jitter
            v = np.clip(v * rng.uniform(0.6, 1.1) + rng.uniform(-0.2, 0.2), -1, 1)
        x[k, 0, :, : im.shape[1]] = v
    return np.repeat(x, 3, axis=1)


def norm_ws(text: str) -> str:
    return " ".join(text.split())


def best_substring(read: str, line: str) -> tuple[int, str]:
    """The substring of `line` closest to `read` in edit distance (semi-global alignment:
    `line`'s prefix and suffix are free) and that distance."""
    n, m = len(read), len(line)
    prev = [0] * (m + 1)  # row 0: starting anywhere in `line` costs nothing
    start_prev = list(range(m + 1))
    for i in range(1, n + 1):
        cur, start = [i] + [0] * m, [0] + [0] * m
        ca = read[i - 1]
        for j in range(1, m + 1):
            best, st = prev[j - 1] + (ca != line[j - 1]), start_prev[j - 1]
            if prev[j] + 1 < best:
                best, st = prev[j] + 1, start_prev[j]
            if cur[j - 1] + 1 < best:
                best, st = cur[j - 1] + 1, start[j - 1]
            cur[j], start[j] = best, st
        prev, start_prev = cur, start
    j = min(range(m + 1), key=lambda k: prev[k])
    return prev[j], whole_words(line, start_prev[j], j)


def whole_words(line: str, i: int, j: int) -> str:
    """`line[i:j]` with a word cut at either end made whole, or dropped when less than half
    of it is inside: the detector does not split words, so a cut word is a misalignment (a
    checkbox read as "x" aligned with the last letter of the word before it)."""

    def word(k):  # the word around position k: (start, end)
        a = k
        while a > 0 and not line[a - 1].isspace():
            a -= 1
        b = k
        while b < len(line) and not line[b].isspace():
            b += 1
        return a, b

    if i < j and 0 < i < len(line) and not line[i - 1].isspace() and not line[i].isspace():
        a, b = word(i)
        i = a if (b - i) * 2 >= b - a else b
    if i < j and 0 < j < len(line) and not line[j - 1].isspace() and not line[j].isspace():
        a, b = word(j - 1)
        j = b if (j - a) * 2 >= b - a else a
    return line[i:j].strip() if i < j else ""


def scene_label(read: str, gt_lines: list[str]) -> str | None:
    """The ground-truth text of a crop PP-OCR read as `read` (non-ASCII characters as spaces):
    `read` itself when it is part of a printed line, else the closest part of a printed line
    when within 15 % of its length (PP-OCR's own misreadings corrected), in whole words
    (`whole_words`); None when not located (not text, or misread too far)."""
    # PP-OCRv4 reads a checkbox as a CJK glyph such as 口: the fast recogniser has only ASCII,
    # and the ground truth has no glyph for the box.
    read = norm_ws("".join(c if c.isascii() else " " for c in read))
    if len(read) < 2:
        return None
    for ln in gt_lines:
        k = ln.find(read)
        if k >= 0:
            return whole_words(ln, k, k + len(read)) or None
    best = (len(read), None)
    tolerance = max(1, round(0.15 * len(read)))
    for ln in gt_lines:
        if len(read) - len(ln) > tolerance:
            continue
        d, sub = best_substring(read, ln)
        if d < best[0]:
            best = (d, sub)
    d, sub = best
    if sub and d <= tolerance and sub.isascii():
        return sub
    return None


def cmd_scenes(a):
    """Crops cut from camera scenes by the scan pipeline (examples/scene_crops.rs), labelled
    against the scenes' ground truth, into splits `scenes` and `scenes_val` (the last
    `--val-scenes` scenes by path)."""
    crops, out = Path(a.crops), Path(a.out)
    gt = {}
    for line in (Path(a.set) / "manifest.jsonl").read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            gt[row["path"]] = [norm_ws(t) for t in row["text"].split("\n") if t.strip()]
    rows = [r.split("\t") for r in (crops / "crops.tsv").read_text().splitlines() if r]
    scenes = sorted({r[1] for r in rows})
    val_scenes = set(scenes[len(scenes) - a.val_scenes:])
    kept = {"scenes": [], "scenes_val": []}
    exact = fixed = dropped = 0
    for name, scene, read, _conf in rows:
        label = scene_label(read, gt[scene])
        if label is None:
            dropped += 1
            continue
        exact += label == norm_ws(read)
        fixed += label != norm_ws(read)
        img = Image.open(crops / name).convert("RGB")
        kept["scenes_val" if scene in val_scenes else "scenes"].append((to_height(img), label))
    for split, items in kept.items():
        with open(out / f"{split}.bin", "wb") as f:
            for arr, _ in items:
                f.write(arr.T.tobytes())
        np.save(out / f"{split}.widths.npy", np.array([arr.shape[1] for arr, _ in items], dtype=np.int32))
        (out / f"{split}.txt").write_text("\n".join(t for _, t in items) + "\n")
    print(f"scenes: {len(rows)} crops of {len(scenes)} scenes: {exact} labelled by PP-OCR's read, {fixed} by "
          f"the closest ground truth, {dropped} dropped; {len(kept['scenes'])} train, "
          f"{len(kept['scenes_val'])} validation", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# Network


def build(classes: int = CLASSES):
    import torch
    from torch import nn

    def cbr(i, o, k, s=1, p=0, g=1):
        return [nn.Conv2d(i, o, k, s, p, groups=g, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]

    def sep(i, o, s=1):
        return cbr(i, i, 3, s, 1, g=i) + cbr(i, o, 1)

    class Context(nn.Module):
        """Residual depthwise 1x5 + pointwise along the line."""

        def __init__(self, c):
            super().__init__()
            self.body = nn.Sequential(*cbr(c, c, (1, 5), 1, (0, 2), g=c), nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c))

        def forward(self, x):
            return torch.relu(x + self.body(x))

    class FastRec(nn.Module):
        def __init__(self):
            super().__init__()
            # Strided depthwise convs, not max-pooling, shrink the map: tract's MaxPool took
            # half of the network's time in wasm (20 of 37 ms on [1, 3, 48, 960]).
            self.features = nn.Sequential(
                *cbr(3, 16, 3, 2, 1),  # 24 x W/2
                *sep(16, 48),
                *sep(48, 96, 2),  # 12 x W/4
                *sep(96, 160, 2),  # 6 x W/8
                *sep(160, 160, (2, 1)),  # 3 x W/8
                *cbr(160, 192, (3, 1)),  # 1 x W/8
                Context(192),
                Context(192),
            )
            self.head = nn.Conv2d(192, classes, 1)

        def forward(self, x):
            y = self.head(self.features(x))  # [n, classes, 1, T]
            return y.squeeze(2).permute(0, 2, 1)  # logits [n, T, classes]

    return FastRec()


def with_softmax(net):
    """The network as exported: softmax probabilities, as PP-OCR's models output."""
    import torch

    class Probs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            return torch.softmax(self.net(x), dim=2)

    return Probs()


# ---------------------------------------------------------------------------------------------
# Training


def greedy(logits) -> list[str]:
    best = logits.argmax(-1).cpu().numpy()
    chars = [""] + CHARACTERS + [" "]
    out = []
    for row in best:
        s, prev = [], 0
        for c in row:
            if c != prev and c != 0:
                s.append(chars[c])
            prev = c
        out.append("".join(s))
    return out


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def evaluate(net, lines: Lines, limit: int | None = None, batch: int = 16) -> float:
    """Character accuracy 1 - edits / characters, batches of similar width."""
    import torch

    net.eval()
    n = len(lines) if limit is None else min(limit, len(lines))
    order = sorted(range(n), key=lambda i: lines.widths[i])
    edits = chars = 0
    with torch.no_grad():
        for s in range(0, n, batch):
            ids = order[s : s + batch]
            x = torch.from_numpy(make_batch(lines, ids, None))
            for i, got in zip(ids, greedy(net(x))):
                want = " ".join(lines.texts[i].split())
                edits += edit_distance(" ".join(got.split()), want)
                chars += len(want)
    net.train()
    return 1 - edits / max(1, chars)


def train_step(net, opt, ctc, lines: Lines, ids, rng, lr: float):
    """One CTC step on the lines `ids` at learning rate `lr`; returns the loss."""
    import torch
    from torch import nn

    for g in opt.param_groups:
        g["lr"] = lr
    x = torch.from_numpy(make_batch(lines, ids, rng))
    targets = [encode(" ".join(lines.texts[i].split())) for i in ids]
    logp = net(x).log_softmax(2).permute(1, 0, 2)  # [T, n, C]
    t_len = torch.full((len(ids),), logp.shape[0], dtype=torch.long)
    y = torch.tensor([c for t in targets for c in t], dtype=torch.long)
    y_len = torch.tensor([len(t) for t in targets], dtype=torch.long)
    loss = ctc(logp, y, t_len, y_len)
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(net.parameters(), 5.0)
    opt.step()
    return loss


def cmd_train(a):
    import torch
    from torch import nn

    torch.manual_seed(1)
    torch.set_num_threads(a.threads)
    folder = Path(a.data)
    train, val, held = Lines(folder, "train"), Lines(folder, "val"), Lines(folder, "heldout")
    net = build()
    opt = torch.optim.AdamW(net.parameters(), lr=a.lr, weight_decay=1e-4)
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    ckpt = folder / "rec_fast.ckpt"
    state = {"step": 0, "elapsed": 0.0, "log": []}
    if ckpt.exists():
        saved = torch.load(ckpt, weights_only=False)
        net.load_state_dict(saved["net"])
        opt.load_state_dict(saved["opt"])
        state = saved["state"]
        print(f"resumed at step {state['step']}, {state['elapsed'] / 60:.1f} min", file=sys.stderr)
    rng = np.random.default_rng(state["step"] + 7)
    # Batches of similar width: sort by width, cut into groups, shuffle the groups.
    budget = a.minutes * 60
    order = np.argsort(train.widths, kind="stable")
    t_start, last_save = time.time() - state["elapsed"], time.time()
    total_steps = None
    while True:
        groups = [order[s : s + a.batch] for s in range(0, len(order), a.batch)]
        rng.shuffle(groups)
        for ids in groups:
            elapsed = time.time() - t_start
            if elapsed >= budget:
                break
            # One-cycle-like: warm-up, then cosine over the time budget.
            frac = elapsed / budget
            lr = a.lr * min(1.0, (state["step"] + 1) / 300) * 0.5 * (1 + math.cos(math.pi * frac))
            loss = train_step(net, opt, ctc, train, ids, rng, lr)
            state["step"] += 1
            if state["step"] % 50 == 0:
                print(f"step {state['step']} {elapsed / 60:.1f} min lr {lr:.2e} loss {loss.item():.3f}", file=sys.stderr, flush=True)
            if state["step"] % a.eval_every == 0:
                acc, acc_h = evaluate(net, val, 300), evaluate(net, held, 300)
                state["log"].append({"step": state["step"], "min": elapsed / 60, "val": acc, "heldout": acc_h})
                print(f"eval step {state['step']}: val {acc:.4f} held-out fonts {acc_h:.4f}", file=sys.stderr, flush=True)
            if time.time() - last_save > 300:
                state["elapsed"] = time.time() - t_start
                torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "state": state}, ckpt)
                last_save = time.time()
        else:
            continue
        break
    state["elapsed"] = time.time() - t_start
    torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "state": state}, ckpt)
    reestimate_bn(net, train, rng)
    torch.save(net.state_dict(), folder / "rec_fast.pt")
    acc, acc_h = evaluate(net, val), evaluate(net, held)
    print(f"final: val {acc:.4f}, held-out fonts {acc_h:.4f}, {state['step']} steps", file=sys.stderr)
    (folder / "rec_fast.train.json").write_text(
        json.dumps({"steps": state["step"], "minutes": state["elapsed"] / 60, "val": acc, "heldout": acc_h, "log": state["log"]}, indent=1)
    )


def load_onnx_weights(net, path: Path):
    """The exported network's weights back into `net`: export folded each batch norm into its
    convolution, so every convolution gets the folded kernel and its batch norm becomes the
    identity plus the folded bias (running mean 0, variance 1 - eps, scale 1). Fine-tuning
    keeps those batch norms frozen (`freeze_bn`)."""
    import onnx
    import torch
    from onnx import numpy_helper

    m = onnx.load(str(path))
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    convs = [n for n in m.graph.node if n.op_type == "Conv"]
    mods = list(net.modules())
    pairs = []
    for k, mod in enumerate(mods):
        if isinstance(mod, torch.nn.Conv2d):
            bn = mods[k + 1] if k + 1 < len(mods) and isinstance(mods[k + 1], torch.nn.BatchNorm2d) else None
            pairs.append((mod, bn))
    if len(pairs) != len(convs):
        raise SystemExit(f"{path}: {len(convs)} convolutions, the network has {len(pairs)}")
    with torch.no_grad():
        for (conv, bn), node in zip(pairs, convs):
            w = torch.from_numpy(inits[node.input[1]].copy())
            b = torch.from_numpy(inits[node.input[2]].copy()) if len(node.input) > 2 else torch.zeros(w.shape[0])
            if tuple(w.shape) != tuple(conv.weight.shape):
                raise SystemExit(f"{path}: {node.name} weight {tuple(w.shape)}, expected {tuple(conv.weight.shape)}")
            conv.weight.copy_(w)
            if bn is None:
                conv.bias.copy_(b)
            else:
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)
                bn.weight.fill_(1.0)
                bn.bias.copy_(b)


def freeze_bn(net):
    for m in net.modules():
        if hasattr(m, "running_mean"):
            m.eval()


def cmd_finetune(a):
    """Fine-tunes the exported network on scene crops (split `scenes`, `cmd_scenes`) mixed with
    rendered lines (split `train`), batch norms frozen; keeps the weights that read the scene
    validation crops best."""
    import torch
    from torch import nn

    torch.manual_seed(2)
    torch.set_num_threads(a.threads)
    folder = Path(a.data)
    scenes, lines = Lines(folder, "scenes"), Lines(folder, "train")
    vals = {k: Lines(folder, k) for k in ("scenes_val", "val", "heldout")}
    net = build()
    load_onnx_weights(net, Path(a.init))
    opt = torch.optim.AdamW(net.parameters(), lr=a.lr, weight_decay=1e-4)
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    rng = np.random.default_rng(11)

    def score():
        r = {k: evaluate(net, v, 400) for k, v in vals.items()}
        freeze_bn(net)
        return r

    def groups(src):
        order = np.argsort(src.widths, kind="stable")
        g = [order[s : s + a.batch] for s in range(0, len(order), a.batch)]
        rng.shuffle(g)
        return g

    first = score()
    print(f"start: {first}", file=sys.stderr, flush=True)
    best, log = (first["scenes_val"], 0), [{"step": 0, **first}]
    torch.save(net.state_dict(), folder / "rec_fast_ft.pt")
    net.train()
    freeze_bn(net)
    queues = {"scenes": [], "train": []}
    budget, t0, step = a.minutes * 60, time.time(), 0
    while time.time() - t0 < budget:
        src_name = "scenes" if rng.random() < a.scene_share else "train"
        src = scenes if src_name == "scenes" else lines
        if not queues[src_name]:
            queues[src_name] = groups(src)
        ids = queues[src_name].pop()
        frac = (time.time() - t0) / budget
        lr = a.lr * min(1.0, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * frac))
        loss = train_step(net, opt, ctc, src, ids, rng, lr)
        step += 1
        if step % 50 == 0:
            print(f"step {step} {(time.time() - t0) / 60:.1f} min lr {lr:.2e} loss {loss.item():.3f}", file=sys.stderr, flush=True)
        if step % a.eval_every == 0:
            r = score()
            log.append({"step": step, **r})
            print(f"eval step {step}: {r}", file=sys.stderr, flush=True)
            if r["scenes_val"] > best[0]:
                best = (r["scenes_val"], step)
                torch.save(net.state_dict(), folder / "rec_fast_ft.pt")
    r = score()
    log.append({"step": step, **r})
    if r["scenes_val"] > best[0]:
        best = (r["scenes_val"], step)
        torch.save(net.state_dict(), folder / "rec_fast_ft.pt")
    print(f"final: {r}; best scene validation {best[0]:.4f} at step {best[1]}", file=sys.stderr)
    net.load_state_dict(torch.load(folder / "rec_fast_ft.pt"))
    full = {k: evaluate(net, v) for k, v in vals.items()}
    (folder / "rec_fast_ft.json").write_text(json.dumps({"steps": step, "minutes": a.minutes, "best_step": best[1],
                                                         "start": first, "best": full, "log": log}, indent=1))
    print(f"kept step {best[1]}: {full}", file=sys.stderr)


def reestimate_bn(net, lines: Lines, rng, batches: int = 60, batch: int = 32):
    """Batch-norm statistics recomputed with the final weights (cumulative average)."""
    import torch

    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    net.train()
    order = np.argsort(lines.widths, kind="stable")
    with torch.no_grad():
        for _ in range(batches):
            s = int(rng.integers(0, max(1, len(order) - batch)))
            net(torch.from_numpy(make_batch(lines, order[s : s + batch], rng)))
    net.eval()


def cmd_export(a):
    import onnx
    import torch

    folder = Path(a.data)
    net = build()
    net.load_state_dict(torch.load(folder / a.weights))
    net.eval()
    model = with_softmax(net)
    x = torch.zeros(1, 3, HEIGHT, 320)
    torch.onnx.export(
        model, (x,), a.out, input_names=["x"], output_names=["softmax"], opset_version=17,
        dynamic_axes={"x": {0: "n", 3: "w"}, "softmax": {0: "n", 1: "t"}}, dynamo=False,
    )
    m = onnx.load(a.out)
    entry = m.metadata_props.add()
    entry.key, entry.value = "character", "\n".join(CHARACTERS)
    # Trained with its word spaces: the pipeline must not restore spaces as it does for
    # PP-OCR's recognisers (src/scan/ocr/ctc.rs).
    entry = m.metadata_props.add()
    entry.key, entry.value = "space_restoration", "off"

    onnx.save(m, a.out)
    print(f"wrote {a.out} ({Path(a.out).stat().st_size} bytes)", file=sys.stderr)


def cmd_eval(a):
    import torch

    folder = Path(a.data)
    net = build()
    net.load_state_dict(torch.load(folder / "rec_fast.pt"))
    for split in ("val", "heldout"):
        print(split, f"{evaluate(net, Lines(folder, split)):.4f}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("data")
    d.add_argument("--out", required=True)
    d.add_argument("--train", type=int, default=80000)
    d.add_argument("--val", type=int, default=1000)
    d.add_argument("--procs", type=int, default=2)
    t = sub.add_parser("train")
    t.add_argument("--data", required=True)
    t.add_argument("--minutes", type=float, default=80)
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--eval-every", type=int, default=500)
    e = sub.add_parser("export")
    e.add_argument("--data", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--weights", default="rec_fast.pt", help="in --data: rec_fast.pt, or rec_fast_ft.pt after finetune")
    c = sub.add_parser("scenes")
    c.add_argument("--crops", required=True, help="examples/scene_crops.rs output")
    c.add_argument("--set", required=True, help="the scene set the crops came from")
    c.add_argument("--out", required=True)
    c.add_argument("--val-scenes", type=int, default=30,
                   help="the last N scenes by path (text/... sorts after form/...) are the validation split")
    f = sub.add_parser("finetune")
    f.add_argument("--data", required=True)
    f.add_argument("--init", required=True, help="the exported ONNX to start from")
    f.add_argument("--minutes", type=float, default=30)
    f.add_argument("--batch", type=int, default=32)
    f.add_argument("--lr", type=float, default=5e-4)
    f.add_argument("--scene-share", type=float, default=0.6, help="share of batches from scene crops")
    f.add_argument("--threads", type=int, default=2)
    f.add_argument("--eval-every", type=int, default=300)
    v = sub.add_parser("eval")
    v.add_argument("--data", required=True)
    a = p.parse_args()
    {"data": cmd_data, "train": cmd_train, "export": cmd_export, "eval": cmd_eval, "scenes": cmd_scenes,
     "finetune": cmd_finetune}[a.cmd](a)


if __name__ == "__main__":
    main()
