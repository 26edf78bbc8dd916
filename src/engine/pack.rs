//! Builds a [`SlimLayer`] from its TENS weight tensor and its settings: picks the kernel
//! family (depthwise, grouped, dense or sparse GEMM), packs the int8 weights for it and
//! checks that the quantization parameters fit. Shared by the tract op builders (`.slim`
//! files whose graph is ONNX) and the op-list executor, so both run the very same layers.

use super::layer::{dynamic_codes, ConvSpec, LayerKind, LayerWeights, SlimLayer};
use crate::error::{Error, Result};
use crate::format::{Tensor, TensorData};
use crate::kernels::{Activation, DepthwiseWeights, GemmWeights};
use crate::sparse::Csr;

fn invalid(msg: String) -> Error {
    Error::Model(msg)
}

/// Packs `t` for a layer of kind `kind`.
pub fn build_layer(
    t: Tensor,
    kind: LayerKind,
    input_quant: Option<(f32, i32)>,
    act: Activation,
) -> Result<SlimLayer> {
    if let Some((s, z)) = input_quant {
        if !(s.is_finite() && s > 0.0) {
            return Err(invalid(format!("{:?}: input scale {s} is not a positive number", t.name)));
        }
        if !(-128..=127).contains(&z) {
            return Err(invalid(format!("{:?}: input zero point {z} outside −128..=127", t.name)));
        }
    }
    let zp = zero_points(&t);
    let (weights, out_channels, in_channels) = match &kind {
        LayerKind::Conv(spec) => conv_weights(&t, spec, &zp)?,
        LayerKind::Gemm { .. } | LayerKind::MatMul => {
            let what = if matches!(kind, LayerKind::MatMul) { "SlimMatMul" } else { "SlimGemm" };
            let [n, k] = t.dims[..] else {
                return Err(invalid(format!(
                    "{what} weight {:?} has shape {:?}, expected [N, K]",
                    t.name, t.dims
                )));
            };
            if n == 0 || k == 0 {
                return Err(invalid(format!(
                    "{what} weight {:?} has an empty dimension: {:?}",
                    t.name, t.dims
                )));
            }
            (LayerWeights::Gemm(vec![gemm_weights(&t, n, k, &zp)?]), n, k)
        }
    };
    let q = t
        .quant
        .as_ref()
        .ok_or_else(|| invalid(format!("weight {:?} has no quantization parameters", t.name)))?;
    let w_scales = match q.scales.len() {
        1 => vec![q.scales[0]; out_channels],
        n if n == out_channels && q.axis == Some(0) => q.scales.clone(),
        n => {
            return Err(invalid(format!(
                "weight {:?}: {n} scales for {out_channels} output channels",
                t.name
            )))
        }
    };
    let weight_elements = t.element_count().unwrap_or(0);
    let weight_nonzeros = match &t.data {
        TensorData::Int8Dense(q) => q.iter().filter(|&&v| v != 0).count(),
        TensorData::Int8Sparse(r) => r.values.iter().filter(|&&v| v != 0).count(),
        TensorData::F32(_) => weight_elements,
    };
    let dynamic_codes = dynamic_codes(&weights);
    Ok(SlimLayer {
        weight: t.name,
        kind,
        dynamic_codes,
        weights,
        out_channels,
        in_channels,
        w_scales,
        input_quant,
        act,
        weight_elements,
        weight_nonzeros,
    })
}

fn conv_weights(t: &Tensor, spec: &ConvSpec, zp: &[i32]) -> Result<(LayerWeights, usize, usize)> {
    let [o, cg, kh, kw] = t.dims[..] else {
        return Err(invalid(format!(
            "SlimConv weight {:?} has shape {:?}, expected [O, C/group, kh, kw]",
            t.name, t.dims
        )));
    };
    if o == 0 || cg == 0 || !(1..=4096).contains(&kh) || !(1..=4096).contains(&kw) {
        return Err(invalid(format!(
            "SlimConv weight {:?} has shape {:?}: every dimension must be at least 1 and kernels at most 4096",
            t.name, t.dims
        )));
    }
    if spec.kernel != [kh, kw] {
        return Err(invalid(format!(
            "SlimConv {:?}: kernel {:?} but weight {:?}",
            t.name, spec.kernel, t.dims
        )));
    }
    let group = spec.group;
    if group == 0 || o % group != 0 {
        return Err(invalid(format!("SlimConv {:?}: bad group {group} for {o} output channels", t.name)));
    }
    let weights = if group > 1 && cg == 1 && o == group {
        LayerWeights::Depthwise(DepthwiseWeights::from_i8(&dense_i8(t)?, o, kh, kw, zp)?)
    } else if group == 1 {
        LayerWeights::Gemm(vec![gemm_weights(t, o, cg * kh * kw, zp)?])
    } else {
        let q = dense_i8(t)?;
        let (og, k) = (o / group, cg * kh * kw);
        let groups = (0..group)
            .map(|g| {
                let zp = zp.get(g * og..(g + 1) * og).unwrap_or(&[]);
                GemmWeights::from_dense_i8(&q[g * og * k..(g + 1) * og * k], og, k, zp)
            })
            .collect::<Result<Vec<_>>>()?;
        LayerWeights::Gemm(groups)
    };
    Ok((weights, o, cg))
}

fn zero_points(t: &Tensor) -> Vec<i32> {
    t.quant
        .as_ref()
        .filter(|q| q.zero_points.iter().any(|&z| z != 0))
        .map_or(Vec::new(), |q| q.zero_points.clone())
}

/// The int8 values of a tensor as a dense array (sparse tensors expanded; int8, not f32).
fn dense_i8(t: &Tensor) -> Result<Vec<i8>> {
    match &t.data {
        TensorData::Int8Dense(q) => Ok(q.clone()),
        TensorData::Int8Sparse(r) => crate::sparse::decode_relative(r),
        TensorData::F32(_) => {
            Err(invalid(format!("weight {:?} is f32; Slim layers need int8 weights", t.name)))
        }
    }
}

fn gemm_weights(t: &Tensor, rows: usize, cols: usize, zero_points: &[i32]) -> Result<GemmWeights> {
    // Per-channel zero points are scalar per row; a per-tensor one repeats on every row.
    let zp: Vec<i32> = match zero_points.len() {
        0 => Vec::new(),
        1 => vec![zero_points[0]; rows],
        _ => zero_points.to_vec(),
    };
    match &t.data {
        TensorData::Int8Sparse(r) if zp.is_empty() => {
            GemmWeights::from_csr(&Csr::from_relative(&r.values, &r.gaps, r.gap_bits, rows, cols)?)
        }
        _ => GemmWeights::from_dense_i8(&dense_i8(t)?, rows, cols, &zp),
    }
}
