//! `slimscan compress --sensitivity`: how much each layer's output changes when that layer
//! alone is pruned to several sparsities and quantized as the compressor would, measured on
//! calibration samples, and how much it changes with lower weight precision (unpruned, at
//! [`BITS`]). A user reads the table and writes a `--prune-plan`. With `--gptq DIR` the
//! variants are rounded by GPTQ (statistics from DIR's samples, as `compress --gptq` does;
//! pruned weights compensated by the others) instead of to the nearest code.
//!
//! For every layer the inputs it sees in the f32 model are captured once per sample; the
//! layer is then run on its own (one-node tract model, no bias) with its f32 weights and with
//! each compressed variant, and the error is the relative L2 norm
//! `‖y_variant − y_f32‖ / ‖y_f32‖` over all samples.

use super::calib::{load_sample, Capture, InputSpec};
use super::gptq::Factor;
use super::layers::{Layer, LayerOp, Role};
use super::plan::Bits;
use super::{quant_params, Options, Progress};
use crate::error::{Error, Result};
use crate::onnx::{self, f32_tensor};
use crate::quant::{dequantize, quantize};
use crate::sparse::prune_magnitude;
use serde::Serialize;
use std::path::PathBuf;
use tract_onnx::pb;
use tract_onnx::prelude::*;

/// Sparsities measured (0 = int8 only, when quantizing).
pub const SPARSITIES: [f64; 6] = [0.0, 0.5, 0.7, 0.8, 0.9, 0.95];
/// Weight precisions measured without pruning (when quantizing).
pub const BITS: [u32; 3] = [6, 5, 4];

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub name: String,
    pub role: Role,
    pub weights: usize,
    pub sparsities: Vec<f64>,
    /// Relative output error at each sparsity (8-bit weights).
    pub errors: Vec<f64>,
    /// Weight precisions measured unpruned (empty without quantization).
    pub bits: Vec<u32>,
    /// Relative output error at each of `bits`.
    pub bit_errors: Vec<f64>,
}

/// The layer alone: `y = op(x, w)` with `w` (stored layout) as a constant.
fn single_layer_model(node: &pb::NodeProto, layer: &Layer, x_shape: &[usize], w: &[f32]) -> pb::ModelProto {
    let (op, attrs, w_dims, w_data) = match layer.op {
        LayerOp::Conv => ("Conv", node.attribute.clone(), layer.dims.clone(), w.to_vec()),
        LayerOp::Gemm => {
            let mut a: Vec<pb::AttributeProto> =
                node.attribute.iter().filter(|a| a.name == "alpha" || a.name == "transA").cloned().collect();
            a.push(onnx::int_attr("transB", 1));
            ("Gemm", a, layer.dims.clone(), w.to_vec())
        }
        LayerOp::MatMul => {
            let (n, k) = (layer.dims[0], layer.dims[1]);
            let t: Vec<f32> = (0..k).flat_map(|r| (0..n).map(move |c| w[c * k + r])).collect();
            ("MatMul", vec![], vec![k, n], t)
        }
    };
    let graph = pb::GraphProto {
        name: "layer".into(),
        node: vec![super::sample::node(op, "layer", &["x", "w"], &["y"], attrs)],
        initializer: vec![f32_tensor("w", &w_dims, &w_data)],
        input: vec![super::sample::value_info("x", x_shape)],
        output: vec![pb::ValueInfoProto { name: "y".into(), ..Default::default() }],
        ..Default::default()
    };
    pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: 17 }],
        graph: Some(graph),
        ..Default::default()
    }
}

fn run_layer(model: &pb::ModelProto, x_shape: &[usize], xs: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
    let err = |e: TractError| Error::Onnx(format!("sensitivity: running one layer: {e:#}"));
    let plan = tract_onnx::onnx()
        .model_for_proto_model(model)
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .map_err(err)?;
    xs.iter()
        .map(|x| {
            let t = Tensor::from_shape(x_shape, x).map_err(err)?;
            let y = plan.run(tvec![t.into()]).map_err(err)?;
            Ok(y[0].to_plain_array_view::<f32>().map_err(err)?.iter().copied().collect())
        })
        .collect()
}

/// Measures every layer; `layers` hold f32 weights in stored layout (BatchNorm folded).
pub fn measure(
    model: &pb::ModelProto,
    layers: &[Layer],
    opts: &Options,
    samples: &[PathBuf],
    spec: &InputSpec,
    hessians: Option<&[Option<Vec<f64>>]>,
    progress: &mut dyn Progress,
) -> Result<Vec<Row>> {
    let g = model.graph.as_ref().ok_or_else(|| Error::Onnx("model has no graph".into()))?;
    let wires: Vec<String> = layers.iter().map(|l| g.node[l.node].input[0].clone()).collect();
    let capture = Capture::new(model, spec, &wires)?;
    progress.stage("capture", samples.len() as u64);
    let mut captured: Vec<Vec<(Vec<usize>, Vec<f32>)>> = vec![Vec::new(); layers.len()];
    for s in samples {
        for (slot, v) in captured.iter_mut().zip(capture.run(&load_sample(s, spec)?)?) {
            slot.push(v);
        }
        progress.advance(1);
    }
    progress.stage("sensitivity", layers.len() as u64);
    let at_bits = |b: u32| Options { bits: Bits { default: b, ..Bits::default() }, ..opts.clone() };
    let opts8 = at_bits(8);
    let bits: Vec<u32> = if opts.quantize { BITS.to_vec() } else { Vec::new() };
    let mut rows = Vec::with_capacity(layers.len());
    for (li, (layer, caps)) in layers.iter().zip(&captured).enumerate() {
        let node = &g.node[layer.node];
        let x_shape = caps[0].0.clone();
        let xs: Vec<Vec<f32>> = caps.iter().map(|(_, v)| v.clone()).collect();
        let reference = run_layer(&single_layer_model(node, layer, &x_shape, &layer.weights), &x_shape, &xs)?;
        let ref_norm: f64 = reference.iter().flatten().map(|&y| f64::from(y) * f64::from(y)).sum();
        let factor = match (hessians.and_then(|hs| hs.get(li)).and_then(Option::as_ref), &opts.gptq) {
            (Some(h), Some(g)) => Some(Factor::new(h, layer.weights.len() / layer.dims[0].max(1), g.damp)?),
            _ => None,
        };
        let error = |s: f64, o: &Options| -> Result<f64> {
            let mut pruned = layer.clone();
            prune_magnitude(&mut pruned.weights, s)?;
            let w = if let (true, Some(f)) = (o.quantize, &factor) {
                let p = quant_params(&pruned, o)?;
                let qmax = Bits::qmax(o.bits.of(&layer.name));
                let gone: Vec<bool> =
                    layer.weights.iter().zip(&pruned.weights).map(|(&o, &p)| p == 0.0 && o != 0.0).collect();
                f.quantize(&layer.weights, &gone, pruned.dims[0], &p, qmax)?
            } else if o.quantize {
                let p = quant_params(&pruned, o)?;
                dequantize(&quantize(&pruned.weights, &pruned.dims, &p)?, &pruned.dims, &p)?
            } else {
                pruned.weights
            };
            let ys = run_layer(&single_layer_model(node, layer, &x_shape, &w), &x_shape, &xs)?;
            let diff: f64 = ys
                .iter()
                .flatten()
                .zip(reference.iter().flatten())
                .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                .sum();
            Ok(if ref_norm > 0.0 { (diff / ref_norm).sqrt() } else { diff.sqrt() })
        };
        let errors = SPARSITIES.iter().map(|&s| error(s, &opts8)).collect::<Result<Vec<_>>>()?;
        let bit_errors = bits.iter().map(|&b| error(0.0, &at_bits(b))).collect::<Result<Vec<_>>>()?;
        rows.push(Row {
            name: layer.name.clone(),
            role: layer.role,
            weights: layer.weights.len(),
            sparsities: SPARSITIES.to_vec(),
            errors,
            bits: bits.clone(),
            bit_errors,
        });
        progress.advance(1);
    }
    Ok(rows)
}
