//! Kernel benchmark fixtures for the wasm build, timed from JavaScript by
//! `benches/kernels_wasm.mjs` (`make bench-kernels`). Each fixture holds its inputs and
//! output buffer, so a timed call is the kernel alone.

use wasm_bindgen::prelude::*;

use super::{scalar, ConvGeometry, DenseWeights, DepthwiseWeights, GemmWeights, SparseWeights};
use crate::synth::SplitMix64;

fn centered(rng: &mut SplitMix64, n: usize, density: f64) -> Vec<i16> {
    (0..n)
        .map(|_| {
            if rng.next_open01() < density {
                let v = (rng.next_u64() % 255) as i16 + 1; // 1..=255
                if rng.next_u64() & 1 == 0 {
                    v
                } else {
                    -v
                }
            } else {
                0
            }
        })
        .collect()
}

/// One GEMM layer (`rows × cols` weights pruned at random to `density`, `cols × p`
/// activations) in both storages.
#[wasm_bindgen]
pub struct GemmBench {
    dense: GemmWeights,
    sparse: GemmWeights,
    x: Vec<i16>,
    p: usize,
    out: Vec<i32>,
    check: Vec<i32>,
}

#[wasm_bindgen]
impl GemmBench {
    #[wasm_bindgen(constructor)]
    pub fn new(rows: usize, cols: usize, p: usize, density: f64, seed: u32) -> GemmBench {
        let mut rng = SplitMix64::new(u64::from(seed));
        let w = centered(&mut rng, rows * cols, density);
        let x = centered(&mut rng, cols * p, 0.9);
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
        let sparse = GemmWeights::Sparse(SparseWeights { rows, cols, row_ptr, col, val });
        let dense = GemmWeights::Dense(DenseWeights { rows, cols, w });
        let mut check = vec![0; rows * p];
        if let GemmWeights::Dense(d) = &dense {
            scalar::gemm_dense(d, &x, p, &mut check);
        }
        GemmBench { dense, sparse, x, p, out: vec![0; rows * p], check }
    }

    /// Runs one kernel once: `dense`, `sparse` (the dispatching [`super::gemm`], i.e. the
    /// simd128 kernels), `scalar_dense` or `scalar_sparse`. [`GemmBench::matches`] checks
    /// the output, outside the timed call.
    pub fn run(&mut self, kind: &str) -> Result<(), JsError> {
        match (kind, &self.dense, &self.sparse) {
            ("dense", d, _) => super::gemm(d, &self.x, self.p, &mut self.out)?,
            ("sparse", _, s) => super::gemm(s, &self.x, self.p, &mut self.out)?,
            ("scalar_dense", GemmWeights::Dense(d), _) => {
                scalar::gemm_dense(d, &self.x, self.p, &mut self.out)
            }
            ("scalar_sparse", _, GemmWeights::Sparse(s)) => {
                scalar::gemm_sparse(s, &self.x, self.p, &mut self.out)
            }
            _ => return Err(JsError::new(&format!("unknown kernel {kind}"))),
        }
        Ok(())
    }

    /// Whether the last output equals the scalar dense product.
    pub fn matches(&self) -> bool {
        self.out == self.check
    }

    /// Multiply-accumulates of the dense product (`rows · cols · p`).
    pub fn macs(&self) -> f64 {
        (self.dense.rows() * self.dense.cols() * self.p) as f64
    }

    /// Stored nonzero weights.
    pub fn nnz(&self) -> usize {
        self.sparse.stored()
    }
}

/// One depthwise layer: `channels` planes of `h × w`, `k × k` kernel, `stride`, padding
/// `k / 2` on every side.
#[wasm_bindgen]
pub struct DepthwiseBench {
    w: DepthwiseWeights,
    x: Vec<i16>,
    g: ConvGeometry,
    out: Vec<i32>,
    check: Vec<i32>,
}

#[wasm_bindgen]
impl DepthwiseBench {
    #[wasm_bindgen(constructor)]
    pub fn new(channels: usize, h: usize, w: usize, k: usize, stride: usize, seed: u32) -> DepthwiseBench {
        let mut rng = SplitMix64::new(u64::from(seed));
        let pad = k / 2;
        let g = ConvGeometry {
            channels,
            h,
            w,
            kh: k,
            kw: k,
            stride_h: stride,
            stride_w: stride,
            dilation_h: 1,
            dilation_w: 1,
            pad_top: pad,
            pad_left: pad,
            out_h: (h + 2 * pad - k) / stride + 1,
            out_w: (w + 2 * pad - k) / stride + 1,
        };
        let wts = DepthwiseWeights { channels, kh: k, kw: k, w: centered(&mut rng, channels * k * k, 1.0) };
        let x = centered(&mut rng, channels * h * w, 0.9);
        let mut check = vec![0; channels * g.pixels()];
        scalar::depthwise(&wts, &x, &g, &mut check);
        DepthwiseBench { w: wts, x, g, out: vec![0; channels * g.pixels()], check }
    }

    /// `simd` (the dispatching [`super::depthwise`]) or `scalar`. [`DepthwiseBench::matches`]
    /// checks the output, outside the timed call (the comparison, a byte loop in wasm, costs
    /// about as much as a 3×3 layer).
    pub fn run(&mut self, kind: &str) -> Result<(), JsError> {
        match kind {
            "simd" => super::depthwise(&self.w, &self.x, &self.g, &mut self.out)?,
            "scalar" => scalar::depthwise(&self.w, &self.x, &self.g, &mut self.out),
            _ => return Err(JsError::new(&format!("unknown kernel {kind}"))),
        }
        Ok(())
    }

    /// Whether the last output equals the scalar reference's.
    pub fn matches(&self) -> bool {
        self.out == self.check
    }

    pub fn macs(&self) -> f64 {
        (self.g.channels * self.g.pixels() * self.g.kh * self.g.kw) as f64
    }
}
