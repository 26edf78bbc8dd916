//! Affine int8 quantization of weights and activation calibration observers.
//!
//! Deep Compression stores weights as 8-bit integers; this module turns `f32` tensors into
//! `i8` codes and back, and measures activation ranges on calibration data so that
//! activations can be quantized too.
//!
//! # Convention
//!
//! Every quantizer is a pair (scale `s > 0`, integer zero point `z`):
//!
//! ```text
//! q      = clamp(round(w / s) + z, qmin, qmax)
//! deq(q) = (q - z) * s
//! ```
//!
//! This is the paper's `q = round((w − z_f) / s)` written with an integer zero point: the
//! float zero point is `z_f = −z·s`. Keeping `z` an integer makes `0.0` exactly
//! representable (`q(0) = z`, `deq(z) = 0`), which matters for zero padding and for pruned
//! weights.
//!
//! `round` is [`f32::round`]: halfway cases round **away from zero** (`2.5 → 3`,
//! `−2.5 → −3`). For every `w` inside the representable range
//! `[(qmin − z)·s, (qmax − z)·s]` the error is `|w − deq(q(w))| ≤ s/2` (plus float rounding
//! of a few ulps); values outside it saturate to `qmin`/`qmax`.
//!
//! # Schemes
//!
//! - [`Scheme::Symmetric`]: `z = 0`, codes in `[−127, 127]` (−128 is never produced, so the
//!   code range is symmetric and `−q` never overflows), `s = max|w| / 127`.
//! - [`Scheme::Asymmetric`]: codes in `[−128, 127]`. The observed range is widened to
//!   contain zero, `lo = min(0, min w)`, `hi = max(0, max w)`; then `s = (hi − lo) / 255`
//!   and `z = clamp(round(−128 − lo / s), −128, 127)`.
//!
//! [`QuantParams::scheme`] records the scheme because the zero points alone cannot tell
//! it: an asymmetric quantizer can have `z = 0` (for `lo ≈ −128·s`) and still needs the
//! code −128.
//!
//! A degenerate range (all zeros, or a scale that would not be a finite normal positive
//! `f32`) gets `s = 1.0`, `z = 0`: no division by zero, no NaN or infinite scales. Ranges
//! are computed from finite values only; `±inf` inputs then saturate, and `NaN` inputs
//! quantize to the zero point `z` (they dequantize to `0.0`).
//!
//! # Per-channel quantization
//!
//! [`QuantParams::axis`] names a dimension of the tensor's shape (row-major). For OIHW
//! convolution weights and for Gemm weights stored `[out, in]` the axis is `0`. The channel
//! of flat element `i` is `(i / inner) % shape[axis]`, where `inner` is the product of the
//! dimensions after `axis`.
//!
//! # Observers
//!
//! [`Observer`]s are fed batches of activations and report a range; non-finite values are
//! ignored. [`MinMaxObserver`] keeps the exact extremes. [`PercentileObserver`] and
//! [`EntropyObserver`] keep an [`AbsHistogram`] of `|x|` with a fixed number of bins
//! ([`HIST_BINS`]) whose range doubles (merging bin pairs) whenever new data exceeds it, so
//! memory stays bounded however much data is observed. Both derive a threshold `t` on
//! `|x|` and report the range `(max(−t, min x), min(t, max x))`, i.e. `(−t, t)` clipped to
//! what was actually seen (so non-negative data gives `(min x, t)`).
//! The entropy observer implements the TensorRT / onnxruntime KL-divergence calibration,
//! see [`EntropyObserver`].

use crate::error::{Error, Result};

/// Number of bins in the calibration histograms.
pub const HIST_BINS: usize = 2048;

/// Number of quantization levels the entropy calibration compares against (the magnitudes
/// `0..=127` of a symmetric int8 code).
pub const KL_LEVELS: usize = 128;

/// Which int8 code range and zero point a quantizer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Zero point 0, codes in `[−127, 127]`.
    Symmetric,
    /// Integer zero point, codes in `[−128, 127]`.
    Asymmetric,
}

impl Scheme {
    /// Smallest code this scheme produces.
    pub const fn qmin(self) -> i32 {
        match self {
            Scheme::Symmetric => -127,
            Scheme::Asymmetric => -128,
        }
    }

    /// Largest code this scheme produces.
    pub const fn qmax(self) -> i32 {
        127
    }
}

/// The smallest bfloat16 value ≥ `s` (for a finite positive `s`), as f32; `s` itself when it
/// already is one or when rounding up would overflow. Quantizing with the rounded scale keeps
/// every weight inside the range (the step grows by less than 2^-7, one bfloat16 ulp) and lets the container
/// store the scale in 2 bytes without loss.
pub fn round_scale_up_to_bf16(s: f32) -> f32 {
    let bits = s.to_bits();
    if bits & 0xFFFF == 0 || !s.is_finite() || s <= 0.0 {
        return s;
    }
    let up = f32::from_bits(((bits >> 16) + 1) << 16);
    if up.is_finite() {
        up
    } else {
        s
    }
}

/// Scales and zero points of a per-tensor or per-channel quantizer.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantParams {
    /// One scale per channel (one in total when `axis` is `None`); finite and `> 0`.
    pub scales: Vec<f32>,
    /// One zero point per channel, inside `[scheme.qmin(), scheme.qmax()]`; `0` when
    /// symmetric.
    pub zero_points: Vec<i32>,
    /// The channel dimension of the tensor's shape; `None` for per-tensor parameters.
    pub axis: Option<usize>,
    /// The scheme, which fixes the code range that [`quantize`] clamps to.
    pub scheme: Scheme,
}

/// `(lo, hi)` over the finite values of `w`, widened to contain 0.
fn finite_range(w: &[f32]) -> (f32, f32) {
    w.iter().filter(|x| x.is_finite()).fold((0.0f32, 0.0f32), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}

/// Scale and zero point for a range with `lo <= 0 <= hi`, both finite.
fn affine_params(lo: f32, hi: f32, scheme: Scheme) -> (f32, i32) {
    let usable = |s: f32| s.is_finite() && s >= f32::MIN_POSITIVE;
    match scheme {
        Scheme::Symmetric => {
            let s = (-lo).max(hi) / 127.0;
            if usable(s) {
                (s, 0)
            } else {
                (1.0, 0)
            }
        }
        Scheme::Asymmetric => {
            // Divide before subtracting so that hi − lo cannot overflow.
            let s = hi / 255.0 - lo / 255.0;
            if !usable(s) {
                return (1.0, 0);
            }
            let z = (-128.0 - lo / s).round().clamp(-128.0, 127.0) as i32;
            (s, z)
        }
    }
}

/// Number of elements of `shape`, or an error if the product overflows `usize`.
fn numel(shape: &[usize]) -> Result<usize> {
    shape.iter().try_fold(1usize, |acc, &d| {
        acc.checked_mul(d)
            .ok_or_else(|| Error::InvalidArgument(format!("shape {shape:?}: element count overflows usize")))
    })
}

/// Checks that `shape` describes exactly `len` elements.
fn check_len(len: usize, shape: &[usize]) -> Result<()> {
    let n = numel(shape)?;
    if n != len {
        return Err(Error::InvalidArgument(format!(
            "shape {shape:?} holds {n} elements but the data has {len}"
        )));
    }
    Ok(())
}

/// Product of the dimensions after `axis` (elements per channel run).
fn inner_len(shape: &[usize], axis: usize) -> usize {
    shape.get(axis + 1..).unwrap_or(&[]).iter().product()
}

/// Quantizes one value with scale `s` and zero point `z`.
#[inline]
fn quantize_one(x: f32, s: f32, z: i32, qmin: f32, qmax: f32) -> i8 {
    if x.is_nan() {
        return z as i8;
    }
    // `z as f32` is exact; a huge or infinite quotient is clamped below.
    ((x / s).round() + z as f32).clamp(qmin, qmax) as i8
}

impl QuantParams {
    /// Per-tensor parameters from the finite values of `w` (an empty tensor gives `s = 1`,
    /// `z = 0`).
    pub fn per_tensor(w: &[f32], scheme: Scheme) -> QuantParams {
        let (lo, hi) = finite_range(w);
        let (s, z) = affine_params(lo, hi, scheme);
        QuantParams { scales: vec![s], zero_points: vec![z], axis: None, scheme }
    }

    /// Per-channel parameters along `axis` of `shape`, one (scale, zero point) per channel,
    /// each from that channel's finite values only.
    ///
    /// Errors when `axis >= shape.len()`, when the shape's element count overflows, or when
    /// it differs from `w.len()`.
    pub fn per_channel(w: &[f32], shape: &[usize], axis: usize, scheme: Scheme) -> Result<QuantParams> {
        check_len(w.len(), shape)?;
        let channels = *shape.get(axis).ok_or_else(|| {
            Error::InvalidArgument(format!("axis {axis} is out of range for a shape of rank {}", shape.len()))
        })?;
        let inner = inner_len(shape, axis);
        let mut ranges = vec![(0.0f32, 0.0f32); channels];
        if !w.is_empty() {
            // Non-empty data implies inner > 0 and channels > 0.
            for (k, run) in w.chunks(inner).enumerate() {
                if let Some(r) = ranges.get_mut(k % channels) {
                    let (lo, hi) = finite_range(run);
                    r.0 = r.0.min(lo);
                    r.1 = r.1.max(hi);
                }
            }
        }
        let (scales, zero_points) = ranges.iter().map(|&(lo, hi)| affine_params(lo, hi, scheme)).unzip();
        Ok(QuantParams { scales, zero_points, axis: Some(axis), scheme })
    }

    /// Per-tensor parameters for an observed range `[min, max]` (e.g. of activations).
    ///
    /// The range is widened to contain 0; the bounds may come in either order; a NaN bound
    /// counts as 0 and an infinite one as `±f32::MAX`.
    pub fn from_range(min: f32, max: f32, scheme: Scheme) -> QuantParams {
        let fix = |x: f32| {
            if x.is_nan() {
                0.0
            } else {
                x.clamp(-f32::MAX, f32::MAX)
            }
        };
        let (a, b) = (fix(min), fix(max));
        let (lo, hi) = (a.min(b).min(0.0), a.max(b).max(0.0));
        let (s, z) = affine_params(lo, hi, scheme);
        QuantParams { scales: vec![s], zero_points: vec![z], axis: None, scheme }
    }

    /// Smallest code of this quantizer's scheme (−127 symmetric, −128 asymmetric).
    pub fn qmin(&self) -> i32 {
        self.scheme.qmin()
    }

    /// Largest code of this quantizer's scheme (127).
    pub fn qmax(&self) -> i32 {
        self.scheme.qmax()
    }

    /// Number of (scale, zero point) pairs.
    pub fn channels(&self) -> usize {
        self.scales.len()
    }

    /// Checks that these parameters are well formed and fit a tensor of `shape`: as many
    /// scales as zero points, one per channel of `shape[axis]` (or exactly one per tensor),
    /// finite positive scales, zero points within the scheme's code range (0 if symmetric).
    pub fn validate(&self, shape: &[usize]) -> Result<()> {
        if self.scales.len() != self.zero_points.len() {
            return Err(Error::InvalidArgument(format!(
                "quantization parameters have {} scales but {} zero points",
                self.scales.len(),
                self.zero_points.len()
            )));
        }
        let expected = match self.axis {
            None => 1,
            Some(a) => *shape.get(a).ok_or_else(|| {
                Error::InvalidArgument(format!("quantization axis {a} is out of range for shape {shape:?}"))
            })?,
        };
        if self.scales.len() != expected {
            return Err(Error::InvalidArgument(format!(
                "quantization parameters have {} channels, shape {shape:?} with axis {:?} needs {expected}",
                self.scales.len(),
                self.axis
            )));
        }
        if let Some((c, s)) = self.scales.iter().enumerate().find(|(_, s)| !(s.is_finite() && **s > 0.0)) {
            return Err(Error::InvalidArgument(format!(
                "scale {s} of channel {c} is not finite and positive"
            )));
        }
        let (zmin, zmax) = match self.scheme {
            Scheme::Symmetric => (0, 0),
            Scheme::Asymmetric => (self.qmin(), self.qmax()),
        };
        if let Some((c, z)) = self.zero_points.iter().enumerate().find(|(_, z)| !(zmin..=zmax).contains(*z)) {
            return Err(Error::InvalidArgument(format!(
                "zero point {z} of channel {c} is outside [{zmin}, {zmax}] for {:?} quantization",
                self.scheme
            )));
        }
        Ok(())
    }

    /// Calls `f(run, scale, zero_point)` for each contiguous run of elements sharing one
    /// channel. Assumes `validate(shape)` and `numel(shape) == len` hold.
    fn for_each_run(&self, shape: &[usize], len: usize, mut f: impl FnMut(usize, f32, i32)) {
        match self.axis {
            None => {
                if let (Some(&s), Some(&z)) = (self.scales.first(), self.zero_points.first()) {
                    f(0, s, z);
                }
            }
            Some(axis) => {
                let inner = inner_len(shape, axis);
                let channels = self.scales.len();
                if len == 0 || inner == 0 || channels == 0 {
                    return;
                }
                let runs = len / inner;
                for k in 0..runs {
                    let c = k % channels;
                    if let (Some(&s), Some(&z)) = (self.scales.get(c), self.zero_points.get(c)) {
                        f(k, s, z);
                    }
                }
            }
        }
    }

    /// Length of one run for [`Self::for_each_run`].
    fn run_len(&self, shape: &[usize], len: usize) -> usize {
        match self.axis {
            None => len,
            Some(axis) => inner_len(shape, axis),
        }
    }
}

/// Quantizes `w` (of `shape`) into `out`, which must have the same length.
///
/// Errors when the lengths disagree with `shape` or the parameters do not fit it
/// (see [`QuantParams::validate`]).
pub fn quantize_into(w: &[f32], shape: &[usize], p: &QuantParams, out: &mut [i8]) -> Result<()> {
    check_len(w.len(), shape)?;
    if out.len() != w.len() {
        return Err(Error::InvalidArgument(format!(
            "output buffer holds {} codes, input has {} values",
            out.len(),
            w.len()
        )));
    }
    p.validate(shape)?;
    let (qmin, qmax) = (p.qmin() as f32, p.qmax() as f32);
    let run = p.run_len(shape, w.len());
    p.for_each_run(shape, w.len(), |k, s, z| {
        let start = k * run;
        if let (Some(src), Some(dst)) = (w.get(start..start + run), out.get_mut(start..start + run)) {
            for (d, &x) in dst.iter_mut().zip(src) {
                *d = quantize_one(x, s, z, qmin, qmax);
            }
        }
    });
    Ok(())
}

/// Quantizes `w` (of `shape`) with `p`; see the module docs for the formula.
pub fn quantize(w: &[f32], shape: &[usize], p: &QuantParams) -> Result<Vec<i8>> {
    let mut out = vec![0i8; w.len()];
    quantize_into(w, shape, p, &mut out)?;
    Ok(out)
}

/// Dequantizes `q` (of `shape`) into `out`, which must have the same length:
/// `out = (q − z) · s`.
pub fn dequantize_into(q: &[i8], shape: &[usize], p: &QuantParams, out: &mut [f32]) -> Result<()> {
    check_len(q.len(), shape)?;
    if out.len() != q.len() {
        return Err(Error::InvalidArgument(format!(
            "output buffer holds {} values, input has {} codes",
            out.len(),
            q.len()
        )));
    }
    p.validate(shape)?;
    let run = p.run_len(shape, q.len());
    p.for_each_run(shape, q.len(), |k, s, z| {
        let start = k * run;
        if let (Some(src), Some(dst)) = (q.get(start..start + run), out.get_mut(start..start + run)) {
            for (d, &c) in dst.iter_mut().zip(src) {
                *d = (i32::from(c) - z) as f32 * s;
            }
        }
    });
    Ok(())
}

/// Dequantizes `q` (of `shape`) with `p`: `(q − z) · s` per element.
///
/// Errors like [`quantize`]; safe to call with parameters read from an untrusted file.
pub fn dequantize(q: &[i8], shape: &[usize], p: &QuantParams) -> Result<Vec<f32>> {
    let mut out = vec![0f32; q.len()];
    dequantize_into(q, shape, p, &mut out)?;
    Ok(out)
}

/// A calibration observer: fed batches of activations, it reports a range to quantize to.
pub trait Observer {
    /// Records a batch; non-finite values are ignored.
    fn observe(&mut self, x: &[f32]);

    /// The calibrated `(min, max)` range, or `None` before any finite value was observed.
    fn range(&self) -> Option<(f32, f32)>;

    /// Per-tensor quantization parameters for [`Self::range`].
    fn params(&self, scheme: Scheme) -> Option<QuantParams> {
        self.range().map(|(lo, hi)| QuantParams::from_range(lo, hi, scheme))
    }
}

/// Observer that keeps the exact minimum and maximum of the finite values seen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MinMaxObserver {
    range: Option<(f32, f32)>,
}

impl MinMaxObserver {
    /// A fresh observer that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Observer for MinMaxObserver {
    fn observe(&mut self, x: &[f32]) {
        // One branch-free pass; the batch's extremes are merged once.
        let (lo, hi) = x
            .iter()
            .filter(|v| v.is_finite())
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        if lo <= hi {
            self.range = Some(match self.range {
                None => (lo, hi),
                Some((a, b)) => (a.min(lo), b.max(hi)),
            });
        }
    }

    fn range(&self) -> Option<(f32, f32)> {
        self.range
    }
}

/// Histogram of `|x|` over `[0, edge)` with [`HIST_BINS`] equal bins and a growing range.
///
/// The first batch sets `edge` to its largest magnitude; a later value beyond `edge`
/// doubles the range (as often as needed) and sums pairs of neighbouring bins, so every
/// count is kept, each in the bin covering its old bin. Values equal to `edge` go in the
/// last bin.
#[derive(Debug, Clone, PartialEq)]
pub struct AbsHistogram {
    counts: Vec<u64>,
    edge: f64,
    total: u64,
    max_abs: f32,
}

impl Default for AbsHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl AbsHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        AbsHistogram { counts: vec![0; HIST_BINS], edge: 0.0, total: 0, max_abs: 0.0 }
    }

    /// Bin counts (always [`HIST_BINS`] of them).
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Upper end of the covered range (`0.0` while empty).
    pub fn edge(&self) -> f64 {
        self.edge
    }

    /// Width of one bin.
    pub fn bin_width(&self) -> f64 {
        self.edge / HIST_BINS as f64
    }

    /// Number of values recorded.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Largest magnitude recorded.
    pub fn max_abs(&self) -> f32 {
        self.max_abs
    }

    /// Records `|x|` for the finite values of `x`.
    pub fn add(&mut self, x: &[f32]) {
        let (batch_max, finite) =
            x.iter().filter(|v| v.is_finite()).fold((0f32, 0u64), |(m, n), v| (m.max(v.abs()), n + 1));
        if finite == 0 {
            return;
        }
        if self.edge == 0.0 {
            // A first batch of zeros still needs a positive range; it grows later if needed.
            self.edge = f64::from(batch_max.max(f32::MIN_POSITIVE));
        } else if f64::from(batch_max) > self.edge {
            self.grow(f64::from(batch_max));
        }
        self.max_abs = self.max_abs.max(batch_max);
        let scale = HIST_BINS as f64 / self.edge;
        let counts: &mut [u64; HIST_BINS] = match self.counts.as_mut_slice().try_into() {
            Ok(c) => c,
            Err(_) => return,
        };
        for v in x.iter().filter(|v| v.is_finite()) {
            counts[((f64::from(v.abs()) * scale) as usize).min(HIST_BINS - 1)] += 1;
        }
        self.total += finite;
    }

    /// Doubles the range until it covers `m`, merging bins so that counts are preserved.
    fn grow(&mut self, m: f64) {
        let mut doublings = 0u32;
        while self.edge < m {
            self.edge *= 2.0;
            doublings += 1;
        }
        if doublings == 0 {
            return;
        }
        let old = std::mem::replace(&mut self.counts, vec![0; HIST_BINS]);
        let factor = 1usize.checked_shl(doublings).filter(|&f| f <= HIST_BINS).unwrap_or(HIST_BINS);
        for (i, chunk) in old.chunks(factor).enumerate() {
            if let Some(c) = self.counts.get_mut(i) {
                *c = chunk.iter().sum();
            }
        }
    }

    /// The magnitude below which `percentile` % of the recorded values lie, interpolated
    /// linearly inside the bin and capped at the largest recorded magnitude; `None` while
    /// empty.
    pub fn percentile(&self, percentile: f64) -> Option<f32> {
        if self.total == 0 {
            return None;
        }
        let target = (percentile / 100.0).clamp(0.0, 1.0) * self.total as f64;
        let width = self.bin_width();
        let mut cum = 0.0f64;
        let mut t = self.edge;
        for (b, &c) in self.counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let c = c as f64;
            if cum + c >= target {
                let frac = ((target - cum) / c).clamp(0.0, 1.0);
                t = (b as f64 + frac) * width;
                break;
            }
            cum += c;
        }
        Some((t as f32).min(self.max_abs))
    }
}

/// Reports `(max(−t, lo), min(t, hi))` for a magnitude threshold `t` and the seen range.
fn clip_range(t: f32, seen: Option<(f32, f32)>) -> Option<(f32, f32)> {
    seen.map(|(lo, hi)| (lo.max(-t), hi.min(t)))
}

/// Observer that clips at a percentile of `|x|` (e.g. 99.99), ignoring rare outliers.
///
/// Both tails are handled together through the magnitude histogram: the threshold `t` is
/// the `percentile`-th percentile of `|x|` and the range is `(−t, t)` clipped to the seen
/// extremes.
#[derive(Debug, Clone, PartialEq)]
pub struct PercentileObserver {
    percentile: f64,
    hist: AbsHistogram,
    minmax: MinMaxObserver,
}

impl Default for PercentileObserver {
    /// A 99.99th-percentile observer.
    fn default() -> Self {
        PercentileObserver { percentile: 99.99, hist: AbsHistogram::new(), minmax: MinMaxObserver::new() }
    }
}

impl PercentileObserver {
    /// An observer clipping at `percentile` of `|x|`; errors unless `0 < percentile <= 100`.
    pub fn new(percentile: f64) -> Result<Self> {
        if !(percentile > 0.0 && percentile <= 100.0) {
            return Err(Error::InvalidArgument(format!("percentile {percentile} is outside (0, 100]")));
        }
        Ok(PercentileObserver { percentile, ..Self::default() })
    }

    /// The configured percentile.
    pub fn percentile(&self) -> f64 {
        self.percentile
    }

    /// The histogram of `|x|` observed so far.
    pub fn histogram(&self) -> &AbsHistogram {
        &self.hist
    }

    /// The magnitude threshold `t`, or `None` before any finite data.
    pub fn threshold(&self) -> Option<f32> {
        self.hist.percentile(self.percentile)
    }
}

impl Observer for PercentileObserver {
    fn observe(&mut self, x: &[f32]) {
        self.hist.add(x);
        self.minmax.observe(x);
    }

    fn range(&self) -> Option<(f32, f32)> {
        clip_range(self.threshold()?, self.minmax.range())
    }
}

/// Observer choosing the clipping threshold that minimises the KL divergence between the
/// `|x|` distribution and its 128-level quantization (TensorRT's "entropy" calibration, as
/// also implemented by onnxruntime and MXNet).
///
/// For every candidate `i` from [`KL_LEVELS`] to [`HIST_BINS`] bins:
/// 1. the reference `P` is `hist[0..i]` with the outliers `sum(hist[i..])` added to its
///    last bin;
/// 2. `hist[0..i]` (without the outliers) is merged into 128 levels, level `j` covering
///    bins `⌊j·i/128⌋..⌊(j+1)·i/128⌋`, and each level's count is spread evenly back over the
///    bins of that level where `P` is non-zero, giving `Q` (zero where `P` is zero). (The
///    reference implementations give every level `⌊i/128⌋` bins and put the whole remainder
///    in the last level, which flattens the tail into one wide level; spreading the
///    remainder keeps the 128 levels uniform over `[0, t]`.)
/// 3. both are normalised and smoothed (zero bins get `ε = 10⁻⁴ / i`, the other bins are
///    scaled down to keep the total at 1) and `KL(P‖Q) = Σ P log(P/Q)` is computed.
///
/// The threshold is `t = i · bin_width` for the `i` with the smallest divergence (the
/// smallest such `i` on ties), capped at the largest magnitude seen; the range is `(−t, t)`
/// clipped to the seen extremes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntropyObserver {
    hist: AbsHistogram,
    minmax: MinMaxObserver,
}

impl EntropyObserver {
    /// A fresh observer that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// The histogram of `|x|` observed so far.
    pub fn histogram(&self) -> &AbsHistogram {
        &self.hist
    }

    /// The KL-optimal magnitude threshold, or `None` before any finite data.
    pub fn threshold(&self) -> Option<f32> {
        if self.hist.total() == 0 {
            return None;
        }
        let bins = kl_best_bins(self.hist.counts(), KL_LEVELS);
        let t = bins as f64 * self.hist.bin_width();
        Some((t as f32).min(self.hist.max_abs()))
    }
}

impl Observer for EntropyObserver {
    fn observe(&mut self, x: &[f32]) {
        self.hist.add(x);
        self.minmax.observe(x);
    }

    fn range(&self) -> Option<(f32, f32)> {
        clip_range(self.threshold()?, self.minmax.range())
    }
}

/// Normalises `d` to sum 1 and smooths it in place: zero entries get `eps`, the others are
/// scaled so the total stays 1. Returns `false` if `d` has no positive mass.
#[cfg(test)]
fn smooth(d: &mut [f64], eps: f64) -> bool {
    let sum: f64 = d.iter().sum();
    if sum <= 0.0 || !sum.is_finite() {
        return false;
    }
    let zeros = d.iter().filter(|&&v| v == 0.0).count();
    let keep = 1.0 - eps * zeros as f64;
    for v in d.iter_mut() {
        *v = if *v == 0.0 { eps } else { *v / sum * keep };
    }
    true
}

/// Scalar reference of [`kl_best_bins`]: builds P and Q bin by bin for every candidate, as
/// the documented algorithm reads (O(bins²) logarithms). Returns each candidate's KL too.
#[cfg(test)]
fn kl_reference(counts: &[u64], levels: usize) -> (usize, Vec<Option<f64>>) {
    let n = counts.len();
    let mut all = vec![None; n + 1];
    if levels == 0 || n < levels {
        return (n, all);
    }
    // suffix[i] = sum(counts[i..])
    let mut suffix = vec![0u64; n + 1];
    for i in (0..n).rev() {
        suffix[i] = suffix[i + 1] + counts[i];
    }
    let mut p = vec![0f64; n];
    let mut q = vec![0f64; n];
    let mut best = (f64::INFINITY, n);
    for i in levels..=n {
        let (p, q) = (&mut p[..i], &mut q[..i]);
        for (d, &c) in p.iter_mut().zip(counts) {
            *d = c as f64;
        }
        p[i - 1] += suffix[i] as f64;
        for j in 0..levels {
            // Level j covers bins [⌊j·i/levels⌋, ⌊(j+1)·i/levels⌋): every level spans
            // ⌊i/levels⌋ or ⌈i/levels⌉ bins.
            let start = j * i / levels;
            let stop = (j + 1) * i / levels;
            let level: u64 = counts[start..stop].iter().sum();
            let nonzero = p[start..stop].iter().filter(|&&v| v != 0.0).count();
            let share = if nonzero == 0 { 0.0 } else { level as f64 / nonzero as f64 };
            for (qv, &pv) in q[start..stop].iter_mut().zip(&p[start..stop]) {
                *qv = if pv != 0.0 { share } else { 0.0 };
            }
        }
        let eps = 1e-4 / i as f64;
        if !smooth(p, eps) || !smooth(q, eps) {
            continue;
        }
        let kl: f64 = p.iter().zip(q.iter()).map(|(&a, &b)| a * (a / b).ln()).sum();
        all[i] = Some(kl);
        if kl < best.0 {
            best = (kl, i);
        }
    }
    (best.1, all)
}

/// Running sums over the histogram that let [`kl_at`] evaluate one candidate in O(levels).
struct KlPrefix {
    /// `count[k]` as given.
    counts: Vec<f64>,
    /// Σ count, Σ count·ln(count) and the number of nonzero bins over `[0, k)`.
    sum: Vec<f64>,
    sum_c_ln_c: Vec<f64>,
    nonzero: Vec<usize>,
    total: f64,
}

impl KlPrefix {
    fn new(counts: &[u64]) -> Self {
        let n = counts.len();
        let (mut sum, mut sum_c_ln_c, mut nonzero) = (vec![0.0; n + 1], vec![0.0; n + 1], vec![0; n + 1]);
        for (k, &c) in counts.iter().enumerate() {
            let c = c as f64;
            sum[k + 1] = sum[k] + c;
            sum_c_ln_c[k + 1] = sum_c_ln_c[k] + if c > 0.0 { c * c.ln() } else { 0.0 };
            nonzero[k + 1] = nonzero[k] + usize::from(c > 0.0);
        }
        KlPrefix {
            counts: counts.iter().map(|&c| c as f64).collect(),
            total: sum[n],
            sum,
            sum_c_ln_c,
            nonzero,
        }
    }
}

/// KL(P‖Q) of candidate `i` exactly as [`EntropyObserver`] defines it, in closed form: bins
/// where P is zero are ε in both P and Q and contribute nothing; every other bin `k` of level
/// `j` contributes `p_k (ln α + ln c_k − ln β − ln share_j)` with `p_k = α c_k`, so a level
/// needs only its sums of `c` and `c ln c`. Only the last bin (which also holds the
/// outliers) is handled on its own. `None` for a degenerate candidate.
fn kl_at(h: &KlPrefix, levels: usize, i: usize) -> Option<f64> {
    let last = i - 1;
    let c_last = h.counts[last];
    let outliers = h.total - h.sum[i];
    let p_last_raw = c_last + outliers;
    // The last bin is nonzero in P though empty in the histogram when outliers fill it.
    let last_revived = c_last == 0.0 && outliers > 0.0;
    let q_sum = h.sum[i];
    if h.total <= 0.0 || q_sum <= 0.0 {
        return None;
    }
    let eps = 1e-4 / i as f64;
    let zeros_p = (i - h.nonzero[i] - usize::from(last_revived)) as f64;
    let alpha = (1.0 - eps * zeros_p) / h.total;
    // Q is zero where P is, plus the revived last bin when its whole level is empty.
    let last_level = last * levels / i;
    let (ls, le) = (last_level * i / levels, (last_level + 1) * i / levels);
    let last_level_empty = h.sum[le] - h.sum[ls] == 0.0;
    let zeros_q = zeros_p + f64::from(u8::from(last_revived && last_level_empty));
    let beta = (1.0 - eps * zeros_q) / q_sum;
    let (ln_alpha, ln_beta) = (alpha.ln(), beta.ln());
    let mut kl = 0.0;
    for j in 0..levels {
        let (start, stop) = (j * i / levels, (j + 1) * i / levels);
        let level = h.sum[stop] - h.sum[start];
        let contains_last = j == last_level;
        let nonzero = h.nonzero[stop] - h.nonzero[start] + usize::from(contains_last && last_revived);
        if nonzero == 0 {
            continue;
        }
        let share = level / nonzero as f64;
        // Bins other than the last: their c and c·ln c sums.
        let (mut c, mut c_ln_c) = (level, h.sum_c_ln_c[stop] - h.sum_c_ln_c[start]);
        if contains_last {
            c -= c_last;
            if c_last > 0.0 {
                c_ln_c -= c_last * c_last.ln();
            }
        }
        if c > 0.0 {
            let ln_share = share.ln();
            kl += alpha * (c_ln_c + c * (ln_alpha - ln_beta - ln_share));
        }
        if contains_last && p_last_raw > 0.0 {
            let p = alpha * p_last_raw;
            let q = if share > 0.0 { beta * share } else { eps };
            kl += p * (p / q).ln();
        }
    }
    Some(kl)
}

/// The number of bins `i` in `levels..=counts.len()` minimising KL(P‖Q) (see
/// [`EntropyObserver`]); `counts.len()` if there are fewer bins than levels or every
/// candidate is degenerate. Each candidate costs O(levels) through [`KlPrefix`] (the scalar
/// reference that builds P and Q bin by bin is `kl_reference`, in the tests).
fn kl_best_bins(counts: &[u64], levels: usize) -> usize {
    let n = counts.len();
    if levels == 0 || n < levels {
        return n;
    }
    let h = KlPrefix::new(counts);
    let mut best = (f64::INFINITY, n);
    for i in levels..=n {
        if let Some(kl) = kl_at(&h, levels, i) {
            if kl < best.0 {
                best = (kl, i);
            }
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tolerance for the `s/2` bound: a few ulps of the largest code magnitude.
    fn bound(s: f32) -> f32 {
        s * (0.5 + 1e-4)
    }

    fn roundtrip(w: &[f32], shape: &[usize], p: &QuantParams) -> Vec<f32> {
        let q = quantize(w, shape, p).unwrap();
        dequantize(&q, shape, p).unwrap()
    }

    /// Deterministic pseudo-random numbers for the calibration tests.
    struct Rng(u64);
    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn uniform(&mut self) -> f64 {
            ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        fn gaussian(&mut self) -> f32 {
            let (u, v) = (self.uniform(), self.uniform());
            ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
        }
        fn laplacian(&mut self) -> f32 {
            let u = self.uniform() - 0.5;
            (-u.signum() * (1.0 - 2.0 * u.abs()).ln()) as f32
        }
    }

    #[test]
    fn symmetric_per_tensor_basics() {
        let w = [-2.0f32, -0.5, 0.0, 1.0, 2.54];
        let p = QuantParams::per_tensor(&w, Scheme::Symmetric);
        assert_eq!(p.zero_points, vec![0]);
        assert!((p.scales[0] - 2.54 / 127.0).abs() < 1e-7);
        let q = quantize(&w, &[5], &p).unwrap();
        assert_eq!(q[4], 127);
        assert_eq!(q[2], 0);
        assert_eq!(q[0], -100);
        for (a, b) in w.iter().zip(roundtrip(&w, &[5], &p)) {
            assert!((a - b).abs() <= bound(p.scales[0]));
        }
    }

    #[test]
    fn asymmetric_per_tensor_basics() {
        let w = [0.0f32, 1.0, 2.0, 5.1];
        let p = QuantParams::per_tensor(&w, Scheme::Asymmetric);
        assert!((p.scales[0] - 0.02).abs() < 1e-7);
        assert_eq!(p.zero_points, vec![-128]);
        let q = quantize(&w, &[4], &p).unwrap();
        assert_eq!(q[0], -128);
        assert_eq!(q[3], 127);
        // All-negative data: hi widened to 0, zero point at the top.
        let p = QuantParams::per_tensor(&[-5.1, -1.0], Scheme::Asymmetric);
        assert_eq!(p.zero_points, vec![127]);
    }

    #[test]
    fn asymmetric_zero_point_zero_keeps_code_minus_128() {
        let p = QuantParams::from_range(-128.0, 127.0, Scheme::Asymmetric);
        assert_eq!((p.scales[0], p.zero_points[0]), (1.0, 0));
        assert_eq!((p.qmin(), p.qmax()), (-128, 127));
        let q = quantize(&[-128.0, 127.0, -1e9], &[3], &p).unwrap();
        assert_eq!(q, vec![-128, 127, -128]);
        let p = QuantParams::from_range(-128.0, 127.0, Scheme::Symmetric);
        assert_eq!((p.qmin(), p.qmax()), (-127, 127));
        // Hand-built parameters (as read from a file) are validated before use.
        let p = QuantParams {
            scales: vec![0.5, 0.25],
            zero_points: vec![0, 3],
            axis: Some(0),
            scheme: Scheme::Asymmetric,
        };
        assert_eq!(dequantize(&[2, -2, 3, 5], &[2, 2], &p).unwrap(), vec![1.0, -1.0, 0.0, 0.5]);
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        let p = QuantParams::from_range(-127.0, 127.0, Scheme::Symmetric);
        assert_eq!(p.scales[0], 1.0);
        let q = quantize(&[2.5, -2.5, 0.5, -0.5, 1.49], &[5], &p).unwrap();
        assert_eq!(q, vec![3, -3, 1, -1, 1]);
    }

    #[test]
    fn saturation_and_special_values() {
        let p = QuantParams::from_range(-1.0, 1.0, Scheme::Symmetric);
        let w = [10.0, -10.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, f32::MAX];
        let q = quantize(&w, &[6], &p).unwrap();
        assert_eq!(q, vec![127, -127, 127, -127, 0, 127]);
        let p = QuantParams::from_range(-1.0, 3.0, Scheme::Asymmetric);
        let z = p.zero_points[0] as i8;
        let q = quantize(&w, &[6], &p).unwrap();
        assert_eq!(q, vec![127, -128, 127, -128, z, 127]);
        let d = dequantize(&[z], &[1], &p).unwrap();
        assert_eq!(d, vec![0.0]);
    }

    #[test]
    fn non_finite_values_do_not_affect_ranges() {
        let w = [f32::NAN, f32::INFINITY, -1.0, 0.5, f32::NEG_INFINITY];
        let p = QuantParams::per_tensor(&w, Scheme::Symmetric);
        assert_eq!(p.scales[0], 1.0 / 127.0);
        let p = QuantParams::per_tensor(&w, Scheme::Asymmetric);
        assert!(p.scales[0].is_finite());
        let p = QuantParams::from_range(f32::NEG_INFINITY, f32::NAN, Scheme::Asymmetric);
        assert!(p.scales[0].is_finite() && p.scales[0] > 0.0);
        let p = QuantParams::from_range(f32::NEG_INFINITY, f32::INFINITY, Scheme::Asymmetric);
        assert!(p.scales[0].is_finite() && p.scales[0] > 0.0);
    }

    #[test]
    fn degenerate_ranges_get_unit_scale() {
        for scheme in [Scheme::Symmetric, Scheme::Asymmetric] {
            for w in [&[][..], &[0.0, -0.0, 0.0][..], &[f32::NAN][..], &[1e-45][..]] {
                let p = QuantParams::per_tensor(w, scheme);
                assert_eq!((p.scales[0], p.zero_points[0]), (1.0, 0), "{w:?}");
            }
            let p = QuantParams::from_range(0.0, 0.0, scheme);
            assert_eq!((p.scales[0], p.zero_points[0]), (1.0, 0));
        }
    }

    #[test]
    fn empty_input() {
        for scheme in [Scheme::Symmetric, Scheme::Asymmetric] {
            let p = QuantParams::per_tensor(&[], scheme);
            assert_eq!(quantize(&[], &[0], &p).unwrap(), Vec::<i8>::new());
            assert_eq!(dequantize(&[], &[0], &p).unwrap(), Vec::<f32>::new());
            let p = QuantParams::per_channel(&[], &[0, 3], 0, scheme).unwrap();
            assert!(p.scales.is_empty());
            assert!(quantize(&[], &[0, 3], &p).unwrap().is_empty());
            let p = QuantParams::per_channel(&[], &[2, 0], 0, scheme).unwrap();
            assert_eq!(p.scales, vec![1.0, 1.0]);
            assert!(quantize(&[], &[2, 0], &p).unwrap().is_empty());
        }
    }

    #[test]
    fn shape_errors() {
        let w = [1.0f32; 6];
        assert!(QuantParams::per_channel(&w, &[2, 2], 0, Scheme::Symmetric).is_err());
        assert!(QuantParams::per_channel(&w, &[2, 3], 2, Scheme::Symmetric).is_err());
        assert!(QuantParams::per_channel(&w, &[usize::MAX, 3], 0, Scheme::Symmetric).is_err());
        let p = QuantParams::per_tensor(&w, Scheme::Symmetric);
        assert!(quantize(&w, &[7], &p).is_err());
        assert!(quantize(&w, &[usize::MAX, 2], &p).is_err());
        assert!(dequantize(&[0; 5], &[6], &p).is_err());
        let mut out = [0i8; 5];
        assert!(quantize_into(&w, &[6], &p, &mut out).is_err());
        let pc = QuantParams::per_channel(&w, &[2, 3], 0, Scheme::Symmetric).unwrap();
        // Channel count must match the shape the params are used with.
        assert!(quantize(&w, &[3, 2], &pc).is_err());
        assert!(quantize(&w, &[6], &pc).is_err());
        assert!(quantize(&w, &[2, 3], &pc).is_ok());
    }

    #[test]
    fn malformed_params_error() {
        let shape = [2usize];
        let good = QuantParams::per_tensor(&[1.0, 2.0], Scheme::Asymmetric);
        let cases = [
            QuantParams { scales: vec![0.0], ..good.clone() },
            QuantParams { scales: vec![f32::NAN], ..good.clone() },
            QuantParams { scales: vec![f32::INFINITY], ..good.clone() },
            QuantParams { scales: vec![1.0, 1.0], ..good.clone() },
            QuantParams { zero_points: vec![128], ..good.clone() },
            QuantParams { zero_points: vec![-129], ..good.clone() },
            QuantParams { zero_points: vec![3], scheme: Scheme::Symmetric, ..good.clone() },
            QuantParams { axis: Some(1), ..good.clone() },
        ];
        for p in &cases {
            assert!(dequantize(&[1, 2], &shape, p).is_err(), "{p:?}");
            assert!(quantize(&[1.0, 2.0], &shape, p).is_err(), "{p:?}");
        }
    }

    #[test]
    fn per_channel_uses_each_channels_range() {
        // Channel 0 is tiny, channel 1 huge; axis 0 of a [2, 3] matrix.
        let w = [0.01f32, -0.02, 0.005, 100.0, -50.0, 20.0];
        let p = QuantParams::per_channel(&w, &[2, 3], 0, Scheme::Symmetric).unwrap();
        assert!((p.scales[0] - 0.02 / 127.0).abs() < 1e-9);
        assert!((p.scales[1] - 100.0 / 127.0).abs() < 1e-5);
        let d = roundtrip(&w, &[2, 3], &p);
        for (i, (a, b)) in w.iter().zip(&d).enumerate() {
            assert!((a - b).abs() <= bound(p.scales[i / 3]));
        }
        // Axis 1 of a [3, 2] layout: channel of element i is i % 2.
        let w = [1.0f32, 10.0, -2.0, 20.0, 0.5, -40.0];
        let p = QuantParams::per_channel(&w, &[3, 2], 1, Scheme::Symmetric).unwrap();
        assert!((p.scales[0] - 2.0 / 127.0).abs() < 1e-7);
        assert!((p.scales[1] - 40.0 / 127.0).abs() < 1e-6);
        // Middle axis of [2, 2, 2]: channel of i is (i / 2) % 2.
        let w = [1.0f32, 1.0, 8.0, 8.0, -1.0, 0.5, -8.0, 4.0];
        let p = QuantParams::per_channel(&w, &[2, 2, 2], 1, Scheme::Asymmetric).unwrap();
        assert!((p.scales[0] - 2.0 / 255.0).abs() < 1e-7);
        assert!((p.scales[1] - 16.0 / 255.0).abs() < 1e-6);
    }

    #[test]
    fn all_zero_channel() {
        let w = [0.0f32, 0.0, 0.0, 3.0, -1.0, 2.0];
        for scheme in [Scheme::Symmetric, Scheme::Asymmetric] {
            let p = QuantParams::per_channel(&w, &[2, 3], 0, scheme).unwrap();
            assert_eq!((p.scales[0], p.zero_points[0]), (1.0, 0));
            let d = roundtrip(&w, &[2, 3], &p);
            assert_eq!(&d[..3], &[0.0, 0.0, 0.0]);
        }
    }

    #[test]
    fn minmax_observer_is_exact() {
        let mut o = MinMaxObserver::new();
        assert_eq!(o.range(), None);
        assert_eq!(o.params(Scheme::Symmetric), None);
        o.observe(&[f32::NAN, f32::INFINITY]);
        assert_eq!(o.range(), None);
        o.observe(&[0.5, -1.25, 3.0]);
        o.observe(&[2.0, f32::NEG_INFINITY, -0.75]);
        assert_eq!(o.range(), Some((-1.25, 3.0)));
        let p = o.params(Scheme::Asymmetric).unwrap();
        assert_eq!(p, QuantParams::from_range(-1.25, 3.0, Scheme::Asymmetric));
    }

    #[test]
    fn percentile_observer_on_uniform_data() {
        // |x| uniform on [0, 1]: the p-th percentile of |x| is p / 100.
        let mut o = PercentileObserver::new(99.0).unwrap();
        assert_eq!(o.range(), None);
        let n = 100_000;
        let xs: Vec<f32> = (0..n)
            .map(|i| {
                let v = (i as f32 + 0.5) / n as f32;
                if i % 2 == 0 {
                    v
                } else {
                    -v
                }
            })
            .collect();
        for batch in xs.chunks(7_777) {
            o.observe(batch);
        }
        let t = o.threshold().unwrap();
        assert!((t - 0.99).abs() < 2e-3, "t = {t}");
        let (lo, hi) = o.range().unwrap();
        assert_eq!((lo, hi), (-t, t));
        // 100% is the maximum; non-negative data gives a non-negative low end.
        let mut o = PercentileObserver::new(100.0).unwrap();
        o.observe(&[0.25, 2.0, 1.0]);
        assert_eq!(o.range(), Some((0.25, 2.0)));
        assert!(PercentileObserver::new(0.0).is_err());
        assert!(PercentileObserver::new(100.5).is_err());
        assert!(PercentileObserver::new(f64::NAN).is_err());
        assert_eq!(PercentileObserver::default().percentile(), 99.99);
    }

    #[test]
    fn percentile_observer_clips_outliers() {
        let mut rng = Rng(7);
        let mut o = PercentileObserver::new(99.9).unwrap();
        let xs: Vec<f32> = (0..50_000).map(|_| rng.gaussian()).collect();
        o.observe(&xs);
        o.observe(&[500.0, -400.0]);
        let t = o.threshold().unwrap();
        // 99.9th percentile of |N(0,1)| is about 3.29.
        assert!(t > 2.9 && t < 3.8, "t = {t}");
    }

    #[test]
    fn histogram_growth_preserves_counts() {
        let mut h = AbsHistogram::new();
        h.add(&[0.0, 0.0]);
        assert_eq!(h.total(), 2);
        h.add(&[0.5, -0.25, 1.0]);
        let edge1 = h.edge();
        assert!(edge1 >= 1.0);
        h.add(&[3.0, f32::NAN]);
        assert!(h.edge() >= 3.0);
        h.add(&[1e30]);
        assert!(h.edge() >= 1e30);
        assert_eq!(h.total(), 7);
        assert_eq!(h.counts().iter().sum::<u64>(), 7);
        assert_eq!(h.counts().len(), HIST_BINS);

        // A single doubling merges bin pairs exactly.
        let mut h = AbsHistogram::new();
        let xs: Vec<f32> = (0..4096).map(|i| (i as f32 + 0.5) / 4096.0).collect();
        h.add(&xs);
        let edge = h.edge();
        let before = h.counts().to_vec();
        let big = (1.5 * edge) as f32;
        h.add(&[big]);
        assert_eq!(h.edge(), 2.0 * edge);
        let big_bin = (f64::from(big) * HIST_BINS as f64 / h.edge()) as usize;
        assert!((1535..=1536).contains(&big_bin));
        for i in 0..HIST_BINS {
            let merged = if i < HIST_BINS / 2 { before[2 * i] + before[2 * i + 1] } else { 0 };
            assert_eq!(h.counts()[i], merged + u64::from(i == big_bin), "bin {i}");
        }
        assert_eq!(h.total(), 4097);
    }

    fn entropy_case(samples: Vec<f32>, outlier: f32) -> f32 {
        let mut o = EntropyObserver::new();
        for batch in samples.chunks(10_000) {
            o.observe(batch);
        }
        o.observe(&[outlier, -outlier, outlier * 0.9]);
        let t = o.threshold().unwrap();
        let (lo, hi) = o.range().unwrap();
        assert_eq!((lo, hi), (-t, t));
        t
    }

    #[test]
    fn entropy_clips_gaussian_outliers() {
        let mut rng = Rng(1);
        let xs: Vec<f32> = (0..200_000).map(|_| rng.gaussian()).collect();
        let t = entropy_case(xs, 50.0);
        assert!(t > 2.0 && t < 8.0, "gaussian t = {t}");
    }

    #[test]
    fn entropy_clips_laplacian_outliers() {
        let mut rng = Rng(2);
        // Laplace(0, b = 1): σ = √2.
        let xs: Vec<f32> = (0..200_000).map(|_| rng.laplacian()).collect();
        let t = entropy_case(xs, 40.0);
        assert!(t > 2.0 * 2f32.sqrt() && t < 20.0, "laplacian t = {t}");
    }

    #[test]
    fn entropy_edge_cases() {
        let mut o = EntropyObserver::new();
        assert_eq!(o.range(), None);
        o.observe(&[f32::NAN]);
        assert_eq!(o.range(), None);
        o.observe(&[0.0; 10]);
        assert_eq!(o.range(), Some((0.0, 0.0)));
        let p = o.params(Scheme::Symmetric).unwrap();
        assert_eq!(p.scales, vec![1.0]);
        // Non-negative data (ReLU outputs) keep a non-negative low end.
        let mut o = EntropyObserver::new();
        let xs: Vec<f32> = (0..10_000).map(|i| (i % 100) as f32 / 100.0).collect();
        o.observe(&xs);
        let (lo, hi) = o.range().unwrap();
        assert_eq!(lo, 0.0);
        assert!(hi > 0.5 && hi <= 0.99, "hi = {hi}");
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn scheme() -> impl Strategy<Value = Scheme> {
        prop_oneof![Just(Scheme::Symmetric), Just(Scheme::Asymmetric)]
    }

    fn bound(s: f32) -> f32 {
        s * (0.5 + 1e-4)
    }

    /// Histograms of the kinds calibration meets: dense, mostly empty, a spike at zero, a
    /// lone far outlier, zeros at the end.
    fn histogram() -> impl Strategy<Value = Vec<u64>> {
        (
            prop::collection::vec(
                prop_oneof![4 => Just(0u64), 4 => 1u64..50, 1 => 1000u64..1_000_000],
                128..400,
            ),
            any::<bool>(),
        )
            .prop_map(|(mut h, spike)| {
                if spike {
                    h[0] = 50_000_000;
                }
                h
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn closed_form_kl_matches_the_bin_by_bin_reference(counts in histogram(), levels in prop_oneof![Just(128usize), Just(16), Just(7)]) {
            let (ref_best, ref_kl) = kl_reference(&counts, levels);
            let h = KlPrefix::new(&counts);
            for (i, &reference) in ref_kl.iter().enumerate().skip(levels) {
                match (kl_at(&h, levels, i), reference) {
                    (Some(a), Some(b)) => prop_assert!((a - b).abs() <= 1e-9 * b.abs().max(1e-3), "i={i}: {a} vs {b}"),
                    (a, b) => prop_assert_eq!(a.is_some(), b.is_some(), "i={}", i),
                }
            }
            // The same choice, up to candidates whose KL ties within rounding.
            let best = kl_best_bins(&counts, levels);
            if best != ref_best {
                let (a, b) = (ref_kl[best].unwrap(), ref_kl[ref_best].unwrap());
                prop_assert!((a - b).abs() <= 1e-9 * b.abs().max(1e-3), "{best} vs {ref_best}: {a} vs {b}");
            }
        }

        #[test]
        fn per_tensor_error_within_half_step(
            w in prop::collection::vec(-1e4f32..1e4, 0..200),
            scale in prop_oneof![Just(1.0f32), Just(1e-3), Just(1e3)],
            scheme in scheme(),
        ) {
            let w: Vec<f32> = w.iter().map(|x| x * scale).collect();
            let p = QuantParams::per_tensor(&w, scheme);
            let shape = [w.len()];
            let q = quantize(&w, &shape, &p).unwrap();
            let d = dequantize(&q, &shape, &p).unwrap();
            let (s, z) = (p.scales[0], p.zero_points[0]);
            prop_assert!(s.is_finite() && s > 0.0);
            for ((&a, &b), &c) in w.iter().zip(&d).zip(&q) {
                prop_assert!((a - b).abs() <= bound(s), "w={a} deq={b} s={s} z={z}");
                prop_assert!(i32::from(c) >= p.qmin());
            }
            let zq = quantize(&[0.0], &[1], &p).unwrap();
            prop_assert_eq!(dequantize(&zq, &[1], &p).unwrap()[0], 0.0);
        }

        #[test]
        fn representable_range_and_saturation(
            lo in -1e3f32..1e3,
            hi in -1e3f32..1e3,
            t in 0.0f32..=1.0,
            over in 1.0f32..1e6,
            scheme in scheme(),
        ) {
            let p = QuantParams::from_range(lo, hi, scheme);
            let (s, z) = (p.scales[0], p.zero_points[0]);
            let rlo = (p.qmin() - z) as f32 * s;
            let rhi = (p.qmax() - z) as f32 * s;
            prop_assert!(rlo <= 0.0 && rhi >= 0.0);
            let w = rlo + t * (rhi - rlo);
            let q = quantize(&[w, rhi + over * s, rlo - over * s, 0.0], &[4], &p).unwrap();
            let d = dequantize(&q, &[4], &p).unwrap();
            prop_assert!((w - d[0]).abs() <= bound(s) + rhi.abs().max(rlo.abs()) * 1e-6);
            prop_assert_eq!(i32::from(q[1]), p.qmax());
            prop_assert_eq!(i32::from(q[2]), p.qmin());
            prop_assert_eq!(d[3], 0.0);
            // The observed range itself is representable.
            let inside = [lo.min(hi).min(0.0), lo.max(hi).max(0.0)];
            let d = dequantize(&quantize(&inside, &[2], &p).unwrap(), &[2], &p).unwrap();
            for (a, b) in inside.iter().zip(&d) {
                prop_assert!((a - b).abs() <= bound(s), "{a} vs {b}, s={s}");
            }
        }

        #[test]
        fn per_channel_error_within_half_step(
            dims in prop::collection::vec(1usize..5, 1..4),
            axis_seed in 0usize..8,
            seed in prop::collection::vec(-1.0f32..1.0, 64),
            mags in prop::collection::vec(prop_oneof![Just(0.0f32), Just(1e-3), Just(1.0), Just(1e3)], 4),
            scheme in scheme(),
        ) {
            let axis = axis_seed % dims.len();
            let n: usize = dims.iter().product();
            let inner: usize = dims[axis + 1..].iter().product();
            let ch = dims[axis];
            let w: Vec<f32> = (0..n)
                .map(|i| seed[i % seed.len()] * mags[((i / inner) % ch) % mags.len()])
                .collect();
            let p = QuantParams::per_channel(&w, &dims, axis, scheme).unwrap();
            prop_assert_eq!(p.scales.len(), ch);
            // Each channel's scale depends only on that channel's values.
            for c in 0..ch {
                let mine: Vec<f32> = (0..n).filter(|i| (i / inner) % ch == c).map(|i| w[i]).collect();
                let alone = QuantParams::per_tensor(&mine, scheme);
                prop_assert_eq!(p.scales[c], alone.scales[0]);
                prop_assert_eq!(p.zero_points[c], alone.zero_points[0]);
            }
            let q = quantize(&w, &dims, &p).unwrap();
            let d = dequantize(&q, &dims, &p).unwrap();
            for i in 0..n {
                let s = p.scales[(i / inner) % ch];
                prop_assert!((w[i] - d[i]).abs() <= bound(s), "i={i} w={} d={} s={s}", w[i], d[i]);
            }
        }

        #[test]
        fn histogram_total_preserved(batches in prop::collection::vec(
            prop::collection::vec(prop_oneof![-1e6f32..1e6, -1.0f32..1.0, Just(f32::NAN)], 0..50), 1..10)) {
            let mut h = AbsHistogram::new();
            let mut n = 0u64;
            for b in &batches {
                h.add(b);
                n += b.iter().filter(|x| x.is_finite()).count() as u64;
                prop_assert_eq!(h.counts().iter().sum::<u64>(), n);
                prop_assert_eq!(h.total(), n);
            }
            let m = batches.iter().flatten().filter(|x| x.is_finite()).fold(0.0f32, |m, x| m.max(x.abs()));
            prop_assert!(h.edge() >= f64::from(m));
        }
    }
}
