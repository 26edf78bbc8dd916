//! Preparing a `.slim` file's GRPH (an ONNX graph) for tract: putting the f32 tensors that
//! were moved to TENS back into their initializers, and folding the activation that follows
//! a Slim layer into it (docs/FORMAT.md §7), so the kernels apply it while the values are
//! still in registers.

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
    let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, n) in g.node.iter().enumerate() {
        for inp in &n.input {
            consumers.entry(inp.as_str()).or_default().push(i);
        }
    }
    let is_default = |n: &pb::NodeProto| n.domain.is_empty() || n.domain == "ai.onnx";
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
