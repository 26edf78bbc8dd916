//! Finding the layers worth compressing — Conv, Gemm and MatMul nodes whose weight is a
//! constant — and bringing each weight into the stored layout: output channels first
//! (`[O, I/g, kh, kw]` for convs, `[N, K]` for Gemm/MatMul), so that per-channel
//! quantization runs along axis 0 and a CSR row is one output channel.
//!
//! Weights of quantization-aware-trained models arrive as QDQ patterns; their scales and zero
//! points are taken as they are (`int8 initializer → DequantizeLinear`, or
//! `f32 initializer → QuantizeLinear → DequantizeLinear`).

use super::graph::{initializer_index, is_default_domain, producers, use_counts};
use crate::error::{Error, Result};
use crate::onnx::{self, attr_int, tensor_f32, tensor_ints};
use crate::quant::{QuantParams, Scheme};
use serde::Serialize;
use tract_onnx::pb;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerOp {
    Conv,
    Gemm,
    MatMul,
}

/// Where a layer sits, for the sensitivity-aware pruning defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The first compressible layer: sees raw pixels, has few weights, hurts most when pruned.
    First,
    /// Depthwise conv: 9 or 25 weights per channel, nothing to spare.
    Depthwise,
    /// The last Gemm/MatMul: every weight maps straight to a class score.
    Classifier,
    Body,
}

#[derive(Debug, Clone)]
pub struct Layer {
    /// Node name (or the weight's name when the node has none); what plans and `--keep` use.
    pub name: String,
    pub node: usize,
    pub op: LayerOp,
    /// Tensor name in TENS (the original weight initializer's name).
    pub weight: String,
    /// Stored layout, output channels first.
    pub dims: Vec<usize>,
    /// Weights in the stored layout (dequantized for QDQ models).
    pub weights: Vec<f32>,
    pub role: Role,
    /// Quantization parameters fixed by a QDQ model (axis relative to the stored layout).
    pub fixed_quant: Option<QuantParams>,
}

/// Initializers at least this large that feed an op without a slimscan counterpart earn a
/// warning: they are stored losslessly (f32), so they cost 4 bytes per value.
const LARGE_WEIGHT: usize = 4096;

fn warn_large_weights(
    g: &pb::GraphProto,
    node: &pb::NodeProto,
    inits: &std::collections::HashMap<String, usize>,
    warnings: &mut Vec<String>,
) {
    // Ops whose large constant inputs are learned weights (not biases, shapes or scales).
    let weighted = [
        "ConvTranspose",
        "LSTM",
        "GRU",
        "RNN",
        "Einsum",
        "Gather",
        "Attention",
        "QLinearConv",
        "QLinearMatMul",
        "ConvInteger",
        "MatMulInteger",
    ];
    if !weighted.contains(&node.op_type.as_str()) {
        return;
    }
    for i in &node.input {
        let Some(&k) = inits.get(i) else { continue };
        let n: i64 = g.initializer[k].dims.iter().product();
        if n >= LARGE_WEIGHT as i64 {
            warnings.push(format!(
                "{} {:?}: weight {i:?} ({n} values) has no slimscan op; stored losslessly, not pruned or int8",
                node.op_type, node.name
            ));
        }
    }
}

/// All compressible layers in node order, plus warnings for weights that had to be left alone.
pub fn find_layers(g: &pb::GraphProto) -> Result<(Vec<Layer>, Vec<String>)> {
    let inits = initializer_index(g);
    let prods = producers(g);
    let uses = use_counts(g);
    let mut layers = Vec::new();
    let mut warnings = Vec::new();
    for (i, node) in g.node.iter().enumerate() {
        let op = match node.op_type.as_str() {
            "Conv" if is_default_domain(node) => LayerOp::Conv,
            "Gemm" if is_default_domain(node) => LayerOp::Gemm,
            "MatMul" if is_default_domain(node) => LayerOp::MatMul,
            _ => {
                warn_large_weights(g, node, &inits, &mut warnings);
                continue;
            }
        };
        let name = if node.name.is_empty() {
            node.input.get(1).cloned().unwrap_or_default()
        } else {
            node.name.clone()
        };
        let Some(wname) = node.input.get(1) else { continue };
        if uses.get(wname).copied().unwrap_or(0) != 1 {
            if inits.contains_key(wname) || prods.contains_key(wname) {
                warnings
                    .push(format!("{name}: weight {wname:?} is shared with other nodes; left uncompressed"));
            }
            continue;
        }
        let source = match weight_source(g, wname, &inits, &prods) {
            Ok(Some(s)) => s,
            Ok(None) => continue, // activation × activation: nothing to compress
            Err(e) => {
                warnings.push(format!("{name}: {e}; left uncompressed"));
                continue;
            }
        };
        let (dims, weights, fixed_quant) = match to_stored_layout(node, op, source) {
            Ok(v) => v,
            Err(e) => {
                warnings.push(format!("{name}: {e}; left uncompressed"));
                continue;
            }
        };
        let depthwise = op == LayerOp::Conv && attr_int(node, "group", 1) > 1 && dims.get(1) == Some(&1);
        layers.push(Layer {
            name,
            node: i,
            op,
            weight: wname.clone(),
            dims,
            weights,
            role: if depthwise { Role::Depthwise } else { Role::Body },
            fixed_quant,
        });
    }
    if let Some(first) = layers.first_mut() {
        first.role = Role::First;
    }
    if let Some(last) = layers.last_mut().filter(|l| l.op != LayerOp::Conv && l.role == Role::Body) {
        last.role = Role::Classifier;
    }
    Ok((layers, warnings))
}

/// A weight as found in the graph: its dims, f32 values and, for QDQ, its quantizer.
struct WeightSource {
    dims: Vec<usize>,
    values: Vec<f32>,
    quant: Option<(QuantParams, usize /* axis in the original layout */)>,
}

fn weight_source(
    g: &pb::GraphProto,
    wname: &str,
    inits: &std::collections::HashMap<String, usize>,
    prods: &std::collections::HashMap<String, usize>,
) -> Result<Option<WeightSource>> {
    if let Some(&i) = inits.get(wname) {
        let t = &g.initializer[i];
        if t.data_type != tract_onnx::pb::tensor_proto::DataType::Float as i32 {
            return Err(Error::Onnx(format!("weight {wname:?} is not float32")));
        }
        return Ok(Some(WeightSource { dims: onnx::dims(t)?, values: tensor_f32(t)?, quant: None }));
    }
    let Some(&p) = prods.get(wname) else { return Ok(None) };
    let dq = &g.node[p];
    if dq.op_type != "DequantizeLinear" {
        return Ok(None);
    }
    let init = |name: Option<&String>| name.and_then(|n| inits.get(n)).map(|&i| &g.initializer[i]);
    let scale_t =
        init(dq.input.get(1)).ok_or_else(|| Error::Onnx("DequantizeLinear scale is not constant".into()))?;
    let scales = tensor_f32(scale_t)?;
    let zps: Vec<i64> = match init(dq.input.get(2)) {
        Some(z) => tensor_ints(z)?,
        None => vec![0; scales.len()],
    };
    let unsigned = init(dq.input.get(2))
        .is_some_and(|z| z.data_type == tract_onnx::pb::tensor_proto::DataType::Uint8 as i32);
    let x = dq.input.first().ok_or_else(|| Error::Onnx("DequantizeLinear without input".into()))?;
    let (dims, codes): (Vec<usize>, Vec<i64>) = if let Some(&i) = inits.get(x) {
        let t = &g.initializer[i];
        (onnx::dims(t)?, tensor_ints(t)?)
    } else if let Some(q) = prods.get(x).map(|&p| &g.node[p]).filter(|n| n.op_type == "QuantizeLinear") {
        // Fake-quant export: f32 weight → QuantizeLinear → DequantizeLinear, same parameters.
        let t = init(q.input.first())
            .ok_or_else(|| Error::Onnx("QuantizeLinear input is not constant".into()))?;
        let dims = onnx::dims(t)?;
        let w = tensor_f32(t)?;
        let axis = attr_int(q, "axis", 1);
        let codes = fake_quant_codes(&w, &dims, &scales, &zps, axis, unsigned)?;
        (dims, codes)
    } else {
        return Ok(None);
    };
    // Signed codes: uint8 tensors shift by 128 (same real values).
    let shift = if unsigned { 128 } else { 0 };
    let codes: Vec<i64> = codes.iter().map(|c| c - shift).collect();
    let zps: Vec<i32> = zps.iter().map(|z| (z - shift) as i32).collect();
    if codes.iter().any(|c| !(-128..=127).contains(c)) || zps.iter().any(|z| !(-128..=127).contains(z)) {
        return Err(Error::Onnx("QDQ weight is not 8-bit".into()));
    }
    let axis = if scales.len() > 1 { attr_int(dq, "axis", 1) } else { 0 };
    let axis = usize::try_from(if axis < 0 { axis + dims.len() as i64 } else { axis })
        .map_err(|_| Error::Onnx("bad DequantizeLinear axis".into()))?;
    // Symmetric int8 stops at −127; PyTorch's per-channel qint8 uses −128 too, so a QDQ
    // tensor holding −128 is stored asymmetric (with its zero points of 0) to stay exact.
    let symmetric = zps.iter().all(|&z| z == 0) && codes.iter().all(|&c| c > -128);
    let scheme = if symmetric { Scheme::Symmetric } else { Scheme::Asymmetric };
    let params = QuantParams {
        scales: scales.clone(),
        zero_points: zps,
        axis: (scales.len() > 1).then_some(axis),
        scheme,
    };
    let q: Vec<i8> = codes.iter().map(|&c| c as i8).collect();
    let values = crate::quant::dequantize(&q, &dims, &params)?;
    Ok(Some(WeightSource { dims, values, quant: Some((params, axis)) }))
}

/// Codes of `QuantizeLinear(w)` with ONNX semantics (round half to even, saturate).
fn fake_quant_codes(
    w: &[f32],
    dims: &[usize],
    scales: &[f32],
    zps: &[i64],
    axis: i64,
    unsigned: bool,
) -> Result<Vec<i64>> {
    let (lo, hi) = if unsigned { (0, 255) } else { (-128, 127) };
    let axis = usize::try_from(if axis < 0 { axis + dims.len() as i64 } else { axis }).unwrap_or(0);
    let inner: usize = dims.iter().skip(axis + 1).product();
    let channels = dims.get(axis).copied().unwrap_or(1);
    Ok(w.iter()
        .enumerate()
        .map(|(i, &x)| {
            let c = if scales.len() > 1 { (i / inner.max(1)) % channels.max(1) } else { 0 };
            let s = scales.get(c).copied().unwrap_or(1.0);
            let z = zps.get(c).copied().unwrap_or(0);
            ((x / s).round_ties_even() as i64 + z).clamp(lo, hi)
        })
        .collect())
}

type Stored = (Vec<usize>, Vec<f32>, Option<QuantParams>);

/// Brings a weight to the stored layout (output channels first).
fn to_stored_layout(node: &pb::NodeProto, op: LayerOp, w: WeightSource) -> Result<Stored> {
    let transpose = match op {
        LayerOp::Conv => {
            if w.dims.len() < 3 {
                return Err(Error::Onnx(format!("conv weight of rank {}", w.dims.len())));
            }
            false
        }
        LayerOp::Gemm | LayerOp::MatMul => {
            if w.dims.len() != 2 {
                return Err(Error::Onnx(format!(
                    "{op:?} weight of rank {} (only 2-D is rewritten)",
                    w.dims.len()
                )));
            }
            op == LayerOp::MatMul || attr_int(node, "transB", 0) == 0
        }
    };
    let (dims, values, out_axis) = if transpose {
        let (k, n) = (w.dims[0], w.dims[1]);
        (vec![n, k], crate::onnx::transpose_f32(&w.values, k, n), 1)
    } else {
        (w.dims, w.values, 0)
    };
    let fixed = match w.quant {
        None => None,
        Some((mut p, axis)) => {
            if p.axis.is_some() {
                if axis != out_axis {
                    return Err(Error::Onnx(format!(
                        "QDQ weight quantized along axis {axis}, not its output axis"
                    )));
                }
                p.axis = Some(0);
            }
            Some(p)
        }
    };
    Ok((dims, values, fixed))
}
