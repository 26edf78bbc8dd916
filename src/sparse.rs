//! Magnitude pruning, Deep Compression relative-index (gap) coding, and CSR packing.
//!
//! Deep Compression first prunes the smallest weights, then stores the survivors as a
//! stream of (value, gap) entries where each gap is a small fixed-width number, and finally
//! Huffman-codes both streams. This module provides the pruning, the gap coding (the
//! `.slim` container spec cites its semantics below) and a per-output-channel CSR layout
//! that sparse kernels can consume straight from the on-disk stream.
//!
//! # Pruning
//!
//! [`prune_magnitude`] zeroes exactly [`prune_count`]`(len, sparsity)` entries: those with
//! the smallest `|w|`, ties broken by lower index first, so the result is deterministic.
//! `-0.0` and `+0.0` have the same magnitude. NaN counts as **larger** than every finite
//! value and `±inf`, so NaNs are pruned last (a corrupt weight is never silently hidden by
//! pruning unless everything is pruned). [`prune_global`] applies one threshold across
//! several layers, ties broken by (layer index, position).
//!
//! # Relative-index coding
//!
//! A dense `i8` tensor of `len` elements is stored as two equally long streams, `values`
//! and `gaps`, with every gap in `0..=2^b − 1` for a gap width `b` in `1..=16`
//! ([`DEFAULT_GAP_BITS`] is 8). Decoding walks the entries in order with a position
//! cursor that starts at 0:
//!
//! ```text
//! cursor = 0
//! for each entry (value, gap):
//!     position = cursor + gap        // gap = zeros skipped before this entry
//!     out[position] = value          // position must be < len
//!     cursor = position + 1
//! ```
//!
//! Every position not written is zero. The encoder emits one entry per nonzero element.
//! When the run of zeros before a nonzero is longer than `2^b − 1`, it first emits
//! **filler** entries `(value 0, gap 2^b − 1)`, each covering `2^b` positions (the skipped
//! zeros plus the filler's own zero), until the remaining run fits. Zeros after the last
//! nonzero are not stored; `len` gives the tensor's length. An all-zero tensor has no
//! entries.
//!
//! The decoder also accepts value-0 entries with smaller gaps (the canonical encoder never
//! writes them). It rejects input where the stream lengths differ, a gap exceeds `2^b − 1`,
//! `b` is outside `1..=16`, or a position would reach `len`; it never allocates more than
//! `len` output elements, so callers reading untrusted files must cap `len` first.
//!
//! # CSR
//!
//! [`Csr`] stores a `rows × cols` matrix row by row: one row per output channel. For a conv
//! weight in OIHW layout, `rows = O` and `cols = I·H·W`; flat row-major index `i` sits at
//! row `i / cols`, column `i % cols`. [`Csr::from_relative`] builds it directly from the
//! gap-coded streams (dropping fillers), without materialising the dense tensor.

use crate::error::{Error, Result};

/// Default gap width `b` in bits; gaps range over `0..=2^b − 1`.
pub const DEFAULT_GAP_BITS: u32 = 8;

/// Largest allowed gap width in bits (gaps are stored as `u16`).
pub const MAX_GAP_BITS: u32 = 16;

fn invalid(msg: String) -> Error {
    Error::InvalidArgument(msg)
}

/// Number of entries that `sparsity` removes from `n`: `round(sparsity · n)` (halfway cases
/// away from zero). Errors unless `sparsity` is in `[0, 1]` (NaN is rejected).
pub fn prune_count(n: usize, sparsity: f64) -> Result<usize> {
    if !(0.0..=1.0).contains(&sparsity) {
        return Err(invalid(format!("sparsity {sparsity} is outside [0, 1]")));
    }
    let k = (sparsity * n as f64).round();
    // n as f64 may round up for huge n; never exceed n.
    Ok(if k >= n as f64 { n } else { k as usize }.min(n))
}

/// Sort key ordering magnitudes: the bit pattern of `|x|` (monotone for non-negative
/// floats), with every NaN mapped just above infinity.
#[inline]
fn magnitude_key(x: f32) -> u32 {
    if x.is_nan() {
        f32::INFINITY.to_bits() + 1
    } else {
        x.abs().to_bits()
    }
}

/// Zeroes the `k` smallest-magnitude entries across `layers` (ties by layer, then
/// position) and returns, per layer, how many entries were nonzero before and are zero now.
fn prune_smallest(layers: &mut [&mut [f32]], k: usize) -> Vec<usize> {
    let mut zeroed = vec![0usize; layers.len()];
    if k == 0 {
        return zeroed;
    }
    let mut keys: Vec<u32> = layers.iter().flat_map(|l| l.iter().map(|&x| magnitude_key(x))).collect();
    if k > keys.len() || keys.is_empty() {
        return zeroed;
    }
    let (_, &mut threshold, _) = keys.select_nth_unstable(k - 1);
    let below = keys.iter().filter(|&&key| key < threshold).count();
    drop(keys);
    // Entries at exactly the threshold are taken in (layer, position) order.
    let mut ties_left = k - below;
    for (layer, count) in layers.iter_mut().zip(zeroed.iter_mut()) {
        for x in layer.iter_mut() {
            let key = magnitude_key(*x);
            let take = key < threshold || (key == threshold && ties_left > 0);
            if take {
                if key == threshold {
                    ties_left -= 1;
                }
                if *x != 0.0 {
                    *count += 1;
                }
                *x = 0.0;
            }
        }
    }
    zeroed
}

/// Zeroes exactly [`prune_count`]`(w.len(), sparsity)` entries of `w`: the smallest `|w|`,
/// ties broken by lower index first, NaN treated as the largest magnitude.
///
/// Returns how many entries this call changed from nonzero to zero (entries that already
/// were zero are selected first, since they have the smallest magnitude, and are not
/// counted). Afterwards `w` holds `max(k, zeros before)` zeros. Errors unless `sparsity`
/// is in `[0, 1]`; `w` is untouched on error.
pub fn prune_magnitude(w: &mut [f32], sparsity: f64) -> Result<usize> {
    let k = prune_count(w.len(), sparsity)?;
    Ok(prune_smallest(&mut [w], k)[0])
}

/// Prunes all `layers` with one global magnitude threshold: exactly
/// [`prune_count`]`(total, sparsity)` entries over all layers, the smallest `|w|` first, ties
/// broken by (layer index, position). Returns, per layer, how many entries were changed
/// from nonzero to zero. Errors on a bad `sparsity` or if the total length overflows.
pub fn prune_global(layers: &mut [&mut [f32]], sparsity: f64) -> Result<Vec<usize>> {
    let total = layers
        .iter()
        .try_fold(0usize, |acc, l| acc.checked_add(l.len()))
        .ok_or_else(|| invalid("total number of weights overflows usize".into()))?;
    let k = prune_count(total, sparsity)?;
    Ok(prune_smallest(layers, k))
}

/// Prunes each layer with its own sparsity (as [`prune_magnitude`]). Errors, before
/// touching anything, if the slices differ in length or any sparsity is outside `[0, 1]`.
/// Returns the per-layer counts of newly zeroed entries.
pub fn prune_per_layer(layers: &mut [&mut [f32]], sparsities: &[f64]) -> Result<Vec<usize>> {
    if layers.len() != sparsities.len() {
        return Err(invalid(format!("{} layers but {} sparsities", layers.len(), sparsities.len())));
    }
    let counts =
        layers.iter().zip(sparsities).map(|(l, &s)| prune_count(l.len(), s)).collect::<Result<Vec<_>>>()?;
    Ok(layers.iter_mut().zip(counts).map(|(l, k)| prune_smallest(&mut [&mut **l], k)[0]).collect())
}

/// Fraction of zero entries in `x`; `0.0` for an empty slice.
pub fn sparsity(x: &[i8]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    x.iter().filter(|&&v| v == 0).count() as f64 / x.len() as f64
}

/// Fraction of entries of `x` equal to zero (`±0.0`); `0.0` for an empty slice.
pub fn sparsity_f32(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    x.iter().filter(|&&v| v == 0.0).count() as f64 / x.len() as f64
}

/// A tensor in relative-index form: see the module docs for the exact semantics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelativeIndexed {
    /// Entry values; nonzeros, plus `0` for filler entries.
    pub values: Vec<i8>,
    /// Zeros skipped before each entry; each `<= 2^gap_bits − 1`.
    pub gaps: Vec<u16>,
    /// Gap width `b` in `1..=16`.
    pub gap_bits: u32,
    /// Length of the dense tensor.
    pub len: usize,
}

impl RelativeIndexed {
    /// Number of stored entries (nonzeros plus fillers).
    pub fn entries(&self) -> usize {
        self.values.len()
    }
}

/// Largest gap for `gap_bits`, or an error unless `gap_bits` is in `1..=16`.
pub fn max_gap(gap_bits: u32) -> Result<u16> {
    if !(1..=MAX_GAP_BITS).contains(&gap_bits) {
        return Err(invalid(format!("gap width {gap_bits} is outside 1..=16 bits")));
    }
    Ok(((1u32 << gap_bits) - 1) as u16)
}

/// Encodes `dense` in relative-index form with `gap_bits`-bit gaps (fillers for long zero
/// runs, trailing zeros dropped). Errors unless `gap_bits` is in `1..=16`.
pub fn encode_relative(dense: &[i8], gap_bits: u32) -> Result<RelativeIndexed> {
    let max = max_gap(gap_bits)?;
    let span = usize::from(max) + 1;
    let mut values = Vec::new();
    let mut gaps = Vec::new();
    let mut cursor = 0usize;
    for (pos, &v) in dense.iter().enumerate() {
        if v == 0 {
            continue;
        }
        let mut run = pos - cursor;
        while run > usize::from(max) {
            values.push(0);
            gaps.push(max);
            run -= span;
        }
        values.push(v);
        gaps.push(run as u16);
        cursor = pos + 1;
    }
    Ok(RelativeIndexed { values, gaps, gap_bits, len: dense.len() })
}

/// Walks relative-index entries, validating them, and calls `f(position, value)` for each.
fn walk_relative(
    values: &[i8],
    gaps: &[u16],
    gap_bits: u32,
    len: usize,
    mut f: impl FnMut(usize, i8),
) -> Result<()> {
    let max = max_gap(gap_bits)?;
    if values.len() != gaps.len() {
        return Err(invalid(format!("relative index: {} values but {} gaps", values.len(), gaps.len())));
    }
    if values.len() > len {
        return Err(invalid(format!(
            "relative index: {} entries for a tensor of {len} elements",
            values.len()
        )));
    }
    let mut cursor = 0usize;
    for (i, (&v, &g)) in values.iter().zip(gaps).enumerate() {
        if g > max {
            return Err(invalid(format!(
                "relative index: gap {g} of entry {i} exceeds {max} ({gap_bits}-bit gaps)"
            )));
        }
        let pos = cursor.checked_add(usize::from(g)).filter(|&p| p < len).ok_or_else(|| {
            invalid(format!("relative index: entry {i} lands past the end of a tensor of {len} elements"))
        })?;
        f(pos, v);
        cursor = pos + 1;
    }
    Ok(())
}

/// Decodes relative-index streams into a dense tensor of `len` elements.
///
/// Meant for untrusted input: validates everything listed in the module docs, never
/// panics and allocates exactly `len` elements (cap `len` before calling).
pub fn decode_relative_parts(values: &[i8], gaps: &[u16], gap_bits: u32, len: usize) -> Result<Vec<i8>> {
    // Validate before allocating the output.
    walk_relative(values, gaps, gap_bits, len, |_, _| {})?;
    let mut out = vec![0i8; len];
    walk_relative(values, gaps, gap_bits, len, |pos, v| {
        if let Some(slot) = out.get_mut(pos) {
            *slot = v;
        }
    })?;
    Ok(out)
}

/// Decodes a [`RelativeIndexed`] tensor; see [`decode_relative_parts`].
pub fn decode_relative(r: &RelativeIndexed) -> Result<Vec<i8>> {
    decode_relative_parts(&r.values, &r.gaps, r.gap_bits, r.len)
}

/// Compressed sparse rows of an `i8` matrix; one row per output channel.
///
/// Invariants (upheld by the constructors, checked by [`Csr::validate`]):
/// `row_ptr.len() == rows + 1`, `row_ptr[0] == 0`, non-decreasing, last entry
/// `== values.len() == col_idx.len()`; column indices `< cols` and strictly increasing
/// within a row; no stored zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csr {
    /// Number of rows (output channels).
    pub rows: usize,
    /// Number of columns (elements per output channel).
    pub cols: usize,
    /// Row `r`'s entries are `row_ptr[r]..row_ptr[r + 1]`.
    pub row_ptr: Vec<u32>,
    /// Column of each stored entry.
    pub col_idx: Vec<u32>,
    /// Value of each stored entry (nonzero).
    pub values: Vec<i8>,
}

impl Csr {
    /// Checks shape limits shared by the constructors: `rows·cols` must not overflow and
    /// columns must be addressable by `u32`. Returns `rows·cols`.
    fn checked_len(rows: usize, cols: usize) -> Result<usize> {
        let len = rows
            .checked_mul(cols)
            .ok_or_else(|| invalid(format!("CSR shape {rows}x{cols} overflows usize")))?;
        if cols > 0 && u32::try_from(cols - 1).is_err() {
            return Err(invalid(format!("CSR: {cols} columns exceed the u32 index range")));
        }
        rows.checked_add(1).ok_or_else(|| invalid(format!("CSR: {rows} rows overflow")))?;
        Ok(len)
    }

    /// Builds the row pointers from per-entry rows (non-decreasing), erroring if the number
    /// of stored entries exceeds `u32`.
    fn finish(
        rows: usize,
        cols: usize,
        entry_rows: &[usize],
        col_idx: Vec<u32>,
        values: Vec<i8>,
    ) -> Result<Csr> {
        if u32::try_from(values.len()).is_err() {
            return Err(invalid(format!("CSR: {} nonzeros exceed the u32 row-pointer range", values.len())));
        }
        let mut row_ptr = vec![0u32; rows + 1];
        for &r in entry_rows {
            if let Some(p) = row_ptr.get_mut(r + 1) {
                *p += 1;
            }
        }
        for r in 0..rows {
            row_ptr[r + 1] += row_ptr[r];
        }
        Ok(Csr { rows, cols, row_ptr, col_idx, values })
    }

    /// Packs a dense row-major `rows × cols` matrix. Errors if `dense.len() != rows·cols`
    /// (checked), if columns or nonzeros do not fit `u32` indices.
    pub fn from_dense(dense: &[i8], rows: usize, cols: usize) -> Result<Csr> {
        let len = Self::checked_len(rows, cols)?;
        if dense.len() != len {
            return Err(invalid(format!("CSR: {} values for a {rows}x{cols} matrix", dense.len())));
        }
        let mut entry_rows = Vec::new();
        let mut col_idx = Vec::new();
        let mut values = Vec::new();
        for (i, &v) in dense.iter().enumerate() {
            if v != 0 {
                // i < len, so i / cols < rows and i % cols < cols <= u32::MAX + 1.
                entry_rows.push(i / cols);
                col_idx.push((i % cols) as u32);
                values.push(v);
            }
        }
        Self::finish(rows, cols, &entry_rows, col_idx, values)
    }

    /// Packs a `rows × cols` matrix straight from relative-index streams (see the module
    /// docs), skipping fillers and any other zero entries. Validates like
    /// [`decode_relative_parts`] with `len = rows·cols` (checked).
    ///
    /// Allocates at most `rows + 1` row pointers plus the stored entries; since `rows·cols`
    /// cannot bound `rows` when `cols == 0`, that shape is rejected unless `rows == 0`.
    pub fn from_relative(
        values: &[i8],
        gaps: &[u16],
        gap_bits: u32,
        rows: usize,
        cols: usize,
    ) -> Result<Csr> {
        let len = Self::checked_len(rows, cols)?;
        if cols == 0 && rows > 0 {
            return Err(invalid(format!(
                "CSR: a {rows}x0 matrix from a relative-index stream (zero columns)"
            )));
        }
        let mut nnz = 0usize;
        walk_relative(values, gaps, gap_bits, len, |_, v| nnz += usize::from(v != 0))?;
        let mut entry_rows = Vec::with_capacity(nnz);
        let mut col_idx = Vec::with_capacity(nnz);
        let mut out_values = Vec::with_capacity(nnz);
        walk_relative(values, gaps, gap_bits, len, |pos, v| {
            if v != 0 {
                // cols > 0 here: len > 0 because an entry was accepted.
                entry_rows.push(pos / cols);
                col_idx.push((pos % cols) as u32);
                out_values.push(v);
            }
        })?;
        Self::finish(rows, cols, &entry_rows, col_idx, out_values)
    }

    /// Checks the structural invariants listed on [`Csr`] (useful for hand-built values).
    pub fn validate(&self) -> Result<()> {
        Self::checked_len(self.rows, self.cols)?;
        let bad = |m: &str| Err(invalid(format!("CSR: {m}")));
        if self.row_ptr.len() != self.rows + 1 {
            return bad("row_ptr length is not rows + 1");
        }
        if self.col_idx.len() != self.values.len() {
            return bad("col_idx and values differ in length");
        }
        if self.row_ptr.first() != Some(&0)
            || self.row_ptr.last().map(|&p| p as usize) != Some(self.values.len())
            || self.row_ptr.windows(2).any(|w| w[0] > w[1])
        {
            return bad("row_ptr is not a non-decreasing 0..nnz sequence");
        }
        if self.values.contains(&0) {
            return bad("stored zero value");
        }
        for r in 0..self.rows {
            let (cols, _) = self.row(r);
            if cols.iter().any(|&c| c as usize >= self.cols) || cols.windows(2).any(|w| w[0] >= w[1]) {
                return bad("column indices out of range or not increasing");
            }
        }
        Ok(())
    }

    /// Expands to a dense row-major `rows × cols` matrix. Entries that fall outside the
    /// matrix (possible only in a hand-built, invalid `Csr`) are ignored.
    pub fn to_dense(&self) -> Vec<i8> {
        let len = self.rows.checked_mul(self.cols).unwrap_or(0);
        let mut out = vec![0i8; len];
        for r in 0..self.rows {
            let (cols, vals) = self.row(r);
            for (&c, &v) in cols.iter().zip(vals) {
                let c = c as usize;
                if c < self.cols {
                    if let Some(slot) =
                        r.checked_mul(self.cols).and_then(|i| i.checked_add(c)).and_then(|i| out.get_mut(i))
                    {
                        *slot = v;
                    }
                }
            }
        }
        out
    }

    /// Number of stored (nonzero) entries.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// Column indices and values of row `r`; empty slices if `r` is out of range (or the
    /// `Csr` is inconsistent).
    pub fn row(&self, r: usize) -> (&[u32], &[i8]) {
        let range = self.row_ptr.get(r).zip(self.row_ptr.get(r + 1)).map(|(&a, &b)| a as usize..b as usize);
        match range {
            Some(rg) => match (self.col_idx.get(rg.clone()), self.values.get(rg)) {
                (Some(c), Some(v)) => (c, v),
                _ => (&[], &[]),
            },
            None => (&[], &[]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_count_rounds_and_validates() {
        assert_eq!(prune_count(10, 0.5).unwrap(), 5);
        assert_eq!(prune_count(10, 0.25).unwrap(), 3); // 2.5 rounds away from zero
        assert_eq!(prune_count(3, 0.5).unwrap(), 2);
        assert_eq!(prune_count(0, 0.7).unwrap(), 0);
        assert_eq!(prune_count(7, 1.0).unwrap(), 7);
        assert_eq!(prune_count(7, 0.0).unwrap(), 0);
        assert_eq!(prune_count(usize::MAX, 1.0).unwrap(), usize::MAX);
        for bad in [-0.1, 1.0001, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(prune_count(10, bad).is_err());
            let mut w = [1.0f32, 2.0];
            assert!(prune_magnitude(&mut w, bad).is_err());
            assert_eq!(w, [1.0, 2.0]);
            assert!(prune_global(&mut [&mut w[..]], bad).is_err());
        }
    }

    #[test]
    fn prune_exact_counts() {
        for n in [0usize, 1, 2, 3, 7, 10, 99, 100, 257] {
            for s in [0.0, 0.1, 0.25, 0.333, 0.5, 0.75, 0.9, 0.99, 1.0] {
                let mut w: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32 - 50.0) + 0.5).collect();
                let k = prune_count(n, s).unwrap();
                let zeroed = prune_magnitude(&mut w, s).unwrap();
                assert_eq!(zeroed, k, "n={n} s={s}");
                assert_eq!(w.iter().filter(|&&x| x == 0.0).count(), k);
            }
        }
    }

    #[test]
    fn prune_removes_smallest_magnitudes() {
        let mut w = [0.5f32, -3.0, 0.1, 2.0, -0.2, 1.0];
        assert_eq!(prune_magnitude(&mut w, 0.5).unwrap(), 3);
        assert_eq!(w, [0.0, -3.0, 0.0, 2.0, 0.0, 1.0]);
    }

    #[test]
    fn prune_ties_lowest_index_first() {
        let mut w = [1.0f32; 6];
        prune_magnitude(&mut w, 0.5).unwrap();
        assert_eq!(w, [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        let mut w = [-1.0f32, 1.0, -1.0, 1.0];
        prune_magnitude(&mut w, 0.25).unwrap();
        assert_eq!(w, [0.0, 1.0, -1.0, 1.0]);
    }

    #[test]
    fn prune_existing_zeros_and_nan() {
        let mut w = [0.0f32, 5.0, -0.0, 1.0];
        // Two zeros are the two smallest: nothing new is zeroed.
        assert_eq!(prune_magnitude(&mut w, 0.5).unwrap(), 0);
        assert_eq!(w, [0.0, 5.0, 0.0, 1.0]);
        let mut w = [f32::NAN, f32::INFINITY, 1.0, -2.0];
        assert_eq!(prune_magnitude(&mut w, 0.75).unwrap(), 3);
        assert!(w[0].is_nan());
        assert_eq!(&w[1..], &[0.0, 0.0, 0.0]);
        let mut w = [f32::NAN, 1.0];
        prune_magnitude(&mut w, 1.0).unwrap();
        assert_eq!(w, [0.0, 0.0]);
    }

    #[test]
    fn prune_global_prefers_small_scale_layer() {
        let mut small: Vec<f32> = (0..100).map(|i| (i as f32 + 1.0) * 1e-3).collect();
        let mut big: Vec<f32> = (0..100).map(|i| -(i as f32 + 1.0)).collect();
        let counts = prune_global(&mut [&mut small[..], &mut big[..]], 0.6).unwrap();
        assert_eq!(counts, vec![100, 20]);
        assert!(small.iter().all(|&x| x == 0.0));
        assert_eq!(big.iter().filter(|&&x| x == 0.0).count(), 20);
        assert!(big[..20].iter().all(|&x| x == 0.0) && big[20] == -21.0);
    }

    #[test]
    fn prune_global_ties_by_layer_then_position() {
        let mut a = [1.0f32, 1.0];
        let mut b = [1.0f32, 1.0, 1.0];
        let mut c: [f32; 0] = [];
        let counts = prune_global(&mut [&mut a[..], &mut c[..], &mut b[..]], 0.6).unwrap();
        assert_eq!(counts, vec![2, 0, 1]);
        assert_eq!(b, [0.0, 1.0, 1.0]);
        assert_eq!(prune_global(&mut [], 0.5).unwrap(), Vec::<usize>::new());
    }

    #[test]
    fn prune_per_layer_checks_first() {
        let mut a = [1.0f32, 2.0, 3.0, 4.0];
        let mut b = [4.0f32, 3.0];
        let counts = prune_per_layer(&mut [&mut a[..], &mut b[..]], &[0.5, 0.5]).unwrap();
        assert_eq!(counts, vec![2, 1]);
        assert_eq!(a, [0.0, 0.0, 3.0, 4.0]);
        assert_eq!(b, [4.0, 0.0]);
        let mut a = [1.0f32, 2.0];
        let mut b = [4.0f32, 3.0];
        assert!(prune_per_layer(&mut [&mut a[..], &mut b[..]], &[0.5, 2.0]).is_err());
        assert!(prune_per_layer(&mut [&mut a[..], &mut b[..]], &[0.5]).is_err());
        assert_eq!((a, b), ([1.0, 2.0], [4.0, 3.0]));
    }

    #[test]
    fn sparsity_fractions() {
        assert_eq!(sparsity(&[]), 0.0);
        assert_eq!(sparsity(&[0, 1, 0, -3]), 0.5);
        assert_eq!(sparsity_f32(&[0.0, -0.0, 1.0, f32::NAN]), 0.5);
        assert_eq!(sparsity_f32(&[]), 0.0);
    }

    #[test]
    fn encode_example_with_fillers() {
        // b = 2: gaps up to 3; a run of 9 zeros needs two fillers (4 positions each).
        let mut dense = vec![0i8; 14];
        dense[0] = 5;
        dense[10] = -2;
        dense[11] = 7;
        let r = encode_relative(&dense, 2).unwrap();
        assert_eq!(r.values, vec![5, 0, 0, -2, 7]);
        assert_eq!(r.gaps, vec![0, 3, 3, 1, 0]);
        assert_eq!(r.len, 14);
        assert_eq!(decode_relative(&r).unwrap(), dense);
        // Exactly 2^b − 1 zeros need no filler; 2^b zeros need one with a zero-gap entry after.
        let r = encode_relative(&[0, 0, 0, 9], 2).unwrap();
        assert_eq!((r.values, r.gaps), (vec![9], vec![3]));
        let r = encode_relative(&[0, 0, 0, 0, 9], 2).unwrap();
        assert_eq!((r.values, r.gaps), (vec![0, 9], vec![3, 0]));
        // All-zero and empty tensors have no entries.
        let r = encode_relative(&[0; 1000], 1).unwrap();
        assert_eq!(r.entries(), 0);
        assert_eq!(decode_relative(&r).unwrap(), vec![0; 1000]);
        let r = encode_relative(&[], 8).unwrap();
        assert_eq!(decode_relative(&r).unwrap(), Vec::<i8>::new());
    }

    #[test]
    fn gap_bits_range() {
        assert!(encode_relative(&[1], 0).is_err());
        assert!(encode_relative(&[1], 17).is_err());
        assert_eq!(max_gap(1).unwrap(), 1);
        assert_eq!(max_gap(DEFAULT_GAP_BITS).unwrap(), 255);
        assert_eq!(max_gap(16).unwrap(), u16::MAX);
        assert!(decode_relative_parts(&[], &[], 0, 4).is_err());
        assert!(decode_relative_parts(&[], &[], 17, 4).is_err());
    }

    #[test]
    fn decoder_rejects_bad_streams() {
        // Length mismatch.
        assert!(decode_relative_parts(&[1, 2], &[0], 8, 10).is_err());
        // Gap above 2^b − 1.
        assert!(decode_relative_parts(&[1], &[4], 2, 10).is_err());
        // Position reaching len.
        assert!(decode_relative_parts(&[1], &[3], 8, 3).is_err());
        assert!(decode_relative_parts(&[1, 1, 1], &[0, 0, 0], 8, 2).is_err());
        assert!(decode_relative_parts(&[1], &[0], 8, 0).is_err());
        // Huge gaps cannot overflow the cursor.
        let n = 1000;
        assert!(decode_relative_parts(&vec![0; n], &vec![u16::MAX; n], 16, 65_536 * 3).is_err());
        // The last valid position is fine; value-0 entries with small gaps are accepted.
        assert_eq!(decode_relative_parts(&[1], &[2], 8, 3).unwrap(), vec![0, 0, 1]);
        assert_eq!(decode_relative_parts(&[0, 4], &[0, 0], 8, 3).unwrap(), vec![0, 4, 0]);
        // Csr::from_relative validates the same way.
        assert!(Csr::from_relative(&[1, 2], &[0], 8, 2, 5).is_err());
        assert!(Csr::from_relative(&[1], &[4], 2, 2, 5).is_err());
        assert!(Csr::from_relative(&[1], &[10], 8, 2, 5).is_err());
        assert!(Csr::from_relative(&[1], &[0], 8, usize::MAX, 2).is_err());
        assert!(Csr::from_relative(&[], &[], 8, usize::MAX, 0).is_err());
        assert!(Csr::from_relative(&[], &[], 0, 2, 2).is_err());
    }

    #[test]
    fn csr_basics() {
        #[rustfmt::skip]
        let dense = [
            0, 3, 0, 0,
            0, 0, 0, 0,
            -1, 0, 0, 2,
        ];
        let c = Csr::from_dense(&dense, 3, 4).unwrap();
        assert_eq!(c.row_ptr, vec![0, 1, 1, 3]);
        assert_eq!(c.col_idx, vec![1, 0, 3]);
        assert_eq!(c.values, vec![3, -1, 2]);
        assert_eq!(c.nnz(), 3);
        assert_eq!(c.row(1), (&[][..], &[][..]));
        assert_eq!(c.row(2), (&[0u32, 3][..], &[-1i8, 2][..]));
        assert_eq!(c.row(3), (&[][..], &[][..]));
        assert_eq!(c.to_dense(), dense.to_vec());
        c.validate().unwrap();
        let r = encode_relative(&dense, 1).unwrap();
        let c2 = Csr::from_relative(&r.values, &r.gaps, 1, 3, 4).unwrap();
        assert_eq!(c, c2);
    }

    #[test]
    fn csr_empty_and_bad_shapes() {
        let c = Csr::from_dense(&[], 0, 0).unwrap();
        assert_eq!((c.row_ptr.clone(), c.nnz()), (vec![0], 0));
        assert!(c.to_dense().is_empty());
        let c = Csr::from_dense(&[], 3, 0).unwrap();
        assert_eq!(c.row_ptr, vec![0; 4]);
        let c = Csr::from_dense(&[], 0, 5).unwrap();
        assert_eq!(c.row_ptr, vec![0]);
        assert_eq!(Csr::from_relative(&[], &[], 8, 0, 5).unwrap(), c);
        let c = Csr::from_dense(&[0; 6], 2, 3).unwrap();
        assert_eq!((c.row_ptr.clone(), c.nnz()), (vec![0, 0, 0], 0));
        assert_eq!(c.to_dense(), vec![0; 6]);
        assert!(Csr::from_dense(&[1; 5], 2, 3).is_err());
        assert!(Csr::from_dense(&[1; 5], usize::MAX, 2).is_err());
    }

    #[test]
    fn csr_hand_built_is_checked_not_trusted() {
        let c = Csr { rows: 2, cols: 2, row_ptr: vec![0, 5, 1], col_idx: vec![7], values: vec![1] };
        assert!(c.validate().is_err());
        assert_eq!(c.row(0), (&[][..], &[][..]));
        assert_eq!(c.to_dense(), vec![0; 4]);
        let c = Csr { rows: 1, cols: 2, row_ptr: vec![0, 1], col_idx: vec![9], values: vec![1] };
        assert!(c.validate().is_err());
        assert_eq!(c.to_dense(), vec![0, 0]);
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    /// Sparse vectors at a chosen density, including long zero runs.
    fn sparse_vec() -> impl Strategy<Value = Vec<i8>> {
        (0usize..3000, prop_oneof![Just(0.0f64), Just(0.5), Just(0.9), Just(0.99), Just(1.0)], any::<u64>())
            .prop_map(|(n, s, seed)| {
                let mut x = seed | 1;
                (0..n)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let u = (x >> 11) as f64 / (1u64 << 53) as f64;
                        if u < s {
                            0
                        } else {
                            match (x & 0xff) as i8 {
                                0 => 1,
                                v => v,
                            }
                        }
                    })
                    .collect()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn relative_roundtrip(dense in sparse_vec(), gap_bits in 1u32..=16) {
            let r = encode_relative(&dense, gap_bits).unwrap();
            let max = max_gap(gap_bits).unwrap();
            prop_assert_eq!(r.values.len(), r.gaps.len());
            prop_assert!(r.gaps.iter().all(|&g| g <= max));
            // Fillers only where needed, and no trailing entries beyond the last nonzero.
            for (&v, &g) in r.values.iter().zip(&r.gaps) {
                if v == 0 {
                    prop_assert_eq!(g, max);
                }
            }
            prop_assert!(r.values.last().is_none_or(|&v| v != 0));
            prop_assert_eq!(decode_relative(&r).unwrap(), dense.clone());
            let nnz = dense.iter().filter(|&&v| v != 0).count();
            prop_assert_eq!(r.values.iter().filter(|&&v| v != 0).count(), nnz);
        }

        #[test]
        fn csr_agrees_with_decoding(dense in sparse_vec(), cols in 1usize..40, gap_bits in 1u32..=16) {
            let rows = dense.len() / cols;
            let dense = &dense[..rows * cols];
            let r = encode_relative(dense, gap_bits).unwrap();
            let a = Csr::from_dense(dense, rows, cols).unwrap();
            let b = Csr::from_relative(&r.values, &r.gaps, gap_bits, rows, cols).unwrap();
            prop_assert_eq!(&a, &b);
            a.validate().unwrap();
            prop_assert_eq!(a.to_dense(), decode_relative(&r).unwrap());
            prop_assert_eq!(a.to_dense(), dense.to_vec());
            prop_assert_eq!(a.nnz(), dense.iter().filter(|&&v| v != 0).count());
            for row in 0..rows {
                let (cs, vs) = a.row(row);
                for (&c, &v) in cs.iter().zip(vs) {
                    prop_assert_eq!(dense[row * cols + c as usize], v);
                }
            }
        }

        #[test]
        fn decoder_never_panics(
            values in prop::collection::vec(any::<i8>(), 0..64),
            gaps in prop::collection::vec(any::<u16>(), 0..64),
            gap_bits in 0u32..=18,
            len in 0usize..5000,
            cols in 0usize..50,
        ) {
            let out = decode_relative_parts(&values, &gaps, gap_bits, len);
            if let Ok(d) = &out {
                prop_assert_eq!(d.len(), len);
            }
            let rows = len.checked_div(cols).unwrap_or(0);
            let c = Csr::from_relative(&values, &gaps, gap_bits, rows, cols);
            if let Ok(c) = c {
                c.validate().unwrap();
                let d = decode_relative_parts(&values, &gaps, gap_bits, rows * cols).unwrap();
                prop_assert_eq!(c.to_dense(), d);
            }
        }

        #[test]
        fn prune_is_exact_and_minimal(
            w in prop::collection::vec(prop_oneof![-100.0f32..100.0, Just(0.0), Just(1.0), Just(-1.0)], 0..300),
            s in 0.0f64..=1.0,
        ) {
            let k = prune_count(w.len(), s).unwrap();
            let mut p = w.clone();
            let zeroed = prune_magnitude(&mut p, s).unwrap();
            let zeros_before = w.iter().filter(|&&x| x == 0.0).count();
            let zeros_after = p.iter().filter(|&&x| x == 0.0).count();
            prop_assert_eq!(zeros_after, k.max(zeros_before));
            prop_assert_eq!(zeroed, zeros_after - zeros_before);
            // Every pruned magnitude is <= every kept magnitude; survivors are unchanged.
            let max_pruned = w.iter().zip(&p).filter(|(a, b)| **a != **b || **b == 0.0).map(|(a, _)| a.abs()).fold(0.0f32, f32::max);
            for (&a, &b) in w.iter().zip(&p) {
                if b != 0.0 {
                    prop_assert_eq!(a, b);
                    prop_assert!(a.abs() >= max_pruned);
                }
            }
            // Global pruning of one layer equals per-tensor pruning.
            let mut g = w.clone();
            prune_global(&mut [&mut g[..]], s).unwrap();
            prop_assert_eq!(g, p);
        }
    }
}
