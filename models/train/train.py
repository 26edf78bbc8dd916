#!/usr/bin/env python3
"""Train a document-type classifier and its compressed-training variants (issue 6).

One architecture per run (torchvision MobileNetV2 or ResNet-50, random init), four stages,
each resumable from its own checkpoint and each ending in an ONNX export:

  base       f32 training from scratch                          -> f32.onnx
  prune      gradual magnitude pruning (Zhu & Gupta cubic          -> pruned.onnx
             schedule) from base to --prune-sparsity, fine-tuned
  qat        8-bit QAT from base: torch.ao fake-quant, per-channel   -> qat_qdq.onnx
             symmetric int8 weights (-127..127), BN folded first
  prune_dc   (only if --dc-sparsity > --prune-sparsity) pruning continued from prune to
             --dc-sparsity, f32 with BatchNorm, fine-tuned
  prune_qat  8-bit QAT of prune_dc (else prune), mask fixed           -> prune_qat_qdq.onnx

Why the QAT stages fake-quantize weights only: slimscan's engine quantizes activations
dynamically per tensor with as many bits as each layer's accumulator allows (up to 15), so a
static 8-bit activation grid in training would model numerics the engine never uses. The
exported QDQ nodes carry the weight scales; `slimscan compress` keeps them as they are.

Why prune_dc goes sparser than prune: a nonzero's position in an unstructured mask costs
at least H(s)/(1-s) bits (entropy of the mask), 3.6 bits at 80 % and 4.7 bits at 90 %; the
paper's 24x (MobileNet) and 49x (ResNet-50) leave less than that plus an 8-bit value per
nonzero at its stated sparsity, so the Deep Compression model prunes further. The report
states each row's sparsity.

Data: models/train/scenes.py output (labels.csv + JPEGs), decoded once into a uint8 cache.
Everything is seeded; a checkpoint is written every --ckpt-minutes and at the end of each
stage; rerunning the same command resumes where it stopped and skips finished stages.

    python models/train/train.py --arch mobilenet_v2 --data models/train/work/data \\
        --out models/train/work/mobilenet_v2 --size 128
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import inspect
import json
import math
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore", message="torch.ao.quantization is deprecated")

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

CLASSES = ["text", "form", "barcode", "qr", "none"]
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
STAGES = ["base", "prune", "qat", "prune_qat", "prune_dc"]


# ---------------------------------------------------------------------------------- data
def load_split(data_dir: str, split: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(N x size x size x 3 uint8, N int64 labels), decoded once and cached as .npy."""
    src = os.path.join(data_dir, split)
    cache = os.path.join(data_dir, f"{split}_{size}.npz")
    labels_csv = os.path.join(src, "labels.csv")
    if not os.path.exists(labels_csv):
        sys.exit(f"train.py: {labels_csv} missing (make train renders it with scenes.py)")
    if os.path.exists(cache) and os.path.getmtime(cache) >= os.path.getmtime(labels_csv):
        z = np.load(cache)
        return z["x"], z["y"]
    with open(labels_csv) as fh:
        rows = list(csv.DictReader(fh))
    x = np.empty((len(rows), size, size, 3), np.uint8)
    y = np.empty(len(rows), np.int64)
    for i, r in enumerate(rows):
        im = Image.open(os.path.join(src, r["file"])).convert("RGB")
        if im.size != (size, size):
            im = im.resize((size, size), Image.BILINEAR)
        x[i] = np.asarray(im)
        y[i] = CLASSES.index(r["label"])
    np.savez(cache, x=x, y=y)
    return x, y


def to_input(xb: torch.Tensor) -> torch.Tensor:
    """uint8 NHWC -> normalized f32 NCHW (the manifest's mean/std)."""
    return normalize(xb.permute(0, 3, 1, 2).float().div_(255.0))


def normalize(x: torch.Tensor) -> torch.Tensor:
    """0..1 NCHW -> the manifest's mean/std, channels-last (the models' layout, see build)."""
    m = torch.tensor(MEAN).view(1, 3, 1, 1)
    s = torch.tensor(STD).view(1, 3, 1, 1)
    return ((x - m) / s).contiguous(memory_format=torch.channels_last)


def augment(xb: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Light, cheap augmentation on top of the generator's camera effects: random shift
    (reflect-padded crop), brightness/contrast jitter, random 180-degree turn."""
    n, h, w, _ = xb.shape
    pad = max(2, h // 16)
    x = xb.permute(0, 3, 1, 2).float()
    x = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    out = torch.empty((n, 3, h, w))
    offs = torch.randint(0, 2 * pad + 1, (n, 2), generator=g)
    for i in range(n):
        oy, ox = int(offs[i, 0]), int(offs[i, 1])
        out[i] = x[i, :, oy:oy + h, ox:ox + w]
    flip = torch.rand(n, generator=g) < 0.5
    out[flip] = out[flip].flip(2, 3)
    gain = 1 + 0.3 * (torch.rand(n, 1, 1, 1, generator=g) - 0.5)
    bias = 30 * (torch.rand(n, 1, 1, 1, generator=g) - 0.5)
    mu = out.mean(dim=(1, 2, 3), keepdim=True)
    return normalize(((out - mu) * gain + mu + bias).clamp_(0, 255).div_(255.0))


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, batch: int = 100) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            logits = model(to_input(torch.from_numpy(x[i:i + batch])))
            correct += int((logits.argmax(1) == torch.from_numpy(y[i:i + batch])).sum())
    return 100.0 * correct / len(x)


# --------------------------------------------------------------------------------- models
def build(arch: str) -> nn.Module:
    """Random-init torchvision model in channels-last layout: oneDNN's CPU convolutions train
    MobileNetV2 1.4x and ResNet-50 1.15x faster that way than in NCHW (measured on the 2-core
    VM, batch 64; bfloat16 autocast was slower there)."""
    import torchvision
    if arch == "mobilenet_v2":
        model = torchvision.models.mobilenet_v2(weights=None, num_classes=len(CLASSES))
    elif arch == "resnet50":
        model = torchvision.models.resnet50(weights=None, num_classes=len(CLASSES), zero_init_residual=True)
    else:
        raise SystemExit(f"train.py: unknown --arch {arch}")
    return model.to(memory_format=torch.channels_last)


def prunable(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def layer_targets(model: nn.Module, target: float, allocation: str = "erk") -> dict[str, float]:
    """Per-layer sparsity whose weight-weighted mean is `target`.

    "erk" (Erdős–Rényi-kernel, Evci et al. 2020, RigL): a layer keeps a fraction of its
    weights proportional to (sum of its dimensions) / (product of its dimensions), capped at
    1, so small layers (depthwise convs, narrow 1x1 convs, the classifier) stay dense or
    nearly so and the wide layers carry the pruning; the first conv stays dense. At
    MobileNetV2's 92 % the "half" rule left the narrow early 1x1 convs 94 % sparse: 88.10 %
    in PyTorch against ERK's 95.00 % from the same base model.

    "half": the first conv, depthwise convs and the classifier get half of the target, every
    other layer the rate that makes up the total (the rule of the ResNet-50 rows measured on
    2026-11-29)."""
    if allocation == "erk":
        return erk_targets(model, target)
    layers = prunable(model)
    first = layers[0][0]
    last = layers[-1][0]
    small, big = {}, {}
    for n, m in layers:
        k = m.weight.numel()
        depthwise = isinstance(m, nn.Conv2d) and m.groups > 1 and m.groups == m.in_channels
        (small if n in (first, last) or depthwise else big)[n] = k
    n_small, n_big = sum(small.values()), sum(big.values())
    s_big = min(0.995, (target * (n_small + n_big) - target / 2 * n_small) / n_big)
    return {**{n: target / 2 for n in small}, **{n: s_big for n in big}}


def erk_targets(model: nn.Module, target: float) -> dict[str, float]:
    layers = [(n, m.weight.numel(), sum(m.weight.shape) / m.weight.numel()) for n, m in prunable(model)]
    keep_total = (1 - target) * sum(k for _, k, _ in layers)
    dense = {layers[0][0]}  # the first conv sees the pixels: kept dense, as in RigL
    while True:
        # densities eps * score; layers whose density would pass 1 stay dense, the rest share
        # what is left
        free = [(n, k, sc) for n, k, sc in layers if n not in dense]
        left = keep_total - sum(k for n, k, _ in layers if n in dense)
        eps = left / max(1e-12, sum(k * sc for _, k, sc in free))
        over = {n for n, _, sc in free if eps * sc >= 1}
        if not over:
            break
        dense |= over
    return {n: 0.0 if n in dense else 1 - eps * sc for n, _, sc in layers}


def conv_bn_sites(model: nn.Module) -> list[tuple[nn.Module, str, str, str]]:
    """(parent, conv key, BN key, conv's full name) for every Conv2d directly followed by a
    BatchNorm2d sibling: the pairs BN folding merges (torchvision's MobileNetV2 and ResNet
    declare them in this order)."""
    sites = []

    def walk(parent: nn.Module, prefix: str) -> None:
        names = list(parent._modules.keys())
        for i, name in enumerate(names):
            child = parent._modules[name]
            walk(child, f"{prefix}{name}.")
            if isinstance(child, nn.Conv2d) and i + 1 < len(names) and isinstance(parent._modules[names[i + 1]], nn.BatchNorm2d):
                sites.append((parent, name, names[i + 1], f"{prefix}{name}"))

    walk(model, "")
    return sites


def conv_bn_pairs(model: nn.Module) -> dict[str, nn.BatchNorm2d]:
    """conv module name -> the BatchNorm2d that directly follows it."""
    return {full: parent._modules[bn] for parent, _, bn, full in conv_bn_sites(model)}


def magnitude_masks(model: nn.Module, rates: dict[str, float], old: dict | None) -> dict[str, torch.Tensor]:
    """Per-layer magnitude masks; weights already pruned stay pruned (the schedule only grows).
    Magnitudes are those of the BN-folded weights (|w| x |gamma| / sqrt(var + eps) per output
    channel): what the deployed file stores, and comparable across a layer's channels."""
    masks = {}
    bns = conv_bn_pairs(model)
    for n, m in prunable(model):
        w = m.weight.detach().abs()
        if n in bns:
            bn = bns[n]
            scale = (bn.weight.detach().abs() / torch.sqrt(bn.running_var + bn.eps)).view(-1, *([1] * (w.dim() - 1)))
            w = w * scale
        w = w.flatten()
        if old is not None:
            w = w * old[n].flatten()
        k = int(round(rates.get(n, 0.0) * w.numel()))
        if old is not None:
            k = max(k, int((old[n] == 0).sum()))  # the schedule only grows: pruned stays pruned
        mask = torch.ones_like(w)
        if k > 0:
            idx = torch.argsort(w, stable=True)[:k]
            mask[idx] = 0
        masks[n] = mask.view_as(m.weight)
    return masks


def apply_masks(model: nn.Module, masks: dict | None) -> None:
    if not masks:
        return
    with torch.no_grad():
        for n, m in prunable(model):
            if n in masks:
                m.weight.mul_(masks[n])


def sparsity(model: nn.Module) -> float:
    z = t = 0
    for _, m in prunable(model):
        z += int((m.weight == 0).sum())
        t += m.weight.numel()
    return z / max(t, 1)


def fold_bn(model: nn.Module) -> nn.Module:
    """Eval-mode Conv+BN folding (in a copy): every BatchNorm becomes part of the conv
    before it, so QAT fake-quantizes the weights the engine will actually store."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    model = copy.deepcopy(model).eval()
    for parent, conv, bn, _ in conv_bn_sites(model):
        parent._modules[conv] = fuse_conv_bn_eval(parent._modules[conv], parent._modules[bn])
        parent._modules[bn] = nn.Identity()
    left = [n for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]
    if left:
        raise SystemExit(f"train.py: BatchNorm not folded: {left[:3]}")
    return model


def bf16_round_up(x: torch.Tensor) -> torch.Tensor:
    """Smallest bfloat16-representable f32 >= x (x > 0, finite)."""
    bits = x.to(torch.float32).contiguous().view(torch.int32)
    up = torch.where((bits & 0xFFFF) != 0, (bits | 0xFFFF) + 1, bits)
    return up.view(torch.float32)


def bf16_round_biases(model: nn.Module) -> None:
    """Round conv/linear biases to the nearest bfloat16 value. The .slim file stores biases as
    f32 byte planes; with the two low planes all zero, Huffman codes them at about a bit per
    bias each, which halves their share of a small file. Used on the QAT models only (the
    measured top-1 of the exported file includes the effect)."""
    with torch.no_grad():
        for _, m in prunable(model):
            if m.bias is not None:
                m.bias.copy_(m.bias.to(torch.bfloat16).to(torch.float32))


def _symmetric_127_observer():
    from torch.ao.quantization.observer import MovingAveragePerChannelMinMaxObserver

    class Symmetric127Observer(MovingAveragePerChannelMinMaxObserver):
        """Per-channel scale max|w| / 127, so codes stay in -127..127 although the ONNX
        exporter only accepts the -128..127 range for QDQ; rounded up to a bfloat16 value, so
        the .slim file stores it in 2 bytes instead of 4 (docs/FORMAT.md 3.2) and no weight
        clips."""

        def _calculate_qparams(self, min_val, max_val):
            scale, zero_point = super()._calculate_qparams(min_val, max_val)
            amax = torch.maximum(-min_val, max_val).to(torch.float32)
            s = torch.clamp(amax / 127.0, min=float(self.eps))
            return bf16_round_up(s).to(scale.dtype), torch.zeros_like(zero_point)

    return Symmetric127Observer


def qat_qconfig():
    """Weights: per-channel symmetric int8 in -127..127 (slimscan's symmetric range, so the
    codes import exactly), moving-average min/max observer. Activations: not fake-quantized
    (see the module docstring)."""
    from torch.ao.quantization import FakeQuantize, QConfig
    weight = FakeQuantize.with_args(
        observer=_symmetric_127_observer(), quant_min=-128, quant_max=127,
        dtype=torch.qint8, qscheme=torch.per_channel_symmetric, ch_axis=0)
    return QConfig(activation=nn.Identity, weight=weight)


def prepare_qat(model: nn.Module) -> nn.Module:
    from torch.ao import quantization as tq
    model = fold_bn(model).train()
    model.qconfig = qat_qconfig()
    tq.prepare_qat(model, inplace=True)
    return model.to(memory_format=torch.channels_last)


# --------------------------------------------------------------------------------- export
def export_onnx(model: nn.Module, size: int, path: str) -> None:
    model = copy.deepcopy(model).eval()
    example = torch.zeros(1, 3, size, size)
    kwargs = dict(input_names=["input"], output_names=["logits"], opset_version=17,
                  do_constant_folding=True, dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # the TorchScript exporter: FakeQuantize -> QDQ, BN folded
    tmp = path + ".tmp"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), tmp, **kwargs)
    os.replace(tmp, path)


# ------------------------------------------------------------------------------- training
class Log:
    def __init__(self, path: str):
        self.fh = open(path, "a")

    def __call__(self, msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, file=sys.stderr, flush=True)
        self.fh.write(line + "\n")
        self.fh.flush()


def progress(total: int, initial: int, desc: str):
    try:
        from tqdm import tqdm
        return tqdm(total=total, initial=initial, desc=desc, unit="step", mininterval=5, file=sys.stderr)
    except ImportError:  # plain log lines are enough
        return contextlib.nullcontext()


def distill_loss(logits: torch.Tensor, teacher_logits: torch.Tensor, temp: float) -> torch.Tensor:
    """Hinton's soft-target loss: KL(teacher || student) at temperature `temp`, times temp²
    so its gradients keep the scale of the hard-label loss."""
    return F.kl_div(F.log_softmax(logits / temp, 1), F.log_softmax(teacher_logits / temp, 1),
                    log_target=True, reduction="batchmean") * temp * temp


def run_stage(stage: str, a, model: nn.Module, data, log: Log, masks=None, prune_to=None, prune_from=0.0,
              teacher: nn.Module | None = None):
    """SGD with cosine decay over `epochs`; pruning (if prune_to) ramps from prune_from to
    prune_to over the first --prune-ramp of the steps, the rest fine-tunes at the final mask.
    With a teacher (the trained f32 model) and --distill > 0, the loss mixes the hard labels
    with the teacher's soft targets: the compressed model learns to answer as the original
    does, which recovers more of what pruning removes than the labels alone (Deep
    Compression's retraining, plus distillation)."""
    xtr, ytr, xte, yte = data
    epochs = getattr(a, f"{stage}_epochs")
    lr0 = getattr(a, f"{stage}_lr")
    steps_per_epoch = len(xtr) // a.batch
    total = max(1, int(round(epochs * steps_per_epoch)))
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    opt = torch.optim.SGD([{"params": decay, "weight_decay": a.wd}, {"params": no_decay, "weight_decay": 0}],
                          lr=lr0, momentum=0.9, nesterov=True)
    warm = min(300, total // 10) if stage == "base" else 0
    lr_at = lambda s: lr0 * (s + 1) / warm if s < warm else lr0 * 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, total - warm)))  # noqa: E731
    ckpt = os.path.join(a.out, f"{stage}.ckpt")
    step = 0
    elapsed0 = 0.0  # training seconds spent before this process (resumed runs)
    g = torch.Generator().manual_seed(a.seed * 1000 + STAGES.index(stage))
    if os.path.exists(ckpt):
        st = torch.load(ckpt, weights_only=False)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step, masks = st["step"], st["masks"]
        elapsed0 = st.get("elapsed", 0.0)
        g.set_state(st["gen"])
        log(f"{stage}: resumed at step {step}/{total}")
    ramp_end = int(a.prune_ramp * total)
    prune_every = max(1, ramp_end // 40) if prune_to else 0
    rates_final = layer_targets(model, prune_to, a.allocation) if prune_to else None

    def save():
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "masks": masks,
                    "gen": g.get_state(), "elapsed": elapsed0 + time.time() - t0}, ckpt + ".tmp")
        os.replace(ckpt + ".tmp", ckpt)

    last_save = time.time()
    t0 = time.time(); s0 = step; loss_avg = None
    bar = progress(total, step, f"{a.arch} {stage}")
    model.train()
    while step < total:
        if prune_to and (step % prune_every == 0 or step == ramp_end) and step <= ramp_end:
            frac = min(1.0, step / max(1, ramp_end))
            s = prune_to + (prune_from - prune_to) * (1 - frac) ** 3
            rates = {n: r * s / prune_to for n, r in rates_final.items()}
            masks = magnitude_masks(model, rates, masks)
            apply_masks(model, masks)
        # one epoch's permutation per epoch index, so resuming mid-epoch sees the same order
        epoch, pos = divmod(step, steps_per_epoch)
        perm = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(a.seed * 7919 + epoch))
        idx = perm[pos * a.batch:(pos + 1) * a.batch]
        xb = augment(torch.from_numpy(xtr[idx.numpy()]), g)
        yb = torch.from_numpy(ytr[idx.numpy()])
        for grp in opt.param_groups:
            grp["lr"] = lr_at(step)
        logits = model(xb)
        loss = F.cross_entropy(logits, yb, label_smoothing=0.05)
        if teacher is not None and a.distill > 0:
            with torch.no_grad():
                soft = teacher(xb)
            loss = (1 - a.distill) * loss + a.distill * distill_loss(logits, soft, a.distill_temp)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        apply_masks(model, masks)
        step += 1
        loss_avg = float(loss) if loss_avg is None else 0.98 * loss_avg + 0.02 * float(loss)
        if bar is not None and hasattr(bar, "update"):
            bar.update(1)
            bar.set_postfix(loss=f"{loss_avg:.3f}", lr=f"{lr_at(step - 1):.4f}")
        if step % 100 == 0:
            rate = (step - s0) * a.batch / max(1e-9, time.time() - t0)
            log(f"{stage}: step {step}/{total} loss {loss_avg:.4f} lr {lr_at(step - 1):.4f} {rate:.0f} img/s"
                + (f" sparsity {sparsity(model):.3f}" if masks else ""))
        if time.time() - last_save > a.ckpt_minutes * 60:
            save(); last_save = time.time()
    if bar is not None and hasattr(bar, "close"):
        bar.close()
    save()
    model.train_seconds = elapsed0 + time.time() - t0
    return model, masks


def bn_recalibrate(model: nn.Module, xtr: np.ndarray, n: int = 2000, batch: int = 100) -> None:
    """Re-estimate BN running statistics on clean training images (after pruning changes the
    weights, the moving averages lag behind)."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    if not bns:
        return
    for m in bns:
        m.reset_running_stats(); m.momentum = None
    model.train()
    with torch.no_grad():
        for i in range(0, min(n, len(xtr)), batch):
            model(to_input(torch.from_numpy(xtr[i:i + batch])))
    model.eval()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", choices=["mobilenet_v2", "resnet50"], required=True)
    ap.add_argument("--data", required=True, help="folder with train/ and test/ from scenes.py")
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--wd", type=float, default=4e-5)
    ap.add_argument("--stages", default=",".join(STAGES))
    ap.add_argument("--prune-sparsity", type=float, default=0.8)
    ap.add_argument("--dc-sparsity", type=float, default=0.9)
    ap.add_argument("--prune-ramp", type=float, default=0.5,
                    help="fraction of a pruning stage's steps over which sparsity ramps up; the rest fine-tunes")
    ap.add_argument("--ckpt-minutes", type=float, default=5)
    ap.add_argument("--allocation", choices=["erk", "half"], default="erk",
                    help="per-layer sparsity rule (see layer_targets)")
    ap.add_argument("--distill", type=float, default=0.0,
                    help="weight of the f32 model's soft targets in the compressed stages' loss (0: labels only)")
    ap.add_argument("--distill-temp", type=float, default=2.0)
    for s, e, lr in [("base", 6, 0.1), ("prune", 3, 0.03), ("qat", 0.5, 0.002), ("prune_dc", 2, 0.02),
                     ("prune_qat", 1, 0.002)]:
        ap.add_argument(f"--{s.replace('_', '-')}-epochs", type=float, default=e)
        ap.add_argument(f"--{s.replace('_', '-')}-lr", type=float, default=lr)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed); np.random.seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    log = Log(os.path.join(a.out, "train.log"))
    xtr, ytr = load_split(a.data, "train", a.size)
    xte, yte = load_split(a.data, "test", a.size)
    data = (xtr, ytr, xte, yte)
    log(f"{a.arch} {a.size}px: {len(xtr)} train / {len(xte)} test images, torch {torch.__version__}, {a.threads} threads")
    results_path = os.path.join(a.out, "train_results.json")
    results = json.load(open(results_path)) if os.path.exists(results_path) else {}
    stages = a.stages.split(",")

    def finished(stage):
        return os.path.exists(os.path.join(a.out, f"{stage}.pt"))

    def record(stage, model, masks, onnx_name, t_start):
        # train_s: the stage's training loop over all (resumed) runs; stage_s: this run's
        # stage wall time including evaluation and export
        results[stage] = {"torch_top1": evaluate(model, xte, yte), "sparsity": sparsity(model),
                          "onnx": onnx_name, "train_s": round(getattr(model, "train_seconds", 0.0), 1),
                          "stage_s": round(time.time() - t_start, 1), "epochs": getattr(a, f"{stage}_epochs"),
                          "lr": getattr(a, f"{stage}_lr"),
                          "distill": 0.0 if stage == "base" else a.distill, "distill_temp": a.distill_temp,
                          "versions": {"torch": torch.__version__}}
        if masks:
            results[stage]["layer_sparsity"] = {n: float((m == 0).float().mean()) for n, m in masks.items()}
        json.dump(results, open(results_path, "w"), indent=1)
        log(f"{stage}: top-1 {results[stage]['torch_top1']:.2f} % (torch), sparsity {results[stage]['sparsity']:.3f}, -> {onnx_name}")

    torch.manual_seed(a.seed)
    base = build(a.arch)
    if "base" in stages and not finished("base"):
        t = time.time()
        base, _ = run_stage("base", a, base, data, log)
        bn_recalibrate(base, xtr)
        torch.save({"model": base.state_dict()}, os.path.join(a.out, "base.pt"))
        export_onnx(base, a.size, os.path.join(a.out, "f32.onnx"))
        record("base", base, None, "f32.onnx", t)
    base.load_state_dict(torch.load(os.path.join(a.out, "base.pt"))["model"])
    base.eval()

    pruned = None
    if "prune" in stages or "prune_qat" in stages:
        pruned = copy.deepcopy(base)
        if not finished("prune"):
            t = time.time()
            pruned, masks = run_stage("prune", a, pruned, data, log, prune_to=a.prune_sparsity, teacher=base)
            bn_recalibrate(pruned, xtr)
            torch.save({"model": pruned.state_dict(), "masks": masks}, os.path.join(a.out, "prune.pt"))
            export_onnx(pruned, a.size, os.path.join(a.out, "pruned.onnx"))
            record("prune", pruned, masks, "pruned.onnx", t)
        st = torch.load(os.path.join(a.out, "prune.pt"), weights_only=False)
        pruned.load_state_dict(st["model"]); pruned_masks = st["masks"]

    if "qat" in stages and not finished("qat"):
        t = time.time()
        q = prepare_qat(base)
        q, _ = run_stage("qat", a, q, data, log, teacher=base)
        q.apply(torch.ao.quantization.disable_observer)
        bf16_round_biases(q)
        torch.save({"model": q.state_dict()}, os.path.join(a.out, "qat.pt"))
        export_onnx(q, a.size, os.path.join(a.out, "qat_qdq.onnx"))
        record("qat", q, None, "qat_qdq.onnx", t)

    if "prune_qat" in stages and a.dc_sparsity > a.prune_sparsity and not finished("prune_dc"):
        # Deep Compression's order: prune further (f32, BatchNorm still training) and retrain,
        # then quantize and retrain with the mask fixed.
        t = time.time()
        dc = copy.deepcopy(pruned)
        dc, masks = run_stage("prune_dc", a, dc, data, log, masks=pruned_masks,
                              prune_to=a.dc_sparsity, prune_from=a.prune_sparsity, teacher=base)
        bn_recalibrate(dc, xtr)
        torch.save({"model": dc.state_dict(), "masks": masks}, os.path.join(a.out, "prune_dc.pt"))
        record("prune_dc", dc, masks, None, t)

    if "prune_qat" in stages and not finished("prune_qat"):
        t = time.time()
        src = pruned
        masks = pruned_masks
        if a.dc_sparsity > a.prune_sparsity:
            st = torch.load(os.path.join(a.out, "prune_dc.pt"), weights_only=False)
            src = copy.deepcopy(pruned)
            src.load_state_dict(st["model"]); masks = st["masks"]
        q = prepare_qat(src)
        # the folded model keeps the conv names, so the masks still apply
        q, masks = run_stage("prune_qat", a, q, data, log, masks=masks, teacher=base)
        q.apply(torch.ao.quantization.disable_observer)
        bf16_round_biases(q)
        torch.save({"model": q.state_dict(), "masks": masks}, os.path.join(a.out, "prune_qat.pt"))
        export_onnx(q, a.size, os.path.join(a.out, "prune_qat_qdq.onnx"))
        record("prune_qat", q, masks, "prune_qat_qdq.onnx", t)
    log("done: " + ", ".join(f"{k} {v['torch_top1']:.2f} %" for k, v in results.items()))


if __name__ == "__main__":
    main()
