//! Reductions along axes and the normalisations built on them (softmax, RMS norm).

use super::array::{bad, split_at_axis, Array};
use super::program::ReduceOp;
use crate::error::Result;

/// Merges sorted, adjacent `axes` of `shape` into one: `(outer, n, inner)`.
fn block(shape: &[usize], axes: &[usize]) -> Result<(usize, usize, usize)> {
    let mut a = axes.to_vec();
    a.sort_unstable();
    a.dedup();
    let (Some(&lo), Some(&hi)) = (a.first(), a.last()) else {
        return Err(bad("reducing over no axis".into()));
    };
    if hi >= shape.len() || hi - lo + 1 != a.len() {
        return Err(bad(format!("axes {axes:?} of shape {:?} are not one contiguous block", shape)));
    }
    let outer = shape[..lo].iter().product();
    let n = shape[lo..=hi].iter().product();
    let inner = shape[hi + 1..].iter().product();
    Ok((outer, n, inner))
}

/// Reduces `axes` (kept as size 1).
pub fn reduce(x: &Array, axes: &[usize], op: ReduceOp) -> Result<Array> {
    if let Some(&a) = axes.iter().find(|&&a| a >= x.shape.len()) {
        return Err(bad(format!("reducing axis {a} of shape {:?}", x.shape)));
    }
    let mut shape = x.shape.clone();
    for &a in axes {
        shape[a] = 1;
    }
    // Non-adjacent axes: one at a time.
    let mut sorted = axes.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() > 1 && sorted[sorted.len() - 1] - sorted[0] + 1 != sorted.len() {
        if matches!(op, ReduceOp::MeanOfSquares | ReduceOp::Mean) {
            let mut sq = x.clone();
            if op == ReduceOp::MeanOfSquares {
                sq.data.iter_mut().for_each(|v| *v *= *v);
            }
            let count: usize = sorted.iter().map(|&a| x.shape[a]).product();
            let mut r = reduce(&sq, &sorted, ReduceOp::Sum)?;
            r.data.iter_mut().for_each(|v| *v /= count as f32);
            return Ok(r);
        }
        let mut cur = reduce(x, &sorted[..1], op)?;
        for &a in &sorted[1..] {
            cur = reduce(&cur, &[a], op)?;
        }
        return Ok(cur);
    }
    let (outer, n, inner) = block(&x.shape, &sorted)?;
    fn fold(
        x: &[f32],
        outer: usize,
        n: usize,
        inner: usize,
        init: f32,
        f: impl Fn(f32, f32) -> f32,
    ) -> Vec<f32> {
        let mut data = vec![init; outer * inner];
        for o in 0..outer {
            let acc = &mut data[o * inner..(o + 1) * inner];
            if inner == 1 {
                acc[0] = x[o * n..(o + 1) * n].iter().fold(init, |a, &v| f(a, v));
                continue;
            }
            for j in 0..n {
                let row = &x[(o * n + j) * inner..(o * n + j + 1) * inner];
                for (a, &v) in acc.iter_mut().zip(row) {
                    *a = f(*a, v);
                }
            }
        }
        data
    }
    let mut data = match op {
        ReduceOp::Sum | ReduceOp::Mean => fold(&x.data, outer, n, inner, 0.0, |a, b| a + b),
        ReduceOp::MeanOfSquares => fold(&x.data, outer, n, inner, 0.0, |a, b| a + b * b),
        ReduceOp::Max => fold(&x.data, outer, n, inner, f32::NEG_INFINITY, super::elementwise::max),
        ReduceOp::Min => fold(&x.data, outer, n, inner, f32::INFINITY, super::elementwise::min),
        ReduceOp::Prod => fold(&x.data, outer, n, inner, 1.0, |a, b| a * b),
    };
    if matches!(op, ReduceOp::MeanOfSquares | ReduceOp::Mean) && n > 0 {
        data.iter_mut().for_each(|v| *v /= n as f32);
    }
    Ok(Array { shape, data })
}

/// Softmax over `axes` (one contiguous block), in place.
pub fn softmax(x: &mut Array, axes: &[usize]) -> Result<()> {
    let (outer, n, inner) = block(&x.shape, axes)?;
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| (o * n + j) * inner + i;
            let mut max = f32::NEG_INFINITY;
            for j in 0..n {
                max = max.max(x.data[at(j)]);
            }
            let mut sum = 0.0;
            for j in 0..n {
                let e = (x.data[at(j)] - max).exp();
                x.data[at(j)] = e;
                sum += e;
            }
            for j in 0..n {
                x.data[at(j)] /= sum;
            }
        }
    }
    Ok(())
}

/// `x / sqrt(mean(x², axis) + eps)`, in place.
pub fn rms_norm(x: &mut Array, axis: usize, eps: f32) -> Result<()> {
    if axis >= x.shape.len() {
        return Err(bad(format!("RMS norm over axis {axis} of shape {:?}", x.shape)));
    }
    let (outer, n, inner) = split_at_axis(&x.shape, axis);
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| (o * n + j) * inner + i;
            let mut ss = 0.0f32;
            for j in 0..n {
                ss += x.data[at(j)] * x.data[at(j)];
            }
            let k = 1.0 / (ss / n as f32 + eps).sqrt();
            for j in 0..n {
                x.data[at(j)] *= k;
            }
        }
    }
    Ok(())
}
