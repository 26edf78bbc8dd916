//! The op-list executor: runs a `.slim` model whose GRPH section holds a [`Program`] (format
//! ≥ 1.1) without tract. Compressed layers run on the integer kernels
//! ([`crate::engine::layer`]); the rest of the graph, as tract typed and simplified it at
//! compress time, runs on the small f32 operators of this module. No ONNX parsing, no graph
//! optimisation and no per-shape planning at run time: a new input size costs nothing.
//!
//! Values are freed after their last reader, and element-wise operators work in place on
//! values nothing else reads, so memory follows the graph's widest point, not its length.

pub mod array;
pub mod elementwise;
pub mod fuse;
pub mod layout;
pub mod linear;
pub mod program;
pub mod reduce;

use crate::engine::layer::{ConvSpec, LayerKind, Padding, SlimLayer};
use crate::error::{Error, Result};
use crate::format::{Tensor, TensorData};
use crate::kernels::Activation;
pub use array::Array;
use array::{bad, volume};
use program::{Act, ConstData, Op, Pad, Program, SlimKind, Window};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

/// A loaded op list, ready to run.
pub struct Runner {
    program: Program,
    /// Per node: its constant value (`Const` nodes) or packed layer (`Slim` nodes).
    consts: Vec<Option<Arc<Array>>>,
    layers: Vec<Option<Arc<SlimLayer>>>,
    /// Per node: the fused element-wise region it is the output of, or whether a region
    /// computes it in registers (then it is not run).
    fused: Vec<Option<fuse::Fused>>,
    absorbed: Vec<bool>,
    /// Per node: the values it reads when run.
    reads: Vec<Vec<usize>>,
    /// Per node: the last node reading its value (`usize::MAX` for outputs).
    last_use: Vec<usize>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").field("nodes", &self.program.nodes.len()).finish_non_exhaustive()
    }
}

/// Receives each node's time: `(operator, node name, ms)`.
pub type Report<'a> = dyn FnMut(&str, &str, f64) + 'a;

enum Slot {
    Empty,
    Owned(Array),
    Const(Arc<Array>),
}

fn window_spec(w: &Window, group: usize) -> ConvSpec {
    ConvSpec {
        kernel: w.kernel,
        strides: w.strides,
        dilations: w.dilations,
        padding: match w.padding {
            Pad::Explicit(p) => Padding::Explicit(p),
            Pad::Valid => Padding::Valid,
            Pad::SameUpper => Padding::Same { upper: true },
            Pad::SameLower => Padding::Same { upper: false },
        },
        group,
    }
}

fn activation(a: Act) -> Activation {
    match a {
        Act::None => Activation::None,
        Act::Relu => Activation::Relu,
        Act::Clip(lo, hi) => Activation::Clip { lo, hi },
        Act::HardSwish => Activation::HardSwish,
    }
}

impl Runner {
    /// Prepares `program` with the file's tensors: packs the Slim layers' int8 weights and
    /// resolves constants. Every tensor is used at most once and must be present.
    pub fn load(program: Program, tensors: Vec<Tensor>) -> Result<Runner> {
        let mut tensors: HashMap<String, Tensor> = tensors.into_iter().map(|t| (t.name.clone(), t)).collect();
        let mut take = |name: &str| {
            tensors
                .remove(name)
                .ok_or_else(|| bad(format!("tensor {name:?} is missing from TENS (or used by two nodes)")))
        };
        let n = program.nodes.len();
        let mut consts = vec![None; n];
        let mut layers = vec![None; n];
        for (i, node) in program.nodes.iter().enumerate() {
            let at = |e: Error| bad(format!("op list node {i} ({:?}): {e}", node.name));
            match &node.op {
                Op::Const { shape, data } => {
                    let values = match data {
                        ConstData::Inline(v) => v.clone(),
                        ConstData::Tensor(name) => match take(name).map_err(at)? {
                            Tensor { data: TensorData::F32(v), .. } => v,
                            _ => return Err(at(bad(format!("constant {name:?} is not an f32 tensor")))),
                        },
                    };
                    consts[i] = Some(Arc::new(Array::new(shape.clone(), values).map_err(at)?));
                }
                Op::Slim(spec) => {
                    let kind = match &spec.kind {
                        SlimKind::Conv { window, group } => LayerKind::Conv(window_spec(window, *group)),
                        SlimKind::Gemm { trans_a, alpha, beta } => {
                            LayerKind::Gemm { trans_a: *trans_a, alpha: *alpha, beta: *beta }
                        }
                        SlimKind::MatMul => LayerKind::MatMul,
                    };
                    let t = take(&spec.weight).map_err(at)?;
                    let layer = crate::engine::pack::build_layer(
                        t,
                        kind,
                        spec.input_quant,
                        activation(spec.activation),
                    )
                    .map_err(at)?;
                    layers[i] = Some(Arc::new(layer));
                }
                _ => {}
            }
            let arity_ok = match &node.op {
                Op::Input(_) | Op::Const { .. } | Op::DimConst { .. } => node.inputs.is_empty(),
                Op::Slim(s) => node.inputs.len() == 1 + usize::from(s.bias),
                Op::Binary(_) | Op::EinSum { .. } => node.inputs.len() == 2,
                Op::Conv { .. } | Op::Deconv { .. } => (2..=3).contains(&node.inputs.len()),
                Op::Concat { .. } => !node.inputs.is_empty(),
                _ => node.inputs.len() == 1,
            };
            if !arity_ok {
                return Err(at(bad(format!("{} inputs for {:?}", node.inputs.len(), node.op))));
            }
        }
        let outputs: Vec<usize> = program.outputs.iter().map(|o| o.node).collect();
        let (fused, absorbed) = if std::env::var_os("SLIMSCAN_NO_FUSION").is_some() {
            (vec![None; n], vec![false; n])
        } else {
            fuse::plan(&program.nodes, &outputs)
        };
        let reads: Vec<Vec<usize>> = (0..n)
            .map(|i| match (&fused[i], absorbed[i]) {
                (_, true) => Vec::new(),
                (Some(f), _) => std::iter::once(f.input).chain(f.consts.iter().copied()).collect(),
                (None, false) => program.nodes[i].inputs.clone(),
            })
            .collect();
        let mut last_use = vec![0usize; n];
        for (i, r) in reads.iter().enumerate() {
            for &j in r {
                last_use[j] = i;
            }
        }
        for &o in &outputs {
            last_use[o] = usize::MAX;
        }
        Ok(Runner { program, consts, layers, fused, absorbed, reads, last_use })
    }

    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The packed compressed layers, in graph order.
    pub fn layers(&self) -> Vec<Arc<SlimLayer>> {
        self.layers.iter().flatten().cloned().collect()
    }

    /// Bytes of f32 constants held.
    pub fn constant_bytes(&self) -> usize {
        self.consts.iter().flatten().map(|c| c.data.len() * 4).sum()
    }

    /// The symbols' values for these input shapes, after checking them against the
    /// declared dimensions.
    fn bind(&self, inputs: &[Array]) -> Result<Vec<i64>> {
        let p = &self.program;
        if inputs.len() != p.inputs.len() {
            return Err(Error::InvalidArgument(format!(
                "the model takes {} inputs, {} given",
                p.inputs.len(),
                inputs.len()
            )));
        }
        for (x, spec) in inputs.iter().zip(&p.inputs) {
            let fits = x.shape.len() == spec.dims.len()
                && x.shape.iter().zip(&spec.dims).all(|(&d, s)| s.is_none_or(|s| s == d));
            if !fits {
                return Err(Error::InvalidArgument(format!(
                    "input {:?} has shape {:?}; the model takes {}",
                    spec.name,
                    x.shape,
                    describe_dims(&spec.dims)
                )));
            }
        }
        p.symbols
            .iter()
            .map(|s| {
                let d = inputs[s.input].shape.get(s.axis).copied().unwrap_or(0);
                if d == 0 || d % s.multiple != 0 {
                    return Err(Error::InvalidArgument(format!(
                        "input {:?}: dimension {} is {d}; this model needs a positive multiple of {}",
                        p.inputs[s.input].name, s.axis, s.multiple
                    )));
                }
                Ok((d / s.multiple) as i64)
            })
            .collect()
    }

    /// Runs the model on f32 inputs.
    pub fn run(&self, inputs: Vec<Array>) -> Result<Vec<Array>> {
        self.run_with(inputs, None)
    }

    /// Runs the model and reports each node's time: `(operator, node name, ms)`.
    pub fn run_timed(&self, inputs: Vec<Array>, report: &mut Report<'_>) -> Result<Vec<Array>> {
        self.run_with(inputs, Some(report))
    }

    fn run_with(&self, inputs: Vec<Array>, mut report: Option<&mut Report<'_>>) -> Result<Vec<Array>> {
        let syms = self.bind(&inputs)?;
        let mut inputs: Vec<Option<Array>> = inputs.into_iter().map(Some).collect();
        let nodes = &self.program.nodes;
        let mut slots: Vec<Slot> = (0..nodes.len()).map(|_| Slot::Empty).collect();
        for (i, node) in nodes.iter().enumerate() {
            if self.absorbed[i] {
                continue;
            }
            let t = report.as_ref().map(|_| crate::scan::clock::now_ms());
            let out = self.eval(i, &mut slots, &mut inputs, &syms).map_err(|e| {
                bad(format!("running node {i} ({:?}, {}): {e}", node.name, op_name(&node.op)))
            })?;
            if let (Some(r), Some(t)) = (report.as_mut(), t) {
                let kind = if self.fused[i].is_some() { "Fused" } else { op_name(&node.op) };
                r(kind, &node.name, crate::scan::clock::now_ms() - t);
            }
            slots[i] = out;
            for &j in &self.reads[i] {
                if self.last_use[j] == i {
                    slots[j] = Slot::Empty;
                }
            }
        }
        self.program
            .outputs
            .iter()
            .map(|o| match &slots[o.node] {
                Slot::Owned(a) => Ok(a.clone()),
                Slot::Const(c) => Ok((**c).clone()),
                Slot::Empty => Err(bad(format!("output {:?} was not computed", o.name))),
            })
            .collect()
    }

    fn eval(&self, i: usize, slots: &mut [Slot], inputs: &mut [Option<Array>], syms: &[i64]) -> Result<Slot> {
        let node = &self.program.nodes[i];
        let ins = &node.inputs;
        // Input `k` by value when this node is its last reader and reads it once.
        let owned = |slots: &mut [Slot], k: usize| -> Option<Array> {
            let j = ins[k];
            let once = ins.iter().filter(|&&x| x == j).count() == 1;
            if self.last_use[j] == i && once {
                if let Slot::Owned(_) = slots[j] {
                    if let Slot::Owned(a) = std::mem::replace(&mut slots[j], Slot::Empty) {
                        return Some(a);
                    }
                }
            }
            None
        };
        fn get(slots: &[Slot], j: usize) -> Result<&Array> {
            match &slots[j] {
                Slot::Owned(a) => Ok(a),
                Slot::Const(c) => Ok(c),
                Slot::Empty => Err(bad(format!("value of node {j} is gone"))),
            }
        }
        // Input `k` by value: moved when possible, else copied.
        let value = |slots: &mut [Slot], k: usize| -> Result<Array> {
            match owned(slots, k) {
                Some(a) => Ok(a),
                None => get(slots, ins[k]).cloned(),
            }
        };
        if let Some(f) = &self.fused[i] {
            let x = match self.last_use[f.input] == i {
                true => match std::mem::replace(&mut slots[f.input], Slot::Empty) {
                    Slot::Owned(a) => Some(a),
                    other => {
                        slots[f.input] = other;
                        None
                    }
                },
                false => None,
            };
            let consts = f.consts.iter().map(|&c| get(slots, c)).collect::<Result<Vec<_>>>()?;
            let x = match x {
                Some(a) => Cow::Owned(a),
                None => Cow::Borrowed(get(slots, f.input)?),
            };
            return Ok(Slot::Owned(fuse::run(f, x, &consts)?));
        }
        let out = match &node.op {
            Op::Input(k) => {
                let a = inputs[*k].take().ok_or_else(|| bad(format!("input {k} read twice")))?;
                return Ok(Slot::Owned(a));
            }
            Op::Const { .. } => {
                let c = self.consts[i].clone().ok_or_else(|| bad("constant not loaded".into()))?;
                return Ok(Slot::Const(c));
            }
            Op::DimConst { shape, values } => {
                let v = values.iter().map(|d| d.eval(syms).map(|v| v as f32)).collect::<Result<Vec<_>>>()?;
                Array::new(shape.clone(), v)?
            }
            Op::Slim(_) => {
                let layer = self.layers[i].as_ref().ok_or_else(|| bad("layer not loaded".into()))?;
                let x = get(slots, ins[0])?;
                let bias = match ins.get(1) {
                    Some(&b) => Some(&get(slots, b)?.data[..]),
                    None => None,
                };
                let (data, shape) = layer.forward(&x.data, &x.shape, bias)?;
                Array { shape, data }
            }
            Op::Binary(op) => {
                let (a, b) = (owned(slots, 0), owned(slots, 1));
                let a = a.map_or_else(|| get(slots, ins[0]).map(Cow::Borrowed), |a| Ok(Cow::Owned(a)))?;
                let b = b.map_or_else(|| get(slots, ins[1]).map(Cow::Borrowed), |b| Ok(Cow::Owned(b)))?;
                elementwise::binary(*op, a, b)?
            }
            Op::Unary(op) => {
                let mut x = value(slots, 0)?;
                elementwise::unary(*op, &mut x.data);
                x
            }
            Op::Reduce { axes, op } => reduce::reduce(get(slots, ins[0])?, axes, *op)?,
            Op::AddAxis(a) => {
                let mut x = value(slots, 0)?;
                if *a > x.shape.len() {
                    return Err(bad(format!("adding axis {a} to shape {:?}", x.shape)));
                }
                x.shape.insert(*a, 1);
                x
            }
            Op::RmAxis(a) => {
                let mut x = value(slots, 0)?;
                if x.shape.get(*a) != Some(&1) {
                    return Err(bad(format!("removing axis {a} of shape {:?}", x.shape)));
                }
                x.shape.remove(*a);
                x
            }
            Op::MoveAxis { from, to } => layout::move_axis(get(slots, ins[0])?, *from, *to)?,
            Op::Reshape { at, from, to } => {
                let mut x = value(slots, 0)?;
                let end = at.checked_add(*from).filter(|&e| e <= x.shape.len());
                let Some(end) = end else {
                    return Err(bad(format!("reshaping axes {at}..+{from} of shape {:?}", x.shape)));
                };
                let to = to
                    .iter()
                    .map(|d| {
                        d.eval(syms)
                            .and_then(|v| usize::try_from(v).map_err(|_| bad(format!("dimension {v}"))))
                    })
                    .collect::<Result<Vec<_>>>()?;
                let mut shape = x.shape[..*at].to_vec();
                shape.extend(&to);
                shape.extend(&x.shape[end..]);
                if volume(&shape)? != x.data.len() {
                    return Err(bad(format!("reshaping {:?} to {shape:?}", x.shape)));
                }
                x.shape = shape;
                x
            }
            Op::Slice { axis, start, end } => {
                layout::slice(get(slots, ins[0])?, *axis, start.eval(syms)?, end.eval(syms)?)?
            }
            Op::Concat { axis } => {
                let xs = ins.iter().map(|&j| get(slots, j)).collect::<Result<Vec<_>>>()?;
                layout::concat(&xs, *axis)?
            }
            Op::Softmax { axes } => {
                let mut x = value(slots, 0)?;
                reduce::softmax(&mut x, axes)?;
                x
            }
            Op::RmsNorm { axis, eps } => {
                let mut x = value(slots, 0)?;
                reduce::rms_norm(&mut x, *axis, *eps)?;
                x
            }
            Op::EinSum { expr } => linear::einsum(expr, get(slots, ins[0])?, get(slots, ins[1])?)?,
            Op::Conv { window, group } => {
                let bias = match ins.get(2) {
                    Some(&b) => Some(get(slots, b)?),
                    None => None,
                };
                linear::conv(get(slots, ins[0])?, get(slots, ins[1])?, bias, window, *group)?
            }
            Op::Deconv { window, adjustments } => {
                let bias = match ins.get(2) {
                    Some(&b) => Some(get(slots, b)?),
                    None => None,
                };
                linear::deconv(get(slots, ins[0])?, get(slots, ins[1])?, bias, window, *adjustments)?
            }
            Op::Pool { op, window } => linear::pool(get(slots, ins[0])?, *op, window)?,
            Op::NearestUpsample { scales } => layout::nearest_upsample(get(slots, ins[0])?, scales)?,
        };
        Ok(Slot::Owned(out))
    }
}

/// `[N, 3, 48, ?]`-style description of declared dimensions.
pub fn describe_dims(dims: &[Option<usize>]) -> String {
    let d: Vec<String> = dims.iter().map(|d| d.map_or("?".into(), |v| v.to_string())).collect();
    format!("[{}]", d.join(", "))
}

/// The operator's name as error messages and profiles show it.
pub fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Input(_) => "Input",
        Op::Const { .. } => "Const",
        Op::DimConst { .. } => "DimConst",
        Op::Slim(s) => match s.kind {
            SlimKind::Conv { .. } => "SlimConv",
            SlimKind::Gemm { .. } => "SlimGemm",
            SlimKind::MatMul => "SlimMatMul",
        },
        Op::Binary(_) => "Binary",
        Op::Unary(_) => "Unary",
        Op::Reduce { .. } => "Reduce",
        Op::AddAxis(_) => "AddAxis",
        Op::RmAxis(_) => "RmAxis",
        Op::MoveAxis { .. } => "MoveAxis",
        Op::Reshape { .. } => "Reshape",
        Op::Slice { .. } => "Slice",
        Op::Concat { .. } => "Concat",
        Op::Softmax { .. } => "Softmax",
        Op::RmsNorm { .. } => "RmsNorm",
        Op::EinSum { .. } => "EinSum",
        Op::Conv { .. } => "Conv",
        Op::Deconv { .. } => "Deconv",
        Op::Pool { .. } => "Pool",
        Op::NearestUpsample { .. } => "NearestUpsample",
    }
}

#[cfg(test)]
mod tests;
