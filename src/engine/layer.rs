//! One compressed layer and its forward pass on f32 tensors: quantize the input to centered
//! int8 codes, run the integer kernels on the packed weights, dequantize with the bias and a
//! fused activation. Independent of tract, so it is tested on its own.

use crate::error::{Error, Result};
use crate::kernels::{self, Activation, Codes, ConvGeometry, DepthwiseWeights, Dequant, GemmWeights};
use std::cell::RefCell;

/// Integer buffers reused from one layer to the next (kernels overwrite what they use), so a
/// run does not allocate and zero megabytes per layer. One set per thread.
#[derive(Default)]
struct Scratch {
    xq: Vec<i16>,
    xt: Vec<i16>,
    cols: Vec<i16>,
    acc: Vec<i32>,
    band_acc: Vec<i32>,
    tmp: Vec<f32>,
}

/// Most elements of an im2col buffer (i16): 2^21 = 4 MiB. Tests use a tiny budget so that
/// their small convolutions run band by band too.
#[cfg(not(test))]
const IM2COL_BUDGET: usize = 1 << 21;
#[cfg(test)]
const IM2COL_BUDGET: usize = 200;

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// The first `n` elements of `v`, growing it if needed (old contents are left as they are).
fn room<T: Default + Clone>(v: &mut Vec<T>, n: usize) -> &mut [T] {
    if v.len() < n {
        v.resize(n, T::default());
    }
    &mut v[..n]
}

/// Runs `f` with this thread's scratch buffers (fresh ones if they are already in use).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut Scratch::default()),
    })
}

fn invalid(msg: String) -> Error {
    Error::InvalidArgument(msg)
}

/// Padding of a convolution as ONNX describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Padding {
    /// `[top, left, bottom, right]`.
    Explicit([usize; 4]),
    /// `auto_pad = SAME_UPPER` (extra padding at the end) or `SAME_LOWER`.
    Same {
        upper: bool,
    },
    Valid,
}

/// Hyper-parameters of a 2-D convolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvSpec {
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    pub padding: Padding,
    pub group: usize,
}

impl ConvSpec {
    /// Output size and leading padding along one axis.
    pub(crate) fn axis(&self, size: usize, a: usize) -> Result<(usize, usize)> {
        let (k, s, d) = (self.kernel[a], self.strides[a], self.dilations[a]);
        if k == 0 || s == 0 || d == 0 {
            return Err(invalid(format!("convolution with kernel {k}, stride {s}, dilation {d}")));
        }
        let field = (k - 1)
            .checked_mul(d)
            .and_then(|f| f.checked_add(1))
            .ok_or_else(|| invalid(format!("kernel {k} with dilation {d} overflows")))?;
        match &self.padding {
            Padding::Explicit(p) => {
                let padded = size + p[a] + p[a + 2];
                if padded < field {
                    return Err(invalid(format!("input size {size} is smaller than the kernel's {field}")));
                }
                Ok(((padded - field) / s + 1, p[a]))
            }
            Padding::Valid => {
                if size < field {
                    return Err(invalid(format!("input size {size} is smaller than the kernel's {field}")));
                }
                Ok(((size - field) / s + 1, 0))
            }
            Padding::Same { upper } => {
                let out = size.div_ceil(s);
                let total = ((out.max(1) - 1) * s + field).saturating_sub(size);
                Ok((out, if *upper { total / 2 } else { total.div_ceil(2) }))
            }
        }
    }

    /// Geometry of one group on an `channels_per_group × h × w` input.
    pub fn geometry(&self, channels_per_group: usize, h: usize, w: usize) -> Result<ConvGeometry> {
        let (out_h, pad_top) = self.axis(h, 0)?;
        let (out_w, pad_left) = self.axis(w, 1)?;
        let g = ConvGeometry {
            channels: channels_per_group,
            h,
            w,
            kh: self.kernel[0],
            kw: self.kernel[1],
            stride_h: self.strides[0],
            stride_w: self.strides[1],
            dilation_h: self.dilations[0],
            dilation_w: self.dilations[1],
            pad_top,
            pad_left,
            out_h,
            out_w,
        };
        g.validate()?;
        Ok(g)
    }
}

/// What the layer computes.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerKind {
    /// NCHW convolution; the weight is `[O, C/group, kh, kw]`.
    Conv(ConvSpec),
    /// `Y = alpha · A · Wᵀ + beta · C` on a 2-D `A` (`[K, M]` when `trans_a`).
    Gemm { trans_a: bool, alpha: f32, beta: f32 },
    /// `Y = X · Wᵀ` on `[..., M, K]`.
    MatMul,
}

/// Packed weights of a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerWeights {
    /// One GEMM per group (convolutions with `group > 1` that are not depthwise have several).
    Gemm(Vec<GemmWeights>),
    /// Depthwise convolution (one input channel per group, one output channel per group).
    Depthwise(DepthwiseWeights),
}

/// A compressed layer ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct SlimLayer {
    /// Name of the TENS tensor holding the weights.
    pub weight: String,
    pub kind: LayerKind,
    pub weights: LayerWeights,
    pub out_channels: usize,
    /// Inputs per output channel: `C/group` for convolutions, `K` for Gemm/MatMul.
    pub in_channels: usize,
    /// Weight scale of every output channel.
    pub w_scales: Vec<f32>,
    /// Static activation quantizer `(scale, zero point)`, int8; `None` quantizes each input
    /// with its own min/max (dynamic quantization) to `dynamic_codes`.
    pub input_quant: Option<(f32, i32)>,
    /// Code range of the dynamic quantizer: as wide as the accumulators allow (see
    /// [`dynamic_codes`]).
    pub dynamic_codes: Codes,
    pub act: Activation,
    /// Element count and nonzeros of the original weight tensor.
    pub weight_elements: usize,
    pub weight_nonzeros: usize,
}

/// The widest activation codes (8..=15 bits) for which no accumulator of a layer with these
/// weights can overflow: `max_row Σ|w| · steps ≤ i32::MAX`. Wider codes cost nothing in the
/// kernels (they multiply `i16` codes) and cut the activation rounding error 16× at 12 bits
/// against 8 — measured on PP-OCRv4 rec: int8 activations lose 2.2 points of character
/// accuracy on real word images that int8 weights alone do not (docs/BENCHMARKS.md) — and
/// 8× more at 15 bits, which small layers allow: the 92 %-sparse MobileNetV2 classifier,
/// whose folded BatchNorm makes some rows amplify one input channel ~140× around its mean,
/// scores 53.35 % with 12-bit codes and 84.60 % with 15 (PyTorch: 84.45 %; models/REPORT.md).
pub fn dynamic_codes(weights: &LayerWeights) -> Codes {
    let row_l1 = |w: &[i16]| w.iter().map(|&v| u64::from(v.unsigned_abs())).sum::<u64>();
    let l1 = match weights {
        LayerWeights::Gemm(groups) => groups
            .iter()
            .map(|g| match g {
                GemmWeights::Dense(d) => d.w.chunks(d.cols.max(1)).map(row_l1).max().unwrap_or(0),
                GemmWeights::Sparse(sp) => sp
                    .row_ptr
                    .windows(2)
                    .map(|r| row_l1(sp.val.get(r[0] as usize..r[1] as usize).unwrap_or(&[])))
                    .max()
                    .unwrap_or(0),
            })
            .max()
            .unwrap_or(0),
        LayerWeights::Depthwise(d) => d.w.chunks((d.kh * d.kw).max(1)).map(row_l1).max().unwrap_or(0),
    };
    (8..=Codes::MAX_BITS)
        .rev()
        .map(Codes::bits)
        .find(|c| l1.saturating_mul(c.steps() as u64) <= i32::MAX as u64)
        .unwrap_or(Codes::INT8)
}

/// Scale and zero point of a dynamic quantizer covering `x` (and 0) with `codes`.
pub fn dynamic_quant(x: &[f32], codes: Codes) -> (f32, i32) {
    // Eight independent lanes of branch-free selects: this vectorises, and avoids the libm
    // `fminf`/`fmaxf` calls `f32::min`/`max` become in wasm (they showed up at ~9 % of a
    // PP-OCR rec run). Non-finite values count as 0, which the range always covers.
    let mut lo = [0f32; 8];
    let mut hi = [0f32; 8];
    let mut lane = |i: usize, v: f32| {
        let v = if v.abs() < f32::INFINITY { v } else { 0.0 };
        lo[i] = if v < lo[i] { v } else { lo[i] };
        hi[i] = if v > hi[i] { v } else { hi[i] };
    };
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for (i, &v) in c.iter().enumerate() {
            lane(i, v);
        }
    }
    for &v in chunks.remainder() {
        lane(0, v);
    }
    let lo = lo.iter().fold(0f32, |a, &b| if b < a { b } else { a });
    let hi = hi.iter().fold(0f32, |a, &b| if b > a { b } else { a });
    let scale = (hi - lo) / codes.steps() as f32;
    if !(scale.is_finite() && scale >= f32::MIN_POSITIVE) {
        return (1.0, 0);
    }
    let zp = (codes.min as f32 - lo / scale).round().clamp(codes.min as f32, codes.max as f32) as i32;
    (scale, zp)
}

impl SlimLayer {
    /// Bytes the packed weights hold.
    pub fn heap_bytes(&self) -> usize {
        let w = match &self.weights {
            LayerWeights::Gemm(g) => g.iter().map(GemmWeights::heap_bytes).sum(),
            LayerWeights::Depthwise(d) => d.heap_bytes(),
        };
        w + self.w_scales.len() * 4
    }

    /// Does any group run the sparse kernel?
    pub fn is_sparse(&self) -> bool {
        matches!(&self.weights, LayerWeights::Gemm(g) if g.iter().any(GemmWeights::is_sparse))
    }

    /// Output shape for an input shape.
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        match &self.kind {
            LayerKind::Conv(spec) => {
                let [n, c, h, w] = input else {
                    return Err(invalid(format!("SlimConv expects an NCHW input, got shape {input:?}")));
                };
                if *c != self.in_channels * spec.group {
                    return Err(invalid(format!(
                        "SlimConv {}: input has {c} channels, the weights expect {}",
                        self.weight,
                        self.in_channels * spec.group
                    )));
                }
                let g = spec.geometry(self.in_channels, *h, *w)?;
                Ok(vec![*n, self.out_channels, g.out_h, g.out_w])
            }
            LayerKind::Gemm { trans_a, .. } => {
                let [a, b] = input else {
                    return Err(invalid(format!("SlimGemm expects a 2-D input, got shape {input:?}")));
                };
                let (m, k) = if *trans_a { (*b, *a) } else { (*a, *b) };
                self.check_k(k)?;
                Ok(vec![m, self.out_channels])
            }
            LayerKind::MatMul => {
                let Some((&k, _)) = input.split_last() else {
                    return Err(invalid("SlimMatMul expects an input of rank ≥ 1".into()));
                };
                self.check_k(k)?;
                let mut out = input.to_vec();
                if let Some(last) = out.last_mut() {
                    *last = self.out_channels;
                }
                Ok(out)
            }
        }
    }

    fn check_k(&self, k: usize) -> Result<()> {
        if k != self.in_channels {
            return Err(invalid(format!(
                "{}: input has {k} features, the weights expect {}",
                self.weight, self.in_channels
            )));
        }
        Ok(())
    }

    /// Runs the layer on `x` of shape `shape`; `bias` has one value per output channel (or
    /// one in total, or for Gemm `M × N` values). Returns the output and its shape.
    pub fn forward(
        &self,
        x: &[f32],
        shape: &[usize],
        bias: Option<&[f32]>,
    ) -> Result<(Vec<f32>, Vec<usize>)> {
        let out_shape = self.output_shape(shape)?;
        let in_len = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if in_len != Some(x.len()) {
            return Err(invalid(format!("{}: {} input values for shape {shape:?}", self.weight, x.len())));
        }
        let out_len = out_shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| invalid(format!("output shape {out_shape:?} overflows")))?;
        let (scale, zp, codes) = match self.input_quant {
            Some((s, z)) => (s, z, Codes::INT8),
            None => {
                let (s, z) = dynamic_quant(x, self.dynamic_codes);
                (s, z, self.dynamic_codes)
            }
        };
        let scales: Vec<f32> = self.w_scales.iter().map(|&s| s * scale).collect();
        let mut out = vec![0f32; out_len];
        with_scratch(|sc| -> Result<()> {
            let xq = room(&mut sc.xq, x.len());
            kernels::quantize(x, 1.0 / scale, zp, codes, xq)?;
            match &self.kind {
                LayerKind::Conv(spec) => {
                    let bias = self.channel_bias(bias, 1.0)?;
                    self.conv(
                        spec,
                        xq,
                        shape,
                        &scales,
                        bias.as_deref(),
                        &mut sc.cols,
                        &mut sc.acc,
                        &mut sc.band_acc,
                        &mut out,
                    )
                }
                LayerKind::Gemm { trans_a, alpha, beta } => {
                    let (m, k) = if *trans_a { (shape[1], shape[0]) } else { (shape[0], shape[1]) };
                    // The kernels want the input as K × M; a transposed A already is.
                    let xt: &[i16] = if *trans_a { xq } else { transpose(xq, m, k, &mut sc.xt) };
                    let scales: Vec<f32> = scales.iter().map(|s| s * alpha).collect();
                    let full = bias.filter(|b| b.len() == m * self.out_channels && m > 1);
                    let per_channel = if full.is_some() { None } else { self.channel_bias(bias, *beta)? };
                    self.gemm_rows(
                        xt,
                        m,
                        &scales,
                        per_channel.as_deref(),
                        &mut sc.acc,
                        &mut sc.tmp,
                        &mut out,
                    )?;
                    if let Some(c) = full {
                        for (o, &cv) in out.iter_mut().zip(c) {
                            *o += beta * cv;
                        }
                    }
                    Ok(())
                }
                LayerKind::MatMul => {
                    let k = self.in_channels;
                    let m = x.len() / k.max(1);
                    if self.input_quant.is_none() && m > 1 {
                        return self.matmul_per_row(x, m, xq, &mut sc.xt, &mut sc.acc, &mut out);
                    }
                    let xt = transpose(xq, m, k, &mut sc.xt);
                    self.gemm_rows(xt, m, &scales, None, &mut sc.acc, &mut sc.tmp, &mut out)
                }
            }
        })?;
        Ok((out, out_shape))
    }

    /// MatMul with dynamic quantization per input row (per token): sequence models (the
    /// attention of OCR recognisers) have rows of very different ranges, which one scale for
    /// the whole tensor would crush. Output `(r, n)` is scaled by `s_row[r] · s_w[n]`.
    fn matmul_per_row(
        &self,
        x: &[f32],
        m: usize,
        xq: &mut [i16],
        xt_buf: &mut Vec<i16>,
        acc: &mut Vec<i32>,
        out: &mut [f32],
    ) -> Result<()> {
        let k = self.in_channels;
        let n = self.out_channels;
        let mut row_scales = Vec::with_capacity(m);
        for (row, q) in x.chunks_exact(k).zip(xq.chunks_exact_mut(k)) {
            let (s, z) = dynamic_quant(row, self.dynamic_codes);
            kernels::quantize(row, 1.0 / s, z, self.dynamic_codes, q)?;
            row_scales.push(s);
        }
        let LayerWeights::Gemm(groups) = &self.weights else {
            return Err(invalid(format!("{}: depthwise weights on a matrix product", self.weight)));
        };
        let [w] = groups.as_slice() else {
            return Err(invalid(format!("{}: grouped weights on a matrix product", self.weight)));
        };
        let xt = transpose(xq, m, k, xt_buf);
        let acc = room(acc, n * m);
        kernels::gemm(w, xt, m, acc)?;
        for (r, (row, &sr)) in out.chunks_exact_mut(n).zip(&row_scales).enumerate() {
            for (j, o) in row.iter_mut().enumerate() {
                *o = kernels::scalar::dequantize_one(acc[j * m + r], self.w_scales[j] * sr, 0.0, self.act);
            }
        }
        Ok(())
    }

    /// Bias as one value per output channel, scaled by `beta` (broadcasting a single value).
    fn channel_bias(&self, bias: Option<&[f32]>, beta: f32) -> Result<Option<Vec<f32>>> {
        match bias {
            None => Ok(None),
            Some(b) if b.len() == self.out_channels => Ok(Some(b.iter().map(|v| v * beta).collect())),
            Some([v]) => Ok(Some(vec![v * beta; self.out_channels])),
            Some(b) => Err(invalid(format!(
                "{}: bias of {} values for {} output channels",
                self.weight,
                b.len(),
                self.out_channels
            ))),
        }
    }

    /// `out (M × N) = xt (K × M)ᵀ · Wᵀ`, dequantized.
    #[allow(clippy::too_many_arguments)]
    fn gemm_rows(
        &self,
        xt: &[i16],
        m: usize,
        scales: &[f32],
        bias: Option<&[f32]>,
        acc: &mut Vec<i32>,
        tmp: &mut Vec<f32>,
        out: &mut [f32],
    ) -> Result<()> {
        let LayerWeights::Gemm(groups) = &self.weights else {
            return Err(invalid(format!("{}: depthwise weights on a matrix product", self.weight)));
        };
        let [w] = groups.as_slice() else {
            return Err(invalid(format!("{}: grouped weights on a matrix product", self.weight)));
        };
        let n = self.out_channels;
        let acc = room(acc, n * m);
        kernels::gemm(w, xt, m, acc)?;
        if m == 1 {
            return kernels::dequantize(acc, 1, scales, bias, self.act, out);
        }
        let tmp = room(tmp, n * m);
        kernels::dequantize(acc, m, scales, bias, self.act, tmp)?;
        for (j, row) in out.chunks_exact_mut(n).enumerate() {
            for (o, v) in row.iter_mut().enumerate() {
                *v = tmp[o * m + j];
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn conv(
        &self,
        spec: &ConvSpec,
        xq: &[i16],
        shape: &[usize],
        scales: &[f32],
        bias: Option<&[f32]>,
        cols: &mut Vec<i16>,
        acc: &mut Vec<i32>,
        band_acc: &mut Vec<i32>,
        out: &mut [f32],
    ) -> Result<()> {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3]);
        let cg = self.in_channels;
        let geom = spec.geometry(cg, h, w)?;
        let p = geom.pixels();
        let o = self.out_channels;
        let pointwise = geom.kh == 1
            && geom.kw == 1
            && geom.stride_h == 1
            && geom.stride_w == 1
            && geom.pad_top == 0
            && geom.pad_left == 0
            && geom.out_h == h
            && geom.out_w == w;
        // One dense group in a wasm simd128 build: the kernels write the f32 outputs
        // straight from their registers (no accumulator buffer to write and read back).
        if let (LayerWeights::Gemm(groups), true) = (&self.weights, kernels::FUSED_DEQUANTIZE) {
            if let [wg @ GemmWeights::Dense(d)] = groups.as_slice() {
                if (pointwise && p >= 8) || (!pointwise && kernels::has_direct_conv(&geom)) {
                    let dq = Dequant { scale: scales, bias, act: self.act };
                    for b in 0..n {
                        let img = &xq[b * c * h * w..(b + 1) * c * h * w];
                        let dst = &mut out[b * o * p..(b + 1) * o * p];
                        if pointwise {
                            kernels::gemm_dequantized(wg, img, p, dq, dst)?;
                        } else {
                            kernels::conv_dense_dequantized(d, img, &geom, dq, dst)?;
                        }
                    }
                    return Ok(());
                }
            }
        }
        let acc = room(acc, o * p);
        for b in 0..n {
            let img = &xq[b * c * h * w..(b + 1) * c * h * w];
            match &self.weights {
                LayerWeights::Depthwise(dw) => {
                    let g = ConvGeometry { channels: c, ..geom };
                    kernels::depthwise(dw, img, &g, acc)?;
                }
                LayerWeights::Gemm(groups) => {
                    let og = o / groups.len().max(1);
                    for (gi, wg) in groups.iter().enumerate() {
                        let xg = &img[gi * cg * h * w..(gi + 1) * cg * h * w];
                        let acc_g = &mut acc[gi * og * p..(gi + 1) * og * p];
                        if pointwise {
                            kernels::gemm(wg, xg, p, acc_g)?;
                            continue;
                        }
                        if let GemmWeights::Dense(d) = wg {
                            if kernels::has_direct_conv(&geom) {
                                kernels::conv_dense(d, xg, &geom, acc_g)?;
                                continue;
                            }
                        }
                        // Unfold a band of output rows at a time: a full im2col of a
                        // 640×640 detector layer would take tens of megabytes.
                        let band = (IM2COL_BUDGET / (geom.patch_len() * geom.out_w).max(1)).max(1);
                        if band >= geom.out_h {
                            let cols = room(cols, geom.patch_len() * p);
                            kernels::im2col(xg, &geom, cols)?;
                            kernels::gemm(wg, cols, p, acc_g)?;
                            continue;
                        }
                        for y0 in (0..geom.out_h).step_by(band) {
                            let y1 = (y0 + band).min(geom.out_h);
                            let pc = (y1 - y0) * geom.out_w;
                            let cols = room(cols, geom.patch_len() * pc);
                            kernels::im2col_rows(xg, &geom, y0, y1, cols)?;
                            let part = room(band_acc, og * pc);
                            kernels::gemm(wg, cols, pc, part)?;
                            for (r, row) in part.chunks_exact(pc).enumerate() {
                                acc_g[r * p + y0 * geom.out_w..][..pc].copy_from_slice(row);
                            }
                        }
                    }
                }
            }
            kernels::dequantize(acc, p, scales, bias, self.act, &mut out[b * o * p..(b + 1) * o * p])?;
        }
        Ok(())
    }
}

/// Row-major `rows × cols` → `cols × rows`, into `buf`.
fn transpose<'a>(x: &'a [i16], rows: usize, cols: usize, buf: &'a mut Vec<i16>) -> &'a [i16] {
    if rows == 1 || cols == 1 {
        return x;
    }
    let t = room(buf, x.len());
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = x[r * cols + c];
        }
    }
    t
}
