//! One harness for every kernel. Each case runs three computations that must agree bit for
//! bit: the dispatching function of [`super`] (wasm simd128 build: the `wasm_simd` kernels;
//! native: the scalar ones), the scalar reference, and a naive computation written here
//! independently of both. Shapes sit at, below, above and at multiples of every tile
//! (4 rows × 8 pixels, 32/16/8-pixel sparse tiles, 8 k-steps, 8 output pixels, 8 codes),
//! with densities 1, 0.5, 0.1 and 0 and extreme values.
//!
//! Natively: `cargo test --lib kernels`; in Node with the simd128 kernels:
//! `make test-wasm-kernels` (wasm-bindgen-test-runner).

use std::fmt::Debug;

use super::*;
use crate::synth::SplitMix64;

/// Declares tests that run natively (`#[test]`) and under wasm-bindgen-test in Node.
macro_rules! kernel_tests {
    ($($name:ident => $body:expr;)*) => {$(
        #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
        #[cfg_attr(not(target_arch = "wasm32"), test)]
        fn $name() {
            $body
        }
    )*};
}

/// A kernel invocation checked three ways.
trait Case: Debug {
    type Out: PartialEq + Debug;
    /// Through the dispatching function (the optimised kernel where one is compiled in).
    fn dispatch(&self) -> Vec<Self::Out>;
    /// The scalar reference.
    fn reference(&self) -> Vec<Self::Out>;
    /// Written here, independently.
    fn naive(&self) -> Vec<Self::Out>;
}

fn first_mismatch<T: PartialEq>(a: &[T], b: &[T]) -> Option<usize> {
    if a.len() != b.len() {
        return Some(a.len().min(b.len()));
    }
    a.iter().zip(b).position(|(x, y)| x != y)
}

/// Runs every case (at least one).
fn check<C: Case>(cases: impl IntoIterator<Item = C>) {
    let mut n = 0;
    for case in cases {
        let (fast, reference, naive) = (case.dispatch(), case.reference(), case.naive());
        if let Some(i) = first_mismatch(&fast, &reference) {
            panic!("dispatch ≠ scalar at {i}: {:?} vs {:?} for {case:?}", fast.get(i), reference.get(i));
        }
        if let Some(i) = first_mismatch(&reference, &naive) {
            panic!("scalar ≠ naive at {i}: {:?} vs {:?} for {case:?}", reference.get(i), naive.get(i));
        }
        n += 1;
    }
    assert!(n > 0, "no cases");
}

/// f32 compared by bits, every NaN equal to every NaN (wasm leaves NaN payloads open).
#[derive(Clone, Copy, Debug)]
struct Bits(f32);

impl PartialEq for Bits {
    fn eq(&self, other: &Self) -> bool {
        (self.0.is_nan() && other.0.is_nan()) || self.0.to_bits() == other.0.to_bits()
    }
}

/// Centered values in `[−255, 255]`, nonzero with probability `density`.
fn centered(rng: &mut SplitMix64, n: usize, density: f64) -> Vec<i16> {
    (0..n)
        .map(|_| {
            if rng.next_open01() < density {
                let v = (rng.next_u64() % 510) as i16 - 255; // −255..=254
                if v == 0 {
                    255
                } else {
                    v
                }
            } else {
                0
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// GEMM

struct GemmCase {
    rows: usize,
    cols: usize,
    p: usize,
    /// Row-major centered weights.
    w: Vec<i16>,
    x: Vec<i16>,
    weights: GemmWeights,
}

impl Debug for GemmCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let nnz = self.w.iter().filter(|&&v| v != 0).count();
        let kind = if self.weights.is_sparse() { "sparse" } else { "dense" };
        write!(f, "{kind} gemm {}x{} · {}x{} ({nnz} nonzeros)", self.rows, self.cols, self.cols, self.p)
    }
}

fn dense_of(w: &[i16], rows: usize, cols: usize) -> GemmWeights {
    GemmWeights::Dense(DenseWeights { rows, cols, w: w.to_vec() })
}

fn sparse_of(w: &[i16], rows: usize, cols: usize) -> GemmWeights {
    let (mut row_ptr, mut col, mut val) = (vec![0u32], Vec::new(), Vec::new());
    for r in 0..rows {
        for c in 0..cols {
            if w[r * cols + c] != 0 {
                col.push(c as u32);
                val.push(w[r * cols + c]);
            }
        }
        row_ptr.push(col.len() as u32);
    }
    GemmWeights::Sparse(SparseWeights { rows, cols, row_ptr, col, val })
}

impl GemmCase {
    fn new(rows: usize, cols: usize, p: usize, w: Vec<i16>, x: Vec<i16>, sparse: bool) -> Self {
        let weights = if sparse { sparse_of(&w, rows, cols) } else { dense_of(&w, rows, cols) };
        GemmCase { rows, cols, p, w, x, weights }
    }

    fn random(rng: &mut SplitMix64, rows: usize, cols: usize, p: usize, density: f64, sparse: bool) -> Self {
        let w = centered(rng, rows * cols, density);
        let x = centered(rng, cols * p, 0.8);
        GemmCase::new(rows, cols, p, w, x, sparse)
    }
}

impl Case for GemmCase {
    type Out = i32;

    fn dispatch(&self) -> Vec<i32> {
        // Garbage in the output: the kernels must overwrite all of it.
        let mut out = vec![0x5a5a_5a5a; self.rows * self.p];
        gemm(&self.weights, &self.x, self.p, &mut out).unwrap();
        out
    }

    fn reference(&self) -> Vec<i32> {
        let mut out = vec![-7; self.rows * self.p];
        match &self.weights {
            GemmWeights::Dense(d) => scalar::gemm_dense(d, &self.x, self.p, &mut out),
            GemmWeights::Sparse(s) => scalar::gemm_sparse(s, &self.x, self.p, &mut out),
        }
        out
    }

    fn naive(&self) -> Vec<i32> {
        let mut out = Vec::with_capacity(self.rows * self.p);
        for r in 0..self.rows {
            for j in 0..self.p {
                let s: i64 = (0..self.cols)
                    .map(|k| i64::from(self.w[r * self.cols + k]) * i64::from(self.x[k * self.p + j]))
                    .sum();
                out.push(i32::try_from(s).expect("test accumulates past i32"));
            }
        }
        out
    }
}

const GEMM_ROWS: [usize; 7] = [1, 3, 4, 5, 8, 9, 13];
const GEMM_COLS: [usize; 10] = [1, 2, 3, 7, 8, 9, 16, 17, 33, 64];
const GEMM_P: [usize; 20] = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 63, 64, 65, 97];

fn gemm_shapes(sparse: bool, density: f64, seed: u64) {
    let mut rng = SplitMix64::new(seed);
    let mut cases = Vec::new();
    for &rows in &GEMM_ROWS {
        for &cols in &GEMM_COLS {
            for &p in &GEMM_P {
                cases.push(GemmCase::random(&mut rng, rows, cols, p, density, sparse));
            }
        }
    }
    check(cases);
}

/// All weights at ±255 and activations at ±`x_max`: the largest sums the layer shapes allow,
/// over odd and even k, in both signs and alternating.
fn gemm_extremes(sparse: bool, x_max: i16, shapes: &[(usize, usize, usize)]) {
    let mut cases = Vec::new();
    for &(rows, cols, p) in shapes {
        for pattern in 0..4 {
            let w: Vec<i16> = (0..rows * cols)
                .map(|i| match pattern {
                    0 | 1 => 255,
                    2 => -255,
                    _ => {
                        if i % 3 == 0 {
                            -255
                        } else {
                            255
                        }
                    }
                })
                .collect();
            let x: Vec<i16> = (0..cols * p)
                .map(|i| match pattern {
                    0 | 2 => -x_max,
                    1 => x_max,
                    _ => {
                        if i % 2 == 0 {
                            -x_max
                        } else {
                            x_max
                        }
                    }
                })
                .collect();
            cases.push(GemmCase::new(rows, cols, p, w, x, sparse));
        }
    }
    check(cases);
}

const INT8_EXTREME_SHAPES: [(usize, usize, usize); 5] =
    [(5, 4099, 9), (4, 2048, 33), (1, 4608, 1), (3, 1001, 3), (9, 577, 40)];
const WIDE_EXTREME_SHAPES: [(usize, usize, usize); 5] =
    [(5, 257, 9), (4, 256, 33), (1, 257, 1), (3, 101, 3), (9, 129, 40)];

/// Larger layers, as the engine runs them (ResNet/MobileNet-like, scaled down).
fn gemm_layers(sparse: bool) {
    let mut rng = SplitMix64::new(99);
    let mut cases = Vec::new();
    for &(rows, cols, p) in &[(64, 288, 49), (24, 144, 196), (16, 32, 200), (130, 96, 36), (10, 1280, 1)] {
        for &d in &[1.0, 0.35, 0.1] {
            cases.push(GemmCase::random(&mut rng, rows, cols, p, d, sparse));
        }
    }
    check(cases);
}

kernel_tests! {
    gemm_dense_density_1 => gemm_shapes(false, 1.0, 1);
    gemm_dense_density_half => gemm_shapes(false, 0.5, 2);
    gemm_dense_density_tenth => gemm_shapes(false, 0.1, 3);
    gemm_dense_all_zero => gemm_shapes(false, 0.0, 4);
    gemm_sparse_density_1 => gemm_shapes(true, 1.0, 5);
    gemm_sparse_density_half => gemm_shapes(true, 0.5, 6);
    gemm_sparse_density_tenth => gemm_shapes(true, 0.1, 7);
    gemm_sparse_all_zero => gemm_shapes(true, 0.0, 8);
    gemm_dense_extremes => gemm_extremes(false, 255, &INT8_EXTREME_SHAPES);
    gemm_sparse_extremes => gemm_extremes(true, 255, &INT8_EXTREME_SHAPES);
    // 15-bit activations (the engine's widest dynamic codes): Σ|w| · 32767 < 2^31 up to
    // 257 weights of ±255 per row.
    gemm_dense_extremes_15_bit => gemm_extremes(false, 32767, &WIDE_EXTREME_SHAPES);
    gemm_sparse_extremes_15_bit => gemm_extremes(true, 32767, &WIDE_EXTREME_SHAPES);
    gemm_dense_layers => gemm_layers(false);
    gemm_sparse_layers => gemm_layers(true);
    gemm_constructors => constructors();
    gemm_rejects_malformed => malformed();
}

/// `from_dense_i8` (zero points, either storage) and `from_csr` give the naive product.
fn constructors() {
    let mut rng = SplitMix64::new(11);
    for &density in &[1.0, 0.6, 0.3, 0.05, 0.0] {
        let (rows, cols, p) = (7, 37, 19);
        let zp: Vec<i32> = (0..rows).map(|r| [-128, -3, 0, 5, 127, 1, -1][r]).collect();
        let q: Vec<i8> = (0..rows * cols)
            .map(|i| {
                let z = zp[i / cols] as i8;
                if rng.next_open01() < density {
                    (rng.next_u64() % 256) as u8 as i8
                } else {
                    z
                }
            })
            .collect();
        let w: Vec<i16> = q.iter().enumerate().map(|(i, &v)| (i32::from(v) - zp[i / cols]) as i16).collect();
        let x = centered(&mut rng, cols * p, 1.0);
        let packed = GemmWeights::from_dense_i8(&q, rows, cols, &zp).unwrap();
        assert_eq!(packed.is_sparse(), (packed.stored() as f64) < SPARSE_MAX_DENSITY * (rows * cols) as f64);
        let case = GemmCase { rows, cols, p, w: w.clone(), x: x.clone(), weights: packed };
        check([case]);

        // Symmetric weights through CSR.
        let q0: Vec<i8> =
            q.iter().enumerate().map(|(i, &v)| if v as i32 == zp[i / cols] { 0 } else { v }).collect();
        let csr = crate::sparse::Csr::from_dense(&q0, rows, cols).unwrap();
        let w0: Vec<i16> = q0.iter().map(|&v| i16::from(v)).collect();
        let case = GemmCase { rows, cols, p, w: w0, x, weights: GemmWeights::from_csr(&csr).unwrap() };
        check([case]);
    }
}

fn malformed() {
    let good = SparseWeights { rows: 2, cols: 3, row_ptr: vec![0, 1, 2], col: vec![0, 2], val: vec![1, -1] };
    let x = vec![1i16; 3 * 4];
    let mut out = vec![0i32; 2 * 4];
    gemm(&GemmWeights::Sparse(good.clone()), &x, 4, &mut out).unwrap();
    assert_eq!(out, [1, 1, 1, 1, -1, -1, -1, -1]);
    let bad = [
        SparseWeights { col: vec![0, 3], ..good.clone() },
        SparseWeights { row_ptr: vec![0, 2, 1], ..good.clone() },
        SparseWeights { row_ptr: vec![0, 1, 3], ..good.clone() },
        SparseWeights { row_ptr: vec![1, 1, 2], ..good.clone() },
        SparseWeights { row_ptr: vec![0, 2], ..good.clone() },
        SparseWeights { val: vec![1], ..good.clone() },
    ];
    for s in bad {
        assert!(gemm(&GemmWeights::Sparse(s.clone()), &x, 4, &mut out).is_err(), "{s:?}");
    }
    let dense = DenseWeights { rows: 2, cols: 3, w: vec![1; 5] };
    assert!(gemm(&GemmWeights::Dense(dense), &x, 4, &mut out).is_err());
}

// ---------------------------------------------------------------------------------------
// Depthwise convolution and im2col

struct ConvCase {
    g: ConvGeometry,
    w: DepthwiseWeights,
    x: Vec<i16>,
}

impl Debug for ConvCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.g)
    }
}

impl ConvCase {
    /// Channels `c`, input `h × w`, kernel `kh × kw`, strides, dilations, pads (top, left,
    /// bottom, right); `extra_w`: output columns past the natural size (windows entirely in
    /// padding, which the geometry allows).
    #[allow(clippy::too_many_arguments)]
    fn new(
        rng: &mut SplitMix64,
        c: usize,
        (h, w): (usize, usize),
        (kh, kw): (usize, usize),
        (sh, sw): (usize, usize),
        (dh, dw): (usize, usize),
        (pt, pl, pb, pr): (usize, usize, usize, usize),
        extra_w: usize,
    ) -> Option<ConvCase> {
        let span_h = dh * (kh - 1) + 1;
        let span_w = dw * (kw - 1) + 1;
        if h + pt + pb < span_h || w + pl + pr < span_w {
            return None;
        }
        let out_h = (h + pt + pb - span_h) / sh + 1;
        let out_w = (w + pl + pr - span_w) / sw + 1 + extra_w;
        let g = ConvGeometry {
            channels: c,
            h,
            w,
            kh,
            kw,
            stride_h: sh,
            stride_w: sw,
            dilation_h: dh,
            dilation_w: dw,
            pad_top: pt,
            pad_left: pl,
            out_h,
            out_w,
        };
        let wq = centered(rng, c * kh * kw, 0.9);
        let x = centered(rng, c * h * w, 0.9);
        Some(ConvCase { g, w: DepthwiseWeights { channels: c, kh, kw, w: wq }, x })
    }

    fn naive_tap(o: usize, t: usize, s: usize, d: usize, pad: usize, size: usize) -> Option<usize> {
        let i = (o * s + t * d) as isize - pad as isize;
        (0..size as isize).contains(&i).then_some(i as usize)
    }
}

impl Case for ConvCase {
    type Out = i32;

    fn dispatch(&self) -> Vec<i32> {
        let mut out = vec![0x1234_5678; self.g.channels * self.g.pixels()];
        depthwise(&self.w, &self.x, &self.g, &mut out).unwrap();
        out
    }

    fn reference(&self) -> Vec<i32> {
        let mut out = vec![0; self.g.channels * self.g.pixels()];
        scalar::depthwise(&self.w, &self.x, &self.g, &mut out);
        out
    }

    fn naive(&self) -> Vec<i32> {
        let g = &self.g;
        let mut out = Vec::new();
        for c in 0..g.channels {
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    let mut acc = 0i64;
                    for ty in 0..g.kh {
                        for tx in 0..g.kw {
                            let iy = Self::naive_tap(oy, ty, g.stride_h, g.dilation_h, g.pad_top, g.h);
                            let ix = Self::naive_tap(ox, tx, g.stride_w, g.dilation_w, g.pad_left, g.w);
                            if let (Some(iy), Some(ix)) = (iy, ix) {
                                acc += i64::from(self.w.w[(c * g.kh + ty) * g.kw + tx])
                                    * i64::from(self.x[(c * g.h + iy) * g.w + ix]);
                            }
                        }
                    }
                    out.push(acc as i32);
                }
            }
        }
        out
    }
}

/// im2col through the same geometry cases (the dispatch is scalar everywhere today).
struct Im2colCase(ConvCase);

impl Debug for Im2colCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "im2col {:?}", self.0.g)
    }
}

impl Case for Im2colCase {
    type Out = i16;

    fn dispatch(&self) -> Vec<i16> {
        let g = &self.0.g;
        let mut out = vec![77; g.patch_len() * g.pixels()];
        im2col(&self.0.x, g, &mut out).unwrap();
        out
    }

    fn reference(&self) -> Vec<i16> {
        let g = &self.0.g;
        let mut out = vec![0; g.patch_len() * g.pixels()];
        scalar::im2col(&self.0.x, g, &mut out);
        out
    }

    fn naive(&self) -> Vec<i16> {
        let g = &self.0.g;
        let mut out = Vec::new();
        for c in 0..g.channels {
            for ty in 0..g.kh {
                for tx in 0..g.kw {
                    for oy in 0..g.out_h {
                        for ox in 0..g.out_w {
                            let iy = ConvCase::naive_tap(oy, ty, g.stride_h, g.dilation_h, g.pad_top, g.h);
                            let ix = ConvCase::naive_tap(ox, tx, g.stride_w, g.dilation_w, g.pad_left, g.w);
                            out.push(match (iy, ix) {
                                (Some(iy), Some(ix)) => self.0.x[(c * g.h + iy) * g.w + ix],
                                _ => 0,
                            });
                        }
                    }
                }
            }
        }
        out
    }
}

const CONV_SIZES: [(usize, usize); 11] =
    [(1, 1), (2, 3), (3, 3), (5, 5), (7, 7), (8, 9), (9, 8), (14, 14), (16, 17), (17, 23), (28, 28)];

/// Depthwise geometries for kernel `k`: every stride pair in {1, 2}² (and 3), padding none,
/// same, asymmetric and wider than the kernel, plus output columns past the input.
fn conv_cases(k: (usize, usize), dilation: (usize, usize), seed: u64) -> Vec<ConvCase> {
    let mut rng = SplitMix64::new(seed);
    let (ph, pw) = (k.0 / 2, k.1 / 2);
    let mut cases = Vec::new();
    for &size in &CONV_SIZES {
        for &stride in &[(1, 1), (2, 2), (1, 2), (2, 1), (3, 3)] {
            let pads = [
                (0, 0, 0, 0),
                (ph, pw, ph, pw),
                (ph, pw, 0, 0),
                (0, 0, ph, pw),
                (ph + 1, pw + 2, ph, pw + 1),
            ];
            for (i, &pad) in pads.iter().enumerate() {
                let c = 1 + (i + size.0) % 3;
                cases.extend(ConvCase::new(
                    &mut rng,
                    c,
                    size,
                    k,
                    stride,
                    dilation,
                    pad,
                    (i == 4) as usize * 3,
                ));
            }
        }
    }
    cases
}

/// Weights at ±255 and activations at ±`x_max` everywhere, 5×5 (the largest fast path).
fn depthwise_extremes(x_max: i16) {
    let mut cases = Vec::new();
    let mut rng = SplitMix64::new(0);
    for &(k, s) in &[((5, 5), (1, 1)), ((5, 5), (2, 2)), ((3, 3), (1, 1)), ((3, 3), (2, 2)), ((1, 5), (1, 1))]
    {
        let mut case =
            ConvCase::new(&mut rng, 2, (19, 21), k, s, (1, 1), (k.0 / 2, k.1 / 2, k.0 / 2, k.1 / 2), 0)
                .unwrap();
        case.w.w.iter_mut().enumerate().for_each(|(i, v)| *v = if i % 2 == 0 { 255 } else { -255 });
        case.x.iter_mut().enumerate().for_each(|(i, v)| *v = if i % 2 == 0 { -x_max } else { x_max });
        cases.push(case);
    }
    check(cases);
}

/// MobileNetV2 / PP-OCR-like planes (padding k / 2, strides 1 and 2), wider and taller than
/// [`CONV_SIZES`]: many 8-pixel blocks per row, row groups with a remainder.
fn depthwise_layer_shapes() {
    let mut rng = SplitMix64::new(23);
    let mut cases = Vec::new();
    for &(k, size) in &[(3, 112), (3, 56), (3, 29), (3, 14), (3, 7), (3, 6), (5, 24), (5, 48), (5, 13)] {
        for s in [1, 2] {
            let p = k / 2;
            cases.extend(ConvCase::new(&mut rng, 2, (size, size), (k, k), (s, s), (1, 1), (p, p, p, p), 0));
        }
    }
    check(cases);
}

kernel_tests! {
    depthwise_3x3 => { check(conv_cases((3, 3), (1, 1), 21)); };
    depthwise_layer_sizes => { depthwise_layer_shapes(); };
    depthwise_5x5 => { check(conv_cases((5, 5), (1, 1), 22)); };
    depthwise_other_sizes => {
        for (i, k) in [(1, 1), (7, 7), (3, 5), (2, 2)].into_iter().enumerate() {
            check(conv_cases(k, (1, 1), 30 + i as u64));
        }
        check(conv_cases((3, 3), (2, 2), 40));
    };
    depthwise_1xk => {
        check(conv_cases((1, 3), (1, 1), 24));
        check(conv_cases((1, 5), (1, 1), 25));
        let mut rng = SplitMix64::new(26);
        // A recogniser's sequence layer: one row, many 8-pixel blocks and a remainder.
        check(ConvCase::new(&mut rng, 3, (1, 123), (1, 5), (1, 1), (1, 1), (0, 2, 0, 2), 0));
    };
    depthwise_extreme_values => { depthwise_extremes(255); };
    depthwise_extreme_15_bit_values => { depthwise_extremes(32767); };
    im2col_matches_naive => {
        check(conv_cases((3, 3), (1, 1), 50).into_iter().map(Im2colCase));
        check(conv_cases((1, 1), (1, 1), 51).into_iter().map(Im2colCase));
        check(conv_cases((3, 5), (2, 1), 52).into_iter().map(Im2colCase));
    };
}

// ---------------------------------------------------------------------------------------
// Dense convolution (no im2col matrix where the SIMD kernel takes the geometry)

/// A dense convolution: `rows` output channels over the geometry of a [`ConvCase`] (its
/// depthwise weights unused).
struct DenseConvCase {
    conv: ConvCase,
    w: DenseWeights,
}

impl Debug for DenseConvCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "dense conv {} rows {:?}", self.w.rows, self.conv.g)
    }
}

impl DenseConvCase {
    fn random(rng: &mut SplitMix64, conv: ConvCase, rows: usize) -> DenseConvCase {
        let cols = conv.g.patch_len();
        let w = DenseWeights { rows, cols, w: centered(rng, rows * cols, 0.8) };
        DenseConvCase { conv, w }
    }
}

impl Case for DenseConvCase {
    type Out = i32;

    fn dispatch(&self) -> Vec<i32> {
        let mut out = vec![0x3c3c_3c3c; self.w.rows * self.conv.g.pixels()];
        conv_dense(&self.w, &self.conv.x, &self.conv.g, &mut out).unwrap();
        out
    }

    fn reference(&self) -> Vec<i32> {
        let mut out = vec![-3; self.w.rows * self.conv.g.pixels()];
        scalar::conv_dense(&self.w, &self.conv.x, &self.conv.g, &mut out);
        out
    }

    fn naive(&self) -> Vec<i32> {
        let g = &self.conv.g;
        let mut out = Vec::new();
        for r in 0..self.w.rows {
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    let mut acc = 0i64;
                    for c in 0..g.channels {
                        for ty in 0..g.kh {
                            for tx in 0..g.kw {
                                let iy =
                                    ConvCase::naive_tap(oy, ty, g.stride_h, g.dilation_h, g.pad_top, g.h);
                                let ix =
                                    ConvCase::naive_tap(ox, tx, g.stride_w, g.dilation_w, g.pad_left, g.w);
                                if let (Some(iy), Some(ix)) = (iy, ix) {
                                    let k = (c * g.kh + ty) * g.kw + tx;
                                    acc += i64::from(self.w.w[r * self.w.cols + k])
                                        * i64::from(self.conv.x[(c * g.h + iy) * g.w + ix]);
                                }
                            }
                        }
                    }
                    out.push(i32::try_from(acc).expect("test accumulates past i32"));
                }
            }
        }
        out
    }
}

/// Every geometry of [`conv_cases`] (strides 1, 2 and 3, every padding, output columns past
/// the input) with 1, 4, 5 and 9 output channels: row blocks of 4 and their remainder, odd
/// and even patch lengths, rows of output pixels below, at and past 8.
fn dense_conv_shapes(k: (usize, usize), dilation: (usize, usize), seed: u64) {
    let mut rng = SplitMix64::new(seed);
    let cases: Vec<DenseConvCase> = conv_cases(k, dilation, seed)
        .into_iter()
        .enumerate()
        .map(|(i, conv)| DenseConvCase::random(&mut rng, conv, [1, 4, 5, 9][i % 4]))
        .collect();
    check(cases);
}

kernel_tests! {
    conv_dense_3x3 => { dense_conv_shapes((3, 3), (1, 1), 60); };
    conv_dense_other_kernels => {
        dense_conv_shapes((1, 1), (1, 1), 61);
        dense_conv_shapes((3, 1), (1, 1), 62);
        dense_conv_shapes((2, 5), (1, 1), 63);
        dense_conv_shapes((3, 3), (2, 1), 64);
        dense_conv_shapes((3, 3), (1, 2), 65);
    };
    conv_dense_layer_sizes => {
        // Detector- and recogniser-like planes: many 8-pixel tiles per row and a remainder.
        let mut rng = SplitMix64::new(66);
        let mut cases = Vec::new();
        for &(c, (h, w), k, s, rows) in &[
            (6, (30, 43), (3, 3), (1, 1), 24),
            (3, (48, 100), (3, 3), (2, 2), 16),
            (16, (3, 37), (3, 1), (1, 1), 12),
        ] {
            let conv = ConvCase::new(&mut rng, c, (h, w), k, s, (1, 1), (k.0 / 2, k.1 / 2, k.0 / 2, k.1 / 2), 0)
                .unwrap();
            cases.push(DenseConvCase::random(&mut rng, conv, rows));
        }
        check(cases);
    };
    conv_dense_extreme_values => {
        let mut rng = SplitMix64::new(67);
        let mut cases = Vec::new();
        for (s, x_max) in [((1, 1), 255), ((2, 2), 255), ((1, 1), 32767), ((2, 1), 32767)] {
            let conv = ConvCase::new(&mut rng, 3, (11, 21), (3, 3), s, (1, 1), (1, 1, 1, 1), 0).unwrap();
            let mut case = DenseConvCase::random(&mut rng, conv, 5);
            case.w.w.iter_mut().enumerate().for_each(|(i, v)| *v = if i % 3 == 0 { -255 } else { 255 });
            case.conv.x.iter_mut().enumerate().for_each(|(i, v)| *v = if i % 2 == 0 { -x_max } else { x_max });
            cases.push(case);
        }
        check(cases);
    };
    conv_dense_rejects_mismatched_shapes => {
        let mut rng = SplitMix64::new(68);
        let conv = ConvCase::new(&mut rng, 2, (5, 9), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 0).unwrap();
        let case = DenseConvCase::random(&mut rng, conv, 3);
        let g = case.conv.g;
        let mut out = vec![0; 3 * g.pixels()];
        assert!(conv_dense(&case.w, &case.conv.x[1..], &g, &mut out).is_err());
        assert!(conv_dense(&case.w, &case.conv.x, &g, &mut out[1..]).is_err());
        let narrow = DenseWeights { rows: 3, cols: 17, w: vec![1; 51] };
        assert!(conv_dense(&narrow, &case.conv.x, &g, &mut out).is_err());
    };
}

// ---------------------------------------------------------------------------------------
// Dense GEMM and convolution dequantized as they are stored

/// A dense GEMM or convolution whose accumulators become f32 outputs on the way out
/// ([`gemm_dequantized`], [`conv_dense_dequantized`]): against the scalar product then the
/// scalar [`dequantize`], and the naive product then [`DequantizeCase`]'s naive formula.
struct FusedCase {
    gemm: Option<GemmCase>,
    conv: Option<DenseConvCase>,
    p: usize,
    scale: Vec<f32>,
    bias: Option<Vec<f32>>,
    act: Activation,
}

impl Debug for FusedCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.gemm, &self.conv) {
            (Some(g), _) => write!(f, "dequantized {g:?} {:?} bias {}", self.act, self.bias.is_some()),
            (_, Some(c)) => write!(f, "dequantized {c:?} {:?} bias {}", self.act, self.bias.is_some()),
            _ => write!(f, "empty fused case"),
        }
    }
}

impl FusedCase {
    fn new(rng: &mut SplitMix64, gemm: Option<GemmCase>, conv: Option<DenseConvCase>, i: usize) -> FusedCase {
        let (rows, p) = match (&gemm, &conv) {
            (Some(g), _) => (g.rows, g.p),
            (_, Some(c)) => (c.w.rows, c.conv.g.pixels()),
            _ => unreachable!("a fused case needs a product"),
        };
        let acts = [
            Activation::None,
            Activation::Relu,
            Activation::Clip { lo: 0.0, hi: 6.0 },
            Activation::HardSwish,
            Activation::Clip { lo: -0.5, hi: 0.25 },
        ];
        let scale = (0..rows).map(|_| (rng.next_open01() as f32 - 0.5) * 2e-3).collect();
        let bias = (i % 3 != 0).then(|| (0..rows).map(|_| (rng.next_open01() as f32 - 0.5) * 4.0).collect());
        FusedCase { gemm, conv, p, scale, bias, act: acts[i % acts.len()] }
    }

    fn dequantized(&self, acc: &[i32]) -> Vec<Bits> {
        let mut out = vec![0.0; acc.len()];
        scalar::dequantize(acc, self.p, &self.scale, self.bias.as_deref(), self.act, &mut out);
        out.into_iter().map(Bits).collect()
    }
}

impl Case for FusedCase {
    type Out = Bits;

    fn dispatch(&self) -> Vec<Bits> {
        let mut out = vec![f32::NAN; self.scale.len() * self.p];
        let dq = Dequant { scale: &self.scale, bias: self.bias.as_deref(), act: self.act };
        match (&self.gemm, &self.conv) {
            (Some(g), _) => gemm_dequantized(&g.weights, &g.x, g.p, dq, &mut out).unwrap(),
            (_, Some(c)) => conv_dense_dequantized(&c.w, &c.conv.x, &c.conv.g, dq, &mut out).unwrap(),
            _ => unreachable!(),
        }
        out.into_iter().map(Bits).collect()
    }

    fn reference(&self) -> Vec<Bits> {
        let acc = match (&self.gemm, &self.conv) {
            (Some(g), _) => g.reference(),
            (_, Some(c)) => c.reference(),
            _ => unreachable!(),
        };
        self.dequantized(&acc)
    }

    fn naive(&self) -> Vec<Bits> {
        let acc = match (&self.gemm, &self.conv) {
            (Some(g), _) => g.naive(),
            (_, Some(c)) => c.naive(),
            _ => unreachable!(),
        };
        let d = DequantizeCase {
            acc,
            p: self.p,
            scale: self.scale.clone(),
            bias: self.bias.clone(),
            act: self.act,
        };
        d.naive()
    }
}

kernel_tests! {
    gemm_dense_dequantized_matches => {
        let mut rng = SplitMix64::new(80);
        let mut cases = Vec::new();
        let mut i = 0;
        for &rows in &GEMM_ROWS {
            for &cols in &[1, 2, 7, 16, 33] {
                for &p in &GEMM_P {
                    let g = GemmCase::random(&mut rng, rows, cols, p, 1.0, false);
                    cases.push(FusedCase::new(&mut rng, Some(g), None, i));
                    i += 1;
                }
            }
        }
        // Sparse weights take the accumulator route; the answer is the same.
        let g = GemmCase::random(&mut rng, 9, 40, 33, 0.2, true);
        cases.push(FusedCase::new(&mut rng, Some(g), None, 1));
        check(cases);
    };
    conv_dense_dequantized_matches => {
        let mut rng = SplitMix64::new(81);
        let convs = conv_cases((3, 3), (1, 1), 82).into_iter().chain(conv_cases((1, 3), (1, 1), 83));
        let cases: Vec<FusedCase> = convs
            .enumerate()
            .map(|(i, conv)| {
                let c = DenseConvCase::random(&mut rng, conv, [1, 4, 5, 9][i % 4]);
                FusedCase::new(&mut rng, None, Some(c), i)
            })
            .collect();
        check(cases);
    };
    dequantized_outputs_reject_mismatched_shapes => {
        let mut rng = SplitMix64::new(84);
        let g = GemmCase::random(&mut rng, 4, 8, 16, 1.0, false);
        let scale = vec![1.0; 4];
        let dq = Dequant { scale: &scale, bias: None, act: Activation::None };
        assert!(gemm_dequantized(&g.weights, &g.x, 16, dq, &mut vec![0.0; 63]).is_err());
        assert!(gemm_dequantized(&g.weights, &g.x[1..], 16, dq, &mut vec![0.0; 64]).is_err());
        let short = Dequant { scale: &scale[..3], ..dq };
        assert!(gemm_dequantized(&g.weights, &g.x, 16, short, &mut vec![0.0; 64]).is_err());
        let bias = vec![0.0; 5];
        let wrong_bias = Dequant { bias: Some(&bias), ..dq };
        assert!(gemm_dequantized(&g.weights, &g.x, 16, wrong_bias, &mut vec![0.0; 64]).is_err());
    };
}

// ---------------------------------------------------------------------------------------
// Quantize and dequantize

#[derive(Debug)]
struct QuantizeCase {
    x: Vec<f32>,
    inv_scale: f32,
    zp: i32,
    codes: Codes,
}

impl Case for QuantizeCase {
    type Out = i16;

    fn dispatch(&self) -> Vec<i16> {
        let mut out = vec![999; self.x.len()];
        quantize(&self.x, self.inv_scale, self.zp, self.codes, &mut out).unwrap();
        out
    }

    fn reference(&self) -> Vec<i16> {
        let mut out = vec![0; self.x.len()];
        scalar::quantize(&self.x, self.inv_scale, self.zp, self.codes, &mut out);
        out
    }

    fn naive(&self) -> Vec<i16> {
        self.x
            .iter()
            .map(|&v| {
                let y = v * self.inv_scale; // one f32 multiply, as specified
                let q: i64 = if y.is_nan() {
                    0
                } else if y >= 1e18 {
                    i64::MAX / 2
                } else if y <= -1e18 {
                    i64::MIN / 2
                } else {
                    let f = y.floor();
                    let frac = y - f; // exact for |y| < 2^24; 0 above
                    let f = f as i64;
                    if frac > 0.5 || (frac == 0.5 && f % 2 != 0) {
                        f + 1
                    } else {
                        f
                    }
                };
                ((q + i64::from(self.zp)).clamp(i64::from(self.codes.min), i64::from(self.codes.max))
                    - i64::from(self.zp)) as i16
            })
            .collect()
    }
}

fn quantize_cases() {
    let mut rng = SplitMix64::new(60);
    let specials = [
        f32::NAN,
        -f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1e30,
        -1e30,
        3e9,
        -3e9,
        0.5,
        1.5,
        2.5,
        -0.5,
        -1.5,
        -2.5,
        127.5,
        128.5,
        -128.5,
        -129.5,
        0.0,
        -0.0,
        f32::MIN_POSITIVE,
        126.49999,
        f32::MAX,
        f32::MIN,
    ];
    let mut cases = Vec::new();
    // int8, 12-bit and the widest (15-bit) codes, zero points at both ends and inside.
    for (codes, zps) in [
        (Codes::INT8, [-128, -3, 0, 5, 127]),
        (Codes::bits(12), [-2048, -300, 0, 77, 2047]),
        (Codes::bits(15), [-16384, -3000, 0, 770, 16383]),
    ] {
        for &zp in &zps {
            for &inv_scale in &[1.0f32, 0.37, 25.0, 1e-3] {
                for &len in &[0, 1, 3, 7, 8, 9, 15, 16, 17, 33, 100] {
                    let x = (0..len)
                        .map(|i| {
                            if i % 3 == 0 {
                                specials[(i / 3 + len) % specials.len()]
                            } else {
                                rng.next_signed() * 3000.0
                            }
                        })
                        .collect();
                    cases.push(QuantizeCase { x, inv_scale, zp, codes });
                }
            }
        }
    }
    // Every special at every lane position.
    for shift in 0..8 {
        let mut x = vec![1.25f32; shift];
        x.extend_from_slice(&specials);
        cases.push(QuantizeCase { x, inv_scale: 1.0, zp: -1, codes: Codes::INT8 });
    }
    check(cases);
}

struct DequantizeCase {
    acc: Vec<i32>,
    p: usize,
    scale: Vec<f32>,
    bias: Option<Vec<f32>>,
    act: Activation,
}

impl Debug for DequantizeCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "dequantize {}x{} bias {} {:?}", self.scale.len(), self.p, self.bias.is_some(), self.act)
    }
}

impl Case for DequantizeCase {
    type Out = Bits;

    fn dispatch(&self) -> Vec<Bits> {
        let mut out = vec![f32::NAN; self.acc.len()];
        dequantize(&self.acc, self.p, &self.scale, self.bias.as_deref(), self.act, &mut out).unwrap();
        out.into_iter().map(Bits).collect()
    }

    fn reference(&self) -> Vec<Bits> {
        let mut out = vec![0.0; self.acc.len()];
        scalar::dequantize(&self.acc, self.p, &self.scale, self.bias.as_deref(), self.act, &mut out);
        out.into_iter().map(Bits).collect()
    }

    fn naive(&self) -> Vec<Bits> {
        // Same operations, spelled out: f32 product, then sum, then the activation with
        // "keep the first operand unless the comparison says otherwise" min/max.
        self.acc
            .iter()
            .enumerate()
            .map(|(i, &a)| {
                let r = i / self.p;
                let prod: f32 = a as f32 * self.scale[r];
                let y = prod + self.bias.as_ref().map_or(0.0, |b| b[r]);
                let v = match self.act {
                    Activation::None => y,
                    Activation::Relu => {
                        if y < 0.0 {
                            0.0
                        } else {
                            y
                        }
                    }
                    Activation::Clip { lo, hi } => {
                        let m = if y < lo { lo } else { y };
                        if hi < m {
                            hi
                        } else {
                            m
                        }
                    }
                    Activation::HardSwish => {
                        let t = y * (1.0f32 / 6.0) + 0.5;
                        let t = if t < 0.0 { 0.0 } else { t };
                        let t = if 1.0 < t { 1.0 } else { t };
                        y * t
                    }
                };
                Bits(v)
            })
            .collect()
    }
}

fn dequantize_cases() {
    let mut rng = SplitMix64::new(70);
    let acts = [
        Activation::None,
        Activation::Relu,
        Activation::Clip { lo: 0.0, hi: 6.0 },
        Activation::Clip { lo: -1.5, hi: 0.25 },
        Activation::Clip { lo: f32::NAN, hi: f32::NAN },
        Activation::HardSwish,
    ];
    let special_acc = [i32::MIN, i32::MAX, 0, -1, 1, 16_777_217, -16_777_217, 3, -3];
    let special_scale = [1.0, 0.0, -0.0, 1e-30, 1e30, f32::INFINITY, f32::NAN, 2.5e-3, -0.01];
    let mut cases = Vec::new();
    for (ai, &act) in acts.iter().enumerate() {
        for &(rows, p) in
            &[(1, 1), (3, 1), (5, 1), (9, 1), (4, 2), (3, 3), (2, 4), (3, 5), (2, 8), (3, 17), (1, 33)]
        {
            for with_bias in [false, true] {
                let acc = (0..rows * p)
                    .map(|i| {
                        if i % 4 == 1 {
                            special_acc[(i + ai) % special_acc.len()]
                        } else {
                            (rng.next_u64() % 2_000_001) as i32 - 1_000_000
                        }
                    })
                    .collect();
                let scale = (0..rows)
                    .map(|r| {
                        if r % 3 == 2 {
                            special_scale[(r + ai) % 9]
                        } else {
                            rng.next_open01() as f32 * 1e-3
                        }
                    })
                    .collect();
                let bias = with_bias.then(|| {
                    (0..rows).map(|r| if r == 4 { f32::NAN } else { rng.next_signed() * 3.0 }).collect()
                });
                cases.push(DequantizeCase { acc, p, scale, bias, act });
            }
        }
    }
    check(cases);
}

kernel_tests! {
    quantize_matches_naive => { quantize_cases(); };
    dequantize_every_activation => { dequantize_cases(); };
}

kernel_tests! {
    quantize_rejects_code_ranges_beyond_15_bits => {
        let mut out = [0i16; 2];
        let x = [1.0f32, -1.0];
        for (codes, zp) in [
            (Codes { min: -16385, max: 16383 }, 0),
            (Codes { min: -16384, max: 16384 }, 0),
            (Codes { min: 5, max: 5 }, 5),
            (Codes::INT8, 128),
            (Codes::INT8, -129),
        ] {
            let err = quantize(&x, 1.0, zp, codes, &mut out).unwrap_err().to_string();
            assert!(err.contains("activation"), "{err}");
        }
        quantize(&[3.0, -1.0], 1000.0, 0, Codes::bits(12), &mut out).unwrap();
        assert_eq!(out, [2047, -1000]);
        assert_eq!(Codes::bits(8), Codes::INT8);
        assert_eq!(Codes::bits(12).steps(), 4095);
        assert_eq!(Codes::bits(15).steps(), 32767);
        assert_eq!(Codes::bits(16), Codes::bits(15), "clamped to the widest");
        // Both ends of the widest range: centered codes ±32767 still fit an i16.
        quantize(&[1e9, -1e9], 1.0, 16383, Codes::bits(15), &mut out).unwrap();
        assert_eq!(out, [0, -32767]);
        quantize(&[1e9, -1e9], 1.0, -16384, Codes::bits(15), &mut out).unwrap();
        assert_eq!(out, [32767, 0]);
    };
}

/// Where the CPU has AVX-VNNI the dispatch runs the kernels' VNNI build; this runs their
/// plain AVX2 build on the same kinds of cases.
#[cfg(target_arch = "x86_64")]
#[test]
fn x86_avx2_build_without_vnni() {
    super::x86_avx2::without_vnni(|| {
        gemm_shapes(false, 0.5, 61);
        gemm_shapes(true, 0.5, 62);
        gemm_layers(false);
        gemm_layers(true);
        gemm_extremes(false, 32767, &WIDE_EXTREME_SHAPES);
        check(conv_cases((3, 3), (1, 1), 63));
        check(conv_cases((5, 5), (1, 1), 64));
        depthwise_layer_shapes();
        dense_conv_shapes((3, 3), (1, 1), 65);
    });
}
