//! Scalar reference kernels: the definition every optimised kernel is tested against
//! (bit-exact for integer results, same operation order for f32 ones). Written for clarity,
//! not speed; they are also what runs on targets without a SIMD version.
//!
//! Callers ([`super`]'s dispatch functions) have checked every buffer length.

use super::{Activation, Codes, ConvGeometry, DenseWeights, DepthwiseWeights, SparseWeights};

/// `out[r][j] = Σ_k w[r][k] · x[k][j]`.
pub fn gemm_dense(w: &DenseWeights, x: &[i16], p: usize, out: &mut [i32]) {
    out.fill(0);
    for r in 0..w.rows {
        let acc = &mut out[r * p..(r + 1) * p];
        for k in 0..w.cols {
            let wv = i32::from(w.w[r * w.cols + k]);
            if wv == 0 {
                continue;
            }
            for (a, &xv) in acc.iter_mut().zip(&x[k * p..(k + 1) * p]) {
                *a += wv * i32::from(xv);
            }
        }
    }
}

/// Same as [`gemm_dense`] with only the stored entries of each row.
pub fn gemm_sparse(w: &SparseWeights, x: &[i16], p: usize, out: &mut [i32]) {
    out.fill(0);
    for r in 0..w.rows {
        let acc = &mut out[r * p..(r + 1) * p];
        let (lo, hi) = (w.row_ptr[r] as usize, w.row_ptr[r + 1] as usize);
        for (&c, &v) in w.col[lo..hi].iter().zip(&w.val[lo..hi]) {
            let c = c as usize;
            let wv = i32::from(v);
            for (a, &xv) in acc.iter_mut().zip(&x[c * p..(c + 1) * p]) {
                *a += wv * i32::from(xv);
            }
        }
    }
}

/// Input coordinate of output coordinate `o`, tap `t`, or None when it falls in padding.
#[inline]
pub(crate) fn tap(
    o: usize,
    t: usize,
    stride: usize,
    dilation: usize,
    pad: usize,
    size: usize,
) -> Option<usize> {
    (o * stride + t * dilation).checked_sub(pad).filter(|&i| i < size)
}

pub fn depthwise(w: &DepthwiseWeights, x: &[i16], g: &ConvGeometry, out: &mut [i32]) {
    let (kh, kw) = (g.kh, g.kw);
    for c in 0..g.channels {
        let img = &x[c * g.h * g.w..(c + 1) * g.h * g.w];
        let filt = &w.w[c * kh * kw..(c + 1) * kh * kw];
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                let mut acc = 0i32;
                for ty in 0..kh {
                    let Some(iy) = tap(oy, ty, g.stride_h, g.dilation_h, g.pad_top, g.h) else { continue };
                    for tx in 0..kw {
                        let Some(ix) = tap(ox, tx, g.stride_w, g.dilation_w, g.pad_left, g.w) else {
                            continue;
                        };
                        acc += i32::from(filt[ty * kw + tx]) * i32::from(img[iy * g.w + ix]);
                    }
                }
                out[(c * g.out_h + oy) * g.out_w + ox] = acc;
            }
        }
    }
}

pub fn im2col(x: &[i16], g: &ConvGeometry, out: &mut [i16]) {
    im2col_rows(x, g, 0, g.out_h, out);
}

/// [`im2col`] for output rows `y0..y1` only: `out` is `patch_len × ((y1 − y0) · out_w)`.
pub fn im2col_rows(x: &[i16], g: &ConvGeometry, y0: usize, y1: usize, out: &mut [i16]) {
    let p = (y1 - y0) * g.out_w;
    for c in 0..g.channels {
        for ty in 0..g.kh {
            for tx in 0..g.kw {
                let row = &mut out[((c * g.kh + ty) * g.kw + tx) * p..][..p];
                for oy in y0..y1 {
                    let dst = &mut row[(oy - y0) * g.out_w..(oy - y0 + 1) * g.out_w];
                    match tap(oy, ty, g.stride_h, g.dilation_h, g.pad_top, g.h) {
                        None => dst.fill(0),
                        Some(iy) => {
                            let src = &x[(c * g.h + iy) * g.w..][..g.w];
                            for (ox, d) in dst.iter_mut().enumerate() {
                                *d = tap(ox, tx, g.stride_w, g.dilation_w, g.pad_left, g.w)
                                    .map_or(0, |ix| src[ix]);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Dense convolution of one image: `out (rows × pixels) = W · im2col(x)`, the definition
/// of the direct (no im2col matrix) SIMD kernels.
pub fn conv_dense(w: &DenseWeights, x: &[i16], g: &ConvGeometry, out: &mut [i32]) {
    let mut cols = vec![0i16; g.patch_len() * g.pixels()];
    im2col(x, g, &mut cols);
    gemm_dense(w, &cols, g.pixels(), out);
}

/// One activation's centered code (see [`super::quantize`]).
#[inline]
pub fn quantize_one(x: f32, inv_scale: f32, zero_point: i32, codes: Codes) -> i16 {
    // `as` saturates and maps NaN to 0, like the SIMD truncating conversion.
    let q = (x * inv_scale).round_ties_even() as i32;
    (q.saturating_add(zero_point).clamp(codes.min, codes.max) - zero_point) as i16
}

pub fn quantize(x: &[f32], inv_scale: f32, zero_point: i32, codes: Codes, out: &mut [i16]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = quantize_one(v, inv_scale, zero_point, codes);
    }
}

/// One output value (see [`super::dequantize`]); the f32 operations in this order.
#[inline]
pub fn dequantize_one(acc: i32, scale: f32, bias: f32, act: Activation) -> f32 {
    let y = acc as f32 * scale + bias;
    // Comparisons written as `if a < b` (wasm `pmin`/`pmax` semantics: a NaN passes through).
    let max = |a: f32, b: f32| if a < b { b } else { a };
    let min = |a: f32, b: f32| if b < a { b } else { a };
    match act {
        Activation::None => y,
        Activation::Relu => max(y, 0.0),
        Activation::Clip { lo, hi } => min(max(y, lo), hi),
        Activation::HardSwish => y * min(max(y * (1.0 / 6.0) + 0.5, 0.0), 1.0),
    }
}

pub fn dequantize(
    acc: &[i32],
    p: usize,
    scale: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    out: &mut [f32],
) {
    for (r, &s) in scale.iter().enumerate() {
        let b = bias.map_or(0.0, |b| b[r]);
        for (o, &a) in out[r * p..(r + 1) * p].iter_mut().zip(&acc[r * p..(r + 1) * p]) {
            *o = dequantize_one(a, s, b, act);
        }
    }
}
