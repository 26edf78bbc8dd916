//! The engine: a model ready to run, whatever it was stored as.
//!
//! - A `.slim` of format 1.1 holds an op list ([`crate::exec`]): the container reader checks
//!   and Huffman-decodes every tensor (int8 weights stay int8, never widened to f32), the
//!   executor packs each compressed layer's weights for the kernels ([`pack`]: sparse rows or
//!   dense int8, see [`crate::kernels`]) and runs the list. No tract: this is all the
//!   browser's small runtime carries.
//! - With the `tract` feature ([`tract`](self) module): a plain ONNX model run by tract in f32
//!   (the "original" side of every comparison), and a `.slim` of format 1.0, whose GRPH is an
//!   ONNX graph with the compressed layers as custom ops ([`ops`]). [`lower`] turns the latter
//!   into an op list at compress time.
//!
//! Everything here runs the same natively and in wasm.

#[cfg(feature = "tract")]
pub mod graph;
pub mod layer;
#[cfg(feature = "compress")]
pub mod lower;
#[cfg(feature = "tract")]
pub mod ops;
pub mod pack;
#[cfg(feature = "tract")]
mod tract;
#[cfg(feature = "tract")]
pub use tract::encode_onnx;
#[cfg(feature = "compress")]
pub(crate) use tract::{symbol_name, tract_err};

use crate::error::{Error, Result};
use crate::exec::program::Program;
use crate::exec::{Array, Runner};
use crate::format::{self, Limits};
use layer::SlimLayer;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// A tensor of f32 values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct F32Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl F32Tensor {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<F32Tensor> {
        let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if n != Some(data.len()) {
            return Err(Error::InvalidArgument(format!("{} values do not fill shape {shape:?}", data.len())));
        }
        Ok(F32Tensor { shape, data })
    }
}

/// What kind of file a model came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// A `.slim` file: compressed layers run by the integer kernels.
    Slim,
    /// A plain ONNX file run by tract in f32.
    Onnx,
}

/// One graph input or output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Port {
    pub name: String,
    /// Dimensions as written in the model (`"N"` for symbolic ones).
    pub shape: Vec<String>,
}

/// Sizes and structure of a loaded model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    pub kind: ModelKind,
    /// Bytes of the file the model was loaded from.
    pub file_bytes: usize,
    /// Bytes of the original ONNX model, when the `.slim` META records it.
    pub original_bytes: Option<u64>,
    pub inputs: Vec<Port>,
    pub outputs: Vec<Port>,
    /// Layers run by the integer kernels, and how many of them use the sparse kernel.
    pub slim_layers: usize,
    pub sparse_layers: usize,
    /// Weights of the Slim layers: total elements and nonzeros.
    pub slim_weights: usize,
    pub slim_nonzeros: usize,
    /// `1 − nonzeros / weights` over the Slim layers.
    pub sparsity: f64,
    /// Bytes held by the packed int8 weights of the Slim layers.
    pub packed_weight_bytes: usize,
    /// Bytes held by f32 constants (biases, layers kept in f32, the whole model for ONNX).
    pub f32_constant_bytes: usize,
    /// Activations folded into Slim layers at load.
    pub fused_activations: usize,
}

/// A model ready to run.
pub struct Model {
    backend: Backend,
    info: ModelInfo,
    /// The ONNX model's `metadata_props` (e.g. an OCR recogniser's `character` list).
    metadata: HashMap<String, String>,
}

/// What runs a model: tract (plain ONNX, and `.slim` files whose graph is ONNX) or the
/// op-list executor (`.slim` files of format ≥ 1.1).
enum Backend {
    #[cfg(feature = "tract")]
    Tract(tract::TractModel),
    Program(Runner),
}

fn ports(names: impl Iterator<Item = (String, Vec<String>)>) -> Vec<Port> {
    names.map(|(name, shape)| Port { name, shape }).collect()
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").field("info", &self.info).finish_non_exhaustive()
    }
}

impl Model {
    /// Loads a `.slim` file or a plain ONNX model (told apart by the `.slim` magic).
    pub fn load(bytes: &[u8]) -> Result<Model> {
        if bytes.is_empty() {
            return Err(Error::Model(
                "the model is empty (0 bytes): neither a .slim nor an ONNX file".into(),
            ));
        }
        if bytes.starts_with(&format::MAGIC) {
            return Self::load_slim(bytes, &Limits::default());
        }
        #[cfg(feature = "tract")]
        {
            Self::load_onnx(bytes).map_err(|e| match e {
                Error::Onnx(msg) => Error::Model(format!(
                    "not a .slim file (it does not start with the .slim magic) and not a usable ONNX model: {msg}"
                )),
                other => other,
            })
        }
        #[cfg(not(feature = "tract"))]
        {
            Err(Error::Model(
                "not a .slim file (it does not start with the .slim magic); this small engine runs .slim models only (ONNX models run in the full engine: the comparison module or the CLI)".into(),
            ))
        }
    }

    /// Loads a `.slim` file with explicit reader limits.
    pub fn load_slim(bytes: &[u8], limits: &Limits) -> Result<Model> {
        let file = format::read(bytes, limits)?;
        let graph_bytes = file.graph.as_ref().ok_or_else(|| {
            Error::Model(
                "this .slim file has no GRPH section (a tensor archive, not a runnable model)".into(),
            )
        })?;
        if Program::is_program(graph_bytes) {
            return Self::load_program(bytes.len(), graph_bytes, file.meta, file.tensors);
        }
        #[cfg(feature = "tract")]
        {
            tract::load_slim_onnx(bytes.len(), graph_bytes, file.meta, file.tensors)
        }
        #[cfg(not(feature = "tract"))]
        {
            Err(Error::Model(format!(
                "this .slim file (format {}.{}) stores its graph as ONNX, which this small engine does not parse: rewrite it with `slimscan lower` (or compress it again) to get format 1.1's op list",
                file.version.0, file.version.1
            )))
        }
    }

    /// Loads a `.slim` whose GRPH holds an op list.
    fn load_program(
        file_bytes: usize,
        graph_bytes: &[u8],
        meta: serde_json::Map<String, serde_json::Value>,
        tensors: Vec<format::Tensor>,
    ) -> Result<Model> {
        let program = Program::decode(graph_bytes)?;
        let original_bytes = meta.get("original").and_then(|o| o.get("bytes")).and_then(|b| b.as_u64());
        let metadata: HashMap<String, String> =
            program.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let describe =
            |dims: &[Option<usize>]| dims.iter().map(|d| d.map_or("?".into(), |v| v.to_string())).collect();
        let inputs = program.inputs.iter().map(|i| (i.name.clone(), describe(&i.dims))).collect();
        let outputs = program.outputs.iter().map(|o| (o.name.clone(), Vec::new())).collect();
        let runner = Runner::load(program, tensors)?;
        let layers = runner.layers();
        let fused = layers.iter().filter(|l| l.act != crate::kernels::Activation::None).count();
        let info = Self::slim_info(
            file_bytes,
            original_bytes,
            &layers,
            runner.constant_bytes(),
            fused,
            inputs,
            outputs,
        );
        Ok(Model { backend: Backend::Program(runner), info, metadata })
    }

    pub(crate) fn slim_info(
        file_bytes: usize,
        original_bytes: Option<u64>,
        layers: &[Arc<SlimLayer>],
        f32_constant_bytes: usize,
        fused_activations: usize,
        inputs: Vec<(String, Vec<String>)>,
        outputs: Vec<(String, Vec<String>)>,
    ) -> ModelInfo {
        let slim_weights: usize = layers.iter().map(|l| l.weight_elements).sum();
        let slim_nonzeros: usize = layers.iter().map(|l| l.weight_nonzeros).sum();
        ModelInfo {
            kind: ModelKind::Slim,
            file_bytes,
            original_bytes,
            inputs: ports(inputs.into_iter()),
            outputs: ports(outputs.into_iter()),
            slim_layers: layers.len(),
            sparse_layers: layers.iter().filter(|l| l.is_sparse()).count(),
            slim_weights,
            slim_nonzeros,
            sparsity: if slim_weights == 0 { 0.0 } else { 1.0 - slim_nonzeros as f64 / slim_weights as f64 },
            packed_weight_bytes: layers.iter().map(|l| l.heap_bytes()).sum(),
            f32_constant_bytes,
            fused_activations,
        }
    }

    /// The inputs' shapes when the model fixes all of them, taking a free leading (batch)
    /// dimension as 1 — the shape a scanner runs and the one prepared at load time.
    pub fn fixed_input_shapes(&self) -> Option<Vec<Vec<usize>>> {
        match &self.backend {
            #[cfg(feature = "tract")]
            Backend::Tract(t) => t.fixed_input_shapes(),
            Backend::Program(r) => r
                .program()
                .inputs
                .iter()
                .map(|i| {
                    i.dims
                        .iter()
                        .enumerate()
                        .map(|(a, d)| d.or(if a == 0 && i.dims.len() > 1 { Some(1) } else { None }))
                        .collect()
                })
                .collect(),
        }
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// A `metadata_props` entry of the ONNX model (kept in a `.slim`'s GRPH).
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    /// Runs the model on f32 inputs, returning every output as f32.
    pub fn run(&mut self, inputs: Vec<F32Tensor>) -> Result<Vec<F32Tensor>> {
        match &mut self.backend {
            #[cfg(feature = "tract")]
            Backend::Tract(t) => t.run(inputs),
            Backend::Program(r) => Ok(r
                .run(inputs.into_iter().map(|t| Array { shape: t.shape, data: t.data }).collect())?
                .into_iter()
                .map(|a| F32Tensor { shape: a.shape, data: a.data })
                .collect()),
        }
    }

    /// Whether the model runs on the op-list executor (a `.slim` of format ≥ 1.1).
    pub fn is_program(&self) -> bool {
        matches!(self.backend, Backend::Program(_))
    }

    /// Runs the model once on `inputs` and returns the time per operator kind (or per node,
    /// `kind name`, with `by_node`), slowest first: `(what, ms, nodes)`. For finding where a
    /// model's time goes (examples/profile.rs).
    #[cfg(feature = "scan")]
    pub fn profile(&mut self, inputs: Vec<F32Tensor>, by_node: bool) -> Result<Vec<(String, f64, usize)>> {
        match &mut self.backend {
            #[cfg(feature = "tract")]
            Backend::Tract(t) => t.profile(inputs, by_node),
            Backend::Program(r) => {
                let mut per: HashMap<String, (f64, usize)> = HashMap::new();
                r.run_timed(
                    inputs.into_iter().map(|t| Array { shape: t.shape, data: t.data }).collect(),
                    &mut |kind, name, ms| {
                        let key = if by_node { format!("{kind} {name}") } else { kind.to_string() };
                        let e = per.entry(key).or_default();
                        e.0 += ms;
                        e.1 += 1;
                    },
                )?;
                let mut rows: Vec<(String, f64, usize)> =
                    per.into_iter().map(|(k, (ms, n))| (k, ms, n)).collect();
                rows.sort_by(|a, b| b.1.total_cmp(&a.1));
                Ok(rows)
            }
        }
    }
}

#[cfg(all(test, feature = "tract"))]
mod tests;
