//! Weights-only simulation of a compression setting: the ONNX model with every compressible
//! layer's weights replaced by their pruned and quantized values (dequantized back to f32),
//! activations left in f32. Run with tract (e.g. `ocr_compare`), it separates the error of
//! the weights from the error of the engine's int8 activations.
//!
//! ```text
//! cargo run --release --features cli --example fake_quant -- IN.onnx OUT.onnx [PLAN.json] [VOCAB.txt]
//! ```
//!
//! PLAN.json is a `slimscan compress --prune-plan` file (sparsities and bits); `-` for none,
//! `f32` to keep the weights as they are (e.g. to see what `--vocab` alone does).

use anyhow::{bail, Context, Result};
use prost::Message;
use slimscan::compress::{self, graph::initializer_index, layers::LayerOp, plan, Options, Silent};
use slimscan::onnx;
use slimscan::quant::{dequantize, quantize};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        bail!("usage: fake_quant IN.onnx OUT.onnx [PLAN.json|-] [VOCAB.txt]");
    }
    let mut opts = Options::default();
    let keep_f32 = args.get(2).is_some_and(|p| p == "f32");
    if let Some(p) = args.get(2).filter(|p| *p != "-" && *p != "f32") {
        let text = std::fs::read_to_string(p).with_context(|| format!("reading {p}"))?;
        opts.prune = plan::PrunePlan::from_json(&text)?;
        opts.bits = plan::Bits::from_json(&text)?;
    }
    if let Some(v) = args.get(3) {
        opts.vocab = Some(compress::vocab::parse(&std::fs::read_to_string(v)?)?);
    }
    let bytes = std::fs::read(&args[0]).with_context(|| format!("reading {}", args[0]))?;
    let compress::Prepared { mut model, mut layers, .. } = compress::prepare(&bytes, &opts, &mut Silent)?;
    plan::apply(&opts.prune, &mut layers)?;
    let g = model.graph.as_mut().context("no graph")?;
    let index = initializer_index(g);
    for layer in layers.iter().filter(|_| !keep_f32) {
        let p = compress::quant_params(layer, &opts)?;
        let deq = dequantize(&quantize(&layer.weights, &layer.dims, &p)?, &layer.dims, &p)?;
        let init = &mut g.initializer[*index.get(&layer.weight).context("weight initializer")?];
        let dims = onnx::dims(init)?;
        // Gemm/MatMul weights are stored output-major unless the node already holds them so.
        let transposed = match layer.op {
            LayerOp::MatMul => true,
            LayerOp::Gemm => onnx::attr_int(&g.node[layer.node], "transB", 0) == 0,
            _ => false,
        };
        let data = if !transposed && dims == layer.dims {
            deq
        } else if transposed && dims.len() == 2 && dims[0] == layer.dims[1] && dims[1] == layer.dims[0] {
            // Stored output-major; the initializer is [in, out].
            onnx::transpose_f32(&deq, layer.dims[0], layer.dims[1])
        } else {
            bail!("{}: initializer {:?} vs stored {:?}", layer.name, dims, layer.dims);
        };
        *init = onnx::f32_tensor(&init.name, &dims, &data);
    }
    std::fs::write(&args[1], model.encode_to_vec())?;
    eprintln!("{} layers simulated", layers.len());
    Ok(())
}
