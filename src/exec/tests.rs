//! The executor's operators against naive references written index by index, element-wise
//! fusion against step-by-step evaluation, and hostile op lists refused with a message.

use super::array::{broadcast, strides, Array};
use super::program::*;
use super::*;
use crate::synth::SplitMix64;
use std::borrow::Cow;

fn random(shape: &[usize], seed: u64) -> Array {
    let mut r = SplitMix64::new(seed);
    let n = shape.iter().product();
    Array { shape: shape.to_vec(), data: (0..n).map(|_| r.next_signed()).collect() }
}

fn close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{what}: element {i}: {x} vs {y}");
    }
}

/// Value of `a` at the multi-index `idx` of a broadcast output of rank `idx.len()`.
fn at_broadcast(a: &Array, idx: &[usize]) -> f32 {
    let pad = idx.len() - a.shape.len();
    let s = strides(&a.shape);
    let off: usize = (0..a.shape.len()).map(|i| if a.shape[i] == 1 { 0 } else { idx[i + pad] * s[i] }).sum();
    a.data[off]
}

fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for a in (0..shape.len()).rev() {
        idx[a] = i % shape[a];
        i /= shape[a];
    }
    idx
}

#[test]
fn binary_broadcasts_like_numpy_whichever_operand_is_reused() {
    let pairs: [(&[usize], &[usize]); 5] = [
        (&[2, 3, 4], &[2, 3, 4]),
        (&[2, 3, 4], &[3, 1]),
        (&[1, 3, 1], &[2, 1, 5]),
        (&[4], &[2, 3, 4]),
        (&[2, 1, 4], &[1]),
    ];
    for (k, (sa, sb)) in pairs.iter().enumerate() {
        let (a, b) = (random(sa, k as u64), random(sb, 100 + k as u64));
        let shape = broadcast(sa, sb).unwrap();
        let n: usize = shape.iter().product();
        let want: Vec<f32> = (0..n)
            .map(|i| {
                let idx = unravel(i, &shape);
                at_broadcast(&a, &idx) - at_broadcast(&b, &idx)
            })
            .collect();
        for (oa, ob) in [(false, false), (true, false), (false, true)] {
            let ca = if oa { Cow::Owned(a.clone()) } else { Cow::Borrowed(&a) };
            let cb = if ob { Cow::Owned(b.clone()) } else { Cow::Borrowed(&b) };
            let got = elementwise::binary(BinaryOp::Sub, ca, cb).unwrap();
            assert_eq!(got.shape, shape);
            assert_eq!(got.data, want, "{sa:?} - {sb:?}, owned {oa} {ob}");
        }
    }
    assert!(elementwise::binary(BinaryOp::Add, Cow::Owned(random(&[2, 3], 1)), Cow::Owned(random(&[4], 2)))
        .is_err());
}

fn window(kernel: [usize; 2], strides: [usize; 2], dilations: [usize; 2], pads: [usize; 4]) -> Window {
    Window { kernel, strides, dilations, padding: Pad::Explicit(pads) }
}

/// Convolution by its definition.
fn conv_reference(x: &Array, k: &Array, bias: &[f32], w: &Window, group: usize) -> Array {
    let [n, c, h, wd] = x.shape[..] else { panic!() };
    let [o, cg, kh, kw] = k.shape[..] else { panic!() };
    let Pad::Explicit(p) = w.padding else { panic!() };
    let oh = (h + p[0] + p[2] - ((kh - 1) * w.dilations[0] + 1)) / w.strides[0] + 1;
    let ow = (wd + p[1] + p[3] - ((kw - 1) * w.dilations[1] + 1)) / w.strides[1] + 1;
    let mut out = vec![0f32; n * o * oh * ow];
    let og = o / group;
    for b in 0..n {
        for oc in 0..o {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = bias[oc];
                    for ci in 0..cg {
                        let ic = (oc / og) * cg + ci;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * w.strides[0] + ky * w.dilations[0]) as isize - p[0] as isize;
                                let ix = (ox * w.strides[1] + kx * w.dilations[1]) as isize - p[1] as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                acc += k.data[((oc * cg + ci) * kh + ky) * kw + kx]
                                    * x.data[((b * c + ic) * h + iy as usize) * wd + ix as usize];
                            }
                        }
                    }
                    out[((b * o + oc) * oh + oy) * ow + ox] = acc;
                }
            }
        }
    }
    Array { shape: vec![n, o, oh, ow], data: out }
}

#[test]
fn conv_matches_its_definition_with_strides_dilations_padding_and_groups() {
    let cases = [
        // (input, kernel, group, window)
        ([1, 3, 9, 11], [4, 3, 3, 3], 1, window([3, 3], [1, 1], [1, 1], [1, 1, 1, 1])),
        ([2, 3, 10, 13], [5, 3, 3, 3], 1, window([3, 3], [2, 2], [1, 1], [1, 1, 1, 1])),
        ([1, 4, 8, 9], [4, 1, 3, 3], 4, window([3, 3], [1, 2], [1, 1], [1, 1, 1, 1])),
        ([1, 4, 12, 12], [4, 1, 5, 5], 4, window([5, 5], [2, 1], [1, 1], [2, 2, 2, 2])),
        ([1, 6, 7, 10], [4, 3, 3, 2], 2, window([3, 2], [1, 3], [2, 1], [0, 1, 2, 0])),
    ];
    for (i, (xs, ks, group, w)) in cases.into_iter().enumerate() {
        let x = random(&xs, i as u64);
        let k = random(&ks, 50 + i as u64);
        let bias = random(&[ks[0]], 90 + i as u64);
        let want = conv_reference(&x, &k, &bias.data, &w, group);
        let got = linear::conv(&x, &k, Some(&bias), &w, group).unwrap();
        assert_eq!(got.shape, want.shape, "case {i}");
        close(&got.data, &want.data, &format!("conv case {i}"));
    }
    let x = random(&[1, 3, 5, 5], 1);
    let k = random(&[4, 3, 3, 3], 2);
    let w = window([3, 3], [1, 1], [1, 1], [0; 4]);
    let e = linear::conv(&x, &k, Some(&random(&[3], 3)), &w, 1).unwrap_err().to_string();
    assert!(e.contains("bias of 3 values for 4"), "{e}");
    let e = linear::conv(&random(&[1, 3, 0, 5], 1), &k, None, &w, 1).unwrap_err().to_string();
    assert!(e.contains("non-empty"), "{e}");
}

#[test]
fn deconv_matches_its_definition() {
    for (i, (stride, kernel, pads)) in
        [(2, 2, [0; 4]), (2, 3, [1, 1, 1, 1]), (1, 3, [0, 1, 0, 1])].into_iter().enumerate()
    {
        let x = random(&[1, 3, 5, 6], i as u64);
        let k = random(&[2, 3, kernel, kernel], 10 + i as u64);
        let bias = random(&[2], 20 + i as u64);
        let w = window([kernel, kernel], [stride, stride], [1, 1], pads);
        let got = linear::deconv(&x, &k, Some(&bias), &w, [0, 0]).unwrap();
        let (oh, ow) = (4 * stride + kernel - pads[0] - pads[2], 5 * stride + kernel - pads[1] - pads[3]);
        assert_eq!(got.shape, vec![1, 2, oh, ow], "case {i}");
        let mut want = vec![0f32; 2 * oh * ow];
        for oc in 0..2 {
            for v in &mut want[oc * oh * ow..(oc + 1) * oh * ow] {
                *v = bias.data[oc];
            }
            for ic in 0..3 {
                for iy in 0..5 {
                    for ix in 0..6 {
                        for ky in 0..kernel {
                            for kx in 0..kernel {
                                let oy = (iy * stride + ky) as isize - pads[0] as isize;
                                let ox = (ix * stride + kx) as isize - pads[1] as isize;
                                if oy < 0 || ox < 0 || oy >= oh as isize || ox >= ow as isize {
                                    continue;
                                }
                                want[(oc * oh + oy as usize) * ow + ox as usize] += k.data
                                    [((oc * 3 + ic) * kernel + ky) * kernel + kx]
                                    * x.data[(ic * 5 + iy) * 6 + ix];
                            }
                        }
                    }
                }
            }
        }
        close(&got.data, &want, &format!("deconv case {i}"));
    }
}

#[test]
fn einsum_matches_its_definition() {
    // (expression, shape of a, shape of b)
    let cases: [(&str, &[usize], &[usize]); 3] = [
        ("NIHW,OI->NOHW", &[2, 5, 3, 4], &[6, 5]),
        ("amdbk,ancbk->abmn", &[2, 3, 1, 4, 5], &[2, 6, 1, 4, 5]),
        ("abmk,akcbn->ambn", &[2, 4, 3, 6], &[2, 6, 1, 4, 5]),
    ];
    for (expr, sa, sb) in cases {
        let (a, b) = (random(sa, 1), random(sb, 2));
        let got = linear::einsum(expr, &a, &b).unwrap();
        let (ins, out) = expr.split_once("->").unwrap();
        let (la, lb) = ins.split_once(',').unwrap();
        let (la, lb, lo): (Vec<char>, Vec<char>, Vec<char>) =
            (la.chars().collect(), lb.chars().collect(), out.chars().collect());
        let mut letters = lo.clone();
        for c in la.iter().chain(&lb) {
            if !letters.contains(c) {
                letters.push(*c);
            }
        }
        let size = |c: char| {
            la.iter()
                .position(|&x| x == c)
                .map(|i| sa[i])
                .into_iter()
                .chain(lb.iter().position(|&x| x == c).map(|i| sb[i]))
                .max()
                .unwrap()
        };
        let sizes: Vec<usize> = letters.iter().map(|&c| size(c)).collect();
        let out_shape: Vec<usize> = lo.iter().map(|&c| size(c)).collect();
        assert_eq!(got.shape, out_shape, "{expr}");
        let mut want = vec![0f32; out_shape.iter().product()];
        let total: usize = sizes.iter().product();
        for i in 0..total {
            let idx = unravel(i, &sizes);
            let of = |labels: &[char], shape: &[usize]| -> usize {
                let s = strides(shape);
                labels
                    .iter()
                    .enumerate()
                    .map(|(k, c)| {
                        if shape[k] == 1 {
                            0
                        } else {
                            idx[letters.iter().position(|x| x == c).unwrap()] * s[k]
                        }
                    })
                    .sum()
            };
            want[of(&lo, &out_shape)] += a.data[of(&la, sa)] * b.data[of(&lb, sb)];
        }
        close(&got.data, &want, expr);
    }
    let e = linear::einsum("ab,bc->aa", &random(&[2, 3], 1), &random(&[3, 2], 2)).unwrap_err().to_string();
    assert!(e.contains("EinSum"), "{e}");
}

fn node(name: &str, op: Op, inputs: Vec<usize>) -> Node {
    Node { name: name.into(), op, inputs }
}

fn program(nodes: Vec<Node>, output: usize, dims: Vec<Option<usize>>) -> Program {
    Program {
        version: PROGRAM_VERSION,
        inputs: vec![InputSpec { name: "x".into(), dims }],
        outputs: vec![OutputSpec { name: "y".into(), node: output }],
        symbols: Vec::new(),
        nodes,
        metadata: Default::default(),
    }
}

/// `x · clip(x + 3, 0, 6) / 6` spelled out as ONNX exporters write HardSwish, plus a
/// per-channel scale: one fused region.
fn hardswish_program() -> Program {
    let c =
        |v: &[f32], shape: &[usize]| Op::Const { shape: shape.to_vec(), data: ConstData::Inline(v.to_vec()) };
    program(
        vec![
            node("x", Op::Input(0), vec![]),
            node("scale", c(&[0.5, 2.0, -1.0], &[3, 1, 1]), vec![]),
            node("three", c(&[3.0], &[]), vec![]),
            node("zero", c(&[0.0], &[]), vec![]),
            node("six", c(&[6.0], &[]), vec![]),
            node("s", Op::Binary(BinaryOp::Mul), vec![0, 1]),
            node("a", Op::Binary(BinaryOp::Add), vec![5, 2]),
            node("m", Op::Binary(BinaryOp::Max), vec![6, 3]),
            node("n", Op::Binary(BinaryOp::Min), vec![7, 4]),
            node("p", Op::Binary(BinaryOp::Mul), vec![5, 8]),
            node("q", Op::Binary(BinaryOp::Div), vec![9, 4]),
        ],
        10,
        vec![None, Some(3), None, None],
    )
}

#[test]
fn a_fused_region_computes_what_its_nodes_compute_one_by_one() {
    let p = hardswish_program();
    let (fused, absorbed) = fuse::plan(&p.nodes, &[10]);
    let f = fused[10].as_ref().expect("scale and HardSwish are one region");
    assert_eq!(f.input, 0, "the region reads the input");
    assert_eq!(f.steps.len(), 6);
    assert_eq!(absorbed.iter().filter(|&&a| a).count(), 5);
    let runner = Runner::load(p, Vec::new()).unwrap();
    for shape in [[1, 3, 4, 5], [2, 3, 1, 7]] {
        let x = random(&shape, 7);
        let got = runner.run(vec![x.clone()]).unwrap();
        let want: Vec<f32> = x
            .data
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let s = v * [0.5, 2.0, -1.0][unravel(i, &shape)[1]];
                s * (s + 3.0).clamp(0.0, 6.0) / 6.0
            })
            .collect();
        close(&got[0].data, &want, "hardswish");
    }
    // A constant that widens the value: the region falls back to whole arrays.
    let f = fuse::Fused {
        input: 0,
        steps: vec![fuse::Step::Binary(BinaryOp::Add, fuse::Operand::Reg(0), fuse::Operand::Const(0))],
        consts: vec![1],
    };
    let wide = random(&[2, 3], 3);
    let got = fuse::run(&f, Cow::Owned(random(&[3], 4)), &[&wide]).unwrap();
    assert_eq!(got.shape, vec![2, 3]);
}

#[test]
fn malformed_op_lists_are_refused_with_the_reason() {
    let good = hardswish_program();
    let bytes = good.encode();
    assert_eq!(Program::decode(&bytes).unwrap(), good);
    let err = |b: &[u8]| Program::decode(b).unwrap_err().to_string();
    assert!(err(b"not an op list").contains("does not hold an op list"));
    assert!(err(&bytes[..bytes.len() / 2]).contains("malformed"));
    let mut later = good.clone();
    later.nodes[5].inputs = vec![0, 9];
    assert!(err(&later.encode()).contains("does not come before it"));
    let mut version = good.clone();
    version.version = 99;
    assert!(err(&version.encode()).contains("version 99"));
    let mut input = good.clone();
    input.nodes[0].op = Op::Input(3);
    assert!(err(&input.encode()).contains("input 3 of 1"));
    let mut arity = good.clone();
    arity.nodes[5].inputs = vec![0];
    assert!(Runner::load(arity, Vec::new()).unwrap_err().to_string().contains("1 inputs"));
    let mut missing = good.clone();
    missing.nodes[1].op = Op::Const { shape: vec![3, 1, 1], data: ConstData::Tensor("gone".into()) };
    assert!(Runner::load(missing, Vec::new()).unwrap_err().to_string().contains("\"gone\" is missing"));
}

#[test]
fn hostile_sizes_are_errors_not_panics_or_huge_allocations() {
    let run = |op: Op| -> String {
        let p = program(vec![node("x", Op::Input(0), vec![]), node("y", op, vec![0])], 1, vec![None, None]);
        let r = Runner::load(p, Vec::new()).unwrap();
        r.run(vec![random(&[4, 4], 1)]).unwrap_err().to_string()
    };
    assert!(run(Op::NearestUpsample { scales: vec![1 << 20, 1 << 20] }).contains("would exceed"));
    assert!(run(Op::Reshape { at: 0, from: 2, to: vec![Dim::Val(5), Dim::Val(3)] }).contains("reshaping"));
    assert!(run(Op::Reshape { at: 1, from: 4, to: vec![] }).contains("reshaping"));
    assert!(run(Op::Slice { axis: 1, start: Dim::Val(3), end: Dim::Val(9) }).contains("slice"));
    assert!(run(Op::Slice { axis: 7, start: Dim::Val(0), end: Dim::Val(1) }).contains("slicing"));
    assert!(run(Op::MoveAxis { from: 0, to: 5 }).contains("moving axis"));
    assert!(run(Op::Reduce { axes: vec![9], op: ReduceOp::Sum }).contains("reducing axis"));
    assert!(run(Op::Softmax { axes: vec![0, 2] }).contains("not one contiguous block"));
    assert!(
        run(Op::Pool { op: PoolOp::Max, window: window([3, 3], [1, 1], [1, 1], [0; 4]) }).contains("NCHW")
    );
    let huge = Dim::MulInt(i64::MAX, Box::new(Dim::Val(3)));
    assert!(run(Op::Slice { axis: 0, start: Dim::Val(0), end: huge }).contains("cannot be evaluated"));
    assert!(Dim::Div(Box::new(Dim::Val(7)), 0).eval(&[]).is_err());
    assert_eq!(Dim::Div(Box::new(Dim::Add(vec![Dim::Sym(0), Dim::Val(3)])), 4).eval(&[13]).unwrap(), 4);
    // Wrong input shapes are named.
    let p = program(vec![node("x", Op::Input(0), vec![])], 0, vec![None, Some(3)]);
    let e = Runner::load(p, Vec::new()).unwrap().run(vec![random(&[2, 4], 1)]).unwrap_err().to_string();
    assert!(e.contains("[?, 3]"), "{e}");
}

#[test]
fn reductions_and_normalisations_match_their_definitions() {
    let x = random(&[2, 3, 4], 5);
    let sum = reduce::reduce(&x, &[0, 2], ReduceOp::Sum).unwrap();
    assert_eq!(sum.shape, vec![1, 3, 1]);
    for c in 0..3 {
        let want: f32 =
            (0..2).flat_map(|a| (0..4).map(move |b| (a, b))).map(|(a, b)| x.data[(a * 3 + c) * 4 + b]).sum();
        assert!((sum.data[c] - want).abs() < 1e-5);
    }
    let mean = reduce::reduce(&x, &[1, 2], ReduceOp::Mean).unwrap();
    let want: f32 = x.data[..12].iter().sum::<f32>() / 12.0;
    assert!((mean.data[0] - want).abs() < 1e-6);
    let mut s = x.clone();
    reduce::softmax(&mut s, &[2]).unwrap();
    for row in s.data.chunks(4) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
    let mut r = x.clone();
    reduce::rms_norm(&mut r, 2, 1e-5).unwrap();
    for (row, orig) in r.data.chunks(4).zip(x.data.chunks(4)) {
        let ms = orig.iter().map(|v| v * v).sum::<f32>() / 4.0;
        for (a, b) in row.iter().zip(orig) {
            assert!((a - b / (ms + 1e-5).sqrt()).abs() < 1e-5);
        }
    }
}
