#!/usr/bin/env python3
"""onnxruntime's own int8 QDQ models: the "ort int8" peer of `make bench-engine`.

Pinned: onnxruntime == 1.32.0 (checked at start; the quantizer's output changes between
releases, so a different version is refused unless --any-ort-version is given). The script runs
in the training venv (torch, onnx, onnxruntime), e.g. /root/.venvs/slimscan-train.

For every model it
  1. fixes dynamic input dims to the benchmark shape (batch 1; PP-OCR det 1x3x640x640, rec
     1x3x48x320), clears the stale output/value_info shapes, and converts opset < 13 models
     (PP-OCRv4: 12) to opset 13, which per-channel DequantizeLinear (`axis`) needs,
  2. runs onnxruntime.quantization.shape_inference.quant_pre_process (symbolic shape inference +
     ORT graph optimisation; falls back to the fixed model if that step fails),
  3. runs quantize_static: QuantFormat.QDQ, per-channel QInt8 weights, per-tensor QUInt8
     activations, MinMax calibration. Calibration data: the images in --calib (jpg/png,
     searched recursively; --calib-det/--calib-rec per PP-OCR model), preprocessed as each
     model expects (resize, /255, mean/std; rec keeps the aspect and pads the width); without
     a folder, standard-normal random tensors of the input shape,
  4. compares f32 and int8 outputs on one input with onnxruntime's CPU provider.

Output: <out>/<name>_int8.onnx (default /tmp/models/ort_int8/). Sources (defaults):
  mobilenet_v2, resnet50   /tmp/models_rbn/{mobilenet_v2,resnet50}.onnx
                           (export_torchvision.py --random-bn-stats --out /tmp/models_rbn)
  ppocr_det, ppocr_rec     /tmp/models/ppocr/ch_PP-OCRv4_{det,rec}_infer.onnx (rapidocr wheel)

    python models/train/make_calib_images.py --out /tmp
    python models/ort_quantize.py --calib /tmp/calib224 --calib-det /tmp/calib_det --calib-rec /tmp/calib_rec
    python models/ort_quantize.py --models mobilenet_v2 --calib-count 16
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from onnxruntime.quantization import CalibrationDataReader

ORT_PIN = "1.32.0"

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
HALF = np.array([0.5, 0.5, 0.5], dtype=np.float32)

# name -> (source file under its dir, dir key, input shape NCHW, mean, std)
MODELS = {
    "mobilenet_v2": ("mobilenet_v2.onnx", "torchvision", (1, 3, 224, 224), IMAGENET_MEAN, IMAGENET_STD),
    "resnet50": ("resnet50.onnx", "torchvision", (1, 3, 224, 224), IMAGENET_MEAN, IMAGENET_STD),
    "ppocr_det": ("ch_PP-OCRv4_det_infer.onnx", "ppocr", (1, 3, 640, 640), IMAGENET_MEAN, IMAGENET_STD),
    "ppocr_rec": ("ch_PP-OCRv4_rec_infer.onnx", "ppocr", (1, 3, 48, 320), HALF, HALF),
}


def check_ort_version(allow_other: bool) -> None:
    import onnxruntime

    if onnxruntime.__version__ != ORT_PIN:
        msg = f"onnxruntime {onnxruntime.__version__} found, this script is pinned to {ORT_PIN}"
        if not allow_other:
            sys.exit(f"error: {msg} (pip install onnxruntime=={ORT_PIN}, or --any-ort-version)")
        print(f"warning: {msg}", file=sys.stderr)


def fix_input_shape(src: Path, dst: Path, shape: tuple[int, ...]) -> str:
    """Writes src with its (single) graph input fixed to `shape`; returns the input name."""
    import onnx

    model = onnx.load(str(src))
    init_names = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in init_names]
    if len(inputs) != 1:
        raise ValueError(f"{src}: expected one graph input, found {[i.name for i in inputs]}")
    dims = inputs[0].type.tensor_type.shape.dim
    if len(dims) != len(shape):
        raise ValueError(f"{src}: input rank {len(dims)}, benchmark shape {shape}")
    for d, v in zip(dims, shape):
        if d.HasField("dim_value") and d.dim_value not in (0, v):
            raise ValueError(f"{src}: input dim {d.dim_value} cannot be fixed to {v}")
        d.Clear()
        d.dim_value = v
    # Shapes recorded for the old dynamic input would contradict the fixed one.
    del model.graph.value_info[:]
    for o in model.graph.output:
        if o.type.tensor_type.HasField("shape"):
            o.type.tensor_type.ClearField("shape")
    # Per-channel QDQ needs DequantizeLinear's `axis`, i.e. opset >= 13 (PP-OCRv4 ships opset 12).
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < 13:
        from onnx import version_converter

        model = version_converter.convert_version(model, 13)
    onnx.save(model, str(dst))
    return inputs[0].name


def list_images(folder: Path | None) -> list[Path]:
    if folder is None:
        return []
    exts = {".jpg", ".jpeg", ".png"}
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in exts)
    # Mixed folders (pages, text lines, codes): a fixed shuffle, so that --calib-count takes some of each.
    random.Random(0).shuffle(files)
    return files


def preprocess(path: Path, shape, mean, std) -> np.ndarray:
    from PIL import Image

    _, _, h, w = shape
    im = Image.open(path).convert("RGB")
    if (h, w) == (48, 320):
        # PP-OCR rec: keep the aspect ratio at height 48, pad the rest of the width with zeros
        # (after normalisation), as PaddleOCR's resize_norm_img does.
        iw = max(1, min(w, round(im.width * h / max(1, im.height))))
        im = im.resize((iw, h), Image.BILINEAR)
        x = (np.asarray(im, dtype=np.float32) / 255.0 - mean) / std
        out = np.zeros((h, w, 3), dtype=np.float32)
        out[:, :iw] = x
        x = out
    else:
        im = im.resize((w, h), Image.BILINEAR)
        x = (np.asarray(im, dtype=np.float32) / 255.0 - mean) / std
    return x.transpose(2, 0, 1)[None].astype(np.float32)


class Reader(CalibrationDataReader):
    """CalibrationDataReader over preprocessed images, or random normal data."""

    def __init__(self, input_name, shape, mean, std, images, count, seed=0):
        self.batches = []
        if images:
            for p in images[:count]:
                self.batches.append(preprocess(p, shape, mean, std))
        else:
            rng = np.random.default_rng(seed)
            for _ in range(count):
                self.batches.append(rng.standard_normal(shape, dtype=np.float32))
        self.input_name = input_name
        self.it = iter(self.batches)

    def get_next(self):
        x = next(self.it, None)
        return None if x is None else {self.input_name: x}

    def rewind(self):
        self.it = iter(self.batches)


def quantize_one(name, src, out_dir, calib_images, calib_count, skip_pre) -> Path:
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    _, _, shape, mean, std = MODELS[name]
    dst = out_dir / f"{name}_int8.onnx"
    with tempfile.TemporaryDirectory(prefix=f"ortq-{name}-") as tmp:
        fixed = Path(tmp) / "fixed.onnx"
        input_name = fix_input_shape(src, fixed, shape)
        model_in = fixed
        if not skip_pre:
            pre = Path(tmp) / "pre.onnx"
            try:
                quant_pre_process(str(fixed), str(pre), skip_symbolic_shape=False)
                model_in = pre
            except Exception as e:  # noqa: BLE001 - pre-processing is an optimisation only
                print(f"  {name}: quant_pre_process failed ({e}); quantizing the fixed model", file=sys.stderr)

        reader = Reader(input_name, shape, mean, std, calib_images, calib_count)
        quantize_static(
            str(model_in),
            str(dst),
            reader,
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QUInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
    return dst


def sanity_run(f32: Path, q: Path, name: str, images: list[Path]) -> str:
    """Runs both models on one input (the last calibration image, else random normal data)
    with the CPU provider; returns a one-line comparison."""
    import onnxruntime as ort

    _, _, shape, mean, std = MODELS[name]
    if images:
        x = preprocess(images[-1], shape, mean, std)
    else:
        x = np.random.default_rng(1).standard_normal(shape, dtype=np.float32)
    outs = []
    for p in (f32, q):
        s = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
        outs.append(s.run(None, {s.get_inputs()[0].name: x})[0].astype(np.float64).ravel())
    a, b = outs
    cos = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-30))
    return f"out {len(a)} values, max|diff| {np.max(np.abs(a - b)):.4g}, cosine {cos:.5f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {','.join(MODELS)}")
    ap.add_argument("--torchvision-dir", type=Path, default=Path("/tmp/models_rbn"))
    ap.add_argument("--ppocr-dir", type=Path, default=Path("/tmp/models/ppocr"))
    ap.add_argument("--out", type=Path, default=Path("/tmp/models/ort_int8"))
    ap.add_argument("--calib", type=Path, default=None, help="folder of calibration images (default: random normal data)")
    ap.add_argument("--calib-det", type=Path, default=None, help="calibration images for ppocr_det (default: --calib)")
    ap.add_argument("--calib-rec", type=Path, default=None, help="calibration images for ppocr_rec (default: --calib)")
    ap.add_argument("--calib-count", type=int, default=32, help="calibration batches (default 32)")
    ap.add_argument("--skip-pre-process", action="store_true", help="do not run quant_pre_process")
    ap.add_argument("--no-check", action="store_true", help="skip the f32-vs-int8 comparison run")
    ap.add_argument("--any-ort-version", action="store_true", help=f"allow an onnxruntime other than {ORT_PIN}")
    args = ap.parse_args()

    check_ort_version(args.any_ort_version)
    dirs = {"torchvision": args.torchvision_dir, "ppocr": args.ppocr_dir}
    names = [n for n in args.models.split(",") if n]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        sys.exit(f"error: unknown model(s) {unknown}; known: {list(MODELS)}")
    folders = {n: args.calib for n in names}
    if args.calib_det is not None:
        folders["ppocr_det"] = args.calib_det
    if args.calib_rec is not None:
        folders["ppocr_rec"] = args.calib_rec
    calib = {}
    for n in names:
        calib[n] = list_images(folders[n])
        if folders[n] is not None and not calib[n]:
            sys.exit(f"error: no jpg/png images under {folders[n]}")
    args.out.mkdir(parents=True, exist_ok=True)

    failed = 0
    for name in names:
        src = dirs[MODELS[name][1]] / MODELS[name][0]
        if not src.exists():
            print(f"{name}: missing {src}, skipped", file=sys.stderr)
            failed += 1
            continue
        images = calib[name]
        print(f"{name}: calibration on " + (f"{min(len(images), args.calib_count)} images from {folders[name]}" if images else f"{args.calib_count} random normal batches"), flush=True)
        t0 = time.time()
        try:
            dst = quantize_one(name, src, args.out, images, args.calib_count, args.skip_pre_process)
        except Exception as e:  # noqa: BLE001 - report and go on with the other models
            print(f"{name}: quantization failed: {e}", file=sys.stderr)
            failed += 1
            continue
        line = f"{name}: {src.stat().st_size:,} -> {dst.stat().st_size:,} bytes  {dst}  ({time.time() - t0:.1f} s)"
        if not args.no_check:
            try:
                line += "\n    " + sanity_run(src, dst, name, images)
            except Exception as e:  # noqa: BLE001
                line += f"\n    check run failed: {e}"
                failed += 1
        print(line, flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    main()
