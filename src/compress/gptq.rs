//! `--gptq DIR`: data-aware rounding of the weights (GPTQ, Frantar et al. 2022) — post-training
//! quantization with calibration data, no retraining.
//!
//! Rounding each weight to its nearest code minimizes the error of the weights; what matters
//! is the error of the layer's *output* on the inputs it sees. For a layer `y = W x` with
//! inputs `x` (rows of MatMul/Gemm inputs, im2col patches of a convolution) the output error
//! of a weight row `w → q` is `(w − q)ᵀ H (w − q)` with `H = E[x xᵀ]`. GPTQ quantizes the
//! input columns one after the other and spreads each column's rounding error over the
//! columns not yet quantized, in the proportions `H⁻¹` prescribes (optimal brain surgeon),
//! so later columns compensate for earlier ones. Pruned weights (zeros after the plan) stay
//! zero; their error is compensated the same way (as SparseGPT does).
//!
//! Here: `H` is accumulated over the calibration samples (inputs captured from the f32 model,
//! at most [`MAX_POSITIONS`] evenly spread vectors per sample and layer), damped by
//! `damp × mean(diag H)`; the per-channel scales are the ones plain rounding would use (from
//! the pruned weights), so the codes and their storage do not change, only which code each
//! weight gets. Grouped/depthwise convolutions (a handful of weights per channel) and layers
//! of QDQ models keep plain rounding.

use super::calib::{load_sample, Capture, InputSpec};
use super::layers::{Layer, LayerOp};
use super::Progress;
use crate::error::{Error, Result};
use crate::onnx::{attr, attr_int, attr_ints};
use crate::quant::QuantParams;
use std::path::PathBuf;
use tract_onnx::pb;

/// Input vectors per sample and layer at most (evenly spaced positions of a convolution).
pub const MAX_POSITIONS: usize = 4096;
/// Default damping, relative to the mean diagonal of `H`.
pub const DEFAULT_DAMP: f64 = 0.01;

/// `--gptq DIR --gptq-count N --gptq-damp D`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub dir: PathBuf,
    pub count: usize,
    pub damp: f64,
}

fn invalid(msg: String) -> Error {
    Error::InvalidArgument(format!("gptq: {msg}"))
}

/// How a layer's captured input becomes rows of `K` values.
#[derive(Debug, Clone)]
enum Rows {
    /// MatMul / Gemm: the input's last axis (or `[M, K]`) is `K`.
    Matrix,
    /// Convolution with group 1: im2col patches in the weight's `[C, kh, kw]` order.
    Conv { kernel: [usize; 2], strides: [usize; 2], pads: [usize; 4], dilations: [usize; 2] },
}

/// Whether (and how) GPTQ applies to a layer.
fn rows_of(node: &pb::NodeProto, layer: &Layer) -> Option<Rows> {
    if layer.fixed_quant.is_some() {
        return None;
    }
    match layer.op {
        LayerOp::MatMul => Some(Rows::Matrix),
        LayerOp::Gemm => (attr_int(node, "transA", 0) == 0).then_some(Rows::Matrix),
        LayerOp::Conv => {
            let auto_pad = attr(node, "auto_pad").map(|a| String::from_utf8_lossy(&a.s).to_string());
            if attr_int(node, "group", 1) != 1
                || layer.dims.len() != 4
                || auto_pad.is_some_and(|p| !p.is_empty() && p != "NOTSET")
            {
                return None;
            }
            let two = |name: &str, d: usize| -> Option<[usize; 2]> {
                match attr_ints(node, name) {
                    None => Some([d, d]),
                    Some(v) if v.len() == 2 && v.iter().all(|&x| x >= 0) => {
                        Some([v[0] as usize, v[1] as usize])
                    }
                    Some(_) => None,
                }
            };
            let pads = match attr_ints(node, "pads") {
                None => [0; 4],
                Some(v) if v.len() == 4 && v.iter().all(|&x| x >= 0) => {
                    [v[0] as usize, v[1] as usize, v[2] as usize, v[3] as usize]
                }
                Some(_) => return None,
            };
            Some(Rows::Conv {
                kernel: [layer.dims[2], layer.dims[3]],
                strides: two("strides", 1)?,
                pads,
                dilations: two("dilations", 1)?,
            })
        }
    }
}

/// Upper triangle of `Σ x xᵀ` over input vectors, and how many vectors.
#[derive(Debug, Clone)]
struct Accum {
    k: usize,
    h: Vec<f64>,
    n: usize,
}

impl Accum {
    fn add(&mut self, x: &[f32]) {
        let k = self.k;
        for i in 0..k {
            let xi = f64::from(x[i]);
            if xi == 0.0 {
                continue;
            }
            let row = &mut self.h[i * k..(i + 1) * k];
            for (h, &xj) in row[i..].iter_mut().zip(&x[i..]) {
                *h += xi * f64::from(xj);
            }
        }
        self.n += 1;
    }

    /// Adds the input vectors of one captured tensor.
    fn add_tensor(&mut self, rows: &Rows, shape: &[usize], v: &[f32]) -> Result<()> {
        let k = self.k;
        match rows {
            Rows::Matrix => {
                if shape.last() != Some(&k) {
                    return Err(invalid(format!("input of shape {shape:?} for {k} inputs")));
                }
                let m = v.len() / k.max(1);
                let step = m.div_ceil(MAX_POSITIONS).max(1);
                for r in (0..m).step_by(step) {
                    self.add(&v[r * k..(r + 1) * k]);
                }
            }
            Rows::Conv { kernel, strides, pads, dilations } => {
                let [n, c, h, w] = shape[..] else {
                    return Err(invalid(format!("convolution input of shape {shape:?}")));
                };
                let [kh, kw] = *kernel;
                if c * kh * kw != k {
                    return Err(invalid(format!("input of shape {shape:?} for {k} inputs per output")));
                }
                let extent = |size: usize, pad0: usize, pad1: usize, kk: usize, d: usize, s: usize| {
                    let span = d * (kk - 1) + 1;
                    (size + pad0 + pad1).checked_sub(span).map(|x| x / s.max(1) + 1).unwrap_or(0)
                };
                let oh = extent(h, pads[0], pads[2], kh, dilations[0], strides[0]);
                let ow = extent(w, pads[1], pads[3], kw, dilations[1], strides[1]);
                let positions = n * oh * ow;
                let step = positions.div_ceil(MAX_POSITIONS).max(1);
                let mut x = vec![0f32; k];
                for p in (0..positions).step_by(step) {
                    let (b, oy, ox) = (p / (oh * ow), (p / ow) % oh, p % ow);
                    for ch in 0..c {
                        for i in 0..kh {
                            for j in 0..kw {
                                let y = (oy * strides[0] + i * dilations[0]) as isize - pads[0] as isize;
                                let xx = (ox * strides[1] + j * dilations[1]) as isize - pads[1] as isize;
                                let inside = y >= 0 && xx >= 0 && (y as usize) < h && (xx as usize) < w;
                                x[(ch * kh + i) * kw + j] = if inside {
                                    v[((b * c + ch) * h + y as usize) * w + xx as usize]
                                } else {
                                    0.0
                                };
                            }
                        }
                    }
                    self.add(&x);
                }
            }
        }
        Ok(())
    }
}

/// `E[x xᵀ]` (full, row-major `K × K`) of every layer GPTQ applies to, from the calibration
/// samples run through the f32 `model`.
pub fn hessians(
    model: &pb::ModelProto,
    layers: &[Layer],
    samples: &[PathBuf],
    spec: &InputSpec,
    progress: &mut dyn Progress,
) -> Result<Vec<Option<Vec<f64>>>> {
    let g = model.graph.as_ref().ok_or_else(|| Error::Onnx("model has no graph".into()))?;
    let plans: Vec<Option<Rows>> = layers.iter().map(|l| rows_of(&g.node[l.node], l)).collect();
    let mut wires: Vec<String> = Vec::new();
    let mut wire_of = Vec::new();
    for (l, p) in layers.iter().zip(&plans) {
        if p.is_none() {
            wire_of.push(usize::MAX);
            continue;
        }
        let w = g.node[l.node].input.first().cloned().unwrap_or_default();
        wire_of.push(wires.iter().position(|x| *x == w).unwrap_or_else(|| {
            wires.push(w);
            wires.len() - 1
        }));
    }
    let mut acc: Vec<Option<Accum>> = layers
        .iter()
        .zip(&plans)
        .map(|(l, p)| {
            p.as_ref().map(|_| {
                let k = l.weights.len() / l.dims[0].max(1);
                Accum { k, h: vec![0.0; k * k], n: 0 }
            })
        })
        .collect();
    if wires.is_empty() {
        return Ok(vec![None; layers.len()]);
    }
    progress.stage("load model", 0);
    let capture = Capture::new(model, spec, &wires)?;
    progress.stage("gptq statistics", samples.len() as u64);
    for s in samples {
        let values = capture.run(&load_sample(s, spec)?)?;
        // Spread the layers over the cores.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let jobs: Vec<(&mut Accum, &Rows, usize)> = acc
            .iter_mut()
            .zip(&plans)
            .zip(&wire_of)
            .filter_map(|((a, p), &w)| Some((a.as_mut()?, p.as_ref()?, w)))
            .collect();
        let mut buckets: Vec<Vec<(&mut Accum, &Rows, usize)>> = (0..threads).map(|_| Vec::new()).collect();
        // Largest first, each to the least loaded bucket.
        let cost = |a: &Accum, w: usize| a.k * values[w].1.len();
        let mut jobs = jobs;
        jobs.sort_by_key(|(a, _, w)| std::cmp::Reverse(cost(a, *w)));
        let mut load = vec![0usize; threads];
        for j in jobs {
            let cost = cost(j.0, j.2);
            let t = (0..threads).min_by_key(|&t| load[t]).unwrap_or(0);
            load[t] += cost;
            buckets[t].push(j);
        }
        let values = &values;
        std::thread::scope(|scope| -> Result<()> {
            let handles: Vec<_> = buckets
                .into_iter()
                .map(|b| {
                    scope.spawn(move || -> Result<()> {
                        for (a, p, w) in b {
                            a.add_tensor(p, &values[w].0, &values[w].1)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for h in handles {
                h.join().map_err(|_| invalid("a statistics thread failed".into()))??;
            }
            Ok(())
        })?;
        progress.advance(1);
    }
    Ok(acc
        .into_iter()
        .map(|a| {
            a.map(|a| {
                let (k, n) = (a.k, a.n.max(1) as f64);
                let mut h = vec![0.0; k * k];
                for i in 0..k {
                    for j in i..k {
                        let v = a.h[i * k + j] / n;
                        h[i * k + j] = v;
                        h[j * k + i] = v;
                    }
                }
                h
            })
        })
        .collect())
}

/// In-place Cholesky factor (lower, row-major) of a symmetric positive definite `k × k`
/// matrix; `None` when it is not positive definite.
fn cholesky(a: &mut [f64], k: usize) -> Option<()> {
    for j in 0..k {
        let mut d = a[j * k + j];
        for p in 0..j {
            d -= a[j * k + p] * a[j * k + p];
        }
        if !(d > 0.0 && d.is_finite()) {
            return None;
        }
        let d = d.sqrt();
        a[j * k + j] = d;
        for i in j + 1..k {
            let (ri, rj) = (i * k, j * k);
            let mut s = a[ri + j];
            for p in 0..j {
                s -= a[ri + p] * a[rj + p];
            }
            a[ri + j] = s / d;
        }
    }
    for i in 0..k {
        for j in i + 1..k {
            a[i * k + j] = 0.0;
        }
    }
    Some(())
}

/// The upper Cholesky factor `U` of `H⁻¹` (`H⁻¹ = Uᵀ U`), row-major.
fn inverse_upper_factor(h: &[f64], k: usize) -> Option<Vec<f64>> {
    // H = L Lᵀ → H⁻¹ = L⁻ᵀ L⁻¹.
    let mut l = h.to_vec();
    cholesky(&mut l, k)?;
    // M = L⁻¹ (lower), column by column of the identity.
    let mut m = vec![0.0; k * k];
    for c in 0..k {
        for i in c..k {
            let mut s = if i == c { 1.0 } else { 0.0 };
            for p in c..i {
                s -= l[i * k + p] * m[p * k + c];
            }
            m[i * k + c] = s / l[i * k + i];
        }
    }
    // H⁻¹ = Mᵀ M.
    let mut inv = vec![0.0; k * k];
    for i in 0..k {
        for j in i..k {
            let mut s = 0.0;
            for p in j..k {
                s += m[p * k + i] * m[p * k + j];
            }
            inv[i * k + j] = s;
            inv[j * k + i] = s;
        }
    }
    // Upper factor: the transpose of the lower Cholesky factor of H⁻¹.
    cholesky(&mut inv, k)?;
    let mut u = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            u[j * k + i] = inv[i * k + j];
        }
    }
    Some(u)
}

/// `H⁻¹`'s upper Cholesky factor for a layer, damped, with its never-seen inputs marked: the
/// part of GPTQ that does not depend on the weights.
#[derive(Debug, Clone)]
pub struct Factor {
    k: usize,
    u: Vec<f64>,
    dead: Vec<bool>,
}

impl Factor {
    /// From `E[x xᵀ]` (`k × k`), adding `damp × mean(diag)` to the diagonal.
    pub fn new(h: &[f64], k: usize, damp: f64) -> Result<Factor> {
        if h.len() != k * k {
            return Err(invalid(format!("{} statistics for {k} inputs", h.len())));
        }
        // Inputs never seen (zero variance) keep plain rounding and take no error.
        let dead: Vec<bool> = (0..k).map(|i| h[i * k + i] <= 0.0).collect();
        let live = (0..k).filter(|&i| !dead[i]).count().max(1) as f64;
        let mean_diag = (0..k).filter(|&i| !dead[i]).map(|i| h[i * k + i]).sum::<f64>() / live;
        let mut hd = h.to_vec();
        for i in 0..k {
            if dead[i] {
                for j in 0..k {
                    hd[i * k + j] = 0.0;
                    hd[j * k + i] = 0.0;
                }
                hd[i * k + i] = 1.0;
            } else {
                hd[i * k + i] += damp * mean_diag;
            }
        }
        let u = inverse_upper_factor(&hd, k)
            .ok_or_else(|| invalid("the statistics are not positive definite".into()))?;
        Ok(Factor { k, u, dead })
    }

    /// GPTQ on one layer: `w` the unpruned weights in stored layout `[N, K]`, `pruned` marks
    /// the weights pruning removed (they become zero, their loss compensated like a rounding
    /// error), per-row scales `params`, codes within `±qmax`. Returns weights on the
    /// quantization grid (`code × scale`), so quantizing them with `params` gives those codes
    /// back.
    pub fn quantize(
        &self,
        w: &[f32],
        pruned: &[bool],
        n: usize,
        params: &QuantParams,
        qmax: i32,
    ) -> Result<Vec<f32>> {
        let k = self.k;
        if k * n != w.len()
            || pruned.len() != w.len()
            || params.scales.len() != n
            || params.zero_points.iter().any(|&z| z != 0)
        {
            return Err(invalid("weights, statistics and per-channel symmetric scales do not fit".into()));
        }
        let (u, dead) = (&self.u, &self.dead);
        let qm = f64::from(qmax);
        let mut out = vec![0f32; w.len()];
        let mut row = vec![0f64; k];
        for r in 0..n {
            let s = f64::from(params.scales[r]);
            let src = &w[r * k..(r + 1) * k];
            for (x, &v) in row.iter_mut().zip(src) {
                *x = f64::from(v);
            }
            let gone = &pruned[r * k..(r + 1) * k];
            for i in 0..k {
                let q = if gone[i] || src[i] == 0.0 || s <= 0.0 {
                    0.0
                } else {
                    (row[i] / s).round().clamp(-qm, qm)
                };
                out[r * k + i] = (q as f32) * params.scales[r];
                if dead[i] {
                    continue;
                }
                let err = (row[i] - q * s) / u[i * k + i];
                let ui = &u[i * k..(i + 1) * k];
                for j in i + 1..k {
                    row[j] -= err * ui[j];
                }
            }
        }
        Ok(out)
    }
}

/// [`Factor::new`] then [`Factor::quantize`].
pub fn quantize_layer(
    w: &[f32],
    pruned: &[bool],
    n: usize,
    h: &[f64],
    params: &QuantParams,
    qmax: i32,
    damp: f64,
) -> Result<Vec<f32>> {
    let k = w.len() / n.max(1);
    Factor::new(h, k, damp)?.quantize(w, pruned, n, params, qmax)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_factor_reproduces_the_inverse() {
        let k = 4;
        let a: Vec<f64> =
            vec![4.0, 1.0, 0.5, 0.0, 1.0, 3.0, 0.2, 0.1, 0.5, 0.2, 2.0, 0.3, 0.0, 0.1, 0.3, 1.5];
        let u = inverse_upper_factor(&a, k).unwrap();
        // Uᵀ U · A = I.
        for i in 0..k {
            for j in 0..k {
                let mut s = 0.0;
                for p in 0..k {
                    let inv_ip: f64 = (0..k).map(|q| u[q * k + i] * u[q * k + p]).sum();
                    s += inv_ip * a[p * k + j];
                }
                assert!((s - if i == j { 1.0 } else { 0.0 }).abs() < 1e-9, "({i},{j}) {s}");
            }
            for j in 0..i {
                assert_eq!(u[i * k + j], 0.0, "upper");
            }
        }
    }
}
