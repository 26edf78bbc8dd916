//! The f32 arrays the op-list executor passes between nodes, and the shape arithmetic its
//! operators share (checked sizes, numpy broadcasting, axis coalescing).

use crate::error::{Error, Result};

/// Most values one node may produce: 2^28 f32 (1 GiB). A model file cannot make the
/// executor allocate more than this per node, whatever sizes it declares.
pub const MAX_VALUES: usize = 1 << 28;

/// A row-major f32 array.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

pub fn bad(msg: String) -> Error {
    Error::Model(msg)
}

/// Elements of `shape`, checked against overflow and [`MAX_VALUES`].
pub fn volume(shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= MAX_VALUES)
        .ok_or_else(|| bad(format!("a tensor of shape {shape:?} would exceed {MAX_VALUES} values")))
}

impl Array {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Array> {
        if volume(&shape)? != data.len() {
            return Err(Error::InvalidArgument(format!("{} values do not fill shape {shape:?}", data.len())));
        }
        Ok(Array { shape, data })
    }

    /// An array of zeros.
    pub fn zeros(shape: Vec<usize>) -> Result<Array> {
        let n = volume(&shape)?;
        Ok(Array { shape, data: vec![0.0; n] })
    }
}

/// Row-major strides of `shape`.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// `(outer, n, inner)` around axis `axis` of `shape`.
pub fn split_at_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = shape[..axis].iter().product();
    let inner = shape[axis + 1..].iter().product();
    (outer, shape[axis], inner)
}

/// The numpy broadcast of two shapes.
pub fn broadcast(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let at = |s: &[usize], i: usize| if i + s.len() >= rank { s[i + s.len() - rank] } else { 1 };
    (0..rank)
        .map(|i| match (at(a, i), at(b, i)) {
            (x, y) if x == y => Ok(x),
            (1, y) => Ok(y),
            (x, 1) => Ok(x),
            (x, y) => Err(bad(format!("shapes {a:?} and {b:?} do not broadcast (axis {i}: {x} vs {y})"))),
        })
        .collect()
}

/// Strides of `shape` read as `out` (rank-aligned on the right; 0 along broadcast axes).
pub fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let s = strides(shape);
    let pad = out.len() - shape.len();
    (0..out.len()).map(|i| if i < pad || shape[i - pad] == 1 { 0 } else { s[i - pad] }).collect()
}

/// An iteration space: dims with one stride per operand, axes of size 1 dropped and
/// neighbours merged where every operand steps through them as one.
pub fn coalesce<const K: usize>(dims: &[usize], strides: [&[usize]; K]) -> (Vec<usize>, [Vec<usize>; K]) {
    let mut d: Vec<usize> = Vec::new();
    let mut s: [Vec<usize>; K] = std::array::from_fn(|_| Vec::new());
    for i in 0..dims.len() {
        if dims[i] == 1 {
            continue;
        }
        let mergeable = !d.is_empty()
            && (0..K).all(|k| {
                let last = s[k].len() - 1;
                s[k][last] == strides[k][i] * dims[i]
            });
        if mergeable {
            let last = d.len() - 1;
            d[last] *= dims[i];
            for k in 0..K {
                let l = s[k].len() - 1;
                s[k][l] = strides[k][i];
            }
        } else {
            d.push(dims[i]);
            for k in 0..K {
                s[k].push(strides[k][i]);
            }
        }
    }
    if d.is_empty() {
        d.push(1);
        for k in s.iter_mut() {
            k.push(0);
        }
    }
    (d, s)
}

/// Calls `f(offsets)` for every index of `dims` but the last, with each operand's offset.
pub fn for_each_row<const K: usize>(
    dims: &[usize],
    strides: &[Vec<usize>; K],
    mut f: impl FnMut([usize; K]),
) {
    let outer = &dims[..dims.len() - 1];
    let mut idx = vec![0usize; outer.len()];
    let mut off = [0usize; K];
    loop {
        f(off);
        let mut a = outer.len();
        loop {
            if a == 0 {
                return;
            }
            a -= 1;
            idx[a] += 1;
            for k in 0..K {
                off[k] += strides[k][a];
            }
            if idx[a] < outer[a] {
                break;
            }
            for k in 0..K {
                off[k] -= strides[k][a] * outer[a];
            }
            idx[a] = 0;
        }
    }
}
