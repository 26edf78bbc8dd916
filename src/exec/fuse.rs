//! Element-wise fusion: at load time, each run of element-wise nodes (BatchNorm's scale and
//! shift, a HardSwish spelled out as Add/Max/Min/Mul/Div, a residual's constant) that reads
//! one tensor and constants becomes one pass over memory, evaluated block by block in
//! registers that stay in cache. Unfused, the PP-OCR recogniser spent two thirds of its
//! time (480 of 700 ms for 8 lines natively) streaming 276 intermediate tensors.

use super::array::{broadcast, broadcast_strides, strides, Array};
use super::elementwise;
use super::program::{BinaryOp, Node, Op, UnaryOp};
use crate::error::Result;
use std::borrow::Cow;

/// Where a step reads: a register (0 is the fused input) or a constant, by its position in
/// [`Fused::consts`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Operand {
    Reg(usize),
    Const(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Unary(UnaryOp, Operand),
    Binary(BinaryOp, Operand, Operand),
}

/// A fused region: register `k + 1` holds step `k`'s result; the last one is the output.
#[derive(Debug, Clone, PartialEq)]
pub struct Fused {
    /// The node whose value is register 0.
    pub input: usize,
    pub steps: Vec<Step>,
    /// The constant nodes the steps read.
    pub consts: Vec<usize>,
}

/// Nodes scanned past the last one added before a region stops growing.
const LOOKAHEAD: usize = 48;
/// Values per block: small enough for a handful of registers to stay in L1/L2.
const BLOCK: usize = 1024;

fn is_elementwise(op: &Op) -> bool {
    matches!(op, Op::Binary(_) | Op::Unary(_))
}

/// Finds the fused regions: `fused[out]` for each region's output node, `absorbed[i]` for
/// the nodes a region computes in registers.
pub fn plan(nodes: &[Node], outputs: &[usize]) -> (Vec<Option<Fused>>, Vec<bool>) {
    let n = nodes.len();
    let is_const = |j: usize| matches!(nodes[j].op, Op::Const { .. });
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, node) in nodes.iter().enumerate() {
        for &j in &node.inputs {
            consumers[j].push(i);
        }
    }
    let mut is_output = vec![false; n];
    for &o in outputs {
        is_output[o] = true;
    }
    let mut fused = vec![None; n];
    let mut absorbed = vec![false; n];
    for i in 0..n {
        if absorbed[i] || !is_elementwise(&nodes[i].op) {
            continue;
        }
        let tensors: Vec<usize> = nodes[i].inputs.iter().copied().filter(|&j| !is_const(j)).collect();
        let Some(&x) = tensors.first() else { continue };
        if tensors.iter().any(|&t| t != x) {
            continue;
        }
        let mut region = vec![i];
        let mut last = i;
        let mut j = i + 1;
        while j < n && j <= last + LOOKAHEAD {
            if is_elementwise(&nodes[j].op) && !absorbed[j] {
                let ins = &nodes[j].inputs;
                let inside = |k: usize| region.contains(&k);
                if ins.iter().any(|&k| inside(k)) && ins.iter().all(|&k| inside(k) || k == x || is_const(k)) {
                    region.push(j);
                    last = j;
                }
            }
            j += 1;
        }
        // The longest prefix whose inner values nothing outside it reads.
        let mut chosen = None;
        for len in (2..=region.len()).rev() {
            let prefix = &region[..len];
            let ok = prefix[..len - 1]
                .iter()
                .all(|&p| !is_output[p] && consumers[p].iter().all(|c| prefix.contains(c)));
            if ok {
                chosen = Some(len);
                break;
            }
        }
        let Some(len) = chosen else { continue };
        let prefix = &region[..len];
        let mut consts = Vec::new();
        for &p in prefix {
            for &k in &nodes[p].inputs {
                if is_const(k) && !consts.contains(&k) {
                    consts.push(k);
                }
            }
        }
        let reg_of = |k: usize| -> Operand {
            if k == x {
                Operand::Reg(0)
            } else if let Some(p) = prefix.iter().position(|&q| q == k) {
                Operand::Reg(p + 1)
            } else {
                Operand::Const(consts.iter().position(|&c| c == k).unwrap_or(0))
            }
        };
        let steps = prefix
            .iter()
            .map(|&p| {
                let ins = &nodes[p].inputs;
                match &nodes[p].op {
                    Op::Unary(u) => Step::Unary(*u, reg_of(ins[0])),
                    Op::Binary(b) => Step::Binary(*b, reg_of(ins[0]), reg_of(ins[1])),
                    _ => unreachable!("regions hold element-wise nodes only"),
                }
            })
            .collect();
        for &p in &prefix[..len - 1] {
            absorbed[p] = true;
        }
        fused[prefix[len - 1]] = Some(Fused { input: x, steps, consts });
    }
    (fused, absorbed)
}

/// A step's operand within one block: a register's values, or a constant's (a slice, or one
/// value repeated).
enum Src<'a> {
    Slice(&'a [f32]),
    Scalar(f32),
}

#[inline(always)]
fn zip_into(dst: &mut [f32], a: Src<'_>, b: Src<'_>, f: impl Fn(f32, f32) -> f32) {
    match (a, b) {
        (Src::Slice(a), Src::Slice(b)) => {
            for ((d, &p), &q) in dst.iter_mut().zip(a).zip(b) {
                *d = f(p, q);
            }
        }
        (Src::Slice(a), Src::Scalar(q)) => {
            for (d, &p) in dst.iter_mut().zip(a) {
                *d = f(p, q);
            }
        }
        (Src::Scalar(p), Src::Slice(b)) => {
            for (d, &q) in dst.iter_mut().zip(b) {
                *d = f(p, q);
            }
        }
        (Src::Scalar(p), Src::Scalar(q)) => dst.fill(f(p, q)),
    }
}

/// Runs a fused region on `x`; `consts[k]` is the value of node `f.consts[k]`. Compiled for
/// AVX2 where the CPU has it (8 lanes instead of SSE2's 4; same operations, same bits).
pub fn run(f: &Fused, x: Cow<'_, Array>, consts: &[&Array]) -> Result<Array> {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::x86_avx2::available() {
        // SAFETY: the CPU has AVX2 (checked at run time just above).
        return unsafe { run_avx2(f, x, consts) };
    }
    run_blocks(f, x, consts)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn run_avx2(f: &Fused, x: Cow<'_, Array>, consts: &[&Array]) -> Result<Array> {
    run_blocks(f, x, consts)
}

#[inline(always)]
fn run_blocks(f: &Fused, x: Cow<'_, Array>, consts: &[&Array]) -> Result<Array> {
    let shape = x.shape.clone();
    // A constant that would grow the shape: step by step on whole arrays instead.
    if consts.iter().any(|c| broadcast(&shape, &c.shape).ok().as_deref() != Some(&shape[..])) {
        return run_unfused(f, x.into_owned(), consts);
    }
    let nc = consts.len();
    // Rows: the longest run of trailing axes every operand walks linearly (with stride 1,
    // or 0 for a constant repeated along it); per row, each constant's offset and stride.
    let so = strides(&shape);
    let cs: Vec<Vec<usize>> = consts.iter().map(|c| broadcast_strides(&c.shape, &shape)).collect();
    let axes: Vec<usize> = (0..shape.len()).filter(|&a| shape[a] > 1).collect();
    let (mut row_len, mut row_axis) = (1usize, None);
    if let Some(&inner) = axes.last() {
        row_len = shape[inner];
        row_axis = Some(inner);
        for &a in axes.iter().rev().skip(1) {
            if cs.iter().all(|s| s[a] == s[inner] * row_len) {
                row_len *= shape[a];
            } else {
                break;
            }
        }
    }
    let total: usize = shape.iter().product();
    let rows = total / row_len.max(1);
    let last_stride: Vec<usize> = cs.iter().map(|s| row_axis.map_or(0, |a| s[a])).collect();
    let mut out = match x {
        Cow::Owned(a) => a,
        Cow::Borrowed(a) => a.clone(),
    };
    let block = BLOCK.min(row_len.max(1));
    let mut regs: Vec<Vec<f32>> = vec![vec![0.0; block]; f.steps.len() + 1];
    let mut const_off = vec![0usize; nc];
    for r in 0..rows {
        let base = r * row_len;
        // Offsets of this row in each constant.
        for (k, off) in const_off.iter_mut().enumerate() {
            let mut rem = base;
            let mut o = 0;
            for a in 0..shape.len() {
                let i = rem / so[a];
                rem %= so[a];
                o += i * cs[k][a];
            }
            *off = o;
        }
        let mut start = 0;
        while start < row_len {
            let len = block.min(row_len - start);
            regs[0][..len].copy_from_slice(&out.data[base + start..base + start + len]);
            for (s, step) in f.steps.iter().enumerate() {
                let (done, rest) = regs.split_at_mut(s + 1);
                let dst = &mut rest[0][..len];
                let src = |o: Operand| -> Src<'_> {
                    match o {
                        Operand::Reg(k) => Src::Slice(&done[k][..len]),
                        Operand::Const(k) => {
                            let c = consts[k];
                            if last_stride[k] == 0 {
                                Src::Scalar(c.data[const_off[k]])
                            } else {
                                Src::Slice(&c.data[const_off[k] + start..const_off[k] + start + len])
                            }
                        }
                    }
                };
                match step {
                    Step::Unary(op, a) => {
                        match src(*a) {
                            Src::Slice(v) => dst.copy_from_slice(v),
                            Src::Scalar(v) => dst.fill(v),
                        }
                        elementwise::unary(*op, dst);
                    }
                    Step::Binary(op, a, b) => {
                        let (a, b) = (src(*a), src(*b));
                        elementwise::with_binary!(*op, |f| zip_into(dst, a, b, f))
                    }
                }
            }
            out.data[base + start..base + start + len].copy_from_slice(&regs[f.steps.len()][..len]);
            start += len;
        }
    }
    Ok(out)
}

fn run_unfused(f: &Fused, x: Array, consts: &[&Array]) -> Result<Array> {
    let mut regs: Vec<Array> = vec![x];
    for step in &f.steps {
        let get = |o: Operand, regs: &Vec<Array>| -> Array {
            match o {
                Operand::Reg(k) => regs[k].clone(),
                Operand::Const(k) => consts[k].clone(),
            }
        };
        let v = match step {
            Step::Unary(op, a) => {
                let mut v = get(*a, &regs);
                elementwise::unary(*op, &mut v.data);
                v
            }
            Step::Binary(op, a, b) => {
                elementwise::binary(*op, Cow::Owned(get(*a, &regs)), Cow::Owned(get(*b, &regs)))?
            }
        };
        regs.push(v);
    }
    Ok(regs.pop().unwrap_or_else(|| Array { shape: vec![], data: vec![] }))
}
