//! Deterministic synthetic data for tests, benchmarks and the wasm benchmark harness:
//! a small seeded PRNG and Laplacian-distributed "weights" (trained network weights are close
//! to Laplacian, which is what makes pruning and Huffman coding pay off).

/// SplitMix64: tiny, fast, good enough for test data, identical on every platform.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1): never exactly 0, so logarithms stay finite.
    pub fn next_open01(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Uniform in [-1, 1).
    pub fn next_signed(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// `n` uniform numbers in `[-scale, scale)`.
    pub fn uniform_vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.next_signed() * scale).collect()
    }

    /// Laplace(0, b) by inverse CDF.
    pub fn laplace(&mut self, b: f64) -> f64 {
        let u = self.next_open01() - 0.5;
        -b * u.signum() * (1.0 - 2.0 * u.abs()).ln()
    }
}

/// `n` Laplace(0, b) weights.
pub fn laplacian_weights(n: usize, b: f64, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|_| rng.laplace(b) as f32).collect()
}

/// `n` Laplacian weights quantized to int8 with one symmetric per-tensor scale
/// (`s = max|w| / 127`): the symbol stream the Huffman benchmark decodes.
pub fn quantized_laplacian_i8(n: usize, seed: u64) -> Vec<i8> {
    let w = laplacian_weights(n, 0.05, seed);
    let max = w.iter().fold(0f32, |m, x| m.max(x.abs()));
    let s = if max > 0.0 { max / 127.0 } else { 1.0 };
    w.iter().map(|x| (x / s).round().clamp(-127.0, 127.0) as i8).collect()
}
