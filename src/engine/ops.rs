//! The `ai.slimscan` operators (`SlimConv`, `SlimGemm`, `SlimMatMul`) as tract ops.
//!
//! tract-onnx's op builders are plain `fn` pointers, so they cannot capture the model's
//! tensors: the loader parks the decoded TENS tensors in a thread-local [`TensorStash`] for
//! the duration of the parse, and each builder takes its weight out of it, packs it and
//! wraps it in a [`SlimOp`]. tract then types, declutters and optimises the whole graph
//! around these nodes and calls [`SlimOp`]'s `eval`, which runs the integer kernels.

use super::layer::{ConvSpec, LayerKind, Padding, SlimLayer};
use super::pack::build_layer;
use crate::format::Tensor;
use crate::kernels::Activation;
use std::cell::RefCell;
use std::collections::HashMap;
use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

/// Attribute the loader adds to a Slim node when it folds the activation that followed it.
pub const ACTIVATION_ATTR: &str = "slimscan_activation";
pub const ACTIVATION_MIN_ATTR: &str = "slimscan_activation_min";
pub const ACTIVATION_MAX_ATTR: &str = "slimscan_activation_max";

thread_local! {
    static STASH: RefCell<Option<Stash>> = const { RefCell::new(None) };
}

struct Stash {
    tensors: HashMap<String, Tensor>,
    layers: Vec<Arc<SlimLayer>>,
}

/// Holds the int8 tensors for the builders while a graph is parsed on this thread; dropping
/// it clears them.
pub struct TensorStash(());

impl TensorStash {
    pub fn install(tensors: HashMap<String, Tensor>) -> TensorStash {
        STASH.with(|s| *s.borrow_mut() = Some(Stash { tensors, layers: Vec::new() }));
        TensorStash(())
    }

    /// The layers the builders made, in graph order.
    pub fn layers(&self) -> Vec<Arc<SlimLayer>> {
        STASH.with(|s| s.borrow().as_ref().map(|s| s.layers.clone()).unwrap_or_default())
    }
}

impl Drop for TensorStash {
    fn drop(&mut self) {
        STASH.with(|s| *s.borrow_mut() = None);
    }
}

fn take_tensor(name: &str) -> TractResult<Tensor> {
    STASH.with(|s| {
        let mut s = s.borrow_mut();
        let stash = s.as_mut().context("a Slim node outside a .slim load")?;
        stash
            .tensors
            .remove(name)
            .with_context(|| format!("weight tensor {name:?} is missing from TENS (or used by two nodes)"))
    })
}

fn record(layer: &Arc<SlimLayer>) {
    STASH.with(|s| {
        if let Some(stash) = s.borrow_mut().as_mut() {
            stash.layers.push(layer.clone());
        }
    })
}

/// Registers the Slim op builders with a tract-onnx framework.
pub fn register(onnx: &mut tract_onnx::Onnx) {
    onnx.op_register.insert("SlimConv", build_conv);
    onnx.op_register.insert("SlimGemm", build_gemm);
    onnx.op_register.insert("SlimMatMul", build_matmul);
}

type Built = TractResult<(Box<dyn InferenceOp>, Vec<String>)>;

fn build_conv(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let t = take_tensor(&weight_name(node)?)?;
    let [_, _, kh, kw] = t.dims[..] else {
        bail!("SlimConv weight {:?} has shape {:?}, expected [O, C/group, kh, kw]", t.name, t.dims);
    };
    let group = usize::try_from(node.get_attr_opt::<i64>("group")?.unwrap_or(1))
        .ok()
        .filter(|&g| g >= 1)
        .with_context(|| format!("SlimConv {:?}: bad group", node.name))?;
    if let Some(ks) = node.get_attr_opt_tvec::<usize>("kernel_shape")? {
        ensure!(ks[..] == [kh, kw], "SlimConv {:?}: kernel_shape {ks:?} but weight {:?}", node.name, t.dims);
    }
    let pair = |name: &str| -> TractResult<[usize; 2]> {
        match node.get_attr_opt_tvec::<usize>(name)? {
            None => Ok([1, 1]),
            Some(v) if v.len() == 2 && v.iter().all(|&x| (1..=1024).contains(&x)) => Ok([v[0], v[1]]),
            Some(v) => bail!("SlimConv {:?}: {name} {v:?} (2-D convolutions only)", node.name),
        }
    };
    let padding = match node.get_attr_opt_tvec::<usize>("pads")? {
        Some(p) if p.len() == 4 && p.iter().all(|&x| x <= 4096) => {
            Padding::Explicit([p[0], p[1], p[2], p[3]])
        }
        Some(p) => bail!("SlimConv {:?}: pads {p:?}", node.name),
        None => match node.get_attr_opt::<&str>("auto_pad")?.unwrap_or("NOTSET") {
            "NOTSET" | "VALID" => Padding::Valid,
            "SAME_UPPER" => Padding::Same { upper: true },
            "SAME_LOWER" => Padding::Same { upper: false },
            other => bail!("SlimConv {:?}: auto_pad {other:?}", node.name),
        },
    };
    let spec = ConvSpec {
        kernel: [kh, kw],
        strides: pair("strides")?,
        dilations: pair("dilations")?,
        padding,
        group,
    };
    finish(node, t, LayerKind::Conv(spec))
}

fn build_gemm(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let t = take_tensor(&weight_name(node)?)?;
    let kind = LayerKind::Gemm {
        trans_a: node.get_attr_opt::<i64>("transA")?.unwrap_or(0) != 0,
        alpha: node.get_attr_opt::<f32>("alpha")?.unwrap_or(1.0),
        beta: node.get_attr_opt::<f32>("beta")?.unwrap_or(1.0),
    };
    finish(node, t, kind)
}

fn build_matmul(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let t = take_tensor(&weight_name(node)?)?;
    ensure!(node.input.len() == 1, "SlimMatMul {:?} takes one input", node.name);
    finish(node, t, LayerKind::MatMul)
}

fn weight_name(node: &NodeProto) -> TractResult<String> {
    node.get_attr_opt::<&str>("weight")?
        .map(str::to_string)
        .with_context(|| format!("{} node {:?} has no `weight` attribute", node.op_type, node.name))
}

fn finish(node: &NodeProto, t: Tensor, kind: LayerKind) -> Built {
    let input_quant = match node.get_attr_opt::<f32>("input_scale")? {
        Some(s) if s.is_finite() && s > 0.0 => {
            let z = node.get_attr_opt::<i64>("input_zero_point")?.unwrap_or(0);
            ensure!((-128..=127).contains(&z), "{:?}: input_zero_point {z} outside −128..=127", node.name);
            Some((s, z as i32))
        }
        Some(s) => bail!("{:?}: input_scale {s} is not a positive number", node.name),
        None => None,
    };
    let act = match node.get_attr_opt::<&str>(ACTIVATION_ATTR)? {
        None => Activation::None,
        Some("relu") => Activation::Relu,
        Some("hardswish") => Activation::HardSwish,
        Some("clip") => Activation::Clip {
            lo: node.get_attr_opt::<f32>(ACTIVATION_MIN_ATTR)?.unwrap_or(f32::NEG_INFINITY),
            hi: node.get_attr_opt::<f32>(ACTIVATION_MAX_ATTR)?.unwrap_or(f32::INFINITY),
        },
        Some(other) => bail!("{:?}: unknown fused activation {other:?}", node.name),
    };
    let layer = Arc::new(build_layer(t, kind, input_quant, act)?);
    record(&layer);
    let has_bias = node.input.len() >= 2 && !node.input[1].is_empty();
    Ok((expand(SlimExpansion(SlimOp { layer, has_bias })), vec![]))
}

/// A compressed layer in a typed tract graph.
#[derive(Debug, Clone)]
pub struct SlimOp {
    pub layer: Arc<SlimLayer>,
    pub has_bias: bool,
}

impl PartialEq for SlimOp {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.layer, &other.layer)
    }
}
impl Eq for SlimOp {}

impl SlimOp {
    fn op_name(&self) -> &'static str {
        match self.layer.kind {
            LayerKind::Conv(_) => "SlimConv",
            LayerKind::Gemm { .. } => "SlimGemm",
            LayerKind::MatMul => "SlimMatMul",
        }
    }

    /// The output shape for an input shape whose dimensions may be symbolic (a batch or a
    /// text-line width left open while the engine prepares a plan template). Concrete shapes
    /// go through the layer's own checks; symbolic ones need concrete channels or features.
    fn output_shape(&self, shape: &[TDim]) -> TractResult<TVec<TDim>> {
        if let Some(concrete) = shape.iter().map(|d| d.to_usize().ok()).collect::<Option<Vec<_>>>() {
            return Ok(self.layer.output_shape(&concrete)?.into_iter().map(TDim::from).collect());
        }
        let l = &self.layer;
        let features = |d: &TDim, want: usize| -> TractResult<()> {
            ensure!(
                d.to_usize().ok() == Some(want),
                "{}: input has {d} features, the weights expect {want}",
                l.weight
            );
            Ok(())
        };
        match &l.kind {
            LayerKind::Conv(spec) => {
                let [n, c, h, w] = shape else {
                    bail!("SlimConv expects an NCHW input, got shape {shape:?}")
                };
                features(c, l.in_channels * spec.group)?;
                Ok(tvec![n.clone(), l.out_channels.into(), conv_axis(spec, h, 0), conv_axis(spec, w, 1)])
            }
            LayerKind::Gemm { trans_a, .. } => {
                let [a, b] = shape else { bail!("SlimGemm expects a 2-D input, got shape {shape:?}") };
                let (m, k) = if *trans_a { (b, a) } else { (a, b) };
                features(k, l.in_channels)?;
                Ok(tvec![m.clone(), l.out_channels.into()])
            }
            LayerKind::MatMul => {
                let Some((k, rest)) = shape.split_last() else {
                    bail!("SlimMatMul expects an input of rank ≥ 1")
                };
                features(k, l.in_channels)?;
                Ok(rest.iter().cloned().chain([l.out_channels.into()]).collect())
            }
        }
    }
}

/// A convolution's output size along axis `a` (0: height, 1: width) for a possibly symbolic
/// input size: ONNX's formulas, as [`ConvSpec`] computes them for concrete sizes.
fn conv_axis(spec: &ConvSpec, size: &TDim, a: usize) -> TDim {
    let (k, s, d) = (spec.kernel[a], spec.strides[a], spec.dilations[a]);
    let field = ((k.max(1) - 1) * d + 1) as i64;
    match &spec.padding {
        Padding::Explicit(p) => (size.clone() + (p[a] + p[a + 2]) as i64 - field) / s.max(1) as u64 + 1,
        Padding::Valid => (size.clone() - field) / s.max(1) as u64 + 1,
        Padding::Same { .. } => size.clone().div_ceil(s.max(1) as u64),
    }
}

impl Op for SlimOp {
    fn name(&self) -> StaticName {
        self.op_name().into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        let l = &self.layer;
        Ok(vec![format!(
            "weight {}: {} of {} nonzero, {}, {:?}",
            l.weight,
            l.weight_nonzeros,
            l.weight_elements,
            if l.is_sparse() { "sparse" } else { "dense" },
            l.act
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for SlimOp {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = inputs.first().context("no input")?;
        let xv = x.to_plain_array_view::<f32>()?;
        let xs = xv.as_slice().context("input is not contiguous")?;
        let bias_view = match inputs.get(1) {
            Some(b) => Some(b.to_plain_array_view::<f32>()?),
            None => None,
        };
        let bias = match &bias_view {
            Some(v) => Some(v.as_slice().context("bias is not contiguous")?),
            None => None,
        };
        let (out, shape) = self.layer.forward(xs, x.shape(), bias)?;
        Ok(tvec!(tract_ndarray::ArrayD::from_shape_vec(shape, out)?.into_tvalue()))
    }
}

impl TypedOp for SlimOp {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs[0].datum_type == f32::datum_type(), "{} takes f32 input", self.op_name());
        Ok(tvec!(f32::fact(self.output_shape(&inputs[0].shape.to_tvec())?)))
    }

    as_op!();
}

/// The inference-side wrapper tract-onnx's parser gets: shape rules, then wires a [`SlimOp`].
#[derive(Debug, Clone)]
struct SlimExpansion(SlimOp);

impl Expansion for SlimExpansion {
    fn name(&self) -> StaticName {
        self.0.op_name().into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1 + usize::from(self.0.has_bias))?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, f32::datum_type())?;
        s.equals(&outputs[0].datum_type, f32::datum_type())?;
        s.given(&inputs[0].shape, move |s, shape| {
            s.equals(&outputs[0].shape, ShapeFactoid::from(self.0.output_shape(&shape)?))?;
            Ok(())
        })
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, self.0.clone(), inputs)
    }
}
