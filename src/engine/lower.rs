//! Lowering: a `.slim` model as tract types and simplifies it, written out as the op list
//! the small runtime executes ([`crate::exec`]). Runs at compress time, natively, where
//! tract is at hand; the browser then never parses ONNX nor optimises a graph.
//!
//! Input dimensions the model leaves open become symbols, so the op list serves every input
//! size: the graph is typed with them open (a detector's sides as multiples of 32, the only
//! sizes its feature pyramid accepts). Every size the graph computes from them stays an
//! expression ([`Dim`]). After lowering, [`check`] runs tract and the op list side by side
//! on two input sizes and refuses the result if they disagree.

use super::layer::{LayerKind, Padding};
use super::ops::SlimOp;
use super::{symbol_name, tract_err, F32Tensor, Model};
use crate::error::{Error, Result};
use crate::exec::program::{
    Act, BinaryOp, ConstData, Dim, InputSpec, Node, Op, OutputSpec, Pad, PoolOp, Program, ReduceOp, SlimKind,
    SlimSpec, Symbol, UnaryOp, Window, PROGRAM_VERSION,
};
use crate::format::{Tensor, TensorData};
use crate::kernels::Activation;
use std::collections::{BTreeMap, HashMap};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::{
    array::{Slice, TypedConcat},
    binary::TypedBinOp,
    cast::Cast,
    change_axes::AxisOp,
    cnn::{Conv, Deconv, KernelFormat, MaxPool, PaddingSpec, PoolSpec, SumPool},
    einsum::EinSum,
    element_wise::ElementWiseOp,
    konst::Const,
    nn::{DataFormat, Reduce, Reducer, RmsNorm, Softmax, SoftmaxKind},
    source::TypedSource,
};

/// Constants up to this many values stay inline in the op list; larger ones go to TENS.
const INLINE_VALUES: usize = 64;

fn unsupported(what: String) -> Error {
    Error::Model(format!("the op list cannot express {what}"))
}

/// A lowered model: the op list and the f32 constants it reads from TENS.
pub struct Lowered {
    pub program: Program,
    pub constants: Vec<Tensor>,
}

/// How each open input dimension is typed: `(input, axis) → multiple`.
type Opens = BTreeMap<(usize, usize), usize>;

/// A typed graph, the inputs' dimensions as the op list declares them, its symbols, and
/// whether it was typed at fixed sizes.
type Typed = (TypedModel, Vec<Vec<Option<usize>>>, Opens, bool);

impl Model {
    /// The model typed and decluttered with its open input dimensions as symbols. Tried in
    /// turn: every open dimension a plain symbol; spatial sides as multiples of 32; only
    /// batch and last axis open, the others fixed from `hint`; all fixed (at `hint`, or
    /// spatial sides of 160) — the op list then still takes other sizes, which [`check`]
    /// verifies on two of them. Returns the typed model, the inputs' dimensions as the op
    /// list declares them, the symbols, and whether the graph was typed at fixed sizes.
    fn symbolic(&self, hint: Option<&[Vec<usize>]>) -> Result<Typed> {
        let super::Backend::Tract(t) = &self.backend else {
            return Err(Error::Model("this model is already an op list".into()));
        };
        let base = &t.base;
        let declared = t.declared_dims().map_err(|i| Error::Model(format!("input {i} has no known rank")))?;
        let hinted = |i: usize, a: usize| {
            hint.and_then(|h| h.get(i)).filter(|s| s.len() == declared[i].len()).map(|s| s[a])
        };
        let mut last_err = String::new();
        for attempt in 0..4 {
            if attempt == 2 && hint.is_none() {
                continue;
            }
            let mut opens = Opens::new();
            let mut dims_out = declared.clone();
            let mut m = base.clone();
            let mut facts = Vec::new();
            for (i, dims) in declared.iter().enumerate() {
                let rank = dims.len();
                let shape: TVec<TDim> = dims
                    .iter()
                    .enumerate()
                    .map(|(a, d)| {
                        let spatial = a >= 2 && rank == 4;
                        let fixed = match (d, attempt) {
                            (Some(v), _) => Some(*v),
                            (None, 2) if a != 0 && a + 1 != rank => hinted(i, a),
                            (None, 3) => Some(hinted(i, a).unwrap_or(if a == 0 { 1 } else { 160 })),
                            _ => None,
                        };
                        match fixed {
                            Some(v) => {
                                if attempt == 2 {
                                    dims_out[i][a] = Some(v);
                                }
                                TDim::from(v)
                            }
                            None => {
                                let multiple = if attempt == 1 && spatial { 32 } else { 1 };
                                opens.insert((i, a), multiple);
                                let s: TDim = m.sym(&symbol_name(i, a)).into();
                                if multiple > 1 {
                                    s * multiple as i64
                                } else {
                                    s
                                }
                            }
                        }
                    })
                    .collect();
                facts.push(InferenceFact::from(f32::fact(shape)));
            }
            let typed = (|| -> TractResult<TypedModel> {
                for (i, fact) in facts.into_iter().enumerate() {
                    m = m.with_input_fact(i, fact)?;
                }
                m.into_typed()?.into_decluttered()
            })();
            match typed {
                Ok(model) => return Ok((model, dims_out, opens, attempt == 3)),
                Err(e) => last_err = format!("{e:#}"),
            }
        }
        Err(Error::Model(format!(
            "tract cannot type the graph with its open input sizes left open (a recogniser fixed to one line height needs that height as a hint: `slimscan lower --input-shape`): {last_err}"
        )))
    }

    /// Lowers this (tract-loaded `.slim`) model. `hint`: a typical shape per input, used
    /// for dimensions the graph cannot leave open.
    pub fn lower(&self, hint: Option<&[Vec<usize>]>) -> Result<Lowered> {
        let (typed, declared, opens, concrete) = self.symbolic(hint)?;
        let symbols: Vec<Symbol> =
            opens.iter().map(|(&(input, axis), &multiple)| Symbol { input, axis, multiple }).collect();
        let sym_index: HashMap<String, usize> =
            opens.keys().enumerate().map(|(k, &(i, a))| (symbol_name(i, a), k)).collect();
        let names: Vec<String> = self.info.inputs.iter().map(|p| p.name.clone()).collect();
        let inputs: Vec<InputSpec> = declared
            .iter()
            .enumerate()
            .map(|(i, dims)| InputSpec {
                name: names.get(i).cloned().unwrap_or_else(|| format!("input{i}")),
                dims: dims.clone(),
            })
            .collect();
        let mut l = Lowering {
            typed: &typed,
            sym_index,
            concrete,
            nodes: Vec::new(),
            constants: Vec::new(),
            map: HashMap::new(),
        };
        let order = typed.eval_order().map_err(|e| tract_err("ordering the graph", e))?;
        for id in order {
            l.node(id)?;
        }
        let outputs = typed
            .output_outlets()
            .map_err(|e| tract_err("model outputs", e))?
            .iter()
            .enumerate()
            .map(|(k, o)| {
                let node =
                    *l.map.get(o).ok_or_else(|| Error::Model(format!("output {k} was not lowered")))?;
                let name = self.info.outputs.get(k).map_or_else(|| format!("output{k}"), |p| p.name.clone());
                Ok(OutputSpec { name, node })
            })
            .collect::<Result<Vec<_>>>()?;
        let metadata: BTreeMap<String, String> =
            self.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let (nodes, outputs, constants) = prune(l.nodes, outputs, l.constants);
        let program = Program { version: PROGRAM_VERSION, inputs, outputs, symbols, nodes, metadata };
        Ok(Lowered { program, constants })
    }
}

struct Lowering<'a> {
    typed: &'a TypedModel,
    sym_index: HashMap<String, usize>,
    /// The graph was typed at fixed sizes: means over spatial axes appear as a sum times a
    /// constant `1/n`, which must become a mean to serve other sizes.
    concrete: bool,
    nodes: Vec<Node>,
    constants: Vec<Tensor>,
    /// tract outlet → op-list node.
    map: HashMap<OutletId, usize>,
}

impl Lowering<'_> {
    fn dim(&self, d: &TDim) -> Result<Dim> {
        Ok(match d {
            TDim::Val(v) => Dim::Val(*v),
            TDim::Sym(s) => {
                let name = format!("{s}");
                Dim::Sym(
                    *self
                        .sym_index
                        .get(&name)
                        .ok_or_else(|| unsupported(format!("the size symbol {name:?}")))?,
                )
            }
            TDim::Add(v) => Dim::Add(v.iter().map(|d| self.dim(d)).collect::<Result<_>>()?),
            TDim::Mul(v) => Dim::Mul(v.iter().map(|d| self.dim(d)).collect::<Result<_>>()?),
            TDim::MulInt(k, d) => Dim::MulInt(*k, Box::new(self.dim(d)?)),
            TDim::Div(d, q) => Dim::Div(Box::new(self.dim(d)?), *q),
            other => return Err(unsupported(format!("the size expression {other}"))),
        })
    }

    fn push(&mut self, name: &str, op: Op, inputs: Vec<usize>) -> usize {
        self.nodes.push(Node { name: name.to_string(), op, inputs });
        self.nodes.len() - 1
    }

    fn node(&mut self, id: usize) -> Result<()> {
        let node = self.typed.node(id);
        let name = node.name.clone();
        let at = |e: Error| Error::Model(format!("lowering node {name:?} ({}): {e}", node.op().name()));
        if node.outputs.len() != 1 {
            return Err(at(unsupported(format!("an operator with {} outputs", node.outputs.len()))));
        }
        let inputs: Vec<usize> = node
            .inputs
            .iter()
            .map(|o| {
                self.map.get(o).copied().ok_or_else(|| at(Error::Model(format!("input {o:?} not lowered"))))
            })
            .collect::<Result<_>>()?;
        let out_dt = node.outputs[0].fact.datum_type;
        let op = node.op();
        let lowered: Option<Op> = if let Some(k) = op.downcast_ref::<Const>() {
            Some(self.constant(&name, k.val()).map_err(at)?)
        } else if out_dt != f32::datum_type() {
            return Err(at(unsupported(format!("a {out_dt:?} value"))));
        } else if op.downcast_ref::<TypedSource>().is_some() {
            let k = self
                .typed
                .input_outlets()
                .map_err(|e| at(tract_err("inputs", e)))?
                .iter()
                .position(|o| o.node == id);
            Some(Op::Input(k.ok_or_else(|| at(Error::Model("a source that is not an input".into())))?))
        } else if let Some(s) = op.downcast_ref::<SlimOp>() {
            Some(Op::Slim(slim_spec(s)))
        } else if let Some(mean) = self.mean_pattern(node).map_err(at)? {
            self.map.insert(OutletId::new(id, 0), mean);
            return Ok(());
        } else if let Some(b) = op.downcast_ref::<TypedBinOp>() {
            let kind = match b.0.name() {
                "Add" => BinaryOp::Add,
                "Sub" => BinaryOp::Sub,
                "Mul" => BinaryOp::Mul,
                "Div" => BinaryOp::Div,
                "Max" => BinaryOp::Max,
                "Min" => BinaryOp::Min,
                "Pow" => BinaryOp::Pow,
                other => return Err(at(unsupported(format!("the binary operator {other}")))),
            };
            Some(Op::Binary(kind))
        } else if let Some(e) = op.downcast_ref::<ElementWiseOp>() {
            let kind = match e.0.name().as_ref() {
                "Abs" => UnaryOp::Abs,
                "Neg" => UnaryOp::Neg,
                "Recip" => UnaryOp::Recip,
                "Sqrt" => UnaryOp::Sqrt,
                "Rsqrt" => UnaryOp::Rsqrt,
                "Exp" => UnaryOp::Exp,
                "Ln" => UnaryOp::Ln,
                "Tanh" => UnaryOp::Tanh,
                "Sigmoid" => UnaryOp::Sigmoid,
                "Silu" => UnaryOp::Silu,
                "Erf" => UnaryOp::Erf,
                "Square" => UnaryOp::Square,
                "HardSwish" => UnaryOp::HardSwish,
                "Floor" => UnaryOp::Floor,
                "Ceil" => UnaryOp::Ceil,
                "Round" | "RoundHalfToEven" => UnaryOp::Round,
                other => return Err(at(unsupported(format!("the element-wise operator {other}")))),
            };
            Some(Op::Unary(kind))
        } else if let Some(r) = op.downcast_ref::<Reduce>() {
            let kind = match r.reducer {
                Reducer::Sum => ReduceOp::Sum,
                Reducer::Max => ReduceOp::Max,
                Reducer::Min => ReduceOp::Min,
                Reducer::Prod => ReduceOp::Prod,
                Reducer::MeanOfSquares => ReduceOp::MeanOfSquares,
                other => return Err(at(unsupported(format!("the reduction {other:?}")))),
            };
            Some(Op::Reduce { axes: r.axes.to_vec(), op: kind })
        } else if let Some(a) = op.downcast_ref::<AxisOp>() {
            Some(match a {
                AxisOp::Add(x) => Op::AddAxis(*x),
                AxisOp::Rm(x) => Op::RmAxis(*x),
                AxisOp::Move(f, t) => Op::MoveAxis { from: *f, to: *t },
                AxisOp::Reshape(at_, from, to) => Op::Reshape {
                    at: *at_,
                    from: from.len(),
                    to: to.iter().map(|d| self.dim(d)).collect::<Result<_>>().map_err(at)?,
                },
            })
        } else if let Some(s) = op.downcast_ref::<Slice>() {
            Some(Op::Slice {
                axis: s.axis,
                start: self.dim(&s.start).map_err(at)?,
                end: self.dim(&s.end).map_err(at)?,
            })
        } else if let Some(c) = op.downcast_ref::<TypedConcat>() {
            Some(Op::Concat { axis: c.axis })
        } else if let Some(s) = op.downcast_ref::<Softmax>() {
            if s.kind != SoftmaxKind::Softmax || s.quant_output_dt.is_some() {
                return Err(at(unsupported(format!("{s:?}"))));
            }
            Some(Op::Softmax { axes: s.axes.to_vec() })
        } else if let Some(r) = op.downcast_ref::<RmsNorm>() {
            let eps = r.eps.cast_to_scalar::<f32>().map_err(|e| at(tract_err("RmsNorm eps", e)))?;
            Some(Op::RmsNorm { axis: r.axis, eps })
        } else if let Some(e) = op.downcast_ref::<EinSum>() {
            if e.q_params.is_some() || inputs.len() != 2 {
                return Err(at(unsupported("a quantized or n-ary EinSum".into())));
            }
            Some(Op::EinSum { expr: format!("{}", e.axes) })
        } else if let Some(c) = op.downcast_ref::<Conv>() {
            if c.q_params.is_some() || c.kernel_fmt != KernelFormat::OIHW {
                return Err(at(unsupported(format!("{c:?}"))));
            }
            Some(Op::Conv { window: window(&c.pool_spec).map_err(at)?, group: c.group })
        } else if let Some(d) = op.downcast_ref::<Deconv>() {
            if d.kernel_format != KernelFormat::OIHW || d.adjustments.len() != 2 || d.group != 1 {
                return Err(at(unsupported(format!("{d:?}"))));
            }
            Some(Op::Deconv {
                window: window(&d.pool_spec).map_err(at)?,
                adjustments: [d.adjustments[0], d.adjustments[1]],
            })
        } else if let Some(p) = op.downcast_ref::<SumPool>() {
            let op = if p.normalize {
                PoolOp::Avg { count_include_pad: p.count_include_pad }
            } else {
                PoolOp::Sum
            };
            Some(Op::Pool { op, window: window(&p.pool_spec).map_err(at)? })
        } else if let Some(p) = op.downcast_ref::<MaxPool>() {
            if p.with_index_outputs.is_some() {
                return Err(at(unsupported("MaxPool with indices".into())));
            }
            Some(Op::Pool { op: PoolOp::Max, window: window(&p.pool_spec).map_err(at)? })
        } else if let Some(u) = op.downcast_ref::<tract_onnx::tract_core::ops::nn::resize::NearestUpsample>()
        {
            Some(Op::NearestUpsample { scales: u.scales.to_vec() })
        } else if let Some(c) = op.downcast_ref::<Cast>() {
            if c.to != f32::datum_type() {
                return Err(at(unsupported(format!("a cast to {:?}", c.to))));
            }
            None
        } else if op.name() == "Identity" {
            None
        } else {
            return Err(at(unsupported(format!("the operator {} ({op:?})", op.name()))));
        };
        let index = match lowered {
            Some(op) => self.push(&name, op, inputs),
            // Identities: the value is the input's.
            None => *inputs.first().ok_or_else(|| at(Error::Model("an identity without input".into())))?,
        };
        self.map.insert(OutletId::new(id, 0), index);
        Ok(())
    }

    /// At fixed sizes, `Mul(Reduce<Sum>(x, axes), 1/n)` with `n` the reduced size is a mean
    /// over `axes`: lowered as one, so it stays right at other sizes.
    fn mean_pattern(&mut self, node: &TypedNode) -> Result<Option<usize>> {
        let is_mul = node.op_as::<TypedBinOp>().is_some_and(|b| b.0.name() == "Mul");
        if !self.concrete || !is_mul || node.inputs.len() != 2 {
            return Ok(None);
        }
        for (r, c) in [(0, 1), (1, 0)] {
            let reduce_node = self.typed.node(node.inputs[r].node);
            let const_node = self.typed.node(node.inputs[c].node);
            let (Some(red), Some(k)) = (reduce_node.op_as::<Reduce>(), const_node.op_as::<Const>()) else {
                continue;
            };
            if red.reducer != Reducer::Sum || k.val().len() != 1 {
                continue;
            }
            let Ok(scale) = k.val().cast_to_scalar::<f32>() else { continue };
            let in_fact =
                self.typed.outlet_fact(reduce_node.inputs[0]).map_err(|e| tract_err("a fact", e))?;
            let Some(shape) = in_fact.shape.as_concrete() else { continue };
            let n: usize = red.axes.iter().map(|&a| shape.get(a).copied().unwrap_or(1)).product();
            if n <= 1 || (f64::from(scale) * n as f64 - 1.0).abs() > 1e-6 {
                continue;
            }
            let x = *self
                .map
                .get(&reduce_node.inputs[0])
                .ok_or_else(|| Error::Model("the mean's input was not lowered".into()))?;
            let index =
                self.push(&node.name, Op::Reduce { axes: red.axes.to_vec(), op: ReduceOp::Mean }, vec![x]);
            return Ok(Some(index));
        }
        Ok(None)
    }

    fn constant(&mut self, name: &str, t: &Arc<tract_onnx::prelude::Tensor>) -> Result<Op> {
        let shape = t.shape().to_vec();
        if t.datum_type() == TDim::datum_type() {
            let dims = t.to_plain_array_view::<TDim>().map_err(|e| tract_err("a size constant", e))?;
            let values = dims.iter().map(|d| self.dim(d)).collect::<Result<_>>()?;
            return Ok(Op::DimConst { shape, values });
        }
        let f = t.cast_to::<f32>().map_err(|e| tract_err("a constant", e))?;
        let values: Vec<f32> =
            f.to_plain_array_view::<f32>().map_err(|e| tract_err("a constant", e))?.iter().copied().collect();
        if values.len() <= INLINE_VALUES {
            return Ok(Op::Const { shape, data: ConstData::Inline(values) });
        }
        let tensor_name = format!("const/{}/{name}", self.constants.len());
        self.constants.push(Tensor {
            name: tensor_name.clone(),
            dims: shape.clone(),
            data: TensorData::F32(values),
            quant: None,
        });
        Ok(Op::Const { shape, data: ConstData::Tensor(tensor_name) })
    }
}

/// Drops the nodes no output depends on (and the constants only they read), renumbering
/// the rest.
fn prune(
    nodes: Vec<Node>,
    outputs: Vec<OutputSpec>,
    constants: Vec<Tensor>,
) -> (Vec<Node>, Vec<OutputSpec>, Vec<Tensor>) {
    let mut live = vec![false; nodes.len()];
    for o in &outputs {
        live[o.node] = true;
    }
    for i in (0..nodes.len()).rev() {
        if live[i] {
            for &j in &nodes[i].inputs {
                live[j] = true;
            }
        }
        // Inputs stay whether read or not: the caller passes them all.
        if matches!(nodes[i].op, Op::Input(_)) {
            live[i] = true;
        }
    }
    let mut index = vec![usize::MAX; nodes.len()];
    let mut kept = Vec::new();
    for (i, mut n) in nodes.into_iter().enumerate() {
        if live[i] {
            n.inputs = n.inputs.iter().map(|&j| index[j]).collect();
            index[i] = kept.len();
            kept.push(n);
        }
    }
    let used: std::collections::HashSet<String> = kept
        .iter()
        .filter_map(|n| match &n.op {
            Op::Const { data: ConstData::Tensor(t), .. } => Some(t.clone()),
            _ => None,
        })
        .collect();
    let outputs = outputs.into_iter().map(|o| OutputSpec { node: index[o.node], ..o }).collect();
    (kept, outputs, constants.into_iter().filter(|t| used.contains(&t.name)).collect())
}

fn slim_spec(s: &SlimOp) -> SlimSpec {
    let l = &s.layer;
    let kind = match &l.kind {
        LayerKind::Conv(c) => SlimKind::Conv {
            window: Window {
                kernel: c.kernel,
                strides: c.strides,
                dilations: c.dilations,
                padding: match c.padding {
                    Padding::Explicit(p) => Pad::Explicit(p),
                    Padding::Valid => Pad::Valid,
                    Padding::Same { upper: true } => Pad::SameUpper,
                    Padding::Same { upper: false } => Pad::SameLower,
                },
            },
            group: c.group,
        },
        LayerKind::Gemm { trans_a, alpha, beta } => {
            SlimKind::Gemm { trans_a: *trans_a, alpha: *alpha, beta: *beta }
        }
        LayerKind::MatMul => SlimKind::MatMul,
    };
    let activation = match l.act {
        Activation::None => Act::None,
        Activation::Relu => Act::Relu,
        Activation::Clip { lo, hi } => Act::Clip(lo, hi),
        Activation::HardSwish => Act::HardSwish,
    };
    SlimSpec { weight: l.weight.clone(), kind, input_quant: l.input_quant, activation, bias: s.has_bias }
}

fn window(p: &PoolSpec) -> Result<Window> {
    if p.data_format != DataFormat::NCHW || p.kernel_shape.len() != 2 {
        return Err(unsupported(format!("a {:?} window of rank {}", p.data_format, p.kernel_shape.len())));
    }
    let pair = |v: &Option<TVec<usize>>| match v {
        Some(v) if v.len() == 2 => Ok([v[0], v[1]]),
        None => Ok([1, 1]),
        Some(v) => Err(unsupported(format!("strides or dilations {v:?}"))),
    };
    let padding = match &p.padding {
        PaddingSpec::Explicit(b, a) | PaddingSpec::ExplicitOnnxPool(b, a, false)
            if b.len() == 2 && a.len() == 2 =>
        {
            Pad::Explicit([b[0], b[1], a[0], a[1]])
        }
        PaddingSpec::Valid => Pad::Valid,
        PaddingSpec::SameUpper => Pad::SameUpper,
        PaddingSpec::SameLower => Pad::SameLower,
        other => return Err(unsupported(format!("the padding {other:?}"))),
    };
    Ok(Window {
        kernel: [p.kernel_shape[0], p.kernel_shape[1]],
        strides: pair(&p.strides)?,
        dilations: pair(&p.dilations)?,
        padding,
    })
}

/// How far the op list's outputs are from tract's on the same inputs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    pub shapes: Vec<Vec<Vec<usize>>>,
    /// Largest `|a − b| / max(1, max |tract|)` over all outputs and shapes.
    pub max_relative_error: f64,
}

/// Runs `reference` (tract) and `candidate` (the op list) side by side on two input sizes
/// and compares their outputs.
pub fn check(reference: &mut Model, candidate: &mut Model, tolerance: f64) -> Result<Check> {
    let super::Backend::Program(runner) = &candidate.backend else {
        return Err(Error::Model("the candidate model is not an op list".into()));
    };
    let p = runner.program();
    let mut shapes = Vec::new();
    for round in 0..2usize {
        let s: Vec<Vec<usize>> = p
            .inputs
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                spec.dims
                    .iter()
                    .enumerate()
                    .map(|(a, d)| match d {
                        Some(v) => *v,
                        None if a == 0 => 1 + round,
                        None => {
                            let m = p
                                .symbols
                                .iter()
                                .find(|s| s.input == i && s.axis == a)
                                .map_or(1, |s| s.multiple);
                            let unit = m.max(32);
                            unit * (2 + round)
                        }
                    })
                    .collect()
            })
            .collect();
        shapes.push(s);
    }
    let mut worst = 0f64;
    for s in &shapes {
        let inputs: Vec<F32Tensor> = s
            .iter()
            .enumerate()
            .map(|(k, shape)| {
                let n: usize = shape.iter().product();
                let data = (0..n).map(|i| (((i * 2654435761 + k * 97) % 1000) as f32) / 1000.0).collect();
                F32Tensor::new(shape.clone(), data)
            })
            .collect::<Result<_>>()?;
        let want = reference.run(inputs.clone())?;
        let got = candidate.run(inputs)?;
        for (w, g) in want.iter().zip(&got) {
            if w.shape != g.shape {
                return Err(Error::Model(format!(
                    "the op list gives shape {:?} where tract gives {:?} (inputs {s:?})",
                    g.shape, w.shape
                )));
            }
            let scale = w.data.iter().fold(1f64, |m, &v| m.max(f64::from(v.abs())));
            for (a, b) in w.data.iter().zip(&g.data) {
                worst = worst.max(f64::from((a - b).abs()) / scale);
            }
        }
    }
    if worst.is_nan() || worst > tolerance {
        return Err(Error::Model(format!(
            "the op list's outputs differ from tract's by up to {worst:.2e} (relative; tolerance {tolerance:.0e}) on inputs {shapes:?}"
        )));
    }
    Ok(Check { shapes, max_relative_error: worst })
}
