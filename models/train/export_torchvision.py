#!/usr/bin/env python3
"""Export randomly initialised torchvision CNNs (and a tiny QAT model) to ONNX.

These are *test inputs* for the slimscan compressor: real graph structure, real tensor
shapes and layouts, but random weights (pretrained weights cannot be downloaded here, so
every model is built with ``weights=None`` after ``torch.manual_seed(0)``; the output is
therefore reproducible for a given torch/torchvision version).

Models written to ``--out``:

* ``resnet50.onnx``, ``mobilenet_v2.onnx`` (selectable with ``--models``): eval mode,
  input ``input`` of shape ``N x 3 x 224 x 224`` with a dynamic batch dimension ``N``,
  output ``logits`` (``N x 1000``).
* ``qat_tiny_qdq.onnx`` (with ``--qdq``): a tiny CNN prepared with eager-mode
  ``torch.ao.quantization`` QAT (per-channel symmetric int8 weights, per-tensor uint8
  activations), trained for a few steps on random data and exported *unconverted*, so
  every FakeQuantize module becomes a QuantizeLinear -> DequantizeLinear pair.

All exports use the classic TorchScript-based exporter (``dynamo=False``) at ``--opset``
(default 17).

BatchNormalization: the TorchScript exporter's default (``training=TrainingMode.EVAL`` with
constant folding on) runs its "eval peephole" pass, which FOLDS every Conv+BatchNorm pair
into the Conv's weight and bias, so the default exports contain no BatchNormalization
nodes. Pass ``--keep-bn`` to export with ``TrainingMode.PRESERVE`` instead (the model is
still in eval mode, so BN uses its running statistics), which skips that pass and keeps
the BatchNormalization nodes; those files get a ``_bn`` suffix.

Random init makes every BN layer identical (gamma=1, beta=0, mean=0, var=1): the folded
biases are all zero and the exporter shares identical tensors through Identity nodes.
``--random-bn-stats`` randomizes BN parameters and statistics first (same file names).

Usage (from the repository root, in a venv with torch, torchvision, onnx, onnxscript):

    python models/train/export_torchvision.py --out /tmp/models --qdq
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import warnings

import torch
import torch.nn as nn

SEED = 0
INPUT_SHAPE = (1, 3, 224, 224)
TORCHVISION_MODELS = ("resnet50", "mobilenet_v2")


def _export(model: nn.Module, example: torch.Tensor, path: str, opset: int,
            keep_bn: bool = False, dynamic_batch: bool = True) -> None:
    """Export ``model`` with the classic TorchScript-based exporter."""
    kwargs = dict(
        input_names=["input"],
        output_names=["logits"],
        opset_version=opset,
        do_constant_folding=True,
    )
    if dynamic_batch:
        kwargs["dynamic_axes"] = {"input": {0: "N"}, "logits": {0: "N"}}
    if keep_bn:
        # Skips the Conv+BN folding pass; the model itself stays in eval mode.
        kwargs["training"] = torch.onnx.TrainingMode.PRESERVE
    # torch >= 2.5 has `dynamo`; from 2.9 on it defaults to True, so ask for the
    # TorchScript exporter explicitly when the argument exists.
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False
    with warnings.catch_warnings():
        # The legacy exporter is deprecated, and tracing FakeQuantize warns about
        # tensor-to-bool conversions; both are expected here.
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), path, **kwargs)


def _randomize_bn(model: nn.Module) -> None:
    """Give every BatchNorm random affine parameters and running statistics.

    Freshly initialised BN layers are all identical (gamma=1, beta=0, mean=0, var=1), so
    folding them only rescales the conv weights by 1/sqrt(1+eps) and makes every folded
    bias zero; the exporter then deduplicates those identical tensors into one shared
    initializer read through Identity nodes. Random statistics avoid that and give
    folded weights/biases that look more like a trained network's.
    """
    g = torch.Generator().manual_seed(SEED + 1)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            with torch.no_grad():
                m.weight.copy_(0.5 + torch.rand(c, generator=g))
                m.bias.copy_(0.1 * torch.randn(c, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(c, generator=g))
                m.running_var.copy_(0.5 + torch.rand(c, generator=g))


def export_torchvision(name: str, out: str, opset: int, keep_bn: bool,
                       random_bn_stats: bool = False) -> str:
    import torchvision

    torch.manual_seed(SEED)
    model = getattr(torchvision.models, name)(weights=None).eval()
    if random_bn_stats:
        _randomize_bn(model)
    example = torch.randn(*INPUT_SHAPE)
    path = os.path.join(out, f"{name}{'_bn' if keep_bn else ''}.onnx")
    with torch.no_grad():
        _export(model, example, path, opset, keep_bn=keep_bn)
    return path


class TinyCNN(nn.Module):
    """conv3x3(3->16)+BN+ReLU, depthwise conv3x3(16)+ReLU, conv1x1(16->32)+ReLU,
    global average pool, Linear(32->5); Quant/DeQuant stubs mark the quantized region."""

    def __init__(self, num_classes: int = 5) -> None:
        super().__init__()
        self.quant = torch.ao.quantization.QuantStub()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu1 = nn.ReLU()
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.relu2 = nn.ReLU()
        self.pw = nn.Conv2d(16, 32, 1)
        self.relu3 = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, num_classes)
        self.dequant = torch.ao.quantization.DeQuantStub()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.quant(x)
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.relu2(self.dw(x))
        x = self.relu3(self.pw(x))
        x = self.pool(x)
        x = torch.flatten(x, 1)
        x = self.fc(x)
        return self.dequant(x)


def _qat_qconfig() -> "torch.ao.quantization.QConfig":
    """Same observers as ``get_default_qat_qconfig('x86')`` (moving-average min/max,
    per-channel symmetric int8 weights, affine uint8 activations) but with two changes
    the ONNX export needs:

    * the plain ``FakeQuantize`` class instead of ``FusedMovingAvgObsFakeQuantize``: the
      TorchScript exporter has no symbolic for ``aten::fused_moving_avg_obs_fake_quant``,
      while ``fake_quantize_per_{tensor,channel}_affine`` map to QuantizeLinear +
      DequantizeLinear (opset >= 13);
    * ``reduce_range=False`` for activations: x86's default 0..127 range exports as an
      extra Clip between QuantizeLinear and DequantizeLinear; 0..255 gives clean pairs.
    """
    from torch.ao.quantization import FakeQuantize, QConfig
    from torch.ao.quantization.observer import (
        MovingAverageMinMaxObserver,
        MovingAveragePerChannelMinMaxObserver,
    )

    activation = FakeQuantize.with_args(
        observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
        dtype=torch.quint8, qscheme=torch.per_tensor_affine, reduce_range=False)
    weight = FakeQuantize.with_args(
        observer=MovingAveragePerChannelMinMaxObserver, quant_min=-128, quant_max=127,
        dtype=torch.qint8, qscheme=torch.per_channel_symmetric, ch_axis=0)
    return QConfig(activation=activation, weight=weight)


def export_qat_tiny(out: str, opset: int, steps: int = 4) -> str:
    from torch.ao import quantization as tq

    torch.manual_seed(SEED)
    model = TinyCNN().train()
    # QAT fusion (train mode): conv1+bn1+relu1 becomes a qat.ConvBnReLU2d that keeps BN
    # separate during training and fake-quantizes the BN-scaled weight.
    tq.fuse_modules_qat(model, [["conv1", "bn1", "relu1"], ["dw", "relu2"], ["pw", "relu3"]],
                        inplace=True)
    model.qconfig = _qat_qconfig()
    tq.prepare_qat(model, inplace=True)

    # A few fake training steps on random data: moves weights, BN statistics and the
    # observers' ranges away from their initial values.
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(steps):
        x = torch.randn(8, 3, 32, 32)
        y = torch.randint(0, 5, (8,))
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    # Freeze: stop observing (scales/zero points become constants) and use BN running
    # statistics; fake quantization itself stays on, so it is exported as QDQ.
    model.apply(tq.disable_observer)
    model.apply(torch.ao.nn.intrinsic.qat.freeze_bn_stats)
    model.eval()

    path = os.path.join(out, "qat_tiny_qdq.onnx")
    with torch.no_grad():
        _export(model, torch.randn(1, 3, 32, 32), path, opset)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="models/out", help="output directory (created)")
    p.add_argument("--models", default=",".join(TORCHVISION_MODELS),
                   help="comma-separated torchvision models (default: %(default)s; "
                        "empty string for none)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default: 17)")
    p.add_argument("--qdq", action="store_true",
                   help="also export the tiny QAT model as qat_tiny_qdq.onnx")
    p.add_argument("--keep-bn", action="store_true",
                   help="keep BatchNormalization nodes (default: folded into Conv)")
    p.add_argument("--random-bn-stats", action="store_true",
                   help="randomize BatchNorm parameters/statistics of the torchvision "
                        "models (default: torchvision's init, gamma=1 beta=0 mean=0 var=1)")
    args = p.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    paths = [export_torchvision(n, args.out, args.opset, args.keep_bn, args.random_bn_stats)
             for n in names]
    if args.qdq:
        if args.opset < 13:
            p.error("--qdq needs --opset >= 13 (per-channel QuantizeLinear)")
        paths.append(export_qat_tiny(args.out, args.opset))

    print(f"torch {torch.__version__}, opset {args.opset}")
    for path in paths:
        print(f"{os.path.getsize(path):>12,d} bytes  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
