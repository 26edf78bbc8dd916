//! Integer kernels that run compressed layers without expanding their weights to f32.
//!
//! Why integers: a pruned int8 layer is 4× smaller than its f32 original before any sparsity,
//! and its multiply-accumulates are exact. Activations enter a Slim layer as f32, are
//! quantized per tensor to *centered* codes (`q − zero_point`, an `i16`: within `[−255, 255]`
//! for int8, up to `[−32767, 32767]` for the engine's 15-bit dynamic codes, see [`Codes`]; so
//! padding and zero points need no correction terms), multiplied by the int8 weights (zero
//! point already subtracted, also held as `i16`) into `i32` accumulators (the engine keeps
//! `Σ|w| · |code|` below 2^31), and turned back into f32 with one scale per output channel,
//! the bias and a fused activation.
//!
//! Layout: every kernel has a scalar reference in [`scalar`]; optimised versions live in one
//! module per instruction set (`wasm_simd` for wasm simd128, `x86_avx2` for native x86-64,
//! chosen at run time) and are tested bit-exact against the reference. The functions of this
//! module dispatch to the best version compiled in. Naming and measured numbers: docs/KERNELS.md.
//!
//! Shapes are checked once here, so the kernels index without bounds surprises; a mismatch is
//! a bug in the engine, reported as an error rather than a panic.

#[cfg(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128")))]
mod packing;
pub mod scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod wasm_simd;
#[cfg(target_arch = "x86_64")]
pub mod x86_avx2;

#[cfg(target_arch = "wasm32")]
pub mod bench;
#[cfg(test)]
mod tests;

use crate::error::{Error, Result};
use crate::sparse::Csr;

/// Below this density (nonzeros / elements) a layer runs the sparse kernel; at or above it,
/// the dense one. The wasm simd128 break-even measured on ResNet-like layers (256×2304·196:
/// 0.48, 512×512·784: 0.52; `make bench-kernels`, docs/KERNELS.md), the lower one taken.
pub const SPARSE_MAX_DENSITY: f64 = 0.48;

/// Weights of a GEMM-shaped layer (`rows` output channels × `cols` inputs), zero points
/// subtracted, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenseWeights {
    pub rows: usize,
    pub cols: usize,
    /// `rows × cols` centered weights.
    pub w: Vec<i16>,
}

/// Sparse weights: compressed rows, one per output channel, zero points subtracted and
/// entries whose centered value is 0 dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparseWeights {
    pub rows: usize,
    pub cols: usize,
    /// Row `r` is `row_ptr[r]..row_ptr[r + 1]`.
    pub row_ptr: Vec<u32>,
    /// Column of each entry, increasing within a row.
    pub col: Vec<u32>,
    /// Centered value of each entry (nonzero).
    pub val: Vec<i16>,
}

impl SparseWeights {
    /// Checks the compressed-row structure the kernels index by: `rows + 1` pointers from 0,
    /// non-decreasing, ending at the entry count, and every column below `cols`. O(rows + nnz).
    pub fn validate(&self) -> Result<()> {
        let ok = self.row_ptr.len() == self.rows + 1
            && self.row_ptr.first() == Some(&0)
            && self.row_ptr.windows(2).all(|w| w[0] <= w[1])
            && self.row_ptr.last().map(|&n| n as usize) == Some(self.col.len())
            && self.col.len() == self.val.len()
            && self.col.iter().all(|&c| (c as usize) < self.cols);
        if ok {
            Ok(())
        } else {
            Err(invalid(format!(
                "malformed sparse weights ({}x{}, {} entries)",
                self.rows,
                self.cols,
                self.val.len()
            )))
        }
    }
}

/// A GEMM layer's weights in the form its kernel wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GemmWeights {
    Dense(DenseWeights),
    Sparse(SparseWeights),
}

fn invalid(msg: String) -> Error {
    Error::InvalidArgument(msg)
}

impl GemmWeights {
    /// Packs a row-major `rows × cols` int8 matrix with one zero point per row (empty slice:
    /// all zero), choosing sparse or dense storage by [`SPARSE_MAX_DENSITY`].
    pub fn from_dense_i8(q: &[i8], rows: usize, cols: usize, zero_points: &[i32]) -> Result<GemmWeights> {
        let len = rows.checked_mul(cols).ok_or_else(|| invalid(format!("{rows}x{cols} weights overflow")))?;
        if q.len() != len {
            return Err(invalid(format!("{} weights for a {rows}x{cols} layer", q.len())));
        }
        check_zero_points(zero_points, rows)?;
        let zp = |r: usize| zero_points.get(r).copied().unwrap_or(0);
        let nnz = (0..rows)
            .map(|r| q[r * cols..(r + 1) * cols].iter().filter(|&&v| i32::from(v) != zp(r)).count())
            .sum::<usize>();
        if prefer_sparse(nnz, len) {
            let mut row_ptr = Vec::with_capacity(rows + 1);
            let mut col = Vec::with_capacity(nnz);
            let mut val = Vec::with_capacity(nnz);
            row_ptr.push(0u32);
            for r in 0..rows {
                for (c, &v) in q[r * cols..(r + 1) * cols].iter().enumerate() {
                    let centered = i32::from(v) - zp(r);
                    if centered != 0 {
                        col.push(u32::try_from(c).map_err(|_| invalid(format!("{cols} columns")))?);
                        val.push(centered as i16);
                    }
                }
                row_ptr.push(u32::try_from(col.len()).map_err(|_| invalid(format!("{nnz} nonzeros")))?);
            }
            Ok(GemmWeights::Sparse(SparseWeights { rows, cols, row_ptr, col, val }))
        } else {
            let w = q.iter().enumerate().map(|(i, &v)| (i32::from(v) - zp(i / cols.max(1))) as i16).collect();
            Ok(GemmWeights::Dense(DenseWeights { rows, cols, w }))
        }
    }

    /// Packs CSR int8 weights (symmetric: zero points all 0), sparse or dense by density.
    pub fn from_csr(csr: &Csr) -> Result<GemmWeights> {
        let len = csr.rows.checked_mul(csr.cols).ok_or_else(|| invalid("CSR shape overflows".into()))?;
        if prefer_sparse(csr.nnz(), len) {
            Ok(GemmWeights::Sparse(SparseWeights {
                rows: csr.rows,
                cols: csr.cols,
                row_ptr: csr.row_ptr.clone(),
                col: csr.col_idx.clone(),
                val: csr.values.iter().map(|&v| i16::from(v)).collect(),
            }))
        } else {
            let mut w = vec![0i16; len];
            for r in 0..csr.rows {
                let (cols, vals) = csr.row(r);
                for (&c, &v) in cols.iter().zip(vals) {
                    if let Some(slot) = w.get_mut(r * csr.cols + c as usize) {
                        *slot = i16::from(v);
                    }
                }
            }
            Ok(GemmWeights::Dense(DenseWeights { rows: csr.rows, cols: csr.cols, w }))
        }
    }

    pub fn rows(&self) -> usize {
        match self {
            GemmWeights::Dense(d) => d.rows,
            GemmWeights::Sparse(s) => s.rows,
        }
    }

    pub fn cols(&self) -> usize {
        match self {
            GemmWeights::Dense(d) => d.cols,
            GemmWeights::Sparse(s) => s.cols,
        }
    }

    /// Stored nonzero weights (all weights for dense storage).
    pub fn stored(&self) -> usize {
        match self {
            GemmWeights::Dense(d) => d.w.len(),
            GemmWeights::Sparse(s) => s.val.len(),
        }
    }

    /// Bytes held in memory.
    pub fn heap_bytes(&self) -> usize {
        match self {
            GemmWeights::Dense(d) => d.w.len() * 2,
            GemmWeights::Sparse(s) => s.row_ptr.len() * 4 + s.col.len() * 4 + s.val.len() * 2,
        }
    }

    pub fn is_sparse(&self) -> bool {
        matches!(self, GemmWeights::Sparse(_))
    }
}

fn prefer_sparse(nnz: usize, len: usize) -> bool {
    len > 0 && (nnz as f64) < SPARSE_MAX_DENSITY * len as f64
}

fn check_zero_points(zero_points: &[i32], rows: usize) -> Result<()> {
    if !zero_points.is_empty() && zero_points.len() != rows {
        return Err(invalid(format!("{} zero points for {rows} rows", zero_points.len())));
    }
    if zero_points.iter().any(|z| !(-128..=127).contains(z)) {
        return Err(invalid("a weight zero point is outside −128..=127".into()));
    }
    Ok(())
}

/// Depthwise convolution weights: one `kh × kw` filter per channel, centered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepthwiseWeights {
    pub channels: usize,
    pub kh: usize,
    pub kw: usize,
    /// `channels × kh × kw`.
    pub w: Vec<i16>,
}

impl DepthwiseWeights {
    /// Packs `channels × kh × kw` int8 weights with per-channel zero points (empty: zero).
    pub fn from_i8(q: &[i8], channels: usize, kh: usize, kw: usize, zero_points: &[i32]) -> Result<Self> {
        let per = kh.checked_mul(kw).ok_or_else(|| invalid("kernel size overflows".into()))?;
        if channels.checked_mul(per) != Some(q.len()) || per == 0 {
            return Err(invalid(format!("{} weights for {channels} channels of {kh}x{kw}", q.len())));
        }
        check_zero_points(zero_points, channels)?;
        let w = q
            .iter()
            .enumerate()
            .map(|(i, &v)| (i32::from(v) - zero_points.get(i / per).copied().unwrap_or(0)) as i16)
            .collect();
        Ok(DepthwiseWeights { channels, kh, kw, w })
    }

    pub fn heap_bytes(&self) -> usize {
        self.w.len() * 2
    }
}

/// Geometry of a 2-D convolution on one image (one group): input `channels × h × w`,
/// output `out_h × out_w` per output channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    pub channels: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub dilation_h: usize,
    pub dilation_w: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub out_h: usize,
    pub out_w: usize,
}

impl ConvGeometry {
    /// Output pixels per channel.
    pub fn pixels(&self) -> usize {
        self.out_h * self.out_w
    }

    /// Rows of the im2col matrix: `channels × kh × kw`.
    pub fn patch_len(&self) -> usize {
        self.channels * self.kh * self.kw
    }

    /// Checks strides, dilations and kernel sizes (≥ 1) and that the buffer sizes do not
    /// overflow. Windows may reach past the input on any side: those taps read zero.
    pub fn validate(&self) -> Result<()> {
        let ok = self.stride_h >= 1
            && self.stride_w >= 1
            && self.dilation_h >= 1
            && self.dilation_w >= 1
            && self.kh >= 1
            && self.kw >= 1
            && self.channels.checked_mul(self.h).and_then(|v| v.checked_mul(self.w)).is_some()
            && self.out_h.checked_mul(self.out_w).is_some()
            && self
                .channels
                .checked_mul(self.kh * self.kw)
                .and_then(|k| k.checked_mul(self.pixels()))
                .is_some();
        if ok {
            Ok(())
        } else {
            Err(invalid(format!("inconsistent convolution geometry {self:?}")))
        }
    }
}

/// A fused activation applied after dequantization.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    None,
    Relu,
    /// `min(max(x, lo), hi)`; ReLU6 is `Clip { lo: 0, hi: 6 }`.
    Clip {
        lo: f32,
        hi: f32,
    },
    /// `x · clamp(x / 6 + 1/2, 0, 1)` (ONNX HardSwish).
    HardSwish,
}

fn check_len(what: &str, got: usize, want: Option<usize>) -> Result<()> {
    match want {
        Some(w) if w == got => Ok(()),
        _ => Err(invalid(format!("kernel: {what} holds {got} elements, {want:?} expected"))),
    }
}

/// The input and weights of a GEMM: `x` holds `cols × p` codes, the weights their structure.
fn check_gemm(w: &GemmWeights, x: &[i16], p: usize) -> Result<()> {
    check_len("gemm input", x.len(), w.cols().checked_mul(p))?;
    match w {
        GemmWeights::Dense(d) => check_len("dense weights", d.w.len(), d.rows.checked_mul(d.cols)),
        GemmWeights::Sparse(s) => s.validate(),
    }
}

/// `out (rows × p) = W (rows × cols) · x (cols × p)`, all row-major.
pub fn gemm(w: &GemmWeights, x: &[i16], p: usize, out: &mut [i32]) -> Result<()> {
    check_gemm(w, x, p)?;
    check_len("gemm output", out.len(), w.rows().checked_mul(p))?;
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        match w {
            GemmWeights::Dense(d) => wasm_simd::gemm_dense(d, x, p, out),
            GemmWeights::Sparse(s) => wasm_simd::gemm_sparse(s, x, p, out),
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        match w {
            GemmWeights::Dense(d) => x86_avx2::gemm_dense(d, x, p, out),
            GemmWeights::Sparse(s) => x86_avx2::gemm_sparse(s, x, p, out),
        }
    }
    #[cfg(not(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64")))]
    {
        match w {
            GemmWeights::Dense(d) => scalar::gemm_dense(d, x, p, out),
            GemmWeights::Sparse(s) => scalar::gemm_sparse(s, x, p, out),
        }
    }
    Ok(())
}

/// Depthwise convolution of one image: `x` is `channels × h × w`, `out` is
/// `channels × out_h × out_w`; `g.channels` must equal `w.channels` and the kernel size
/// must match.
pub fn depthwise(w: &DepthwiseWeights, x: &[i16], g: &ConvGeometry, out: &mut [i32]) -> Result<()> {
    g.validate()?;
    if g.channels != w.channels || g.kh != w.kh || g.kw != w.kw {
        return Err(invalid(format!(
            "depthwise weights {}x{}x{} for geometry {g:?}",
            w.channels, w.kh, w.kw
        )));
    }
    check_len("depthwise input", x.len(), Some(g.channels * g.h * g.w))?;
    check_len("depthwise output", out.len(), g.channels.checked_mul(g.pixels()))?;
    check_len("depthwise weights", w.w.len(), g.channels.checked_mul(g.kh * g.kw))?;
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    wasm_simd::depthwise(w, x, g, out);
    #[cfg(target_arch = "x86_64")]
    x86_avx2::depthwise(w, x, g, out);
    #[cfg(not(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64")))]
    scalar::depthwise(w, x, g, out);
    Ok(())
}

/// Does [`conv_dense`] have a kernel for this geometry that needs no im2col matrix? (wasm
/// simd128 builds, or x86-64 with AVX2 at run time; horizontal stride 1 or 2, no horizontal
/// dilation.) Otherwise callers unfold the input band by band and run [`gemm`], which bounds
/// the memory the scalar route would take.
pub fn has_direct_conv(g: &ConvGeometry) -> bool {
    #[cfg(target_arch = "x86_64")]
    return x86_avx2::has_direct_conv(g);
    #[cfg(not(target_arch = "x86_64"))]
    return cfg!(all(target_arch = "wasm32", target_feature = "simd128"))
        && (g.stride_w == 1 || g.stride_w == 2)
        && g.dilation_w == 1;
}

/// Dense convolution of one image (one group): `x` is `channels × h × w`, `w` is
/// `rows × patch_len`, `out` is `rows × pixels`; equal to [`im2col`] then [`gemm`].
pub fn conv_dense(w: &DenseWeights, x: &[i16], g: &ConvGeometry, out: &mut [i32]) -> Result<()> {
    check_conv_dense(w, x, g)?;
    check_len("conv output", out.len(), w.rows.checked_mul(g.pixels()))?;
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if has_direct_conv(g) {
        wasm_simd::conv_dense(w, x, g, out);
        return Ok(());
    }
    #[cfg(target_arch = "x86_64")]
    if has_direct_conv(g) {
        x86_avx2::conv_dense(w, x, g, out);
        return Ok(());
    }
    scalar::conv_dense(w, x, g, out);
    Ok(())
}

/// The geometry, input and weights of a dense convolution of one image.
fn check_conv_dense(w: &DenseWeights, x: &[i16], g: &ConvGeometry) -> Result<()> {
    g.validate()?;
    check_len("conv input", x.len(), Some(g.channels * g.h * g.w))?;
    check_len("conv weights", w.w.len(), w.rows.checked_mul(w.cols))?;
    check_len("conv weight columns", w.cols, Some(g.patch_len()))
}

/// How a layer's integer results become its f32 outputs: `act(acc · scale[r] + bias[r])` for
/// output row `r`, as [`dequantize`] computes them.
#[derive(Debug, Clone, Copy)]
pub struct Dequant<'a> {
    pub scale: &'a [f32],
    pub bias: Option<&'a [f32]>,
    pub act: Activation,
}

/// Whether [`gemm_dequantized`] and [`conv_dense_dequantized`] write the outputs straight
/// from the registers (wasm simd128 builds, for dense weights and p ≥ 8); elsewhere they
/// go through an accumulator buffer, and the engine keeps its own buffers instead.
pub const FUSED_DEQUANTIZE: bool = cfg!(all(target_arch = "wasm32", target_feature = "simd128"));

fn check_dequant(dq: &Dequant, rows: usize, p: usize, out: &[f32]) -> Result<()> {
    check_len("dequantize scales", dq.scale.len(), Some(rows))?;
    if let Some(b) = dq.bias {
        check_len("bias", b.len(), Some(rows))?;
    }
    check_len("dequantized output", out.len(), rows.checked_mul(p))
}

/// [`gemm`] then [`dequantize`], in one pass where [`FUSED_DEQUANTIZE`] (bit-exact either way).
pub fn gemm_dequantized(w: &GemmWeights, x: &[i16], p: usize, dq: Dequant, out: &mut [f32]) -> Result<()> {
    check_dequant(&dq, w.rows(), p, out)?;
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if let (GemmWeights::Dense(d), true) = (w, p >= 8) {
        check_gemm(w, x, p)?;
        let mut sink = wasm_simd::Dequantized { out, p, scale: dq.scale, bias: dq.bias, act: dq.act };
        wasm_simd::gemm_dense_dequantized(d, x, &mut sink);
        return Ok(());
    }
    let mut acc = vec![0i32; out.len()];
    gemm(w, x, p, &mut acc)?;
    dequantize(&acc, p, dq.scale, dq.bias, dq.act, out)
}

/// [`conv_dense`] then [`dequantize`], in one pass where [`FUSED_DEQUANTIZE`] and
/// [`has_direct_conv`] (bit-exact either way).
pub fn conv_dense_dequantized(
    w: &DenseWeights,
    x: &[i16],
    g: &ConvGeometry,
    dq: Dequant,
    out: &mut [f32],
) -> Result<()> {
    g.validate()?;
    check_dequant(&dq, w.rows, g.pixels(), out)?;
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if has_direct_conv(g) {
        check_conv_dense(w, x, g)?;
        let mut sink =
            wasm_simd::Dequantized { out, p: g.pixels(), scale: dq.scale, bias: dq.bias, act: dq.act };
        wasm_simd::conv_dense_dequantized(w, x, g, &mut sink);
        return Ok(());
    }
    let mut acc = vec![0i32; out.len()];
    conv_dense(w, x, g, &mut acc)?;
    dequantize(&acc, g.pixels(), dq.scale, dq.bias, dq.act, out)
}

/// Unfolds `x` (`channels × h × w`) into the `patch_len × pixels` matrix whose column `p`
/// holds the window of output pixel `p` (zeros where it covers padding).
pub fn im2col(x: &[i16], g: &ConvGeometry, out: &mut [i16]) -> Result<()> {
    im2col_rows(x, g, 0, g.out_h, out)
}

/// [`im2col`] for the output rows `y0..y1` only (`out` is `patch_len × (y1 − y0)·out_w`), so
/// a large convolution can be unfolded a band of rows at a time.
pub fn im2col_rows(x: &[i16], g: &ConvGeometry, y0: usize, y1: usize, out: &mut [i16]) -> Result<()> {
    g.validate()?;
    if y0 > y1 || y1 > g.out_h {
        return Err(invalid(format!("im2col rows {y0}..{y1} of {}", g.out_h)));
    }
    check_len("im2col input", x.len(), Some(g.channels * g.h * g.w))?;
    check_len("im2col output", out.len(), g.patch_len().checked_mul((y1 - y0) * g.out_w))?;
    scalar::im2col_rows(x, g, y0, y1, out);
    Ok(())
}

/// The code range of an activation quantizer: `min..=max` before the zero point is
/// subtracted. int8 is `−128..=127`; the engine's dynamic quantizer uses wider ranges (up to
/// 15 bits) where a layer's accumulators have room — the kernels multiply `i16` codes, so a
/// finer activation step costs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Codes {
    pub min: i32,
    pub max: i32,
}

impl Codes {
    pub const INT8: Codes = Codes { min: -128, max: 127 };
    /// Widest range accepted: 15 bits, so that centered codes (`q − zp`, both within the
    /// range) stay within ±32767 and fit an `i16`.
    pub const MAX_BITS: u32 = 15;

    /// Signed `bits`-bit codes, `−2^(bits−1) ..= 2^(bits−1) − 1` (bits clamped to 2..=15).
    pub fn bits(bits: u32) -> Codes {
        let half = 1i32 << (bits.clamp(2, Self::MAX_BITS) - 1);
        Codes { min: -half, max: half - 1 }
    }

    /// Number of steps between the smallest and the largest code.
    pub fn steps(self) -> i32 {
        self.max - self.min
    }
}

/// Quantizes f32 activations to centered codes: `clamp(round(x · inv_scale) + zp, codes.min,
/// codes.max) − zp` with rounding half to even (NaN → zero point).
pub fn quantize(x: &[f32], inv_scale: f32, zero_point: i32, codes: Codes, out: &mut [i16]) -> Result<()> {
    check_len("quantize output", out.len(), Some(x.len()))?;
    let widest = Codes::bits(Codes::MAX_BITS);
    if codes.min < widest.min || codes.max > widest.max || codes.min >= codes.max {
        return Err(invalid(format!(
            "activation code range {}..={} is not within 15 bits",
            codes.min, codes.max
        )));
    }
    if !(codes.min..=codes.max).contains(&zero_point) {
        return Err(invalid(format!(
            "activation zero point {zero_point} is outside {}..={}",
            codes.min, codes.max
        )));
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    wasm_simd::quantize(x, inv_scale, zero_point, codes, out);
    #[cfg(target_arch = "x86_64")]
    x86_avx2::quantize(x, inv_scale, zero_point, codes, out);
    #[cfg(not(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64")))]
    scalar::quantize(x, inv_scale, zero_point, codes, out);
    Ok(())
}

/// Turns `rows × p` accumulators into f32: `act(acc · scale[r] + bias[r])`.
pub fn dequantize(
    acc: &[i32],
    p: usize,
    scale: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    out: &mut [f32],
) -> Result<()> {
    let rows = scale.len();
    check_len("dequantize input", acc.len(), rows.checked_mul(p))?;
    check_len("dequantize output", out.len(), Some(acc.len()))?;
    if let Some(b) = bias {
        check_len("bias", b.len(), Some(rows))?;
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    wasm_simd::dequantize(acc, p, scale, bias, act, out);
    #[cfg(target_arch = "x86_64")]
    x86_avx2::dequantize(acc, p, Dequant { scale, bias, act }, out);
    #[cfg(not(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64")))]
    scalar::dequantize(acc, p, scale, bias, act, out);
    Ok(())
}
