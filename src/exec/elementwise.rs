//! Element-wise f32 operators of the op-list executor: numpy-broadcasting binary operators
//! (in place on the larger operand when the executor owns it) and unary functions. Plain
//! loops over contiguous rows, which LLVM vectorises for wasm simd128 and AVX2 alike.

use super::array::{broadcast, broadcast_strides, coalesce, for_each_row, strides, Array};
use super::program::{BinaryOp, UnaryOp};
use crate::error::Result;

/// `max` and `min` as comparisons: `f32::max` must ignore a NaN operand, which wasm's
/// `f32x4.max` does not do, so LLVM leaves it scalar in wasm; these compile to one
/// `f32x4.pmax`/`pmin` (or `maxps`/`minps`) per four values. They differ from `f32::max` only
/// when an operand is NaN.
#[inline(always)]
pub fn max(a: f32, b: f32) -> f32 {
    if a < b {
        b
    } else {
        a
    }
}

#[inline(always)]
pub fn min(a: f32, b: f32) -> f32 {
    if b < a {
        b
    } else {
        a
    }
}

/// Runs `$body` with `$f` bound to `op`'s function as a closure, so that every loop using
/// it is compiled (and vectorised) per operator instead of calling through a pointer.
macro_rules! with_binary {
    ($op:expr, |$f:ident| $body:expr) => {
        match $op {
            BinaryOp::Add => {
                let $f = |a: f32, b: f32| a + b;
                $body
            }
            BinaryOp::Sub => {
                let $f = |a: f32, b: f32| a - b;
                $body
            }
            BinaryOp::Mul => {
                let $f = |a: f32, b: f32| a * b;
                $body
            }
            BinaryOp::Div => {
                let $f = |a: f32, b: f32| a / b;
                $body
            }
            BinaryOp::Max => {
                let $f = $crate::exec::elementwise::max;
                $body
            }
            BinaryOp::Min => {
                let $f = $crate::exec::elementwise::min;
                $body
            }
            BinaryOp::Pow => {
                let $f = |a: f32, b: f32| a.powf(b);
                $body
            }
        }
    };
}
pub(crate) use with_binary;

/// `out[i] = f(a[..], b[..])` over the broadcast of `a` and `b`.
#[inline(always)]
fn zip_rows<F: Fn(f32, f32) -> f32>(out: &mut [f32], out_shape: &[usize], a: &Array, b: &Array, f: F) {
    let so = strides(out_shape);
    let sa = broadcast_strides(&a.shape, out_shape);
    let sb = broadcast_strides(&b.shape, out_shape);
    let (dims, [so, sa, sb]) = coalesce(out_shape, [&so, &sa, &sb]);
    let n = dims[dims.len() - 1];
    let (io, ia, ib) = (so[so.len() - 1], sa[sa.len() - 1], sb[sb.len() - 1]);
    for_each_row(&dims, &[so, sa, sb], |[o, x, y]| {
        let out = &mut out[o..o + (n - 1) * io + 1];
        match (io, ia, ib) {
            (1, 1, 1) => {
                for ((r, &p), &q) in out.iter_mut().zip(&a.data[x..x + n]).zip(&b.data[y..y + n]) {
                    *r = f(p, q);
                }
            }
            (1, 1, 0) => {
                let q = b.data[y];
                for (r, &p) in out.iter_mut().zip(&a.data[x..x + n]) {
                    *r = f(p, q);
                }
            }
            (1, 0, 1) => {
                let p = a.data[x];
                for (r, &q) in out.iter_mut().zip(&b.data[y..y + n]) {
                    *r = f(p, q);
                }
            }
            _ => {
                for i in 0..n {
                    out[i * io] = f(a.data[x + i * ia], b.data[y + i * ib]);
                }
            }
        }
    });
}

/// `t[i] = f(t[i], other[..])` in place, `other` broadcast to `t`'s shape: every element is
/// read before it is written, so no copy of `t` is needed.
fn assign(t: &mut Array, other: &Array, f: impl Fn(f32, f32) -> f32) {
    let st = strides(&t.shape);
    let so = broadcast_strides(&other.shape, &t.shape);
    let (d, [st, so]) = coalesce(&t.shape, [&st, &so]);
    let n = d[d.len() - 1];
    let (it, io) = (st[st.len() - 1], so[so.len() - 1]);
    for_each_row(&d, &[st, so], |[o, y]| {
        if it == 1 && io == 1 {
            for (r, &q) in t.data[o..o + n].iter_mut().zip(&other.data[y..y + n]) {
                *r = f(*r, q);
            }
        } else if it == 1 && io == 0 {
            let q = other.data[y];
            for r in &mut t.data[o..o + n] {
                *r = f(*r, q);
            }
        } else {
            for i in 0..n {
                t.data[o + i * it] = f(t.data[o + i * it], other.data[y + i * io]);
            }
        }
    });
}

/// `a ∘ b` with numpy broadcasting; reuses `a`'s or `b`'s buffer when given ownership and it
/// already has the output's shape.
pub fn binary(op: BinaryOp, a: std::borrow::Cow<'_, Array>, b: std::borrow::Cow<'_, Array>) -> Result<Array> {
    with_binary!(op, |f| binary_with(a, b, f))
}

fn binary_with(
    a: std::borrow::Cow<'_, Array>,
    b: std::borrow::Cow<'_, Array>,
    f: impl Fn(f32, f32) -> f32 + Copy,
) -> Result<Array> {
    use std::borrow::Cow;
    let shape = broadcast(&a.shape, &b.shape)?;
    match (a, b) {
        (Cow::Owned(mut a), b) if a.shape == shape => {
            assign(&mut a, &b, f);
            Ok(a)
        }
        (a, Cow::Owned(mut b)) if b.shape == shape => {
            assign(&mut b, &a, |r, p| f(p, r));
            Ok(b)
        }
        (a, b) => {
            let mut out = Array::zeros(shape.clone())?;
            zip_rows(&mut out.data, &shape, &a, &b, f);
            Ok(out)
        }
    }
}

fn erf(x: f32) -> f32 {
    // Abramowitz and Stegun 7.1.26 (|error| < 1.5e-7), in f64.
    let x = f64::from(x);
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-x * x).exp();
    (if x >= 0.0 { y } else { -y }) as f32
}

/// Applies `op` to every element, in place.
pub fn unary(op: UnaryOp, x: &mut [f32]) {
    fn each(x: &mut [f32], f: impl Fn(f32) -> f32) {
        for v in x {
            *v = f(*v);
        }
    }
    match op {
        UnaryOp::Abs => each(x, f32::abs),
        UnaryOp::Neg => each(x, |v| -v),
        UnaryOp::Recip => each(x, |v| 1.0 / v),
        UnaryOp::Sqrt => each(x, f32::sqrt),
        UnaryOp::Rsqrt => each(x, |v| 1.0 / v.sqrt()),
        UnaryOp::Exp => each(x, f32::exp),
        UnaryOp::Ln => each(x, f32::ln),
        UnaryOp::Tanh => each(x, f32::tanh),
        UnaryOp::Sigmoid => each(x, |v| 1.0 / (1.0 + (-v).exp())),
        UnaryOp::Silu => each(x, |v| v / (1.0 + (-v).exp())),
        UnaryOp::Erf => each(x, erf),
        UnaryOp::Square => each(x, |v| v * v),
        UnaryOp::Relu => each(x, |v| max(v, 0.0)),
        UnaryOp::HardSwish => each(x, |v| v * min(max(v / 6.0 + 0.5, 0.0), 1.0)),
        UnaryOp::Floor => each(x, f32::floor),
        UnaryOp::Ceil => each(x, f32::ceil),
        UnaryOp::Round => each(x, f32::round_ties_even),
    }
}
