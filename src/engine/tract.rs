//! The tract side of the engine: plain ONNX models run in f32 (the "original" of every
//! comparison) and `.slim` files of format 1.0, whose GRPH holds an ONNX graph with the
//! compressed layers as custom ops. A plan (typed, optimised graph) is built per input shape
//! and cached, so models with dynamic dimensions (OCR) work; fixed-shape models get theirs
//! at load time. A model with dynamic dimensions is typed and simplified once with them
//! left open (a `Template`), and each new shape is then only filled in and optimised.
//! Not in the browser's small runtime (built without the `tract` feature).

use super::*;
use crate::format::TensorData;
use prost::Message;
use tract_onnx::pb;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;
use tract_onnx::tract_hir::internal::DimLike;

/// How many per-shape plans a model keeps: a page's recogniser batches take up to about five
/// widths. A plan holds its own packed f32 constants (every weight of an original ONNX model;
/// a `.slim` model's int8 weights are shared), docs/BENCHMARKS.md has the memory measured.
const PLAN_CACHE: usize = 8;

pub(crate) fn tract_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Model(format!("{what}: {e:#}"))
}

/// A model parsed by tract, with its per-shape plans.
pub(super) struct TractModel {
    pub(super) base: InferenceModel,
    plans: Vec<(Vec<Vec<usize>>, Arc<TypedRunnableModel>)>,
    /// For a model with open input dimensions: the graph typed and simplified once with
    /// them left open, which each new shape only has to fill in and optimise. `None` until
    /// first needed; `Some(None)` when tract could not prepare it.
    pub(super) template: Option<Option<Template>>,
}

/// A typed, decluttered graph with some input dimensions left open as symbols.
pub(super) struct Template {
    /// Per input: each dimension, fixed (`Some`) or open (`None`).
    dims: Vec<Vec<Option<usize>>>,
    model: TypedModel,
}

impl Template {
    /// Whether the template serves `shapes`.
    fn fits(&self, shapes: &[Vec<usize>]) -> bool {
        self.dims.len() == shapes.len()
            && self
                .dims
                .iter()
                .zip(shapes)
                .all(|(d, s)| d.len() == s.len() && d.iter().zip(s).all(|(d, v)| d.is_none_or(|d| d == *v)))
    }

    /// The open dimensions filled in with `shapes`, then optimised.
    fn plan(&self, shapes: &[Vec<usize>]) -> TractResult<Arc<TypedRunnableModel>> {
        let mut values = HashMap::new();
        for (i, (dims, shape)) in self.dims.iter().zip(shapes).enumerate() {
            for (a, (d, &v)) in dims.iter().zip(shape).enumerate() {
                if d.is_none() {
                    values.insert(self.model.sym(&symbol_name(i, a)), TDim::from(v));
                }
            }
        }
        self.model.set_symbols(&values)?.into_optimized()?.into_runnable()
    }
}

pub(crate) fn symbol_name(input: usize, axis: usize) -> String {
    format!("input{input}_axis{axis}")
}

/// The tract-onnx framework with the Slim op builders registered.
fn framework() -> tract_onnx::Onnx {
    let mut onnx = tract_onnx::onnx();
    ops::register(&mut onnx);
    onnx
}

fn value_info_ports<'a>(v: impl IntoIterator<Item = &'a pb::ValueInfoProto>) -> Vec<(String, Vec<String>)> {
    use crate::onnx::DeclaredDim;
    v.into_iter()
        .map(|vi| {
            let dims = crate::onnx::declared_dims(vi)
                .into_iter()
                .map(|d| match d {
                    DeclaredDim::Fixed(v) => v.to_string(),
                    DeclaredDim::Named(p) => p,
                    DeclaredDim::Unknown => "?".into(),
                })
                .collect();
            (vi.name.clone(), dims)
        })
        .collect()
}

fn f32_initializer_bytes(g: &pb::GraphProto) -> usize {
    g.initializer
        .iter()
        .filter(|t| t.data_type == pb::tensor_proto::DataType::Float as i32)
        .map(|t| if t.raw_data.is_empty() { t.float_data.len() * 4 } else { t.raw_data.len() })
        .sum()
}

/// Loads a `.slim` whose GRPH holds an ONNX graph (format 1.0).
pub(super) fn load_slim_onnx(
    file_bytes: usize,
    graph_bytes: &[u8],
    meta: serde_json::Map<String, serde_json::Value>,
    file_tensors: Vec<format::Tensor>,
) -> Result<Model> {
    let mut proto = crate::onnx::decode_model(graph_bytes)
        .map_err(|e| Error::Model(format!("the GRPH section is not a valid ONNX graph: {e}")))?;
    let metadata = metadata(&proto);
    let original_bytes = meta.get("original").and_then(|o| o.get("bytes")).and_then(|b| b.as_u64());
    let mut tensors: HashMap<String, format::Tensor> =
        file_tensors.into_iter().map(|t| (t.name.clone(), t)).collect();
    let g = proto.graph.as_mut().ok_or_else(|| Error::Model("GRPH holds no graph".into()))?;
    graph::resolve_external(g, &mut tensors)?;
    graph::restore_f32_layers(g, &mut tensors)?;
    let out_channels: HashMap<String, usize> = tensors
        .iter()
        .filter(|(_, t)| !matches!(t.data, TensorData::F32(_)))
        .filter_map(|(n, t)| t.dims.first().map(|&o| (n.clone(), o)))
        .collect();
    graph::fold_bias_adds(g, &out_channels);
    graph::widen_shape_casts(g);
    let fused = graph::fuse_activations(g);
    let f32_bytes = f32_initializer_bytes(g);
    let inputs = value_info_ports(crate::onnx::fed_inputs(g));
    let outputs = value_info_ports(&g.output);
    // Only int8 tensors are left for the builders; any f32 one left over is unreferenced.
    tensors.retain(|_, t| !matches!(t.data, TensorData::F32(_)));
    let stash = ops::TensorStash::install(tensors);
    let base = framework().model_for_proto_model(&proto).map_err(|e| tract_err("parsing the graph", e))?;
    let layers = stash.layers();
    drop(stash);
    drop(proto);
    let info = Model::slim_info(file_bytes, original_bytes, &layers, f32_bytes, fused, inputs, outputs);
    finish(base, info, metadata)
}

impl Model {
    /// Loads a plain ONNX model, run by tract in f32.
    pub fn load_onnx(bytes: &[u8]) -> Result<Model> {
        let mut proto = crate::onnx::decode_model(bytes)?;
        if let Some(g) = proto.graph.as_mut() {
            graph::widen_shape_casts(g);
        }
        let metadata = metadata(&proto);
        let g = proto.graph.as_ref().ok_or_else(|| Error::Model("ONNX model without a graph".into()))?;
        let info = ModelInfo {
            kind: ModelKind::Onnx,
            file_bytes: bytes.len(),
            original_bytes: Some(bytes.len() as u64),
            inputs: ports(value_info_ports(crate::onnx::fed_inputs(g)).into_iter()),
            outputs: ports(value_info_ports(&g.output).into_iter()),
            slim_layers: 0,
            sparse_layers: 0,
            slim_weights: 0,
            slim_nonzeros: 0,
            sparsity: 0.0,
            packed_weight_bytes: 0,
            f32_constant_bytes: f32_initializer_bytes(g),
            fused_activations: 0,
        };
        let base =
            framework().model_for_proto_model(&proto).map_err(|e| tract_err("parsing the ONNX model", e))?;
        drop(proto);
        finish(base, info, metadata)
    }
}

fn finish(base: InferenceModel, info: ModelInfo, metadata: HashMap<String, String>) -> Result<Model> {
    let mut t = TractModel { base, plans: Vec::new(), template: None };
    // A model whose inputs are all fixed gets its plan now, so load errors surface here
    // and the first run is not slower than the others.
    if let Some(shapes) = t.fixed_input_shapes() {
        t.plan(&shapes)?;
    }
    Ok(Model { backend: Backend::Tract(t), info, metadata })
}

impl TractModel {
    pub(super) fn fixed_input_shapes(&self) -> Option<Vec<Vec<usize>>> {
        let n = self.base.input_outlets().ok()?.len();
        (0..n)
            .map(|i| {
                let fact = self.base.input_fact(i).ok()?;
                if let Some(s) = fact.shape.as_concrete_finite().ok()? {
                    return Some(s.to_vec());
                }
                let dims: Vec<_> = fact.shape.dims().collect();
                let mut shape = Vec::with_capacity(dims.len());
                for (axis, d) in dims.iter().enumerate() {
                    match d.concretize().and_then(|d| d.to_usize().ok()) {
                        Some(v) => shape.push(v),
                        None if axis == 0 && !fact.shape.is_open() => shape.push(1),
                        None => return None,
                    }
                }
                Some(shape)
            })
            .collect()
    }

    /// The optimised plan for these input shapes (built and cached on first use).
    ///
    /// Most of planning is typing and simplifying the graph, the same for every shape; a
    /// model with open input dimensions (an OCR recogniser's batch and line width, a
    /// detector's page size) does that once, with the dimensions left open, and a new shape
    /// then only costs the optimisation (the recogniser natively: ~65 ms instead of ~110–185).
    pub(super) fn plan(&mut self, shapes: &[Vec<usize>]) -> Result<Arc<TypedRunnableModel>> {
        if let Some(pos) = self.plans.iter().position(|(s, _)| s == shapes) {
            return Ok(self.plans[pos].1.clone());
        }
        let inputs = self.base.input_outlets().map_err(|e| tract_err("model inputs", e))?.len();
        if inputs != shapes.len() {
            return Err(Error::InvalidArgument(format!(
                "the model takes {inputs} inputs, {} given",
                shapes.len()
            )));
        }
        if self.template.is_none() {
            self.template = Some(self.build_template(shapes));
        }
        let from_template = match self.template.as_ref().and_then(Option::as_ref) {
            Some(t) if t.fits(shapes) => t.plan(shapes).ok(),
            _ => None,
        };
        let plan = match from_template {
            Some(plan) => plan,
            None => self.build_plan(shapes)?,
        };
        if self.plans.len() >= PLAN_CACHE {
            self.plans.remove(0);
        }
        self.plans.push((shapes.to_vec(), plan.clone()));
        Ok(plan)
    }

    /// Plans the model for these concrete input shapes from scratch.
    pub(super) fn build_plan(&self, shapes: &[Vec<usize>]) -> Result<Arc<TypedRunnableModel>> {
        let mut m = self.base.clone();
        for (i, s) in shapes.iter().enumerate() {
            m = m
                .with_input_fact(i, f32::fact(s).into())
                .map_err(|e| tract_err(&format!("input {i} with shape {s:?}"), e))?;
        }
        m.into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(|e| tract_err(&format!("preparing the model for input shapes {shapes:?}"), e))
    }

    /// Each input's dimensions as the model declares them: fixed (`Some`) or open (`None`).
    /// `Err(i)` when input `i` has no known rank.
    pub(super) fn declared_dims(&self) -> std::result::Result<Vec<Vec<Option<usize>>>, usize> {
        let n = self.base.input_outlets().map_err(|_| 0usize)?.len();
        (0..n)
            .map(|i| {
                let fact = self.base.input_fact(i).map_err(|_| i)?;
                let rank = fact.shape.rank().concretize().ok_or(i)? as usize;
                Ok((0..rank)
                    .map(|a| {
                        fact.shape.dims().nth(a).and_then(|d| d.concretize()).and_then(|d| d.to_usize().ok())
                    })
                    .collect())
            })
            .collect()
    }

    /// The template for a model with open input dimensions: every open dimension left
    /// open if tract can type the graph so, else only the leading (batch) and the last (a
    /// text line's width; Paddle's recogniser reshapes by its fixed height), the others
    /// taken from `shapes`. `None` for a model without open dimensions or that tract cannot
    /// type with any left open.
    fn build_template(&self, shapes: &[Vec<usize>]) -> Option<Template> {
        let declared = self.declared_dims().ok()?;
        if declared.iter().flatten().all(Option::is_some) || declared.len() != shapes.len() {
            return None;
        }
        let batch_and_last = |a: usize, rank: usize| a == 0 || a + 1 == rank;
        for opens in [&(|_, _| true) as &dyn Fn(usize, usize) -> bool, &batch_and_last] {
            let dims: Vec<Vec<Option<usize>>> = declared
                .iter()
                .zip(shapes)
                .map(|(d, s)| {
                    (0..d.len())
                        .map(|a| match d[a] {
                            None if opens(a, d.len()) => None,
                            fixed => Some(fixed.or_else(|| s.get(a).copied()).unwrap_or(1)),
                        })
                        .collect()
                })
                .collect();
            let mut m = self.base.clone();
            let facts: Vec<InferenceFact> = dims
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let shape: TVec<TDim> = d
                        .iter()
                        .enumerate()
                        .map(|(a, v)| v.map_or_else(|| m.sym(&symbol_name(i, a)).into(), TDim::from))
                        .collect();
                    f32::fact(shape).into()
                })
                .collect();
            let typed = (|| -> TractResult<TypedModel> {
                for (i, fact) in facts.into_iter().enumerate() {
                    m = m.with_input_fact(i, fact)?;
                }
                m.into_typed()?.into_decluttered()
            })();
            if let Ok(model) = typed {
                return Some(Template { dims, model });
            }
        }
        None
    }

    /// The plan for these inputs' shapes, and the inputs as tract values.
    fn plan_and_values(&mut self, inputs: Vec<F32Tensor>) -> Result<(Arc<TypedRunnableModel>, TVec<TValue>)> {
        let shapes: Vec<Vec<usize>> = inputs.iter().map(|t| t.shape.clone()).collect();
        let plan = self.plan(&shapes)?;
        let values = inputs
            .into_iter()
            .map(|t| {
                tract_ndarray::ArrayD::from_shape_vec(t.shape, t.data)
                    .map(|a| a.into_tvalue())
                    .map_err(|e| Error::InvalidArgument(format!("input: {e}")))
            })
            .collect::<Result<TVec<_>>>()?;
        Ok((plan, values))
    }

    /// Runs the model on f32 inputs, returning every output as f32.
    pub(super) fn run(&mut self, inputs: Vec<F32Tensor>) -> Result<Vec<F32Tensor>> {
        let (plan, values) = self.plan_and_values(inputs)?;
        let outs = plan.run(values).map_err(|e| tract_err("running the model", e))?;
        outs.iter()
            .map(|o| {
                let o = o.cast_to::<f32>().map_err(|e| tract_err("output", e))?;
                let view = o.to_plain_array_view::<f32>().map_err(|e| tract_err("output", e))?;
                Ok(F32Tensor { shape: view.shape().to_vec(), data: view.iter().copied().collect() })
            })
            .collect()
    }

    /// Runs the model once on `inputs` and returns the time per operator kind (or per node,
    /// `kind name`, with `by_node`), slowest first: `(what, ms, nodes)`. For finding where a
    /// model's time goes (examples/profile.rs).
    #[cfg(feature = "scan")]
    pub(super) fn profile(
        &mut self,
        inputs: Vec<F32Tensor>,
        by_node: bool,
    ) -> Result<Vec<(String, f64, usize)>> {
        let (plan, values) = self.plan_and_values(inputs)?;
        let mut state = plan.spawn().map_err(|e| tract_err("model state", e))?;
        let mut per: HashMap<String, (f64, usize)> = HashMap::new();
        state
            .run_plan_with_eval(values, |ctx, op_state, node, input| {
                let t = crate::scan::clock::now_ms();
                let out = tract_onnx::tract_core::plan::eval(ctx, op_state, node, input);
                let key = if by_node {
                    format!("{} {}", node.op().name(), node.name)
                } else {
                    node.op().name().to_string()
                };
                let e = per.entry(key).or_default();
                e.0 += crate::scan::clock::now_ms() - t;
                e.1 += 1;
                out
            })
            .map_err(|e| tract_err("running the model", e))?;
        let mut rows: Vec<(String, f64, usize)> = per.into_iter().map(|(k, (ms, n))| (k, ms, n)).collect();
        rows.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(rows)
    }
}

pub(super) fn metadata(proto: &pb::ModelProto) -> HashMap<String, String> {
    proto.metadata_props.iter().map(|p| (p.key.clone(), p.value.clone())).collect()
}

/// Serialises an ONNX model (used by tests building graphs in code).
pub fn encode_onnx(model: &pb::ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}
