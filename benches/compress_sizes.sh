#!/usr/bin/env bash
# Whole-file sizes of `slimscan compress` on the test models, as a markdown table for
# docs/BENCHMARKS.md. Models come from models/train/export_torchvision.py (torchvision) and
# the rapidocr-onnxruntime==1.4.4 wheel (PP-OCR); see docs/BENCHMARKS.md.
#   benches/compress_sizes.sh [MODELS_DIR=/tmp/models] [RBN_DIR=/tmp/models_rbn]
set -euo pipefail
models=${1:-/tmp/models}
rbn=${2:-/tmp/models_rbn}
bin=${SLIMSCAN:-${CARGO_TARGET_DIR:-$HOME/.cache/slimscan/target}/release/slimscan}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "| model | options | ONNX bytes | .slim bytes | ratio | sparsity |"
echo "|---|---|---:|---:|---:|---:|"
row() {
  local label=$1 file=$2; shift 2
  [ -f "$file" ] || { echo "| $label | (missing: $file) | | | | |"; return; }
  local json
  json=$("$bin" compress "$file" -o "$out/m.slim" --json "$@" 2>/dev/null)
  local onnx slim
  onnx=$(stat -c %s "$file"); slim=$(stat -c %s "$out/m.slim")
  python3 -c "import json,sys; r=json.loads(sys.argv[1]); assert r['slim_bytes']==$slim; print(f\"| $label | \`$*\` | {$onnx:,} | {$slim:,} | {$onnx/$slim:.2f}x | {r['overall_sparsity']*100:.1f} % |\")" "$json"
}
row "MobileNetV2" "$models/mobilenet_v2.onnx" --prune 0 --quant int8
row "MobileNetV2" "$models/mobilenet_v2.onnx" --prune 0.8 --quant int8
row "MobileNetV2 (BN kept)" "$models/mobilenet_v2_bn.onnx" --prune 0 --quant int8
row "MobileNetV2 (random BN stats)" "$rbn/mobilenet_v2.onnx" --prune 0 --quant int8
row "ResNet-50" "$models/resnet50.onnx" --prune 0 --quant int8
row "ResNet-50" "$models/resnet50.onnx" --prune 0.9 --quant int8
row "ResNet-50 (BN kept)" "$models/resnet50_bn.onnx" --prune 0.9 --quant int8
row "ResNet-50 (random BN stats)" "$rbn/resnet50.onnx" --prune 0.9 --quant int8
row "PP-OCRv4 det" "$models/ppocr/ch_PP-OCRv4_det_infer.onnx" --prune 0 --quant int8
row "PP-OCRv4 rec" "$models/ppocr/ch_PP-OCRv4_rec_infer.onnx" --prune 0 --quant int8
row "PP-OCR mobile v2 cls" "$models/ppocr/ch_ppocr_mobile_v2.0_cls_infer.onnx" --prune 0 --quant int8
row "tiny QAT (QDQ)" "$models/qat_tiny_qdq.onnx" --prune 0 --quant int8
