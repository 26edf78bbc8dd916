//! wasm simd128 kernels, bit-exact with [`super::scalar`] (integers) and in the same f32
//! operation order (quantize, dequantize). Names follow docs/KERNELS.md
//! (`<op>_<datatype>_<tile>__wasmsimd`); the public functions pick a tile by shape.
//!
//! Why these tiles (numbers: docs/KERNELS.md, `make bench-kernels`, Node 20 on x86-64):
//!
//! - Every multiply-accumulate goes through `i32x4.dot_i16x8_s` (x86: one `pmaddwd`): it
//!   multiplies two k-steps at once into exact i32 lanes (|w·x| ≤ 255·32767, a pair twice that), so
//!   both GEMMs feed it k-pairs of activations interleaved with a splatted weight pair.
//!   `extmul_{low,high}` would cost V8 three instructions per half (`pmullw`, `pmulhw`,
//!   unpack) for one k-step.
//! - Dense, p ≥ 8 (`gemm_dense_i16_4x8__wasmsimd`): X is packed once per call into 8-pixel
//!   tiles of k-pairs (`[tile][k/2][pixel][2]`), so one k-pair is two 16-byte loads shared by
//!   4 rows whose weight pairs are `load32_splat`s straight from the row-major weights (no
//!   packed copy of W, no extra memory). 4×8 = 8 i32x4 accumulators + 2 X + 1 W vector fit
//!   the 16 xmm registers V8 allocates; wider tiles spill.
//! - Dense convolutions that are not pointwise, stride_w 1 or 2
//!   (`conv_dense_i16_4x8s{1,2}__wasmsimd`): the same 4×8 register block, on panels packed
//!   per 8 output pixels straight from zero-padded input planes instead of an im2col matrix
//!   (which wrote `kh · kw` copies of the input through memory).
//! - Dense, p < 8 (`gemm_dense_i16_1xPk8__wasmsimd`, FC layers): dot products along k,
//!   8 k-steps per instruction, against X transposed per call.
//! - Sparse (`gemm_sparse_i16_1x{32,16,8}__wasmsimd`): for each row, consecutive stored
//!   entries are taken two at a time: the two activation rows (a pixel tile of an X panel
//!   packed per call) are interleaved with `i16x8.shuffle` (x86: `punpck{l,h}wd`) and
//!   dotted with the value pair, which is a 4-byte load straight from the CSR values. So a
//!   nonzero costs, per 8 pixels, one load, one shuffle, one `pmaddwd` and one add, and the
//!   CSR arrays are used as they are. 32 pixels per tile = 8 accumulators in registers;
//!   the tail of a row of pixels takes a 16- or 8-wide tile. p = 1 runs a plain loop.
//! - Depthwise 3×3 and 5×5, stride 1 and 2 (`dwconv_i16_{3x3,5x5}s{1,2}_8__wasmsimd`), and
//!   1×3 and 1×5 at stride 1 (`dwconv_i16_{1x3,1x5}s1_8__wasmsimd`, along a text line): each
//!   channel is copied into one zero-padded plane (zeroed once per call), so every tap of 8
//!   output pixels is one unaligned load without bounds tests; a tap pair `(tx, tx + 1)` is
//!   that load dotted with the splatted weight pair, no shuffles (stride 1: even and odd
//!   pixels apart, interleaved before the store). Other sizes, dilations and strides:
//!   scalar.
//! - quantize / dequantize: 8 / 4 lanes per step with `f32x4.nearest` + `trunc_sat` and
//!   `pmin`/`pmax`, exactly the scalar operations (no FMA).
//!
//! Measured (Node 20, 2-vCPU Xeon VM under load, medians; docs/KERNELS.md has the tables):
//! dense 9–11 GMAC/s vs 2–3 for the scalar reference; sparse, counting the dense MACs,
//! 6–7 at density 1, 13 / 11 at 0.35, 45 / 20 at 0.1 (256×2304·196 / 512×512·784), so it
//! breaks even with dense near density 0.5 ([`super::SPARSE_MAX_DENSITY`]); depthwise 3×3
//! 4–14 GMAC/s on MobileNetV2 layers and 5×5 13–16, 18–60× the scalar loop.
//!
//! Callers ([`super`]'s dispatch functions) have checked every buffer length and the
//! weights' structure (CSR pointers and columns in range), which the raw-pointer loops rely
//! on.

use core::arch::wasm32::*;
use core::ptr;

use super::packing::{for_each_pixel_panel, kpair_tiles_len, pack_x_kpairs, PaddedPlanes};
use super::{scalar, Activation, Codes, ConvGeometry, DenseWeights, DepthwiseWeights, SparseWeights};

#[inline(always)]
unsafe fn load(p: *const i16) -> v128 {
    ptr::read_unaligned(p as *const v128)
}

#[inline(always)]
unsafe fn store(p: *mut i32, v: v128) {
    ptr::write_unaligned(p as *mut v128, v)
}

/// The two i16 at `p` as one i32, in every lane.
#[inline(always)]
unsafe fn splat_pair(p: *const i16) -> v128 {
    u32x4_splat(ptr::read_unaligned(p as *const u32))
}

#[inline(always)]
fn pair(a: i16, b: i16) -> v128 {
    u32x4_splat(u32::from(a as u16) | (u32::from(b as u16) << 16))
}

/// Lanes `a0 b0 a1 b1 a2 b2 a3 b3`.
#[inline(always)]
fn zip_lo(a: v128, b: v128) -> v128 {
    i16x8_shuffle::<0, 8, 1, 9, 2, 10, 3, 11>(a, b)
}

/// Lanes `a4 b4 … a7 b7`.
#[inline(always)]
fn zip_hi(a: v128, b: v128) -> v128 {
    i16x8_shuffle::<4, 12, 5, 13, 6, 14, 7, 15>(a, b)
}

#[inline(always)]
fn mac(acc: v128, x: v128, w: v128) -> v128 {
    i32x4_add(acc, i32x4_dot_i16x8(x, w))
}

#[inline(always)]
fn hsum(v: v128) -> i32 {
    i32x4_extract_lane::<0>(v)
        .wrapping_add(i32x4_extract_lane::<1>(v))
        .wrapping_add(i32x4_extract_lane::<2>(v))
        .wrapping_add(i32x4_extract_lane::<3>(v))
}

/// Stores `n ≤ 4·acc.len()` lanes of `acc` at `dst`.
#[inline(always)]
fn store_lanes(acc: &[v128], dst: &mut [i32]) {
    let n = dst.len();
    if n == acc.len() * 4 {
        for (i, &a) in acc.iter().enumerate() {
            // SAFETY: dst holds acc.len() · 4 elements.
            unsafe { store(dst.as_mut_ptr().add(4 * i), a) };
        }
    } else {
        let mut tmp = [0i32; 32];
        for (i, &a) in acc.iter().enumerate() {
            // SAFETY: acc.len() ≤ 8, so 4·i + 4 ≤ 32.
            unsafe { store(tmp.as_mut_ptr().add(4 * i), a) };
        }
        dst.copy_from_slice(&tmp[..n]);
    }
}

/// Where a register block's 8 pixels of one output row go: i32 accumulators, or f32 outputs
/// dequantized on the way ([`Dequantized`]), which spares a layer writing its accumulators
/// to memory and reading them back.
trait Sink {
    /// Row `r`, pixels `j0..j0 + n` (n ≤ 8) from the two accumulators `acc`.
    fn put(&mut self, r: usize, j0: usize, n: usize, acc: &[v128]);
}

/// `rows × p` accumulators.
struct Accumulators<'a> {
    out: &'a mut [i32],
    p: usize,
}

impl Sink for Accumulators<'_> {
    #[inline(always)]
    fn put(&mut self, r: usize, j0: usize, n: usize, acc: &[v128]) {
        store_lanes(acc, &mut self.out[r * self.p + j0..][..n]);
    }
}

/// `rows × p` outputs `act(acc · scale[r] + bias[r])`: [`dequantize`]'s operations in its
/// order, so bit-exact with the accumulators dequantized afterwards.
pub struct Dequantized<'a> {
    pub out: &'a mut [f32],
    pub p: usize,
    pub scale: &'a [f32],
    pub bias: Option<&'a [f32]>,
    pub act: Activation,
}

impl Sink for Dequantized<'_> {
    #[inline(always)]
    fn put(&mut self, r: usize, j0: usize, n: usize, acc: &[v128]) {
        let s = f32x4_splat(self.scale[r]);
        let b = f32x4_splat(self.bias.map_or(0.0, |b| b[r]));
        let dst = &mut self.out[r * self.p + j0..][..n];
        let mut y = [f32x4_splat(0.0); 2];
        for (y, &a) in y.iter_mut().zip(acc) {
            *y = activate(f32x4_add(f32x4_mul(f32x4_convert_i32x4(a), s), b), self.act);
        }
        if n == 8 {
            // SAFETY: dst holds 8 elements.
            unsafe {
                ptr::write_unaligned(dst.as_mut_ptr() as *mut v128, y[0]);
                ptr::write_unaligned(dst.as_mut_ptr().add(4) as *mut v128, y[1]);
            }
        } else {
            let mut tmp = [0f32; 8];
            // SAFETY: tmp holds 8 elements.
            unsafe {
                ptr::write_unaligned(tmp.as_mut_ptr() as *mut v128, y[0]);
                ptr::write_unaligned(tmp.as_mut_ptr().add(4) as *mut v128, y[1]);
            }
            dst.copy_from_slice(&tmp[..n]);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Dense GEMM

/// `out (rows × p) = W · X`, see [`scalar::gemm_dense`].
pub fn gemm_dense(w: &DenseWeights, x: &[i16], p: usize, out: &mut [i32]) {
    if w.rows == 0 || p == 0 {
        return;
    }
    if w.cols == 0 {
        out.fill(0);
        return;
    }
    match p {
        1 => gemm_dense_i16_1xpk8::<1>(w, x, out),
        2 => gemm_dense_i16_1xpk8::<2>(w, x, out),
        3 => gemm_dense_i16_1xpk8::<3>(w, x, out),
        4 => gemm_dense_i16_1xpk8::<4>(w, x, out),
        5 => gemm_dense_i16_1xpk8::<5>(w, x, out),
        6 => gemm_dense_i16_1xpk8::<6>(w, x, out),
        7 => gemm_dense_i16_1xpk8::<7>(w, x, out),
        _ => gemm_dense_i16_4x8(w, x, p, &mut Accumulators { out, p }),
    }
}

/// [`gemm_dense`] for p ≥ 8, dequantized as it is stored (see [`Dequantized`]).
pub fn gemm_dense_dequantized(w: &DenseWeights, x: &[i16], out: &mut Dequantized) {
    if w.rows == 0 || out.p == 0 {
        return;
    }
    gemm_dense_i16_4x8(w, x, out.p, out);
}

/// Packs X (`cols × p`) into 8-pixel tiles of k-pairs ([`pack_x_kpairs`]).
fn pack_x_kpairs8(x: &[i16], cols: usize, p: usize) -> Vec<i16> {
    let mut packed = vec![0i16; kpair_tiles_len(cols, p, 8)];
    pack_x_kpairs(x, cols, p, 8, &mut packed, |a, b, dst| {
        // SAFETY: a and b hold 8 elements, dst 16.
        unsafe {
            let (va, vb) = (load(a.as_ptr()), load(b.as_ptr()));
            ptr::write_unaligned(dst.as_mut_ptr() as *mut v128, zip_lo(va, vb));
            ptr::write_unaligned(dst.as_mut_ptr().add(8) as *mut v128, zip_hi(va, vb));
        }
    });
    packed
}

/// Weight pair for the odd last column of row `r` (its partner in X is zero), or zeros.
#[inline(always)]
fn odd_pair(w: &DenseWeights, r: usize) -> v128 {
    if w.cols % 2 == 1 {
        pair(w.w[r * w.cols + w.cols - 1], 0)
    } else {
        u32x4_splat(0)
    }
}

/// One 4 rows × 8 pixels register block over a packed panel of `kp` k-pairs (`full_pairs`
/// of them full, the last one the odd column whose pairs are `odd`); the 4 weight rows
/// start at `rows`, `cols` apart.
///
/// # Safety
/// `rows` points at 4 rows of `cols ≥ 2 · full_pairs` weights and `panel` at `kp · 16` codes.
#[inline(always)]
unsafe fn block_4x8(
    panel: *const i16,
    rows: *const i16,
    cols: usize,
    odd: [v128; 4],
    full_pairs: usize,
    kp: usize,
) -> [v128; 8] {
    let w = [rows, rows.add(cols), rows.add(2 * cols), rows.add(3 * cols)];
    let mut acc = [i32x4_splat(0); 8];
    for k2 in 0..full_pairs {
        let xa = load(panel.add(k2 * 16));
        let xb = load(panel.add(k2 * 16 + 8));
        for i in 0..4 {
            let v = splat_pair(w[i].add(2 * k2));
            acc[2 * i] = mac(acc[2 * i], xa, v);
            acc[2 * i + 1] = mac(acc[2 * i + 1], xb, v);
        }
    }
    if full_pairs < kp {
        let xa = load(panel.add(full_pairs * 16));
        let xb = load(panel.add(full_pairs * 16 + 8));
        for i in 0..4 {
            acc[2 * i] = mac(acc[2 * i], xa, odd[i]);
            acc[2 * i + 1] = mac(acc[2 * i + 1], xb, odd[i]);
        }
    }
    acc
}

/// [`block_4x8`] for one row.
///
/// # Safety
/// As [`block_4x8`].
#[inline(always)]
unsafe fn block_1x8(panel: *const i16, w: *const i16, odd: v128, full_pairs: usize, kp: usize) -> [v128; 2] {
    let mut acc = [i32x4_splat(0); 2];
    for k2 in 0..full_pairs {
        let v = splat_pair(w.add(2 * k2));
        acc[0] = mac(acc[0], load(panel.add(k2 * 16)), v);
        acc[1] = mac(acc[1], load(panel.add(k2 * 16 + 8)), v);
    }
    if full_pairs < kp {
        acc[0] = mac(acc[0], load(panel.add(full_pairs * 16)), odd);
        acc[1] = mac(acc[1], load(panel.add(full_pairs * 16 + 8)), odd);
    }
    acc
}

/// Runs every row of `w` on one packed 8-pixel panel, giving `n` pixels of each output row
/// (from pixel `j0`) to `out`.
fn rows_on_panel(w: &DenseWeights, odd: &[v128], panel: &[i16], j0: usize, n: usize, out: &mut impl Sink) {
    let (rows, cols) = (w.rows, w.cols);
    let kp = cols.div_ceil(2);
    let full_pairs = cols / 2;
    debug_assert!(panel.len() >= kp * 16 && odd.len() == rows);
    let wp = w.w.as_ptr();
    let mut r0 = 0;
    while r0 + 4 <= rows {
        // SAFETY: rows r0..r0 + 4 exist (w.w.len() = rows · cols, checked by the caller);
        // the panel holds kp · 16 codes.
        let acc = unsafe {
            let odd4 = [odd[r0], odd[r0 + 1], odd[r0 + 2], odd[r0 + 3]];
            block_4x8(panel.as_ptr(), wp.add(r0 * cols), cols, odd4, full_pairs, kp)
        };
        for i in 0..4 {
            out.put(r0 + i, j0, n, &acc[2 * i..2 * i + 2]);
        }
        r0 += 4;
    }
    for (r, &o) in odd.iter().enumerate().skip(r0) {
        // SAFETY: as above, for one row.
        let acc = unsafe { block_1x8(panel.as_ptr(), wp.add(r * cols), o, full_pairs, kp) };
        out.put(r, j0, n, &acc);
    }
}

/// Register block of 4 rows × 8 pixels over k-pairs (module header), every row on one
/// packed 8-pixel panel at a time ([`rows_on_panel`]).
fn gemm_dense_i16_4x8(w: &DenseWeights, x: &[i16], p: usize, out: &mut impl Sink) {
    let packed = pack_x_kpairs8(x, w.cols, p);
    let kp = w.cols.div_ceil(2);
    let odd: Vec<v128> = (0..w.rows).map(|r| odd_pair(w, r)).collect();
    for (t, panel) in packed.chunks_exact(kp * 16).enumerate() {
        rows_on_panel(w, &odd, panel, 8 * t, (p - 8 * t).min(8), out);
    }
}

/// Dense convolution with horizontal stride 1 or 2 and no horizontal dilation, without an
/// im2col matrix (`conv_dense_i16_4x8s{1,2}__wasmsimd`, see [`scalar::conv_dense`]). The
/// input is copied once into zero-padded planes, so the window rows of 8 neighbouring output
/// pixels are 8 consecutive codes (stride 2: the even lanes of 16); one 8-pixel panel of
/// k-pairs is packed straight from those planes and every row block of the weights runs on
/// it while it sits in L1. The im2col route wrote and re-read `kh · kw` copies of the input
/// through memory: PP-OCRv4 det's 3×3 96→24 convolutions ran at a third of the pointwise
/// layers' MAC rate (116 → 44 ms for the largest in Node).
pub fn conv_dense(w: &DenseWeights, x: &[i16], g: &ConvGeometry, out: &mut [i32]) {
    conv_dense_to(w, x, g, &mut Accumulators { out, p: g.pixels() });
}

/// [`conv_dense`], dequantized as it is stored (see [`Dequantized`]).
pub fn conv_dense_dequantized(w: &DenseWeights, x: &[i16], g: &ConvGeometry, out: &mut Dequantized) {
    conv_dense_to(w, x, g, out);
}

/// The kernel for `g`'s horizontal stride.
fn conv_dense_to(w: &DenseWeights, x: &[i16], g: &ConvGeometry, out: &mut impl Sink) {
    match g.stride_w {
        1 => conv_dense_i16_4x8::<1>(w, x, g, out),
        _ => conv_dense_i16_4x8::<2>(w, x, g, out),
    }
}

/// Eight codes for 8 output pixels of stride `SW` starting at `p`.
///
/// # Safety
/// `p` points at `8 · SW` readable codes.
#[inline(always)]
unsafe fn strided8<const SW: usize>(p: *const i16) -> v128 {
    if SW == 1 {
        load(p)
    } else {
        i16x8_shuffle::<0, 2, 4, 6, 8, 10, 12, 14>(load(p), load(p.add(8)))
    }
}

fn conv_dense_i16_4x8<const SW: usize>(w: &DenseWeights, x: &[i16], g: &ConvGeometry, out: &mut impl Sink) {
    let p = g.pixels();
    if w.rows == 0 || p == 0 {
        return;
    }
    debug_assert!(g.stride_w == SW && g.dilation_w == 1 && w.cols == g.patch_len());
    // Padded planes with 8 · SW columns of slack for the last (partial) tile of a row.
    let planes = PaddedPlanes::new(g, SW, 8 * SW);
    let pw = planes.cols;
    let mut padded = vec![0i16; planes.len(g)];
    planes.fill(x, g, &mut padded);
    let taps = planes.tap_offsets(g);
    let odd: Vec<v128> = (0..w.rows).map(|r| odd_pair(w, r)).collect();
    let kp = w.cols.div_ceil(2);
    let mut panel = vec![0i16; kp * 16];
    let src = padded.as_ptr();
    for oy in 0..g.out_h {
        let row0 = oy * g.stride_h * pw;
        for ox0 in (0..g.out_w).step_by(8) {
            let base = row0 + ox0 * SW;
            // SAFETY: the window of the last row and tap starts at most at
            // (channels · ph − 1) · pw + (out_w − 1) · SW + kw − 1, and 8 · SW codes from
            // there end within padded (pw has 8 · SW of slack); panel holds kp · 16 codes.
            unsafe {
                let dst = panel.as_mut_ptr();
                for k2 in 0..w.cols / 2 {
                    let a = strided8::<SW>(src.add(base + *taps.get_unchecked(2 * k2)));
                    let b = strided8::<SW>(src.add(base + *taps.get_unchecked(2 * k2 + 1)));
                    ptr::write_unaligned(dst.add(k2 * 16) as *mut v128, zip_lo(a, b));
                    ptr::write_unaligned(dst.add(k2 * 16 + 8) as *mut v128, zip_hi(a, b));
                }
                if w.cols % 2 == 1 {
                    let a = strided8::<SW>(src.add(base + *taps.get_unchecked(w.cols - 1)));
                    let z = i16x8_splat(0);
                    ptr::write_unaligned(dst.add((kp - 1) * 16) as *mut v128, zip_lo(a, z));
                    ptr::write_unaligned(dst.add((kp - 1) * 16 + 8) as *mut v128, zip_hi(a, z));
                }
            }
            let n = (g.out_w - ox0).min(8);
            rows_on_panel(w, &odd, &panel, oy * g.out_w + ox0, n, out);
        }
    }
}

/// Few pixels (`P < 8`, e.g. fully connected layers): one row at a time, dot products along
/// k, 8 k-steps per instruction, against X transposed (`P × cols` rounded up to 8).
fn gemm_dense_i16_1xpk8<const P: usize>(w: &DenseWeights, x: &[i16], out: &mut [i32]) {
    let (rows, cols) = (w.rows, w.cols);
    let kpad = cols.div_ceil(8) * 8;
    let full = cols / 8;
    let mut xt = vec![0i16; P * kpad];
    for k in 0..cols {
        for j in 0..P {
            xt[j * kpad + k] = x[k * P + j];
        }
    }
    let mut tail = [0i16; 8];
    for r in 0..rows {
        let row = &w.w[r * cols..(r + 1) * cols];
        let mut acc = [i32x4_splat(0); P];
        // SAFETY: row holds cols ≥ 8·full elements; each xt row holds kpad ≥ 8·full + 8.
        unsafe {
            for k8 in 0..full {
                let wv = load(row.as_ptr().add(8 * k8));
                for (j, a) in acc.iter_mut().enumerate() {
                    *a = mac(*a, load(xt.as_ptr().add(j * kpad + 8 * k8)), wv);
                }
            }
            if full * 8 < cols {
                tail.fill(0);
                tail[..cols - full * 8].copy_from_slice(&row[full * 8..]);
                let wv = load(tail.as_ptr());
                for (j, a) in acc.iter_mut().enumerate() {
                    *a = mac(*a, load(xt.as_ptr().add(j * kpad + 8 * full)), wv);
                }
            }
        }
        for (o, a) in out[r * P..(r + 1) * P].iter_mut().zip(acc) {
            *o = hsum(a);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Sparse GEMM

/// `out (rows × p) = W · X` over the stored entries, see [`scalar::gemm_sparse`].
pub fn gemm_sparse(w: &SparseWeights, x: &[i16], p: usize, out: &mut [i32]) {
    if w.rows == 0 || p == 0 {
        return;
    }
    if p == 1 {
        for (r, o) in out.iter_mut().enumerate() {
            let (lo, hi) = (w.row_ptr[r] as usize, w.row_ptr[r + 1] as usize);
            let mut acc = 0i32;
            for (&c, &v) in w.col[lo..hi].iter().zip(&w.val[lo..hi]) {
                acc += i32::from(v) * i32::from(x[c as usize]);
            }
            *o = acc;
        }
        return;
    }
    let mut panel = Vec::new();
    for_each_pixel_panel(x, w.cols, p, [32, 16, 8], &mut panel, |panel, tile, j0, n| match tile {
        32 => gemm_sparse_i16_1xt::<32, 8>(w, panel, p, j0, n, out),
        16 => gemm_sparse_i16_1xt::<16, 4>(w, panel, p, j0, n, out),
        _ => gemm_sparse_i16_1xt::<8, 2>(w, panel, p, j0, n, out),
    });
}

/// One pixel tile of `T` (= 4·`A`) pixels for every row: `A` accumulators, stored entries
/// two at a time (module header).
#[inline(always)]
fn gemm_sparse_i16_1xt<const T: usize, const A: usize>(
    w: &SparseWeights,
    panel: &[i16],
    p: usize,
    j0: usize,
    n: usize,
    out: &mut [i32],
) {
    let xp = panel.as_ptr();
    for r in 0..w.rows {
        let (lo, hi) = (w.row_ptr[r] as usize, w.row_ptr[r + 1] as usize);
        let cols = &w.col[lo..hi];
        let vals = &w.val[lo..hi];
        let mut acc = [i32x4_splat(0); A];
        let mut i = 0;
        // SAFETY: every column is < w.cols (checked by the caller) and the panel holds
        // w.cols · T elements; i + 1 < cols.len() = vals.len().
        unsafe {
            while i + 1 < cols.len() {
                let a = xp.add(*cols.get_unchecked(i) as usize * T);
                let b = xp.add(*cols.get_unchecked(i + 1) as usize * T);
                let v = splat_pair(vals.as_ptr().add(i));
                for g in 0..A / 2 {
                    let (va, vb) = (load(a.add(8 * g)), load(b.add(8 * g)));
                    acc[2 * g] = mac(acc[2 * g], zip_lo(va, vb), v);
                    acc[2 * g + 1] = mac(acc[2 * g + 1], zip_hi(va, vb), v);
                }
                i += 2;
            }
            if i < cols.len() {
                let a = xp.add(*cols.get_unchecked(i) as usize * T);
                let v = pair(*vals.get_unchecked(i), 0);
                for g in 0..A / 2 {
                    let va = load(a.add(8 * g));
                    acc[2 * g] = mac(acc[2 * g], zip_lo(va, va), v);
                    acc[2 * g + 1] = mac(acc[2 * g + 1], zip_hi(va, va), v);
                }
            }
        }
        store_lanes(&acc, &mut out[r * p + j0..][..n]);
    }
}

// ---------------------------------------------------------------------------------------
// Depthwise convolution

/// See [`scalar::depthwise`]; 3×3 and 5×5 with stride_w 1 or 2 and no dilation run here.
pub fn depthwise(w: &DepthwiseWeights, x: &[i16], g: &ConvGeometry, out: &mut [i32]) {
    if g.pixels() == 0 || g.channels == 0 {
        return;
    }
    if g.dilation_h != 1 || g.dilation_w != 1 {
        return scalar::depthwise(w, x, g, out);
    }
    match (g.kh, g.kw, g.stride_w) {
        (3, 3, 1) => dwconv_i16_8::<3, 3, 1>(w, x, g, out),
        (3, 3, 2) => dwconv_i16_8::<3, 3, 2>(w, x, g, out),
        (5, 5, 1) => dwconv_i16_8::<5, 5, 1>(w, x, g, out),
        (5, 5, 2) => dwconv_i16_8::<5, 5, 2>(w, x, g, out),
        // Along a line only (sequence layers of text recognisers, models/ocr_fast).
        (1, 3, 1) => dwconv_i16_8::<1, 3, 1>(w, x, g, out),
        (1, 5, 1) => dwconv_i16_8::<1, 5, 1>(w, x, g, out),
        _ => scalar::depthwise(w, x, g, out),
    }
}

/// `KH × KW` depthwise convolution, horizontal stride `SW`, 8 output pixels per step.
///
/// Each channel is copied into one zero-padded plane (`hp` rows × `wpl` columns; row `yy`,
/// column `i` holds input `(yy − pad_top, i − pad_left)`, 0 outside the image). The plane is
/// zeroed once per call: only the image's own cells are rewritten per channel, so the
/// padding stays zero. Output `(oy, ox)`, tap `(ty, tx)` reads plane row
/// `oy·stride_h + ty`, column `ox·SW + tx`.
///
/// Taps are paired along a row, `(tx, tx + 1)` (an odd last tap with weight 0), and each
/// pair is one `dot_i16x8` of a plain unaligned load with the splatted weight pair: lane `i`
/// of the load at column `c` pairs columns `c + 2i` and `c + 2i + 1`, which are the pair's
/// two taps of output pixel `(c − tx)/SW + …`:
/// - `SW = 2`: the load at `2·ox + tx` gives pixels `ox..ox + 4`, at `2·ox + 8 + tx`
///   pixels `ox + 4..ox + 8`, in order.
/// - `SW = 1`: the load at `ox + tx` gives the even pixels `ox, ox + 2, …`, at `ox + tx + 1`
///   the odd ones; two `i32x4` interleaves put them in order before the store.
///
/// So there are no shuffles in the tap loop, every tap is a load at a constant offset from
/// one pointer, and the weights stay in registers (3×3: 6 pairs). A row whose width is not a
/// multiple of 8 ends with a block shifted left to end at `out_w` (its overlap is stored
/// twice, with the same values); rows narrower than 8 store lane by lane.
fn dwconv_i16_8<const KH: usize, const KW: usize, const SW: usize>(
    w: &DepthwiseWeights,
    x: &[i16],
    g: &ConvGeometry,
    out: &mut [i32],
) {
    let (h, wd) = (g.h, g.w);
    let (out_h, out_w) = (g.out_h, g.out_w);
    let np = KW.div_ceil(2);
    // Last column read, plus one: the last block starts at max(out_w, 8) − 8 and reads
    // 8 lanes from `SW·ox + 2p + 1` (SW = 1) or `SW·ox + 2p + 8` (SW = 2), p < np.
    let span = out_w.max(8);
    let need = if SW == 1 { span + 2 * np - 1 } else { 2 * span + 2 * np - 2 };
    let wpl = need.div_ceil(8) * 8;
    let hp = (out_h - 1) * g.stride_h + KH;
    let mut plane = vec![0i16; hp * wpl];
    // Input rows that land in the plane, and the columns of each that do.
    let rows_in = h.min(hp.saturating_sub(g.pad_top));
    let cols_in = wd.min(wpl.saturating_sub(g.pad_left));
    let taps = KH * KW;
    let mut wv = [i32x4_splat(0); 15];
    for c in 0..g.channels {
        let filt = &w.w[c * taps..(c + 1) * taps];
        for ty in 0..KH {
            for p in 0..np {
                let tx = 2 * p;
                let second = if tx + 1 < KW { filt[ty * KW + tx + 1] } else { 0 };
                wv[ty * np + p] = pair(filt[ty * KW + tx], second);
            }
        }
        // SAFETY: input row iy < rows_in ≤ h of channel c lies in x (length channels·h·wd,
        // checked by the caller); its cols_in ≤ wd elements go to plane row
        // iy + pad_top < hp, columns pad_left.. pad_left + cols_in ≤ wpl.
        unsafe {
            let src = x.as_ptr().add(c * h * wd);
            let x_end = x.as_ptr().add(x.len());
            for iy in 0..if cols_in > 0 { rows_in } else { 0 } {
                copy_row(
                    src.add(iy * wd),
                    x_end,
                    plane.as_mut_ptr().add((iy + g.pad_top) * wpl + g.pad_left),
                    wpl - g.pad_left,
                    cols_in,
                );
            }
        }
        let out_c = &mut out[c * out_h * out_w..(c + 1) * out_h * out_w];
        let (pp, op) = (plane.as_ptr(), out_c.as_mut_ptr());
        let mut oy = 0;
        if SW == 1 && g.stride_h == 1 {
            // Stride 1: 3 output rows per pass share their input rows' loads.
            while oy + 3 <= out_h {
                // SAFETY: output rows oy..oy + 3 < out_h (see `dw_rows`).
                unsafe { dw_rows::<KH, KW, SW, 3>(pp, op, wpl, 1, oy, out_w, &wv) };
                oy += 3;
            }
        }
        while oy < out_h {
            // SAFETY: output row oy < out_h (see `dw_rows`).
            unsafe { dw_rows::<KH, KW, SW, 1>(pp, op, wpl, g.stride_h, oy, out_w, &wv) };
            oy += 1;
        }
    }
}

/// Output rows `oy..oy + R` of one channel (`out_c` at `op`, plane at `pp`), 8 pixels per
/// step. `R > 1` only with stride 1 both ways: then input row `oy + iy` feeds output row
/// `oy + k` through filter row `iy − k`, so each loaded vector serves up to `min(R, KH)`
/// output rows.
///
/// Safety: `oy + R ≤ out_h`; the plane is `hp × wpl` as in [`dwconv_i16_8`], so plane rows
/// `oy·stride_h + R − 1 + KH − 1 < hp` and the columns every block reads exist; `op` holds
/// `out_h × out_w` elements.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn dw_rows<const KH: usize, const KW: usize, const SW: usize, const R: usize>(
    pp: *const i16,
    op: *mut i32,
    wpl: usize,
    stride_h: usize,
    oy: usize,
    out_w: usize,
    wv: &[v128; 15],
) {
    let rows = pp.add(oy * stride_h * wpl);
    let orow = op.add(oy * out_w);
    if out_w < 8 {
        let acc = dw_block::<KH, KW, SW, R>(rows, wpl, 0, wv);
        for (k, &(lo, hi)) in acc.iter().enumerate() {
            store_partial(orow.add(k * out_w), lo, hi, out_w);
        }
        return;
    }
    let mut ox = 0;
    loop {
        let acc = dw_block::<KH, KW, SW, R>(rows, wpl, ox, wv);
        for (k, &(lo, hi)) in acc.iter().enumerate() {
            store(orow.add(k * out_w + ox), lo);
            store(orow.add(k * out_w + ox + 4), hi);
        }
        if ox + 8 == out_w {
            break;
        }
        // The last block ends at out_w, overlapping the one before where out_w % 8 ≠ 0.
        ox = (ox + 8).min(out_w - 8);
    }
}

/// Output pixels `ox..ox + 8` of `R` consecutive output rows: `rows` points at the plane
/// row of the first one's filter row 0 (see [`dwconv_i16_8`]; `R > 1`: stride 1 only);
/// `wv[ty·np + p]` is the weight pair of taps `(ty, 2p)`, `(ty, 2p + 1)`.
#[inline(always)]
unsafe fn dw_block<const KH: usize, const KW: usize, const SW: usize, const R: usize>(
    rows: *const i16,
    wpl: usize,
    ox: usize,
    wv: &[v128; 15],
) -> [(v128, v128); R] {
    let np = KW.div_ceil(2);
    let mut acc = [(i32x4_splat(0), i32x4_splat(0)); R];
    for iy in 0..KH + R - 1 {
        let r = rows.add(iy * wpl + SW * ox);
        for p in 0..np {
            let va = load(r.add(2 * p));
            let vb = load(r.add(2 * p + if SW == 1 { 1 } else { 8 }));
            for (k, (a, b)) in acc.iter_mut().enumerate() {
                if iy >= k && iy - k < KH {
                    let wp = wv[(iy - k) * np + p];
                    *a = mac(*a, va, wp);
                    *b = mac(*b, vb, wp);
                }
            }
        }
    }
    if SW == 1 {
        // a: pixels ox, ox + 2, ox + 4, ox + 6; b: the odd ones.
        for (a, b) in acc.iter_mut() {
            (*a, *b) = (i32x4_shuffle::<0, 4, 1, 5>(*a, *b), i32x4_shuffle::<2, 6, 3, 7>(*a, *b));
        }
    }
    acc
}

/// Stores the first `n < 8` lanes of `lo`, `hi` (pixels 0..4, 4..8) at `dst`.
#[inline(always)]
unsafe fn store_partial(dst: *mut i32, lo: v128, hi: v128, n: usize) {
    let (mut v, mut d, mut n) = (lo, dst, n);
    if n >= 4 {
        store(d, lo);
        (v, d, n) = (hi, d.add(4), n - 4);
    }
    if n >= 2 {
        v128_store64_lane::<0>(v, d as *mut u64);
        (v, d, n) = (i64x2_shuffle::<1, 1>(v, v), d.add(2), n - 2);
    }
    if n == 1 {
        v128_store32_lane::<0>(v, d as *mut u32);
    }
}

/// Copies `n` i16 from `src` to `dst` 8 at a time. The last partial block is, where 8
/// elements can be read before `src_end` and written in `dst_room`, a full block with the
/// lanes past `n` zeroed (they land on zero padding); else, for n ≥ 8, the last 8 elements
/// again; else one at a time.
#[inline(always)]
unsafe fn copy_row(src: *const i16, src_end: *const i16, dst: *mut i16, dst_room: usize, n: usize) {
    let mut k = 0;
    while k + 8 <= n {
        ptr::write_unaligned(dst.add(k) as *mut v128, load(src.add(k)));
        k += 8;
    }
    let r = n - k;
    if r == 0 {
        return;
    }
    if k + 8 <= dst_room && (src_end as usize - src as usize) / 2 >= k + 8 {
        let lanes = i16x8(0, 1, 2, 3, 4, 5, 6, 7);
        let keep = i16x8_lt(lanes, i16x8_splat(r as i16));
        ptr::write_unaligned(dst.add(k) as *mut v128, v128_and(load(src.add(k)), keep));
    } else if n >= 8 {
        ptr::write_unaligned(dst.add(n - 8) as *mut v128, load(src.add(n - 8)));
    } else {
        for i in k..n {
            *dst.add(i) = *src.add(i);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Quantize / dequantize

/// See [`scalar::quantize_one`]: `f32x4.nearest` rounds half to even and `trunc_sat` maps
/// NaN to 0 and saturates like `as i32`; clamping `q` to `[−128 − zp, 127 − zp]` equals
/// the saturating add, clamp and subtract.
pub fn quantize(x: &[f32], inv_scale: f32, zero_point: i32, codes: Codes, out: &mut [i16]) {
    let s = f32x4_splat(inv_scale);
    let (lo, hi) = (i32x4_splat(codes.min - zero_point), i32x4_splat(codes.max - zero_point));
    let n8 = x.len() / 8 * 8;
    let q4 = |v: v128| {
        let q = i32x4_trunc_sat_f32x4(f32x4_nearest(f32x4_mul(v, s)));
        i32x4_min(i32x4_max(q, lo), hi)
    };
    for (src, dst) in x[..n8].chunks_exact(8).zip(out[..n8].chunks_exact_mut(8)) {
        // SAFETY: src holds 8 f32, dst 8 i16.
        unsafe {
            let a = ptr::read_unaligned(src.as_ptr() as *const v128);
            let b = ptr::read_unaligned(src.as_ptr().add(4) as *const v128);
            ptr::write_unaligned(dst.as_mut_ptr() as *mut v128, i16x8_narrow_i32x4(q4(a), q4(b)));
        }
    }
    for (o, &v) in out[n8..].iter_mut().zip(&x[n8..]) {
        *o = scalar::quantize_one(v, inv_scale, zero_point, codes);
    }
}

#[inline(always)]
fn activate(y: v128, act: Activation) -> v128 {
    match act {
        Activation::None => y,
        Activation::Relu => f32x4_pmax(y, f32x4_splat(0.0)),
        Activation::Clip { lo, hi } => f32x4_pmin(f32x4_pmax(y, f32x4_splat(lo)), f32x4_splat(hi)),
        Activation::HardSwish => {
            let t = f32x4_add(f32x4_mul(y, f32x4_splat(1.0 / 6.0)), f32x4_splat(0.5));
            f32x4_mul(y, f32x4_pmin(f32x4_pmax(t, f32x4_splat(0.0)), f32x4_splat(1.0)))
        }
    }
}

/// See [`scalar::dequantize`]: `convert`, `mul`, `add`, then the activation with
/// `pmin`/`pmax`, the scalar reference's operations in its order.
pub fn dequantize(
    acc: &[i32],
    p: usize,
    scale: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    out: &mut [f32],
) {
    if p < 4 {
        // Few pixels per row (fully connected layers): vectorise across rows instead.
        let rows = scale.len();
        let n = acc.len();
        let mut i = 0;
        // Lane l of step i is element i + l, row (i + l) / p.
        let mut s = [0f32; 4];
        let mut b = [0f32; 4];
        while i + 4 <= n {
            for l in 0..4 {
                let r = (i + l) / p;
                s[l] = scale[r];
                b[l] = bias.map_or(0.0, |b| b[r]);
            }
            // SAFETY: i + 4 ≤ n = acc.len() = out.len().
            unsafe {
                let a = f32x4_convert_i32x4(ptr::read_unaligned(acc.as_ptr().add(i) as *const v128));
                let y = f32x4_add(f32x4_mul(a, ptr::read_unaligned(s.as_ptr() as *const v128)), {
                    ptr::read_unaligned(b.as_ptr() as *const v128)
                });
                ptr::write_unaligned(out.as_mut_ptr().add(i) as *mut v128, activate(y, act));
            }
            i += 4;
        }
        for j in i..n {
            let r = j / p;
            debug_assert!(r < rows);
            out[j] = scalar::dequantize_one(acc[j], scale[r], bias.map_or(0.0, |b| b[r]), act);
        }
        return;
    }
    for (r, &sc) in scale.iter().enumerate() {
        let bv = bias.map_or(0.0, |b| b[r]);
        let (s, b) = (f32x4_splat(sc), f32x4_splat(bv));
        let src = &acc[r * p..(r + 1) * p];
        let dst = &mut out[r * p..(r + 1) * p];
        let n4 = p / 4 * 4;
        for (a, o) in src[..n4].chunks_exact(4).zip(dst[..n4].chunks_exact_mut(4)) {
            // SAFETY: a and o hold 4 elements.
            unsafe {
                let y = f32x4_add(
                    f32x4_mul(f32x4_convert_i32x4(ptr::read_unaligned(a.as_ptr() as *const v128)), s),
                    b,
                );
                ptr::write_unaligned(o.as_mut_ptr() as *mut v128, activate(y, act));
            }
        }
        for (o, &a) in dst[n4..].iter_mut().zip(&src[n4..]) {
            *o = scalar::dequantize_one(a, sc, bv, act);
        }
    }
}
