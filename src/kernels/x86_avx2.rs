//! x86-64 AVX2 kernels for the native engine (`slimscan run`, `bench`, `scan`, `eval`),
//! bit-exact with [`super::scalar`] (integers) and in the same f32 operation order
//! (quantize, dequantize). Names follow docs/KERNELS.md (`<op>_<datatype>_<tile>__avx2`).
//!
//! Why: without them the native engine ran the scalar references, about 7× slower than
//! tract's f32 on the original models (issue 27), so every benchmark and evaluation run on
//! the command line paid for it. AVX2 is on every x86-64 CPU since 2013–2015; the public
//! functions check for it at run time (once, [`available`]) and fall back to the scalar
//! references, so a binary built for plain x86-64 runs anywhere.
//!
//! The tiles are the wasm simd128 ones (`wasm_simd`) at twice the width:
//! - Every multiply-accumulate is `vpmaddwd` (`_mm256_madd_epi16`): two k-steps of i16 codes
//!   times i16 weights into exact i32 lanes.
//! - Dense, p ≥ 8 (`gemm_dense_i16_4x16__avx2`): X packed once per call into 16-pixel tiles
//!   of k-pairs; a register block of 4 rows × 16 pixels (8 ymm accumulators, 2 X loads and a
//!   broadcast weight pair per k-pair, 11 of the 16 ymm registers).
//! - Dense convolutions that are not pointwise, stride_w 1 or 2
//!   (`conv_dense_i16_4x16s{1,2}__avx2`): the same register block on panels packed per 16
//!   output pixels straight from zero-padded input planes, no im2col matrix.
//! - Dense, p < 8 (`gemm_dense_i16_1xPk16__avx2`, fully connected layers): dot products along
//!   k, 16 k-steps per instruction, against X transposed per call.
//! - Sparse (`gemm_sparse_i16_1x{64,32,16}__avx2`): stored entries two at a time, the two
//!   activation rows interleaved (`vpunpck{l,h}wd`, which work per 128-bit half, so the
//!   pixel order is restored with one `vperm2i128` per 16 pixels at the store).
//! - Depthwise (`dwconv_i16_{3x3,5x5}s{1,2}_8__avx2`, 1×3 and 1×5 at stride 1): each channel
//!   copied into zero-padded planes split by column parity for stride 2, so every tap of 8
//!   output pixels is one sign-extending load (`vpmovsxwd`) and one `vpmaddwd` with the
//!   weight in the low half of each lane (the high half multiplies the sign bits by zero).
//! - quantize / dequantize: 8 lanes per step; NaN, saturation and min/max operand order
//!   written out so the results equal the scalar `as i32` and `if a < b` semantics.
//!
//! The integer kernels are written once (`integer_kernels!`) and compiled twice, for AVX2
//! (`avx2`) and for AVX2 + AVX-VNNI (`avx2_vnni`, chosen where the CPU has it, see
//! [`vnni`]).
//!
//! Callers ([`super`]'s dispatch functions) have checked every buffer length and the
//! weights' structure (CSR pointers and columns in range), which the raw-pointer loops rely
//! on.

use core::arch::x86_64::*;
use core::ptr;

use super::packing::{for_each_pixel_panel, kpair_tiles_len, pack_x_kpairs, PaddedPlanes};
use super::{
    scalar, Activation, Codes, ConvGeometry, DenseWeights, DepthwiseWeights, Dequant, SparseWeights,
};

/// Picks the build of an integer kernel: [`avx2_vnni`] where [`vnni`] (and no test asked for
/// the plain build on this thread), else [`avx2`]. Callers have checked [`available`].
macro_rules! best {
    ($kernel:ident $(::<$($g:tt),*>)? ($($arg:expr),*)) => {{
        #[cfg(test)]
        let plain = WITHOUT_VNNI.with(|c| c.get());
        #[cfg(not(test))]
        let plain = false;
        if vnni() && !plain {
            avx2_vnni::$kernel$(::<$($g),*>)?($($arg),*)
        } else {
            avx2::$kernel$(::<$($g),*>)?($($arg),*)
        }
    }};
}

/// Whether these kernels run: the CPU has AVX2 and the environment variable
/// `SLIMSCAN_SCALAR_KERNELS` is not set (it selects the scalar references, to measure them
/// in the same binary). Decided once per process.
#[inline]
pub fn available() -> bool {
    static AVX2: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVX2.get_or_init(|| {
        std::is_x86_feature_detected!("avx2") && std::env::var_os("SLIMSCAN_SCALAR_KERNELS").is_none()
    })
}

/// Whether the integer kernels are compiled for AVX-VNNI as well: the CPU has it (Intel from
/// Alder Lake / Sapphire Rapids, AMD from Zen 4) and `SLIMSCAN_NO_VNNI` is not set. The
/// kernels' code is the same; with the feature enabled LLVM fuses each `vpmaddwd` + `vpaddd`
/// into one `vpdpwssd`, half the instructions of the multiply-accumulate loops.
#[inline]
pub fn vnni() -> bool {
    static VNNI: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *VNNI.get_or_init(|| {
        available()
            && std::is_x86_feature_detected!("avxvnni")
            && std::env::var_os("SLIMSCAN_NO_VNNI").is_none()
    })
}

thread_local! {
    /// Scratch buffers of this thread (X panels, padded planes), kept between calls.
    static SCRATCH: std::cell::RefCell<Vec<Vec<i16>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A zeroed buffer of `len` codes, the largest one kept by [`recycle`] on this thread if any.
/// A fresh allocation per layer cost more than the layer on a busy machine: glibc maps
/// buffers over 128 KiB afresh each time, and each new page faults on first touch (the
/// recogniser's median time varied 1.4–5.8 ms run to run, against tract's steady 1.7 ms).
fn scratch(len: usize) -> Vec<i16> {
    let mut v = SCRATCH.with(|s| s.borrow_mut().pop()).unwrap_or_default();
    v.clear();
    v.resize(len, 0);
    v
}

/// Keeps `v` for the next [`scratch`] on this thread (at most 4 buffers, largest last).
fn recycle(v: Vec<i16>) {
    SCRATCH.with(|s| {
        let mut pool = s.borrow_mut();
        pool.push(v);
        pool.sort_by_key(Vec::capacity);
        if pool.len() > 4 {
            pool.remove(0);
        }
    });
}

#[cfg(test)]
thread_local! {
    static WITHOUT_VNNI: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Tests: runs `f` with the AVX2 build of the kernels on this thread even where the CPU has
/// AVX-VNNI, so that both builds are checked on a machine that has it.
#[cfg(test)]
pub(crate) fn without_vnni<R>(f: impl FnOnce() -> R) -> R {
    WITHOUT_VNNI.with(|c| c.set(true));
    let r = f();
    WITHOUT_VNNI.with(|c| c.set(false));
    r
}

// ---------------------------------------------------------------------------------------
// Dense GEMM

/// `out (rows × p) = W · X`, see [`scalar::gemm_dense`].
pub fn gemm_dense(w: &DenseWeights, x: &[i16], p: usize, out: &mut [i32]) {
    if !available() {
        return scalar::gemm_dense(w, x, p, out);
    }
    if w.rows == 0 || p == 0 {
        return;
    }
    if w.cols == 0 {
        out.fill(0);
        return;
    }
    // SAFETY: AVX2 is available (checked above).
    unsafe {
        if p < 8 {
            best!(gemm_dense_i16_1xpk16(w, x, p, out))
        } else {
            best!(gemm_dense_i16_4x16(w, x, p, out))
        }
    }
}

/// Whether [`conv_dense`] runs this geometry without an im2col matrix.
pub fn has_direct_conv(g: &ConvGeometry) -> bool {
    available() && (g.stride_w == 1 || g.stride_w == 2) && g.dilation_w == 1
}

/// Dense convolution without an im2col matrix (`conv_dense_i16_4x16s{1,2}__avx2`), for
/// [`has_direct_conv`] geometries, else the scalar reference (see [`scalar::conv_dense`]).
/// As in `wasm_simd`: the input is copied once into zero-padded planes, so the window rows
/// of 16 neighbouring output pixels are 16 consecutive codes (stride 2: the even ones of
/// 32); one 16-pixel panel of k-pairs is packed straight from the planes and every row block
/// of the weights runs on it while it sits in L1.
pub fn conv_dense(w: &DenseWeights, x: &[i16], g: &ConvGeometry, out: &mut [i32]) {
    if !has_direct_conv(g) {
        return scalar::conv_dense(w, x, g, out);
    }
    if w.rows == 0 || g.pixels() == 0 {
        return;
    }
    debug_assert!(w.cols == g.patch_len());
    // SAFETY: AVX2 is available (checked by has_direct_conv).
    unsafe {
        match g.stride_w {
            1 => best!(conv_dense_i16_4x16::<1>(w, x, g, out)),
            _ => best!(conv_dense_i16_4x16::<2>(w, x, g, out)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Sparse GEMM

/// `out (rows × p) = W · X` over the stored entries, see [`scalar::gemm_sparse`].
pub fn gemm_sparse(w: &SparseWeights, x: &[i16], p: usize, out: &mut [i32]) {
    if !available() || p == 1 {
        // p = 1: a plain loop over the stored entries is all there is to do.
        return scalar::gemm_sparse(w, x, p, out);
    }
    if w.rows == 0 || p == 0 {
        return;
    }
    let mut panel = scratch(0);
    // SAFETY (in the closure): AVX2 is available (checked above).
    for_each_pixel_panel(x, w.cols, p, [64, 32, 16], &mut panel, |panel, tile, j0, n| unsafe {
        match tile {
            64 => best!(gemm_sparse_i16_1xt::<64, 4, 8>(w, out, panel, (p, j0, n))),
            32 => best!(gemm_sparse_i16_1xt::<32, 2, 4>(w, out, panel, (p, j0, n))),
            _ => best!(gemm_sparse_i16_1xt::<16, 1, 2>(w, out, panel, (p, j0, n))),
        }
    });
    recycle(panel);
}

// ---------------------------------------------------------------------------------------
// Depthwise convolution

/// See [`scalar::depthwise`]; 3×3 and 5×5 with stride_w 1 or 2, 1×3 and 1×5 with stride_w 1,
/// no dilation, run here; other shapes run the scalar reference.
pub fn depthwise(w: &DepthwiseWeights, x: &[i16], g: &ConvGeometry, out: &mut [i32]) {
    if !available() || g.dilation_h != 1 || g.dilation_w != 1 {
        return scalar::depthwise(w, x, g, out);
    }
    if g.pixels() == 0 || g.channels == 0 {
        return;
    }
    // SAFETY: AVX2 is available (checked above).
    unsafe {
        match (g.kh, g.kw, g.stride_w) {
            (3, 3, 1) => best!(dwconv_i16_8::<3, 3, 1>(w, x, g, out)),
            (3, 3, 2) => best!(dwconv_i16_8::<3, 3, 2>(w, x, g, out)),
            (5, 5, 1) => best!(dwconv_i16_8::<5, 5, 1>(w, x, g, out)),
            (5, 5, 2) => best!(dwconv_i16_8::<5, 5, 2>(w, x, g, out)),
            (1, 3, 1) => best!(dwconv_i16_8::<1, 3, 1>(w, x, g, out)),
            (1, 5, 1) => best!(dwconv_i16_8::<1, 5, 1>(w, x, g, out)),
            _ => scalar::depthwise(w, x, g, out),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Quantize / dequantize

/// See [`scalar::quantize_one`]. x86's float-to-int conversion gives `i32::MIN` for NaN and
/// out-of-range values where Rust's `as` gives 0 and saturates, so NaN is zeroed first and
/// the value clamped to `[codes.min − zp, codes.max − zp]` (integers, exact in f32) before
/// rounding half to even; rounding is monotonic and keeps integers, so that equals the
/// scalar round, saturating add, clamp and subtract.
pub fn quantize(x: &[f32], inv_scale: f32, zero_point: i32, codes: Codes, out: &mut [i16]) {
    if !available() {
        return scalar::quantize(x, inv_scale, zero_point, codes, out);
    }
    // SAFETY: AVX2 is available (checked above).
    unsafe { quantize_avx2(x, inv_scale, zero_point, codes, out) }
}

#[target_feature(enable = "avx2")]
unsafe fn quantize_avx2(x: &[f32], inv_scale: f32, zero_point: i32, codes: Codes, out: &mut [i16]) {
    let s = _mm256_set1_ps(inv_scale);
    let lo = _mm256_set1_ps((codes.min - zero_point) as f32);
    let hi = _mm256_set1_ps((codes.max - zero_point) as f32);
    let q8 = |v: __m256| {
        let y = _mm256_mul_ps(v, s);
        let y = _mm256_and_ps(y, _mm256_cmp_ps::<_CMP_ORD_Q>(y, y));
        let y = _mm256_min_ps(_mm256_max_ps(y, lo), hi);
        _mm256_cvtps_epi32(_mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(y))
    };
    let n16 = x.len() / 16 * 16;
    for (src, dst) in x[..n16].chunks_exact(16).zip(out[..n16].chunks_exact_mut(16)) {
        let a = q8(_mm256_loadu_ps(src.as_ptr()));
        let b = q8(_mm256_loadu_ps(src.as_ptr().add(8)));
        // packs works per 128-bit half: a0–3 b0–3 a4–7 b4–7, then put the quarters in order.
        let packed = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi32(a, b));
        _mm256_storeu_si256(dst.as_mut_ptr() as *mut __m256i, packed);
    }
    for (o, &v) in out[n16..].iter_mut().zip(&x[n16..]) {
        *o = scalar::quantize_one(v, inv_scale, zero_point, codes);
    }
}

/// The activation with the scalar reference's comparisons: its `max(a, b)` is
/// `if a < b { b } else { a }`, which is `vmaxps(b, a)` (x86 returns the second operand
/// when the comparison fails, NaN included); likewise `min(a, b)` is `vminps(b, a)`.
#[target_feature(enable = "avx2")]
#[inline]
fn activate(y: __m256, act: Activation) -> __m256 {
    let max = |a: __m256, b: __m256| _mm256_max_ps(b, a);
    let min = |a: __m256, b: __m256| _mm256_min_ps(b, a);
    match act {
        Activation::None => y,
        Activation::Relu => max(y, _mm256_setzero_ps()),
        Activation::Clip { lo, hi } => min(max(y, _mm256_set1_ps(lo)), _mm256_set1_ps(hi)),
        Activation::HardSwish => {
            let t = _mm256_add_ps(_mm256_mul_ps(y, _mm256_set1_ps(1.0 / 6.0)), _mm256_set1_ps(0.5));
            _mm256_mul_ps(y, min(max(t, _mm256_setzero_ps()), _mm256_set1_ps(1.0)))
        }
    }
}

/// See [`scalar::dequantize`]: convert, multiply, add (no FMA), then the activation.
pub fn dequantize(acc: &[i32], p: usize, dq: Dequant, out: &mut [f32]) {
    if !available() || p < 8 {
        // Few pixels per row (fully connected layers): too little work per row to matter.
        return scalar::dequantize(acc, p, dq.scale, dq.bias, dq.act, out);
    }
    // SAFETY: AVX2 is available (checked above).
    unsafe { dequantize_avx2(acc, p, dq, out) }
}

#[target_feature(enable = "avx2")]
unsafe fn dequantize_avx2(acc: &[i32], p: usize, dq: Dequant, out: &mut [f32]) {
    let Dequant { scale, bias, act } = dq;
    let n8 = p / 8 * 8;
    for ((r, &sc), (row, dst)) in
        scale.iter().enumerate().zip(acc.chunks_exact(p).zip(out.chunks_exact_mut(p)))
    {
        let bv = bias.map_or(0.0, |b| b[r]);
        let (s, b) = (_mm256_set1_ps(sc), _mm256_set1_ps(bv));
        for (a, o) in row[..n8].chunks_exact(8).zip(dst[..n8].chunks_exact_mut(8)) {
            let v = _mm256_cvtepi32_ps(_mm256_loadu_si256(a.as_ptr() as *const __m256i));
            _mm256_storeu_ps(o.as_mut_ptr(), activate(_mm256_add_ps(_mm256_mul_ps(v, s), b), act));
        }
        for (o, &a) in dst[n8..].iter_mut().zip(&row[n8..]) {
            *o = scalar::dequantize_one(a, sc, bv, act);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The integer kernels, compiled once per feature set (module header).

/// Defines the integer kernels with `#[target_feature(enable = $features)]`.
macro_rules! integer_kernels {
    ($features:literal) => {
        #[inline(always)]
        unsafe fn load(p: *const i16) -> __m256i {
            _mm256_loadu_si256(p as *const __m256i)
        }
        #[inline(always)]
        unsafe fn store(p: *mut i32, v: __m256i) {
            _mm256_storeu_si256(p as *mut __m256i, v)
        }
        /// The i16 pair `(a, b)` as one i32, in every lane.
        #[target_feature(enable = $features)]
        #[inline]
        fn pair(a: i16, b: i16) -> __m256i {
            _mm256_set1_epi32((u32::from(a as u16) | (u32::from(b as u16) << 16)) as i32)
        }
        /// The two i16 at `p` as one i32, in every lane.
        #[target_feature(enable = $features)]
        #[inline]
        unsafe fn splat_pair(p: *const i16) -> __m256i {
            _mm256_set1_epi32(ptr::read_unaligned(p as *const i32))
        }
        #[target_feature(enable = $features)]
        #[inline]
        fn mac(acc: __m256i, x: __m256i, w: __m256i) -> __m256i {
            _mm256_add_epi32(acc, _mm256_madd_epi16(x, w))
        }
        /// Stores the first `n ≤ 8 · acc.len()` lanes of `acc` (in order) at `dst`.
        #[target_feature(enable = $features)]
        #[inline]
        fn store_lanes(acc: &[__m256i], dst: &mut [i32]) {
            // A partial block goes through a buffer (acc.len() ≤ 8 vectors of 8 lanes).
            let mut tmp = [0i32; 64];
            let whole = dst.len() == acc.len() * 8;
            let base = if whole { dst.as_mut_ptr() } else { tmp.as_mut_ptr() };
            for (i, &a) in acc.iter().enumerate() {
                // SAFETY: base holds acc.len() · 8 elements (dst when whole, else tmp).
                unsafe { store(base.add(8 * i), a) };
            }
            if !whole {
                let n = dst.len();
                dst.copy_from_slice(&tmp[..n]);
            }
        }
        /// Packs X (`cols × p`) into 16-pixel tiles of k-pairs ([`pack_x_kpairs`]).
        #[target_feature(enable = $features)]
        #[inline]
        fn pack_x_kpairs16(x: &[i16], cols: usize, p: usize) -> Vec<i16> {
            let mut packed = scratch(kpair_tiles_len(cols, p, 16));
            pack_x_kpairs(x, cols, p, 16, &mut packed, |a, b, dst| {
                // SAFETY: a and b hold 16 elements, dst 32.
                unsafe {
                    let (va, vb) = (load(a.as_ptr()), load(b.as_ptr()));
                    // Per 128-bit half: pixels 0–3 | 8–11 and 4–7 | 12–15.
                    let (lo, hi) = (_mm256_unpacklo_epi16(va, vb), _mm256_unpackhi_epi16(va, vb));
                    let d = dst.as_mut_ptr() as *mut __m256i;
                    _mm256_storeu_si256(d, _mm256_permute2x128_si256::<0x20>(lo, hi));
                    _mm256_storeu_si256(d.add(1), _mm256_permute2x128_si256::<0x31>(lo, hi));
                }
            });
            packed
        }
        /// Weight pair for the odd last column of row `r` (its partner in X is zero), or zeros.
        #[target_feature(enable = $features)]
        #[inline]
        fn odd_pair(w: &DenseWeights, r: usize) -> __m256i {
            if w.cols % 2 == 1 {
                pair(w.w[r * w.cols + w.cols - 1], 0)
            } else {
                _mm256_setzero_si256()
            }
        }
        /// One register block of `R` rows × 16 pixels over a packed panel of `kp` k-pairs
        /// (`full_pairs` of them full, the last one the odd column whose pairs are `odd`); the
        /// weight rows start at `rows`, `cols` apart. Returns `2R` accumulators, pixels 0–7 and
        /// 8–15 of each row.
        ///
        /// # Safety
        /// AVX2; `rows` points at `R` rows of `cols ≥ 2 · full_pairs` weights and `panel` at
        /// `kp · 32` codes.
        #[target_feature(enable = $features)]
        #[inline]
        unsafe fn block_rx16<const R: usize, const A: usize>(
            panel: *const i16,
            rows: *const i16,
            cols: usize,
            odd: &[__m256i],
        ) -> [__m256i; A] {
            let (kp, full_pairs) = (cols.div_ceil(2), cols / 2);
            debug_assert!(A == 2 * R && odd.len() == R);
            let mut acc = [_mm256_setzero_si256(); A];
            for k2 in 0..full_pairs {
                let xa = load(panel.add(k2 * 32));
                let xb = load(panel.add(k2 * 32 + 16));
                for i in 0..R {
                    let v = splat_pair(rows.add(i * cols + 2 * k2));
                    acc[2 * i] = mac(acc[2 * i], xa, v);
                    acc[2 * i + 1] = mac(acc[2 * i + 1], xb, v);
                }
            }
            if full_pairs < kp {
                let xa = load(panel.add(full_pairs * 32));
                let xb = load(panel.add(full_pairs * 32 + 16));
                for i in 0..R {
                    acc[2 * i] = mac(acc[2 * i], xa, odd[i]);
                    acc[2 * i + 1] = mac(acc[2 * i + 1], xb, odd[i]);
                }
            }
            acc
        }
        /// Runs every row of `w` on one packed 16-pixel panel, storing `n` pixels of each output
        /// row from pixel `j0` (rows `p` apart in `out`).
        ///
        /// # Safety
        /// AVX2; `panel` holds `ceil(cols / 2) · 32` codes, `odd` one pair per row, and
        /// `w.w.len() = rows · cols`.
        #[target_feature(enable = $features)]
        #[inline]
        unsafe fn rows_on_panel16(
            w: &DenseWeights,
            odd: &[__m256i],
            panel: &[i16],
            out: &mut [i32],
            p: usize,
            j0: usize,
            n: usize,
        ) {
            let (rows, cols) = (w.rows, w.cols);
            debug_assert!(panel.len() >= cols.div_ceil(2) * 32 && odd.len() == rows);
            let (pp, wp) = (panel.as_ptr(), w.w.as_ptr());
            let mut r0 = 0;
            while r0 + 4 <= rows {
                let acc = block_rx16::<4, 8>(pp, wp.add(r0 * cols), cols, &odd[r0..r0 + 4]);
                for i in 0..4 {
                    store_lanes(&acc[2 * i..2 * i + 2], &mut out[(r0 + i) * p + j0..][..n]);
                }
                r0 += 4;
            }
            for r in r0..rows {
                let acc = block_rx16::<1, 2>(pp, wp.add(r * cols), cols, &odd[r..r + 1]);
                store_lanes(&acc, &mut out[r * p + j0..][..n]);
            }
        }
        /// Register block of 4 rows × 16 pixels over k-pairs (module header), every row on one
        /// packed 16-pixel panel at a time, so the panel stays in L1 while the weights stream.
        #[target_feature(enable = $features)]
        #[inline]
        pub(super) unsafe fn gemm_dense_i16_4x16(w: &DenseWeights, x: &[i16], p: usize, out: &mut [i32]) {
            let packed = pack_x_kpairs16(x, w.cols, p);
            let kp = w.cols.div_ceil(2);
            let odd: Vec<__m256i> = (0..w.rows).map(|r| odd_pair(w, r)).collect();
            for (t, panel) in packed.chunks_exact(kp * 32).enumerate() {
                let j0 = 16 * t;
                rows_on_panel16(w, &odd, panel, out, p, j0, (p - j0).min(16));
            }
            recycle(packed);
        }
        /// Sixteen codes for 16 output pixels of stride `SW` starting at `p`.
        ///
        /// # Safety
        /// AVX2; `p` points at `16 · SW` readable codes.
        #[target_feature(enable = $features)]
        #[inline]
        unsafe fn strided16<const SW: usize>(p: *const i16) -> __m256i {
            if SW == 1 {
                load(p)
            } else {
                // The even codes, sign-extended to i32 lanes (exact, so `packs` does not saturate);
                // packs works per 128-bit half, the 64-bit permute restores the order.
                let even = |v: __m256i| _mm256_srai_epi32::<16>(_mm256_slli_epi32::<16>(v));
                let packed = _mm256_packs_epi32(even(load(p)), even(load(p.add(16))));
                _mm256_permute4x64_epi64::<0b11_01_10_00>(packed)
            }
        }
        #[target_feature(enable = $features)]
        #[inline]
        pub(super) unsafe fn conv_dense_i16_4x16<const SW: usize>(
            w: &DenseWeights,
            x: &[i16],
            g: &ConvGeometry,
            out: &mut [i32],
        ) {
            let p = g.pixels();
            // Padded planes with 16 · SW columns of slack for the last (partial) tile of a row.
            let planes = PaddedPlanes::new(g, SW, 16 * SW);
            let mut padded = scratch(planes.len(g));
            planes.fill(x, g, &mut padded);
            let (pw, taps) = (planes.cols, planes.tap_offsets(g));
            let odd: Vec<__m256i> = (0..w.rows).map(|r| odd_pair(w, r)).collect();
            let kp = w.cols.div_ceil(2);
            let mut panel = scratch(kp * 32);
            let src = padded.as_ptr();
            for oy in 0..g.out_h {
                let row0 = oy * g.stride_h * pw;
                for ox0 in (0..g.out_w).step_by(16) {
                    let base = row0 + ox0 * SW;
                    // SAFETY: the window of the last row and tap starts at most at
                    // (channels · ph − 1) · pw + (out_w − 1) · SW + kw − 1, and 16 · SW codes from
                    // there end within padded (pw has 16 · SW of slack); panel holds kp · 32 codes.
                    let dst = panel.as_mut_ptr();
                    let put = |k2: usize, a: __m256i, b: __m256i| {
                        let (lo, hi) = (_mm256_unpacklo_epi16(a, b), _mm256_unpackhi_epi16(a, b));
                        let d = dst.add(k2 * 32) as *mut __m256i;
                        _mm256_storeu_si256(d, _mm256_permute2x128_si256::<0x20>(lo, hi));
                        _mm256_storeu_si256(d.add(1), _mm256_permute2x128_si256::<0x31>(lo, hi));
                    };
                    for k2 in 0..w.cols / 2 {
                        let a = strided16::<SW>(src.add(base + *taps.get_unchecked(2 * k2)));
                        let b = strided16::<SW>(src.add(base + *taps.get_unchecked(2 * k2 + 1)));
                        put(k2, a, b);
                    }
                    if w.cols % 2 == 1 {
                        let a = strided16::<SW>(src.add(base + *taps.get_unchecked(w.cols - 1)));
                        put(kp - 1, a, _mm256_setzero_si256());
                    }
                    let n = (g.out_w - ox0).min(16);
                    rows_on_panel16(w, &odd, &panel, out, p, oy * g.out_w + ox0, n);
                }
            }
            recycle(panel);
            recycle(padded);
        }
        /// Fully connected shapes (p < 8): each output is a dot product along k, 16 k-steps per
        /// `vpmaddwd`, against X transposed once (`p × cols`, rows padded with zeros to 16).
        #[target_feature(enable = $features)]
        #[inline]
        pub(super) unsafe fn gemm_dense_i16_1xpk16(w: &DenseWeights, x: &[i16], p: usize, out: &mut [i32]) {
            let cols = w.cols;
            let k16 = cols / 16 * 16;
            let mut xt = scratch(p * cols);
            for k in 0..cols {
                for j in 0..p {
                    xt[j * cols + k] = x[k * p + j];
                }
            }
            for r in 0..w.rows {
                let wr = &w.w[r * cols..(r + 1) * cols];
                for j in 0..p {
                    let xr = &xt[j * cols..(j + 1) * cols];
                    let mut acc = _mm256_setzero_si256();
                    let mut k = 0;
                    while k < k16 {
                        // SAFETY: k + 16 ≤ cols = wr.len() = xr.len().
                        acc = mac(acc, load(xr.as_ptr().add(k)), load(wr.as_ptr().add(k)));
                        k += 16;
                    }
                    let mut s = hsum(acc);
                    for k in k16..cols {
                        s = s.wrapping_add(i32::from(wr[k]) * i32::from(xr[k]));
                    }
                    out[r * p + j] = s;
                }
            }
            recycle(xt);
        }
        #[target_feature(enable = $features)]
        #[inline]
        fn hsum(v: __m256i) -> i32 {
            let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
            let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
            let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
            _mm_cvtsi128_si32(s)
        }
        /// Adds one pair of stored entries (weights `v`, a pair in every lane) times their X
        /// rows at `a` and `b` (`16·G` codes each) to the accumulators: the rows are
        /// interleaved per 128-bit half, so `acc[2g]` gets pixels 0–3 | 8–11 of group `g` and
        /// `acc[2g + 1]` pixels 4–7 | 12–15.
        ///
        /// # Safety
        /// `a` and `b` point at `16·G` readable codes.
        #[target_feature(enable = $features)]
        #[inline]
        unsafe fn sparse_pair<const G: usize, const A: usize>(
            acc: &mut [__m256i; A],
            a: *const i16,
            b: *const i16,
            v: __m256i,
        ) {
            for g in 0..G {
                let (va, vb) = (load(a.add(16 * g)), load(b.add(16 * g)));
                acc[2 * g] = mac(acc[2 * g], _mm256_unpacklo_epi16(va, vb), v);
                acc[2 * g + 1] = mac(acc[2 * g + 1], _mm256_unpackhi_epi16(va, vb), v);
            }
        }
        /// One pixel tile of `T` = 16·`G` pixels for every row: `A` = 2·`G` accumulators, stored
        /// entries two at a time (module header).
        #[target_feature(enable = $features)]
        #[inline]
        pub(super) unsafe fn gemm_sparse_i16_1xt<const T: usize, const G: usize, const A: usize>(
            w: &SparseWeights,
            out: &mut [i32],
            x_panel: &[i16],
            (p, j0, n): (usize, usize, usize),
        ) {
            debug_assert!(T == 16 * G && A == 2 * G);
            let xp = x_panel.as_ptr();
            for r in 0..w.rows {
                let (lo, hi) = (w.row_ptr[r] as usize, w.row_ptr[r + 1] as usize);
                let cols = &w.col[lo..hi];
                let vals = &w.val[lo..hi];
                let mut acc = [_mm256_setzero_si256(); A];
                // SAFETY: every column is < w.cols (checked by the caller) and the panel holds
                // w.cols · T elements; 2k + 1 < cols.len() = vals.len().
                for k in 0..cols.len() / 2 {
                    let a = xp.add(*cols.get_unchecked(2 * k) as usize * T);
                    let b = xp.add(*cols.get_unchecked(2 * k + 1) as usize * T);
                    sparse_pair::<G, A>(&mut acc, a, b, splat_pair(vals.as_ptr().add(2 * k)));
                }
                if cols.len() % 2 == 1 {
                    // The odd last entry: its partner's weight is 0.
                    let i = cols.len() - 1;
                    let a = xp.add(*cols.get_unchecked(i) as usize * T);
                    sparse_pair::<G, A>(&mut acc, a, a, pair(*vals.get_unchecked(i), 0));
                }
                // acc[2g]: pixels 0–3 | 8–11 of group g, acc[2g + 1]: 4–7 | 12–15.
                let mut ordered = [_mm256_setzero_si256(); A];
                for g in 0..G {
                    ordered[2 * g] = _mm256_permute2x128_si256::<0x20>(acc[2 * g], acc[2 * g + 1]);
                    ordered[2 * g + 1] = _mm256_permute2x128_si256::<0x31>(acc[2 * g], acc[2 * g + 1]);
                }
                store_lanes(&ordered, &mut out[r * p + j0..][..n]);
            }
        }
        /// `KH × KW` depthwise convolution, horizontal stride `SW`, 8 output pixels per step.
        ///
        /// Each channel is copied into `SW` zero-padded planes of `hp` rows × `wpl` columns: plane
        /// `s`, row `yy`, column `c` holds padded column `SW·c + s`, that is input
        /// `(yy − pad_top, SW·c + s − pad_left)`, 0 outside the image. Output `(oy, ox)`, tap
        /// `(ty, tx)` reads padded column `SW·ox + tx`: plane `tx % SW`, column `ox + tx / SW`, so
        /// 8 neighbouring output pixels read 8 consecutive codes of one plane. The planes are zeroed
        /// once per call; per channel only the image's own cells are rewritten, so the padding stays
        /// zero. Output rows are computed 8 pixels at a time into a row buffer rounded up to 8.
        #[target_feature(enable = $features)]
        #[inline]
        pub(super) unsafe fn dwconv_i16_8<const KH: usize, const KW: usize, const SW: usize>(
            weights: &DepthwiseWeights,
            input: &[i16],
            g: &ConvGeometry,
            out: &mut [i32],
        ) {
            let (h, wd, out_h, out_w) = (g.h, g.w, g.out_h, g.out_w);
            let blocks = out_w.div_ceil(8);
            // Columns read: up to 8·blocks − 1 + (KW − 1) / SW in each plane.
            let wpl = 8 * blocks + (KW - 1) / SW + 1;
            let hp = (out_h - 1) * g.stride_h + KH;
            let mut planes = scratch(SW * hp * wpl);
            let mut row = vec![0i32; 8 * blocks];
            // Input rows that land in the planes.
            let rows_in = h.min(hp.saturating_sub(g.pad_top));
            let taps = KH * KW;
            let mut wv = [_mm256_setzero_si256(); 25];
            for c in 0..g.channels {
                let filt = &weights.w[c * taps..(c + 1) * taps];
                for (v, &f) in wv.iter_mut().zip(filt) {
                    // The weight in the low half of each lane (see the module header).
                    *v = _mm256_set1_epi32(i32::from(f as u16));
                }
                let img = &input[c * h * wd..(c + 1) * h * wd];
                for iy in 0..rows_in {
                    let src = &img[iy * wd..(iy + 1) * wd];
                    let py = iy + g.pad_top;
                    if SW == 1 {
                        let first = g.pad_left.min(wpl);
                        let n = wd.min(wpl - first);
                        planes[py * wpl + first..][..n].copy_from_slice(&src[..n]);
                        continue;
                    }
                    for (ix, &v) in src.iter().enumerate() {
                        let pc = ix + g.pad_left;
                        let (s, col) = (pc % SW, pc / SW);
                        if col < wpl {
                            planes[(s * hp + py) * wpl + col] = v;
                        }
                    }
                }
                let pp = planes.as_ptr();
                for oy in 0..out_h {
                    let y0 = oy * g.stride_h;
                    for b in 0..blocks {
                        let ox = 8 * b;
                        let mut acc = _mm256_setzero_si256();
                        for ty in 0..KH {
                            for tx in 0..KW {
                                // SAFETY: plane tx % SW, row y0 + ty < hp, columns
                                // ox + tx / SW .. + 8 ≤ 8·blocks + (KW − 1) / SW < wpl.
                                let src = pp.add(((tx % SW) * hp + y0 + ty) * wpl + ox + tx / SW);
                                let v = _mm256_cvtepi16_epi32(_mm_loadu_si128(src as *const __m128i));
                                acc = mac(acc, v, wv[ty * KW + tx]);
                            }
                        }
                        store(row.as_mut_ptr().add(ox), acc);
                    }
                    out[(c * out_h + oy) * out_w..][..out_w].copy_from_slice(&row[..out_w]);
                }
            }
            recycle(planes);
        }
    };
}

/// The integer kernels for AVX2.
mod avx2 {
    use super::*;
    integer_kernels!("avx2");
}

/// The same kernels for AVX2 + AVX-VNNI: LLVM fuses `vpmaddwd` + `vpaddd` into `vpdpwssd`.
mod avx2_vnni {
    use super::*;
    integer_kernels!("avx2,avxvnni");
}
