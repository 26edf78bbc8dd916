#!/usr/bin/env bash
# Makes every file `make bench-engine` reads; nothing here is committed. Idempotent: a step
# whose output exists is skipped (FORCE=1 redoes all). Times on a 2-core Xeon: exports ~1 min,
# ORT quantization ~2 min, compress ~1-3 min per model, release CLI build ~10 min cold.
#
#   PY=/root/.venvs/slimscan-train/bin/python bash benches/engine/make_models.sh
#
#   /tmp/models_rbn/{resnet50,mobilenet_v2}.onnx  random init, random BN stats (the bench's f32 models)
#   /tmp/models/{resnet50,mobilenet_v2}.onnx      random init, torchvision BN init
#   /tmp/models/ppocr/ch_PP-OCRv4_{det,rec}_infer.onnx, ch_ppocr_mobile_v2.0_cls_infer.onnx
#                                                (from the rapidocr-onnxruntime 1.4.4 wheel, PyPI)
#   /tmp/calib224, /tmp/calib_det, /tmp/calib_rec calibration images (models/train/make_calib_images.py)
#   /tmp/models/ort_int8/<model>_int8.onnx       onnxruntime QDQ int8 (models/ort_quantize.py)
#   /tmp/slim/<model>_p<0|50|90>.slim            slimscan compress --quant int8 --calib ...
#
# PY: a Python with torch, torchvision, onnx, onnxruntime==1.32.0, Pillow.
# SLIMSCAN: the release CLI (default: build it with `cargo build --release --features cli`).
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PY:-/root/.venvs/slimscan-train/bin/python}
TMP=${BENCH_TMP:-/tmp}
FORCE=${FORCE:-0}
M=$TMP/models RBN=$TMP/models_rbn SLIM=$TMP/slim
need() { [ "$FORCE" = 1 ] || [ ! -s "$1" ]; }
step() { echo "== $* ($(date +%T))"; }

if need "$M/resnet50.onnx"; then step export; "$PY" models/train/export_torchvision.py --out "$M"; fi
if need "$RBN/resnet50.onnx"; then step export rbn; "$PY" models/train/export_torchvision.py --random-bn-stats --out "$RBN"; fi

if need "$M/ppocr/ch_PP-OCRv4_det_infer.onnx"; then
  step PP-OCRv4 from rapidocr-onnxruntime 1.4.4
  rm -rf "$TMP/wheel" && "$PY" -m pip download rapidocr-onnxruntime==1.4.4 --no-deps -d "$TMP/wheel"
  (cd "$TMP/wheel" && unzip -o -q rapidocr_onnxruntime-1.4.4-py3-none-any.whl -d x)
  mkdir -p "$M/ppocr"
  for f in ch_PP-OCRv4_det_infer ch_PP-OCRv4_rec_infer ch_ppocr_mobile_v2.0_cls_infer; do
    cp "$TMP/wheel/x/rapidocr_onnxruntime/models/$f.onnx" "$M/ppocr/"
  done
fi

if need "$TMP/calib_rec/rec_000.png"; then step calibration images; "$PY" models/train/make_calib_images.py --out "$TMP"; fi

if need "$M/ort_int8/ppocr_rec_int8.onnx"; then
  step onnxruntime int8
  "$PY" models/ort_quantize.py --torchvision-dir "$RBN" --ppocr-dir "$M/ppocr" --out "$M/ort_int8" \
    --calib "$TMP/calib224" --calib-det "$TMP/calib_det" --calib-rec "$TMP/calib_rec"
fi

if [ -z "${SLIMSCAN:-}" ]; then
  step release CLI
  cargo build --locked --release --features cli
  SLIMSCAN=${CARGO_TARGET_DIR:-$HOME/.cache/slimscan/target}/release/slimscan
fi
mkdir -p "$SLIM"
echo '{"input_size": [640, 640]}' > "$TMP/manifest_det.json"
echo '{"input_size": [48, 320], "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}' > "$TMP/manifest_rec.json"
compress() { # name src prune-percent extra-args...
  local name=$1 src=$2 p=$3; shift 3
  local out="$SLIM/${name}_p$p.slim"
  need "$out" || return 0
  step "compress $name prune $p"
  "$SLIMSCAN" compress "$src" -o "$out" --prune "$(awk "BEGIN { print $p / 100 }")" --quant int8 "$@"
}
for p in 0 50 90; do
  compress mobilenet_v2 "$RBN/mobilenet_v2.onnx" $p --calib "$TMP/calib224"
  compress resnet50 "$RBN/resnet50.onnx" $p --calib "$TMP/calib224"
done
compress ppocr_det "$M/ppocr/ch_PP-OCRv4_det_infer.onnx" 0 --calib "$TMP/calib_det" --manifest "$TMP/manifest_det.json"
compress ppocr_rec "$M/ppocr/ch_PP-OCRv4_rec_infer.onnx" 0 --calib "$TMP/calib_rec" --manifest "$TMP/manifest_rec.json"
ls -l "$SLIM" "$M/ort_int8"
