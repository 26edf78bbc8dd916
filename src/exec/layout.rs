//! Operators that only move values: axis permutation, slicing, concatenation and nearest
//! upsampling (reshapes do not move anything and live in the executor).

use super::array::{bad, coalesce, for_each_row, split_at_axis, strides, volume, Array};
use crate::error::Result;

/// Moves axis `from` to position `to`.
pub fn move_axis(x: &Array, from: usize, to: usize) -> Result<Array> {
    let rank = x.shape.len();
    if from >= rank || to >= rank {
        return Err(bad(format!("moving axis {from} to {to} of a rank-{rank} tensor")));
    }
    let mut perm: Vec<usize> = (0..rank).collect();
    let a = perm.remove(from);
    perm.insert(to, a);
    permute(x, &perm)
}

/// `out` axis `i` is `x` axis `perm[i]`.
pub fn permute(x: &Array, perm: &[usize]) -> Result<Array> {
    let shape: Vec<usize> = perm.iter().map(|&p| x.shape[p]).collect();
    let sx = strides(&x.shape);
    let src: Vec<usize> = perm.iter().map(|&p| sx[p]).collect();
    let so = strides(&shape);
    let mut out = Array::zeros(shape.clone())?;
    let (d, [so, si]) = coalesce(&shape, [&so, &src]);
    let n = d[d.len() - 1];
    let (io, ii) = (so[so.len() - 1], si[si.len() - 1]);
    for_each_row(&d, &[so, si], |[o, i]| {
        if io == 1 && ii == 1 {
            out.data[o..o + n].copy_from_slice(&x.data[i..i + n]);
        } else {
            for k in 0..n {
                out.data[o + k * io] = x.data[i + k * ii];
            }
        }
    });
    Ok(out)
}

/// `x[.., start..end, ..]` along `axis`.
pub fn slice(x: &Array, axis: usize, start: i64, end: i64) -> Result<Array> {
    let Some(&dim) = x.shape.get(axis) else {
        return Err(bad(format!("slicing axis {axis} of shape {:?}", x.shape)));
    };
    let (s, e) = (usize::try_from(start).ok(), usize::try_from(end).ok());
    let (Some(s), Some(e)) = (s, e) else {
        return Err(bad(format!("slice {start}..{end} of axis {axis} (size {dim})")));
    };
    if s > e || e > dim {
        return Err(bad(format!("slice {s}..{e} of axis {axis} (size {dim})")));
    }
    let (outer, _, inner) = split_at_axis(&x.shape, axis);
    let mut shape = x.shape.clone();
    shape[axis] = e - s;
    let mut data = Vec::with_capacity(volume(&shape)?);
    for o in 0..outer {
        let base = o * dim * inner;
        data.extend_from_slice(&x.data[base + s * inner..base + e * inner]);
    }
    Ok(Array { shape, data })
}

/// Concatenation along `axis`.
pub fn concat(xs: &[&Array], axis: usize) -> Result<Array> {
    let first = xs.first().ok_or_else(|| bad("concatenating nothing".into()))?;
    if axis >= first.shape.len() {
        return Err(bad(format!("concatenating along axis {axis} of shape {:?}", first.shape)));
    }
    let mut shape = first.shape.clone();
    shape[axis] = 0;
    for x in xs {
        let same = x.shape.len() == shape.len()
            && x.shape.iter().zip(&first.shape).enumerate().all(|(i, (a, b))| i == axis || a == b);
        if !same {
            return Err(bad(format!(
                "concatenating shapes {:?} and {:?} along axis {axis}",
                first.shape, x.shape
            )));
        }
        shape[axis] += x.shape[axis];
    }
    let (outer, _, _) = split_at_axis(&shape, axis);
    let mut data = Vec::with_capacity(volume(&shape)?);
    for o in 0..outer {
        for x in xs {
            let (_, n, inner) = split_at_axis(&x.shape, axis);
            data.extend_from_slice(&x.data[o * n * inner..(o + 1) * n * inner]);
        }
    }
    Ok(Array { shape, data })
}

/// Nearest-neighbour upsampling by an integer factor per axis.
pub fn nearest_upsample(x: &Array, scales: &[usize]) -> Result<Array> {
    if scales.len() != x.shape.len() || scales.contains(&0) {
        return Err(bad(format!("upsampling shape {:?} by {scales:?}", x.shape)));
    }
    let shape: Vec<usize> = x
        .shape
        .iter()
        .zip(scales)
        .map(|(&d, &s)| {
            d.checked_mul(s).ok_or_else(|| bad(format!("upsampling {:?} by {scales:?}", x.shape)))
        })
        .collect::<Result<_>>()?;
    let mut out = Array::zeros(shape.clone())?;
    let rank = shape.len();
    let so = strides(&shape);
    let sx = strides(&x.shape);
    // Rows of the output's last axis, each read from one input row.
    let rows = out.data.len() / shape[rank - 1].max(1);
    let last = shape[rank - 1];
    let scale_last = scales[rank - 1];
    for r in 0..rows {
        let mut rem = r * last;
        let mut src = 0;
        for a in 0..rank - 1 {
            let i = rem / so[a];
            rem %= so[a];
            src += (i / scales[a]) * sx[a];
        }
        let row = &mut out.data[r * last..(r + 1) * last];
        for (j, v) in row.iter_mut().enumerate() {
            *v = x.data[src + j / scale_last];
        }
    }
    Ok(out)
}
