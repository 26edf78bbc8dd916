//! ONNX → `.slim`: fold BatchNorm, find the Conv/Gemm/MatMul weights, prune, quantize to
//! int8, encode (dense or sparse, Huffman or fixed width), and rewrite each compressed node as
//! a node of the `ai.slimscan` domain that names its tensor in TENS (docs/FORMAT.md §7).
//! Everything else in the graph — other ops, small initializers — is kept as it is in GRPH.
//!
//! A CTC recogniser's output classes can first be restricted to chosen characters
//! (`--vocab`, see [`vocab`]).
//!
//! Pruning defaults are sensitivity-aware (see [`plan`]): the first layer, depthwise convs
//! and the final classifier are pruned at half the requested sparsity, and the other layers
//! share one global magnitude threshold chosen so that the sparsity over all prunable
//! weights is exactly the requested fraction.

pub mod calib;
pub mod gptq;
pub mod graph;
pub mod layers;
pub use crate::onnx;
pub mod plan;
pub mod sample;
pub mod sensitivity;
pub mod vocab;

use crate::error::{Error, Result};
use crate::format::{Coding, SlimWriter, Tensor, TensorData};
use crate::quant::{quantize, round_scale_up_to_bf16, QuantParams, Scheme};
use crate::sparse::{encode_relative, DEFAULT_GAP_BITS};
use layers::{Layer, LayerOp, Role};
use plan::PrunePlan;
use prost::Message;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tract_onnx::pb;

/// What `slimscan compress` does to a model.
#[derive(Debug, Clone)]
pub struct Options {
    /// How much to prune.
    pub prune: PrunePlan,
    /// Weight precision per layer (8 bits unless a plan lowers it).
    pub bits: plan::Bits,
    /// int8 weights (else f32, pruned only).
    pub quantize: bool,
    pub per_channel: bool,
    pub scheme: Scheme,
    /// Huffman-code the streams (else fixed width).
    pub huffman: bool,
    pub max_code_len: u32,
    pub gap_bits: u32,
    /// Layers (node names) left exactly as they are.
    pub keep: Vec<String>,
    /// Input size, mean/std, channel order, labels: stored in META as given (and used to
    /// preprocess calibration images).
    pub manifest: Option<serde_json::Value>,
    /// Calibrate activation quantizers on these samples.
    pub calib: Option<Calibration>,
    /// Keep only these characters' classes of a CTC recogniser (see [`vocab`]).
    pub vocab: Option<Vec<char>>,
    /// Data-aware rounding of the weights on these samples (see [`gptq`]).
    pub gptq: Option<gptq::Settings>,
    /// Store the graph as an op list (format 1.1, what the browser runs); `false` keeps the
    /// ONNX graph with Slim custom nodes (format 1.0's layout, run by tract only).
    pub op_list: bool,
}

/// `--calib DIR --calib-method M --calib-count N`.
#[derive(Debug, Clone)]
pub struct Calibration {
    pub dir: std::path::PathBuf,
    pub method: calib::Method,
    pub count: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            prune: PrunePlan::None,
            bits: plan::Bits::default(),
            quantize: true,
            per_channel: true,
            scheme: Scheme::Symmetric,
            huffman: true,
            max_code_len: crate::huffman::DEFAULT_MAX_CODE_LEN,
            gap_bits: DEFAULT_GAP_BITS,
            keep: Vec::new(),
            manifest: None,
            calib: None,
            vocab: None,
            gptq: None,
            op_list: true,
        }
    }
}

/// Receives progress of long steps; the CLI draws bars, tests ignore it.
pub trait Progress {
    fn stage(&mut self, _name: &str, _total: u64) {}
    fn advance(&mut self, _n: u64) {}
    fn warn(&mut self, _msg: &str) {}
}

/// A [`Progress`] that ignores everything.
pub struct Silent;
impl Progress for Silent {}

/// One compressed layer in the report (and in META).
#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    pub name: String,
    pub op: LayerOp,
    pub role: Role,
    pub tensor: String,
    pub dims: Vec<usize>,
    pub sparsity: f64,
    pub bits: u32,
    pub encoding: &'static str,
    pub bytes: u64,
    pub bits_per_weight: f64,
    pub qdq: bool,
    /// The activation quantizer of the layer's input (scale, int8 zero point), if any.
    pub input_quant: Option<(f32, i64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub original_bytes: u64,
    pub slim_bytes: u64,
    pub reduction: f64,
    pub folded_batch_norms: usize,
    /// Other f32 initializers moved from GRPH to TENS.
    pub moved_to_tens: usize,
    pub prunable_weights: u64,
    pub overall_sparsity: f64,
    /// The output classes `--vocab` kept.
    pub vocab: Option<vocab::Restricted>,
    pub layers: Vec<LayerReport>,
    /// How the op list written to GRPH compared with tract on the same inputs; `None` when
    /// the graph could not be lowered and GRPH keeps the ONNX graph.
    pub lowering: Option<crate::engine::lower::Check>,
    pub warnings: Vec<String>,
}

/// Compresses an ONNX model; returns the `.slim` bytes and a report.
pub fn compress(onnx_bytes: &[u8], opts: &Options, progress: &mut dyn Progress) -> Result<(Vec<u8>, Report)> {
    if opts.quantize && !(1..=16).contains(&opts.max_code_len) {
        return Err(Error::InvalidArgument(format!("--max-code-len {} outside 1..=16", opts.max_code_len)));
    }
    let Prepared { mut model, opset, folded, mut layers, mut warnings, vocab } =
        prepare(onnx_bytes, opts, progress)?;
    let activations = match &opts.calib {
        Some(c) => calibrate(&model, &layers, c, opts, progress)?,
        None => vec![None; layers.len()],
    };
    // Layers whose quantizer came with the model (QDQ), before GPTQ fixes the others'.
    let qdq: Vec<bool> = layers.iter().map(|l| l.fixed_quant.is_some()).collect();
    progress.stage("prune", 0);
    opts.bits.check(&layers)?;
    // GPTQ compensates what pruning removed, so it needs the weights from before.
    let unpruned: Vec<Vec<f32>> =
        if opts.gptq.is_some() { layers.iter().map(|l| l.weights.clone()).collect() } else { Vec::new() };
    plan::apply(&opts.prune, &mut layers)?;
    let gptq_layers = match &opts.gptq {
        Some(s) => apply_gptq(&model, &mut layers, &unpruned, s, opts, progress)?,
        None => 0,
    };
    let graph = model.graph.as_mut().ok_or_else(|| Error::Onnx("model has no graph".into()))?;

    let total: u64 = layers.iter().map(|l| l.weights.len() as u64).sum();
    progress.stage("quantize + encode", total);
    let coding = if opts.huffman { Coding::Huffman { max_len: opts.max_code_len } } else { Coding::Fixed };
    let mut writer = SlimWriter::new();
    let mut reports = Vec::with_capacity(layers.len());
    for (layer, &qdq) in layers.iter().zip(&qdq) {
        let (tensor, encoding_bytes) = encode_layer(layer, opts, coding)?;
        let zeros = layer.weights.iter().filter(|&&w| w == 0.0).count();
        let n = layer.weights.len().max(1);
        reports.push(LayerReport {
            name: layer.name.clone(),
            op: layer.op,
            role: layer.role,
            tensor: layer.weight.clone(),
            dims: layer.dims.clone(),
            sparsity: zeros as f64 / n as f64,
            bits: match (opts.quantize, qdq) {
                (false, _) => 32,
                (true, true) => 8,
                (true, false) => opts.bits.of(&layer.name),
            },
            encoding: tensor.data.encoding_name(coding),
            bytes: encoding_bytes,
            bits_per_weight: encoding_bytes as f64 * 8.0 / n as f64,
            qdq,
            input_quant: None,
        });
        writer.add_tensor(tensor, coding);
        progress.advance(layer.weights.len() as u64);
    }
    for layer in &layers {
        rewrite_node(graph, layer);
    }
    warnings.extend(fold_activation_qdq(graph));
    // Calibrated quantizers go on Slim nodes that a QDQ pair did not already give one.
    for (layer, act) in layers.iter().zip(&activations) {
        let node = &mut graph.node[layer.node];
        if let (Some(p), None) = (act, onnx::attr(node, "input_scale")) {
            node.attribute.push(onnx::float_attr("input_scale", p.scales[0]));
            node.attribute.push(onnx::int_attr("input_zero_point", i64::from(p.zero_points[0])));
        }
    }
    for (r, layer) in reports.iter_mut().zip(&layers) {
        let node = &graph.node[layer.node];
        r.input_quant = onnx::attr(node, "input_scale")
            .map(|s| (s.f, onnx::attr(node, "input_zero_point").map_or(0, |z| z.i)));
    }
    graph::drop_dead_nodes(graph);
    let moved_to_tens = move_f32_initializers(graph, &mut writer, coding);
    model.opset_import.push(pb::OperatorSetIdProto {
        domain: onnx::SLIM_DOMAIN.into(),
        version: onnx::SLIM_DOMAIN_VERSION,
    });

    let prunable = total;
    let zeros: u64 = layers.iter().map(|l| l.weights.iter().filter(|&&w| w == 0.0).count() as u64).sum();
    writer.graph = Some(model.encode_to_vec());
    let extra = Extra { folded, vocab: vocab.as_ref(), gptq_layers };
    writer.meta = meta(onnx_bytes, &model, opset, opts, &reports, &extra)?;
    let (bytes, _) = writer.to_bytes()?;
    progress.stage("lower", 0);
    // A typical input shape, for dimensions the graph cannot leave open (a recogniser's
    // line height): the calibration manifest's, when there is one.
    let hint = calib::input_spec(&model, opts.manifest.as_ref()).ok().map(|s| vec![s.shape]);
    let lowered = if opts.op_list { Some(lower_graph(&bytes, Some(coding), hint.as_deref())) } else { None };
    let (bytes, lowering) = match lowered {
        None => (bytes, None),
        Some(Ok((b, check))) => (b, Some(check)),
        Some(Err(e)) => {
            warnings.push(format!(
                "the graph stays ONNX (the CLI runs it; the browser's small runtime cannot): {e}"
            ));
            (bytes, None)
        }
    };
    let report = Report {
        original_bytes: onnx_bytes.len() as u64,
        slim_bytes: bytes.len() as u64,
        reduction: onnx_bytes.len() as f64 / bytes.len() as f64,
        folded_batch_norms: folded,
        moved_to_tens,
        prunable_weights: prunable,
        overall_sparsity: if prunable > 0 { zeros as f64 / prunable as f64 } else { 0.0 },
        vocab,
        layers: reports,
        lowering,
        warnings,
    };
    Ok((bytes, report))
}

/// Largest relative difference accepted between the op list and tract on the same inputs:
/// the int8 layers quantize their inputs, so a last-bit f32 difference upstream can move
/// a code by one step.
const LOWERING_TOLERANCE: f64 = 2e-2;

/// Rewrites a `.slim` whose GRPH is ONNX with its graph lowered to an op list (format 1.1):
/// the int8 tensors the Slim layers use, the f32 constants of the simplified graph, and the
/// op list, after checking the op list against tract on two input sizes. `compress` calls
/// it on what it writes; `slimscan lower` on files written before the op list existed.
pub fn lower_graph(
    v1: &[u8],
    coding: Option<Coding>,
    hint: Option<&[Vec<usize>]>,
) -> Result<(Vec<u8>, crate::engine::lower::Check)> {
    use crate::exec::program::Op;
    let file = crate::format::read(v1, &crate::format::Limits::default())?;
    // Without an explicit coding: the one META says the file was compressed with.
    let coding = coding.unwrap_or_else(|| {
        let c = file.meta.get("compression");
        let huffman = c.and_then(|c| c.get("huffman")).and_then(|h| h.as_bool()).unwrap_or(true);
        let max_len = c.and_then(|c| c.get("max_code_len")).and_then(|m| m.as_u64());
        match (huffman, max_len) {
            (false, _) => Coding::Fixed,
            (true, Some(m)) => Coding::Huffman { max_len: m as u32 },
            (true, None) => Coding::default(),
        }
    });
    let mut reference = crate::engine::Model::load(v1)?;
    if reference.is_program() {
        return Err(Error::InvalidArgument("this .slim already holds an op list".into()));
    }
    let lowered = reference.lower(hint)?;
    let weights: std::collections::HashSet<&str> = lowered
        .program
        .nodes
        .iter()
        .filter_map(|n| match &n.op {
            Op::Slim(s) => Some(s.weight.as_str()),
            _ => None,
        })
        .collect();
    let mut w = SlimWriter::new();
    w.meta = file.meta;
    for t in file.tensors.into_iter().filter(|t| weights.contains(t.name.as_str())) {
        w.add_tensor(t, coding);
    }
    for t in lowered.constants {
        w.add_tensor(t, coding);
    }
    w.graph = Some(lowered.program.encode());
    let (bytes, _) = w.to_bytes()?;
    let mut candidate = crate::engine::Model::load(&bytes)?;
    let check = crate::engine::lower::check(&mut reference, &mut candidate, LOWERING_TOLERANCE)?;
    Ok((bytes, check))
}

/// The model after the graph preparation every path shares, and its compressible layers.
pub struct Prepared {
    pub model: pb::ModelProto,
    pub opset: Option<i64>,
    pub folded: usize,
    /// Compressible layers minus `--keep`, f32 weights in stored layout.
    pub layers: Vec<Layer>,
    pub warnings: Vec<String>,
    /// What `--vocab` kept.
    pub vocab: Option<vocab::Restricted>,
}

/// Decodes the model, turns constants into initializers, restricts the vocabulary, folds
/// BatchNorms, finds the layers.
pub fn prepare(onnx_bytes: &[u8], opts: &Options, progress: &mut dyn Progress) -> Result<Prepared> {
    let mut model = onnx::decode_model(onnx_bytes)?;
    let opset = onnx::default_opset(&model);
    let graph = model.graph.as_mut().ok_or_else(|| Error::Onnx("model has no graph".into()))?;
    graph::promote_constants(graph);
    let vocab = match &opts.vocab {
        Some(chars) => Some(vocab::restrict(&mut model, chars)?),
        None => None,
    };
    let graph = model.graph.as_mut().ok_or_else(|| Error::Onnx("model has no graph".into()))?;
    let folded = graph::fold_batch_norms(graph)?;
    let (found, warnings) = layers::find_layers(graph)?;
    for w in &warnings {
        progress.warn(w);
    }
    for k in &opts.keep {
        if !found.iter().any(|l| &l.name == k) {
            return Err(Error::InvalidArgument(format!(
                "--keep names {k:?}, which is not a compressible layer (see `slimscan compress --list-layers`)"
            )));
        }
    }
    let layers = found.into_iter().filter(|l| !opts.keep.contains(&l.name)).collect();
    Ok(Prepared { model, opset, folded, layers, warnings, vocab })
}

fn calib_spec(
    model: &pb::ModelProto,
    c: &Calibration,
    opts: &Options,
) -> Result<(Vec<std::path::PathBuf>, calib::InputSpec)> {
    let samples = calib::list_samples(&c.dir, c.count)?;
    let spec = calib::input_spec(model, opts.manifest.as_ref())?;
    Ok((samples, spec))
}

/// Activation quantizer of each layer's input, observed on the f32 model (BatchNorm folded,
/// before pruning) over the calibration samples.
fn calibrate(
    model: &pb::ModelProto,
    layers: &[Layer],
    c: &Calibration,
    opts: &Options,
    progress: &mut dyn Progress,
) -> Result<Vec<Option<QuantParams>>> {
    let (samples, spec) = calib_spec(model, c, opts)?;
    let g = model.graph.as_ref().ok_or_else(|| Error::Onnx("model has no graph".into()))?;
    let mut wires: Vec<String> = Vec::new();
    let mut wire_of = Vec::with_capacity(layers.len());
    for l in layers {
        let w = g.node[l.node].input.first().cloned().unwrap_or_default();
        wire_of.push(wires.iter().position(|x| *x == w).unwrap_or_else(|| {
            wires.push(w);
            wires.len() - 1
        }));
    }
    progress.stage("load model", 0);
    let capture = calib::Capture::new(model, &spec, &wires)?;
    progress.stage(&format!("calibrate ({})", c.method.name()), samples.len() as u64);
    let per_wire =
        calib::calibrate_wires(&capture, &samples, &spec, c.method, wires.len(), || progress.advance(1))?;
    Ok(wire_of.into_iter().map(|i| per_wire[i].clone()).collect())
}

/// GPTQ on every layer it applies to (after pruning, before encoding); the layers keep the
/// quantizer their codes were chosen for. Returns how many layers it changed.
fn apply_gptq(
    model: &pb::ModelProto,
    layers: &mut [Layer],
    unpruned: &[Vec<f32>],
    s: &gptq::Settings,
    opts: &Options,
    progress: &mut dyn Progress,
) -> Result<usize> {
    if !opts.quantize {
        return Err(Error::InvalidArgument("--gptq needs int8 quantization".into()));
    }
    if opts.scheme != Scheme::Symmetric {
        return Err(Error::InvalidArgument("--gptq needs symmetric quantization".into()));
    }
    let samples = calib::list_samples(&s.dir, s.count)?;
    let spec = calib::input_spec(model, opts.manifest.as_ref())?;
    let hessians = gptq::hessians(model, layers, &samples, &spec, progress)?;
    let todo: Vec<(usize, Vec<f64>)> =
        hessians.into_iter().enumerate().filter_map(|(i, h)| Some((i, h?))).collect();
    progress.stage("gptq", todo.len() as u64);
    let params: Vec<QuantParams> =
        todo.iter().map(|(i, _)| quant_params(&layers[*i], opts)).collect::<Result<_>>()?;
    // Largest layers first, spread over the cores.
    let mut order: Vec<usize> = (0..todo.len()).collect();
    order.sort_by_key(|&t| std::cmp::Reverse(todo[t].1.len()));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(todo.len().max(1));
    let layers_ro: &[Layer] = layers;
    let (tx, rx) = std::sync::mpsc::channel();
    let mut results: Vec<Option<Result<Vec<f32>>>> = (0..todo.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (todo, params, order, next) = (&todo, &params, &order, &next);
            scope.spawn(move || loop {
                let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&t) = order.get(at) else { break };
                let (i, h) = &todo[t];
                let l = &layers_ro[*i];
                let qmax = plan::Bits::qmax(opts.bits.of(&l.name));
                let orig = &unpruned[*i];
                let gone: Vec<bool> =
                    orig.iter().zip(&l.weights).map(|(&o, &p)| p == 0.0 && o != 0.0).collect();
                let r = gptq::quantize_layer(orig, &gone, l.dims[0], h, &params[t], qmax, s.damp)
                    .map_err(|e| Error::InvalidArgument(format!("{}: {e}", l.name)));
                if tx.send((t, r)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for (t, r) in rx {
            results[t] = Some(r);
            progress.advance(1);
        }
    });
    for ((t, (i, _)), p) in todo.iter().enumerate().zip(params) {
        let w = results[t]
            .take()
            .ok_or_else(|| Error::InvalidArgument("gptq: a layer was not done".into()))??;
        layers[*i].weights = w;
        layers[*i].fixed_quant = Some(p);
    }
    Ok(todo.len())
}

/// `--sensitivity`: per-layer output error at several sparsities on the calibration data
/// (rounded with GPTQ when `opts.gptq` is set).
pub fn sensitivity(
    onnx_bytes: &[u8],
    opts: &Options,
    c: &Calibration,
    progress: &mut dyn Progress,
) -> Result<Vec<sensitivity::Row>> {
    let p = prepare(onnx_bytes, opts, progress)?;
    let (samples, spec) = calib_spec(&p.model, c, opts)?;
    // With --gptq: statistics from its samples, errors measured on the --calib ones.
    let hessians = match &opts.gptq {
        Some(g) => {
            let gs = calib::list_samples(&g.dir, g.count)?;
            Some(gptq::hessians(&p.model, &p.layers, &gs, &spec, progress)?)
        }
        None => None,
    };
    sensitivity::measure(&p.model, &p.layers, opts, &samples, &spec, hessians.as_deref(), progress)
}

/// Quantizes and encodes one layer, choosing whichever of dense and sparse storage is smaller.
/// Returns the tensor and its record size in bytes.
fn encode_layer(layer: &Layer, opts: &Options, coding: Coding) -> Result<(Tensor, u64)> {
    let base = Tensor {
        name: layer.weight.clone(),
        dims: layer.dims.clone(),
        data: TensorData::F32(vec![]),
        quant: None,
    };
    if !opts.quantize {
        let t = Tensor { data: TensorData::F32(layer.weights.clone()), ..base };
        let size = record_size(&t, coding)?;
        return Ok((t, size));
    }
    let params = quant_params(layer, opts)?;
    let codes = quantize(&layer.weights, &layer.dims, &params)?;
    let dense =
        Tensor { data: TensorData::Int8Dense(codes.clone()), quant: Some(params.clone()), ..base.clone() };
    let dense_size = record_size(&dense, coding)?;
    if codes.iter().all(|&c| c != 0) {
        return Ok((dense, dense_size));
    }
    let sparse = Tensor {
        data: TensorData::Int8Sparse(encode_relative(&codes, opts.gap_bits)?),
        quant: Some(params),
        ..base
    };
    let sparse_size = record_size(&sparse, coding)?;
    Ok(if sparse_size < dense_size { (sparse, sparse_size) } else { (dense, dense_size) })
}

/// The quantizer for a layer: the QDQ model's own, or per channel / per tensor over its weights.
pub fn quant_params(layer: &Layer, opts: &Options) -> Result<QuantParams> {
    if let Some(p) = &layer.fixed_quant {
        return Ok(p.clone());
    }
    let mut p = if opts.per_channel {
        QuantParams::per_channel(&layer.weights, &layer.dims, 0, opts.scheme)?
    } else {
        QuantParams::per_tensor(&layer.weights, opts.scheme)
    };
    let bits = opts.bits.of(&layer.name);
    if bits < 8 && opts.scheme != Scheme::Symmetric {
        return Err(Error::InvalidArgument(format!(
            "{}: {bits}-bit weights need symmetric quantization",
            layer.name
        )));
    }
    if opts.scheme == Scheme::Symmetric {
        // Fewer bits: the same codes, a coarser step (|code| ≤ 2^(bits−1) − 1).
        let widen = p.qmax() as f32 / plan::Bits::qmax(bits) as f32;
        // Asymmetric zero points were derived from the exact scale; leave those alone.
        for s in &mut p.scales {
            *s = round_scale_up_to_bf16(*s * widen);
        }
    }
    Ok(p)
}

fn record_size(t: &Tensor, coding: Coding) -> Result<u64> {
    let mut w = SlimWriter::new();
    w.add_tensor(t.clone(), coding);
    let (_, report) = w.to_bytes()?;
    Ok(report.tensors[0].total_bytes)
}

/// Initializers with at least this many elements move from GRPH to TENS (biases, weights of
/// layers that were kept or not rewritten), where Huffman coding of their byte planes makes
/// them smaller. Tiny ones (shapes, scalars) stay in the graph.
pub const MOVE_TO_TENS_MIN_ELEMENTS: usize = 16;

/// Moves the f32 initializers left in the graph into TENS and leaves behind, in GRPH, an
/// ONNX external-data reference (`location` = `slim:TENS`, docs/FORMAT.md §7) that the
/// loader resolves. Returns how many tensors moved.
fn move_f32_initializers(g: &mut pb::GraphProto, writer: &mut SlimWriter, coding: Coding) -> usize {
    let mut moved = 0;
    for t in g.initializer.iter_mut() {
        let Ok(dims) = onnx::dims(t) else { continue };
        if dims.iter().product::<usize>() < MOVE_TO_TENS_MIN_ELEMENTS {
            continue;
        }
        let Ok(data) = onnx::tensor_f32(t) else { continue };
        writer.add_tensor(
            Tensor { name: t.name.clone(), dims, data: TensorData::F32(data), quant: None },
            coding,
        );
        *t = onnx::external_stub(t);
        moved += 1;
    }
    moved
}

/// Turns a Conv/Gemm/MatMul node into its `ai.slimscan` counterpart, which names its weight
/// tensor instead of reading it as an input.
fn rewrite_node(g: &mut pb::GraphProto, layer: &Layer) {
    let node = &mut g.node[layer.node];
    let data = node.input.first().cloned().unwrap_or_default();
    let bias = node.input.get(2).filter(|b| !b.is_empty()).cloned();
    let mut attrs: Vec<pb::AttributeProto> = match layer.op {
        LayerOp::Conv => node.attribute.clone(),
        LayerOp::Gemm => node.attribute.iter().filter(|a| a.name != "transB").cloned().collect(),
        LayerOp::MatMul => Vec::new(),
    };
    attrs.push(onnx::string_attr("weight", &layer.weight));
    node.op_type = match layer.op {
        LayerOp::Conv => "SlimConv",
        LayerOp::Gemm => "SlimGemm",
        LayerOp::MatMul => "SlimMatMul",
    }
    .into();
    node.domain = onnx::SLIM_DOMAIN.into();
    node.attribute = attrs;
    node.input = std::iter::once(data).chain(bias).collect();
}

/// Folds activation QuantizeLinear → DequantizeLinear pairs away (the Slim ops quantize their
/// own inputs); a Slim op fed by such a pair keeps its scale and zero point as
/// `input_scale` / `input_zero_point` attributes.
fn fold_activation_qdq(g: &mut pb::GraphProto) -> Vec<String> {
    let inits = graph::initializer_index(g);
    let prods = graph::producers(g);
    // (QDQ output, its f32 source, the activation's (scale, int8 zero point))
    type Rename = (String, String, Option<(f32, i64)>);
    let mut renames: Vec<Rename> = Vec::new();
    for dq in g.node.iter().filter(|n| n.op_type == "DequantizeLinear" && graph::is_default_domain(n)) {
        let Some(x) = dq.input.first() else { continue };
        if inits.contains_key(x) {
            continue;
        }
        let Some(q) = prods.get(x).map(|&p| &g.node[p]).filter(|n| n.op_type == "QuantizeLinear") else {
            continue;
        };
        let Some(src) = q.input.first() else { continue };
        if inits.contains_key(src) {
            continue; // a weight's fake-quant pair; the layer rewrite already consumed it
        }
        let scalar = |name: Option<&String>| {
            name.and_then(|n| inits.get(n))
                .map(|&i| &g.initializer[i])
                .filter(|t| t.dims.iter().product::<i64>() == 1)
        };
        // Activations are int8 in the engine: a uint8 zero point (also the default when the
        // pair has none) moves down by 128, which keeps every real value the same.
        let qparams = scalar(dq.input.get(1)).and_then(|s| onnx::tensor_f32(s).ok()).map(|s| {
            let zp = scalar(dq.input.get(2));
            let unsigned = zp.is_none_or(|z| z.data_type == pb::tensor_proto::DataType::Uint8 as i32);
            let z = zp.and_then(|z| onnx::tensor_ints(z).ok()).map_or(0, |z| z[0]);
            (s[0], if unsigned { z - 128 } else { z })
        });
        if let Some(out) = dq.output.first() {
            renames.push((out.clone(), src.clone(), qparams));
        }
    }
    let mut notes = Vec::new();
    for (from, to, qp) in &renames {
        for n in &mut g.node {
            for i in n.input.iter_mut().filter(|i| *i == from) {
                *i = to.clone();
                if let (Some((s, z)), true) = (qp, n.domain == onnx::SLIM_DOMAIN) {
                    n.attribute.push(onnx::float_attr("input_scale", *s));
                    n.attribute.push(onnx::int_attr("input_zero_point", *z));
                }
            }
        }
        for o in &mut g.output {
            if &o.name == from {
                notes.push(format!(
                    "graph output {from:?} came from a QDQ pair; it now carries the f32 value"
                ));
                o.name = to.clone();
            }
        }
    }
    notes
}

/// What META records besides the options and the layers.
struct Extra<'a> {
    folded: usize,
    vocab: Option<&'a vocab::Restricted>,
    gptq_layers: usize,
}

fn meta(
    onnx_bytes: &[u8],
    model: &pb::ModelProto,
    opset: Option<i64>,
    opts: &Options,
    layers: &[LayerReport],
    extra: &Extra,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let sha = Sha256::digest(onnx_bytes);
    let sha_hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
    let value = serde_json::json!({
        "format": "slimscan",
        "tool_version": env!("CARGO_PKG_VERSION"),
        "original": {
            "bytes": onnx_bytes.len(),
            "sha256": sha_hex,
            "producer": format!("{} {}", model.producer_name, model.producer_version).trim(),
            "opset": opset,
        },
        "compression": {
            "prune": opts.prune.describe(),
            "bits": opts.bits.describe(),
            "quant": if opts.quantize { "int8" } else { "none" },
            "granularity": if opts.per_channel { "per-channel" } else { "per-tensor" },
            "scheme": match opts.scheme { Scheme::Symmetric => "symmetric", Scheme::Asymmetric => "asymmetric" },
            "huffman": opts.huffman,
            "max_code_len": opts.max_code_len,
            "gap_bits": opts.gap_bits,
            "keep": opts.keep,
            "folded_batch_norms": extra.folded,
            "vocab": extra.vocab,
            "gptq": opts.gptq.as_ref().map(|g| serde_json::json!({
                "samples_max": g.count, "damp": g.damp, "layers": extra.gptq_layers,
            })),
            "calibration": opts.calib.as_ref().map(|c| serde_json::json!({
                "method": c.method.name(),
                "percentile": match c.method { calib::Method::Percentile(p) => Some(p), _ => None },
                "samples_max": c.count,
            })),
            "layers": layers.iter().map(|l| serde_json::json!({
                "name": l.name, "tensor": l.tensor, "role": l.role,
                "sparsity": (l.sparsity * 1e4).round() / 1e4, "bits": l.bits, "encoding": l.encoding,
                "input_quant": l.input_quant,
            })).collect::<Vec<_>>(),
        },
        "manifest": opts.manifest,
        "accuracy": serde_json::Value::Null,
    });
    match value {
        serde_json::Value::Object(m) => Ok(m),
        _ => Err(Error::InvalidArgument("META is not an object".into())),
    }
}

#[cfg(test)]
mod tests;
