//! Preparing a `.slim` file's GRPH (an ONNX graph) for tract: putting the f32 tensors that
//! were moved to TENS back into their initializers, turning Slim layers whose weights are f32
//! back into standard ONNX nodes, and folding the activation that follows an (int8) Slim layer
//! into it (docs/FORMAT.md §7), so the kernels apply it while the values are still in
//! registers.

use super::ops::{ACTIVATION_ATTR, ACTIVATION_MAX_ATTR, ACTIVATION_MIN_ATTR};
use crate::error::{Error, Result};
use crate::format::{Tensor, TensorData};
use crate::onnx::{self, TENS_LOCATION};
use std::collections::{HashMap, HashSet};
use tract_onnx::pb;

fn model_err(msg: String) -> Error {
    Error::Model(msg)
}

/// Fills every initializer stub whose data lives in TENS (`location = slim:TENS`) from the
/// f32 tensor of the same name, removing it from `tensors`. Returns the bytes restored.
pub fn resolve_external(g: &mut pb::GraphProto, tensors: &mut HashMap<String, Tensor>) -> Result<usize> {
    let mut bytes = 0;
    for init in &mut g.initializer {
        if init.external_data.is_empty() && init.data_location != Some(1) {
            continue;
        }
        let location = init.external_data.iter().find(|e| e.key == "location").map(|e| e.value.as_str());
        if location != Some(TENS_LOCATION) {
            return Err(model_err(format!(
                "initializer {:?} refers to external data {location:?}; only {TENS_LOCATION:?} is supported",
                init.name
            )));
        }
        let t = tensors
            .remove(&init.name)
            .ok_or_else(|| model_err(format!("initializer {:?} is missing from TENS", init.name)))?;
        let TensorData::F32(data) = t.data else {
            return Err(model_err(format!(
                "initializer {:?} is stored as int8 in TENS; f32 expected",
                init.name
            )));
        };
        let dims = onnx::dims(init)?;
        if dims != t.dims {
            return Err(model_err(format!(
                "initializer {:?} has shape {dims:?} in GRPH but {:?} in TENS",
                init.name, t.dims
            )));
        }
        init.raw_data = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        bytes += init.raw_data.len();
        init.data_type = pb::tensor_proto::DataType::Float as i32;
        init.external_data.clear();
        init.data_location = None;
        init.float_data.clear();
    }
    Ok(bytes)
}

/// Turns every Slim node whose weight is an f32 TENS tensor (`slimscan compress --quant none`:
/// pruned, not quantized) back into the standard ONNX node — `Conv`, `Gemm` with `transB = 1`,
/// or `MatMul` with the weight transposed back to `[K, N]` — with that weight as an ordinary
/// initializer, removing it from `tensors`. Returns how many nodes were restored.
///
/// Why: the integer kernels only take int8 weights, and tract runs these layers in f32 just as
/// it runs the original ONNX ops. Running this before [`fold_bias_adds`] and [`fuse_activations`]
/// leaves only int8 layers in the `ai.slimscan` domain, so no bias or activation is ever
/// folded into a node that tract will run. The slimscan-only attributes go: `weight`, the
/// `slimscan_activation*` ones, and the input quantizer (`input_scale`, `input_zero_point`),
/// since an f32 layer does not quantize its input.
pub fn restore_f32_layers(g: &mut pb::GraphProto, tensors: &mut HashMap<String, Tensor>) -> Result<usize> {
    let mut names: HashSet<String> = g.initializer.iter().map(|t| t.name.clone()).collect();
    let mut restored = 0;
    for node in &mut g.node {
        if node.domain != onnx::SLIM_DOMAIN {
            continue;
        }
        let Some(w) = onnx::attr(node, "weight").and_then(|a| std::str::from_utf8(&a.s).ok()) else {
            continue;
        };
        if !matches!(tensors.get(w).map(|t| &t.data), Some(TensorData::F32(_))) {
            continue;
        }
        let Some(Tensor { name, dims, data: TensorData::F32(data), .. }) = tensors.remove(w) else {
            continue;
        };
        let what = |msg: &str| {
            model_err(format!("{} {:?} with f32 weight {name:?}: {msg}", node.op_type, node.name))
        };
        if Some(data.len()) != crate::format::element_count(&dims) {
            return Err(what(&format!("{} values for shape {dims:?}", data.len())));
        }
        if !names.insert(name.clone()) {
            return Err(what("an initializer of that name is already in the graph"));
        }
        let x = node.input.first().cloned().unwrap_or_default();
        let bias = node.input.get(1).filter(|b| !b.is_empty()).cloned();
        let (op, init, extra) = match (node.op_type.as_str(), &dims[..]) {
            ("SlimConv", [_, _, _, _]) => ("Conv", onnx::f32_tensor(&name, &dims, &data), None),
            ("SlimGemm", [_, _]) => {
                ("Gemm", onnx::f32_tensor(&name, &dims, &data), Some(onnx::int_attr("transB", 1)))
            }
            ("SlimMatMul", &[n, k]) => {
                if bias.is_some() || node.input.len() != 1 {
                    return Err(what("SlimMatMul takes one input"));
                }
                ("MatMul", onnx::f32_tensor(&name, &[k, n], &onnx::transpose_f32(&data, n, k)), None)
            }
            (op, _) => return Err(what(&format!("unexpected shape {dims:?} for {op}"))),
        };
        g.initializer.push(init);
        node.op_type = op.into();
        node.domain = String::new();
        node.input = [x, name].into_iter().chain(bias).collect();
        node.attribute.retain(|a| {
            !matches!(a.name.as_str(), "weight" | "input_scale" | "input_zero_point" | "transB")
                && !a.name.starts_with(ACTIVATION_ATTR)
        });
        node.attribute.extend(extra);
        restored += 1;
    }
    Ok(restored)
}

/// Folds a per-channel constant `Add` that follows a `SlimConv` or `SlimGemm` into its bias
/// (exporters such as Paddle's write the bias that way), so that an activation after it can be
/// folded too. `out_channels` gives each Slim node's weight tensor's output channels. Returns
/// how many were folded.
pub fn fold_bias_adds(g: &mut pb::GraphProto, out_channels: &HashMap<String, usize>) -> usize {
    let graph_outputs: HashSet<String> = g.output.iter().map(|o| o.name.clone()).collect();
    let mut folded = 0;
    while let Some((slim, add, bias, new_output)) = find_bias_add(g, &graph_outputs, out_channels) {
        let name = format!("{}.slimscan_bias", g.node[slim].name.clone() + &g.node[slim].output[0]);
        let n = bias.len();
        g.initializer.push(onnx::f32_tensor(&name, &[n], &bias));
        let node = &mut g.node[slim];
        node.input.truncate(1);
        node.input.push(name);
        node.output = vec![new_output];
        g.node.remove(add);
        folded += 1;
    }
    folded
}

/// A Slim node whose only consumer is `Add(out, C)` with `C` a constant of one value per output
/// channel: (Slim index, Add index, the summed bias, the Add's output).
fn find_bias_add(
    g: &pb::GraphProto,
    graph_outputs: &HashSet<String>,
    out_channels: &HashMap<String, usize>,
) -> Option<(usize, usize, Vec<f32>, String)> {
    let inits: HashMap<&str, &pb::TensorProto> = g.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
    let consumers = consumer_index(g);
    for (i, n) in g.node.iter().enumerate() {
        let conv = match n.op_type.as_str() {
            "SlimConv" => true,
            "SlimGemm" => false,
            _ => continue,
        };
        if n.domain != onnx::SLIM_DOMAIN || onnx::attr(n, ACTIVATION_ATTR).is_some() || n.output.len() != 1 {
            continue;
        }
        let out = n.output[0].as_str();
        let Some(&o) = onnx::attr(n, "weight")
            .and_then(|a| std::str::from_utf8(&a.s).ok())
            .and_then(|w| out_channels.get(w))
        else {
            continue;
        };
        let &[c] = consumers.get(out).map(Vec::as_slice).unwrap_or(&[]) else { continue };
        let add = &g.node[c];
        if graph_outputs.contains(out)
            || add.op_type != "Add"
            || !is_default_domain(add)
            || add.input.len() != 2
        {
            continue;
        }
        let Some(other) = add.input.iter().find(|x| x.as_str() != out) else { continue };
        let Some(t) = inits.get(other.as_str()) else { continue };
        let Ok(dims) = onnx::dims(t) else { continue };
        // Broadcasts one value per channel: [O] / [1, O] for Gemm, [O, 1, 1] / [1, O, 1, 1] for Conv.
        let ok_shape = if conv {
            matches!(dims[..], [d, 1, 1] | [1, d, 1, 1] if d == o)
        } else {
            matches!(dims[..], [d] | [1, d] if d == o)
        };
        let Ok(values) = onnx::tensor_f32(t) else { continue };
        if !ok_shape || values.len() != o || add.output.len() != 1 {
            continue;
        }
        let old = match n.input.get(1).filter(|b| !b.is_empty()) {
            Some(b) => match inits.get(b.as_str()).and_then(|t| onnx::tensor_f32(t).ok()) {
                Some(v) if v.len() == o => v,
                _ => continue,
            },
            None => vec![0.0; o],
        };
        let summed = old.iter().zip(&values).map(|(a, b)| a + b).collect();
        return Some((i, c, summed, add.output[0].clone()));
    }
    None
}

fn is_default_domain(n: &pb::NodeProto) -> bool {
    n.domain.is_empty() || n.domain == "ai.onnx"
}

fn consumer_index(g: &pb::GraphProto) -> HashMap<&str, Vec<usize>> {
    let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, n) in g.node.iter().enumerate() {
        for inp in &n.input {
            consumers.entry(inp.as_str()).or_default().push(i);
        }
    }
    consumers
}

/// A scalar f32 initializer's value.
fn scalar(inits: &HashMap<&str, &pb::TensorProto>, name: &str) -> Option<f32> {
    let t = inits.get(name)?;
    onnx::tensor_f32(t).ok().filter(|v| v.len() == 1).map(|v| v[0])
}

/// Folds `Relu`, `Clip` with constant bounds, `HardSwish`, and `x · HardSigmoid(x)` with
/// HardSwish's constants into the Slim node whose only consumer they are. Returns how many
/// activations were folded.
pub fn fuse_activations(g: &mut pb::GraphProto) -> usize {
    let outputs: HashSet<String> = g.output.iter().map(|o| o.name.clone()).collect();
    let mut fused = 0;
    while let Some((slim, act, remove, new_output)) = find_fusable(g, &outputs) {
        let node = &mut g.node[slim];
        node.attribute.retain(|a| !a.name.starts_with("slimscan_activation"));
        match act {
            Fused::Relu => node.attribute.push(onnx::string_attr(ACTIVATION_ATTR, "relu")),
            Fused::HardSwish => node.attribute.push(onnx::string_attr(ACTIVATION_ATTR, "hardswish")),
            Fused::Clip(lo, hi) => {
                node.attribute.push(onnx::string_attr(ACTIVATION_ATTR, "clip"));
                node.attribute.push(onnx::float_attr(ACTIVATION_MIN_ATTR, lo));
                node.attribute.push(onnx::float_attr(ACTIVATION_MAX_ATTR, hi));
            }
        }
        node.output = vec![new_output];
        let mut remove = remove;
        remove.sort_unstable();
        for r in remove.into_iter().rev() {
            g.node.remove(r);
        }
        fused += 1;
    }
    fused
}

#[derive(Debug, Clone, Copy)]
enum Fused {
    Relu,
    Clip(f32, f32),
    HardSwish,
}

fn find_fusable(
    g: &pb::GraphProto,
    graph_outputs: &HashSet<String>,
) -> Option<(usize, Fused, Vec<usize>, String)> {
    let inits: HashMap<&str, &pb::TensorProto> = g.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
    let consumers = consumer_index(g);
    let is_default = is_default_domain;
    for (i, n) in g.node.iter().enumerate() {
        if n.domain != onnx::SLIM_DOMAIN || onnx::attr(n, ACTIVATION_ATTR).is_some() || n.output.len() != 1 {
            continue;
        }
        let out = n.output[0].as_str();
        if graph_outputs.contains(out) {
            continue;
        }
        let users = consumers.get(out).map(Vec::as_slice).unwrap_or(&[]);
        let single = |c: usize| {
            let user = &g.node[c];
            (is_default(user)
                && user.input.first().map(String::as_str) == Some(out)
                && user.output.len() == 1)
                .then_some(user)
        };
        match users {
            [c] => {
                let Some(user) = single(*c) else { continue };
                let act = match user.op_type.as_str() {
                    "Relu" => Fused::Relu,
                    "HardSwish" => Fused::HardSwish,
                    "Clip" => {
                        let bound = |ix: usize, attr: &str, default: f32| -> Option<f32> {
                            match user.input.get(ix).filter(|s| !s.is_empty()) {
                                Some(name) => scalar(&inits, name),
                                None => Some(onnx::attr(user, attr).map_or(default, |a| a.f)),
                            }
                        };
                        let (Some(lo), Some(hi)) =
                            (bound(1, "min", f32::NEG_INFINITY), bound(2, "max", f32::INFINITY))
                        else {
                            continue;
                        };
                        Fused::Clip(lo, hi)
                    }
                    _ => continue,
                };
                return Some((i, act, vec![*c], user.output[0].clone()));
            }
            [a, b] if decomposed_hardswish(g, &inits, &consumers, graph_outputs, out, *a, *b).is_some() => {
                let (remove, output) =
                    decomposed_hardswish(g, &inits, &consumers, graph_outputs, out, *a, *b)?;
                return Some((i, Fused::HardSwish, remove, output));
            }
            [a, b] => {
                // x · HardSigmoid(x) with alpha = 1/6, beta = 1/2 is HardSwish.
                let (hs, mul) = if g.node[*a].op_type == "HardSigmoid" { (*a, *b) } else { (*b, *a) };
                let (h, m) = (&g.node[hs], &g.node[mul]);
                let alpha = onnx::attr(h, "alpha").map_or(0.2, |a| a.f);
                let beta = onnx::attr(h, "beta").map_or(0.5, |a| a.f);
                let Some(h_out) = h.output.first() else { continue };
                let ok = h.op_type == "HardSigmoid"
                    && is_default(h)
                    && m.op_type == "Mul"
                    && is_default(m)
                    && (alpha - 1.0 / 6.0).abs() < 1e-6
                    && (beta - 0.5).abs() < 1e-6
                    && h.input.len() == 1
                    && m.input.len() == 2
                    && m.input.iter().any(|x| x == out)
                    && m.input.iter().any(|x| x == h_out)
                    && consumers.get(h_out.as_str()).map(Vec::len) == Some(1)
                    && !graph_outputs.contains(h_out)
                    && m.output.len() == 1;
                if ok {
                    return Some((i, Fused::HardSwish, vec![hs, mul], m.output[0].clone()));
                }
            }
            _ => {}
        }
    }
    None
}

/// `Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6)` (or the Mul's operands swapped, or `Mul` by 1/6
/// for the Div) is HardSwish; `a` and `b` are the two consumers of `x`. Returns the nodes to
/// remove and the last one's output.
fn decomposed_hardswish(
    g: &pb::GraphProto,
    inits: &HashMap<&str, &pb::TensorProto>,
    consumers: &HashMap<&str, Vec<usize>>,
    graph_outputs: &HashSet<String>,
    x: &str,
    a: usize,
    b: usize,
) -> Option<(Vec<usize>, String)> {
    let (add_i, mul_i) = if g.node[a].op_type == "Add" { (a, b) } else { (b, a) };
    let (add, mul) = (&g.node[add_i], &g.node[mul_i]);
    let other = |n: &pb::NodeProto, this: &str| -> Option<String> {
        (n.input.len() == 2 && n.input.iter().any(|v| v == this))
            .then(|| n.input.iter().find(|v| v.as_str() != this).cloned())
            .flatten()
    };
    let single = |name: &str| -> Option<usize> {
        match consumers.get(name).map(Vec::as_slice) {
            Some(&[c]) if !graph_outputs.contains(name) => Some(c),
            _ => None,
        }
    };
    let near = |v: Option<f32>, want: f32| v.is_some_and(|v| (v - want).abs() < 1e-6);
    if add.op_type != "Add" || mul.op_type != "Mul" || !is_default_domain(add) || !is_default_domain(mul) {
        return None;
    }
    if !near(scalar(inits, &other(add, x)?), 3.0) {
        return None;
    }
    let add_out = add.output.first()?;
    let clip_i = single(add_out)?;
    let clip = &g.node[clip_i];
    let bound = |ix: usize| clip.input.get(ix).filter(|s| !s.is_empty()).and_then(|n| scalar(inits, n));
    if clip.op_type != "Clip" || !near(bound(1), 0.0) || !near(bound(2), 6.0) {
        return None;
    }
    let clip_out = clip.output.first()?;
    if single(clip_out)? != mul_i || other(mul, x)? != *clip_out {
        return None;
    }
    let div_i = single(mul.output.first()?)?;
    let div = &g.node[div_i];
    let k = scalar(inits, &other(div, mul.output.first()?)?);
    let scaled = (div.op_type == "Div" && near(k, 6.0)) || (div.op_type == "Mul" && near(k, 1.0 / 6.0));
    if !scaled || !is_default_domain(div) || div.input.first() != mul.output.first() && div.op_type == "Div" {
        return None;
    }
    Some((vec![add_i, clip_i, mul_i, div_i], div.output.first()?.clone()))
}

const INT32: i64 = pb::tensor_proto::DataType::Int32 as i64;
const INT64: i64 = pb::tensor_proto::DataType::Int64 as i64;

/// The `to` of a `Cast` node.
fn cast_to(n: &pb::NodeProto) -> Option<i64> {
    if !(is_default_domain(n) && n.op_type == "Cast") {
        return None;
    }
    n.attribute.iter().find(|a| a.name == "to").map(|a| a.i)
}

/// Rewrites `Cast(to = INT32)` of a `Shape` output into `Cast(to = INT64)` where every value
/// derived from it through `Slice`, `Gather`, `Squeeze` or `Unsqueeze` ends in a
/// `Cast(to = INT64)`, so the result is the same. Paddle exports compute reshape targets
/// this way; tract folds shape arithmetic on symbolic sizes in INT64 but not through INT32,
/// so without the rewrite a recogniser cannot be prepared with its line width left open.
/// Returns how many casts were rewritten.
pub fn widen_shape_casts(g: &mut pb::GraphProto) -> usize {
    let rewrite: Vec<usize> = {
        let producers: HashMap<&str, usize> = g
            .node
            .iter()
            .enumerate()
            .flat_map(|(i, n)| n.output.iter().map(move |o| (o.as_str(), i)))
            .collect();
        let consumers = consumer_index(g);
        let outputs: HashSet<&str> = g.output.iter().map(|o| o.name.as_str()).collect();
        (0..g.node.len())
            .filter(|&i| {
                let n = &g.node[i];
                let from = n.input.first().and_then(|x| producers.get(x.as_str())).map(|&p| &g.node[p]);
                cast_to(n) == Some(INT32)
                    && from.is_some_and(|p| is_default_domain(p) && p.op_type == "Shape")
                    && ends_in_int64(g, &consumers, &outputs, i, 0)
            })
            .collect()
    };
    for &i in &rewrite {
        if let Some(a) = g.node[i].attribute.iter_mut().find(|a| a.name == "to") {
            a.i = INT64;
        }
    }
    rewrite.len()
}

/// Whether every use of `node`'s single output goes through index plumbing (`Slice`,
/// `Gather`, `Squeeze`, `Unsqueeze`, as their data input) to a `Cast(to = INT64)`.
fn ends_in_int64(
    g: &pb::GraphProto,
    consumers: &HashMap<&str, Vec<usize>>,
    outputs: &HashSet<&str>,
    node: usize,
    depth: usize,
) -> bool {
    let [out] = &g.node[node].output[..] else { return false };
    if depth > 8 || outputs.contains(out.as_str()) {
        return false;
    }
    let Some(users) = consumers.get(out.as_str()) else { return false };
    users.iter().all(|&u| {
        let c = &g.node[u];
        if cast_to(c) == Some(INT64) {
            return true;
        }
        is_default_domain(c)
            && matches!(c.op_type.as_str(), "Slice" | "Gather" | "Squeeze" | "Unsqueeze")
            && c.input.first() == Some(out)
            && !c.input[1..].contains(out)
            && ends_in_int64(g, consumers, outputs, u, depth + 1)
    })
}
