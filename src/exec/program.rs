//! The op list a `.slim` file (format ≥ 1.1) stores in its GRPH section: the model's graph
//! as tract types and simplifies it at compress time, written as a flat list of nodes in
//! run order. The browser loads it without any ONNX parsing or graph optimisation: each
//! node names one of a few dozen operators (docs/FORMAT.md §4) and the values it reads.
//!
//! Sizes that depend on the input (a text line's width, a page's height) are kept as small
//! expressions over the input dimensions ([`Dim`]), evaluated when a run binds them.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What an op-list GRPH section starts with (an ONNX graph never does: protobuf field 1 of
/// a `ModelProto` starts with byte 0x08).
pub const MAGIC: &[u8; 8] = b"SLIMOPS\n";
/// Version of the op list this code writes and reads.
pub const PROGRAM_VERSION: u32 = 1;

/// A size that may depend on input dimensions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Dim {
    Val(i64),
    /// Symbol `i` of [`Program::symbols`].
    Sym(usize),
    Add(Vec<Dim>),
    Mul(Vec<Dim>),
    MulInt(i64, Box<Dim>),
    /// Floor division by a positive constant.
    Div(Box<Dim>, u64),
}

impl Dim {
    /// The value with the symbols bound to `syms`.
    pub fn eval(&self, syms: &[i64]) -> Result<i64> {
        fn go(d: &Dim, syms: &[i64], depth: usize) -> Option<i64> {
            if depth > 64 {
                return None;
            }
            Some(match d {
                Dim::Val(v) => *v,
                Dim::Sym(i) => *syms.get(*i)?,
                Dim::Add(v) => v.iter().try_fold(0i64, |a, d| a.checked_add(go(d, syms, depth + 1)?))?,
                Dim::Mul(v) => v.iter().try_fold(1i64, |a, d| a.checked_mul(go(d, syms, depth + 1)?))?,
                Dim::MulInt(k, d) => k.checked_mul(go(d, syms, depth + 1)?)?,
                Dim::Div(d, q) => {
                    go(d, syms, depth + 1)?.div_euclid(i64::try_from(*q).ok().filter(|&q| q > 0)?)
                }
            })
        }
        go(self, syms, 0).ok_or_else(|| Error::Model(format!("size expression {self:?} cannot be evaluated")))
    }
}

/// A symbol: input `input`'s dimension `axis` divided by `multiple` (a detector's page sides
/// are multiples of 32, and its graph is only valid for those).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Symbol {
    pub input: usize,
    pub axis: usize,
    pub multiple: usize,
}

/// A model input: its name and declared dimensions (`None`: given by the caller).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    pub name: String,
    pub dims: Vec<Option<usize>>,
}

/// A model output: its name and the node producing it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputSpec {
    pub name: String,
    pub node: usize,
}

/// Convolution and pooling geometry (2-D, NCHW).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    pub padding: Pad,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Pad {
    /// `[top, left, bottom, right]`.
    Explicit([usize; 4]),
    Valid,
    SameUpper,
    SameLower,
}

/// A compressed layer: its TENS weight tensor and settings (the int8 kernels run it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlimSpec {
    pub weight: String,
    pub kind: SlimKind,
    /// Static activation quantizer `(scale, zero point)`; `None`: dynamic.
    pub input_quant: Option<(f32, i32)>,
    pub activation: Act,
    /// Whether the node's second input is a bias.
    pub bias: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SlimKind {
    Conv { window: Window, group: usize },
    Gemm { trans_a: bool, alpha: f32, beta: f32 },
    MatMul,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Act {
    None,
    Relu,
    Clip(f32, f32),
    HardSwish,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
    Pow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnaryOp {
    Abs,
    Neg,
    Recip,
    Sqrt,
    Rsqrt,
    Exp,
    Ln,
    Tanh,
    Sigmoid,
    Silu,
    Erf,
    Square,
    Relu,
    HardSwish,
    Floor,
    Ceil,
    Round,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReduceOp {
    Sum,
    Max,
    Min,
    Prod,
    Mean,
    MeanOfSquares,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PoolOp {
    Max,
    /// Average; `count_include_pad` counts padded cells in the divisor.
    Avg {
        count_include_pad: bool,
    },
    Sum,
}

/// A constant's values: inline for small ones, else an f32 tensor of TENS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ConstData {
    Inline(Vec<f32>),
    Tensor(String),
}

/// One operator. Every node has one output; inputs are node indices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// Model input `i`.
    Input(usize),
    Const {
        shape: Vec<usize>,
        data: ConstData,
    },
    /// A constant computed from input dimensions (f32 values).
    DimConst {
        shape: Vec<usize>,
        values: Vec<Dim>,
    },
    Slim(SlimSpec),
    /// Numpy-broadcasting binary operator.
    Binary(BinaryOp),
    Unary(UnaryOp),
    /// Reduces `axes`, keeping them as size 1.
    Reduce {
        axes: Vec<usize>,
        op: ReduceOp,
    },
    AddAxis(usize),
    RmAxis(usize),
    MoveAxis {
        from: usize,
        to: usize,
    },
    /// Replaces the `from` axes starting at `at` with `to`.
    Reshape {
        at: usize,
        from: usize,
        to: Vec<Dim>,
    },
    Slice {
        axis: usize,
        start: Dim,
        end: Dim,
    },
    Concat {
        axis: usize,
    },
    Softmax {
        axes: Vec<usize>,
    },
    /// `x / sqrt(mean(x², axis) + eps)`.
    RmsNorm {
        axis: usize,
        eps: f32,
    },
    /// Einstein summation over two f32 inputs, e.g. `"NIHW,OI->NOHW"`.
    EinSum {
        expr: String,
    },
    /// f32 convolution: inputs `x`, kernel `[O, C/group, kh, kw]`, optional bias `[O]`.
    Conv {
        window: Window,
        group: usize,
    },
    /// f32 transposed convolution (one group): kernel `[O, C, kh, kw]`, optional bias.
    Deconv {
        window: Window,
        adjustments: [usize; 2],
    },
    Pool {
        op: PoolOp,
        window: Window,
    },
    NearestUpsample {
        scales: Vec<usize>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    pub op: Op,
    pub inputs: Vec<usize>,
}

/// A whole model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Program {
    pub version: u32,
    pub inputs: Vec<InputSpec>,
    pub outputs: Vec<OutputSpec>,
    pub symbols: Vec<Symbol>,
    pub nodes: Vec<Node>,
    /// The ONNX model's `metadata_props` (an OCR recogniser's `character` list).
    pub metadata: BTreeMap<String, String>,
}

impl Program {
    /// The GRPH section's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend(serde_json::to_vec(self).unwrap_or_default());
        out
    }

    /// Whether GRPH bytes hold an op list.
    pub fn is_program(bytes: &[u8]) -> bool {
        bytes.starts_with(MAGIC)
    }

    /// Reads GRPH bytes and checks that every node reads only earlier nodes.
    pub fn decode(bytes: &[u8]) -> Result<Program> {
        let body = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| Error::Model("the GRPH section does not hold an op list".into()))?;
        let p: Program = serde_json::from_slice(body)
            .map_err(|e| Error::Model(format!("the GRPH op list is malformed: {e}")))?;
        if p.version != PROGRAM_VERSION {
            return Err(Error::Model(format!(
                "the GRPH op list is version {}, this build reads version {PROGRAM_VERSION}",
                p.version
            )));
        }
        for (i, n) in p.nodes.iter().enumerate() {
            if let Some(&bad) = n.inputs.iter().find(|&&j| j >= i) {
                return Err(Error::Model(format!(
                    "op list node {i} ({:?}) reads node {bad}, which does not come before it",
                    n.name
                )));
            }
            if let Op::Input(k) = n.op {
                if k >= p.inputs.len() {
                    return Err(Error::Model(format!("op list node {i} is input {k} of {}", p.inputs.len())));
                }
            }
        }
        for o in &p.outputs {
            if o.node >= p.nodes.len() {
                return Err(Error::Model(format!(
                    "output {:?} names node {} of {}",
                    o.name,
                    o.node,
                    p.nodes.len()
                )));
            }
        }
        for s in &p.symbols {
            if s.input >= p.inputs.len() || s.multiple == 0 {
                return Err(Error::Model(format!("op list symbol {s:?} does not name an input dimension")));
            }
        }
        Ok(p)
    }
}
