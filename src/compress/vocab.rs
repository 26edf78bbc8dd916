//! `--vocab FILE`: restricts a CTC recogniser's output classes to the characters a user
//! selects — structured pruning of the classifier's output rows, not an approximation: for
//! the kept classes the logits are exactly the original ones, only the dropped classes are
//! gone (a softmax after the classifier then normalises over the kept classes, so greedy
//! decoding picks the most probable *kept* character at each step).
//!
//! The model must follow PP-OCR's convention (see `scan::ocr::ctc`): the `character` entry of
//! `metadata_props` lists one character per line; class 0 is the CTC blank, classes `1..=n`
//! are the listed characters in order, and when the classifier has `n + 2` outputs the last
//! one is a space. The classifier is found by walking back from the graph output through
//! element-wise ops (Softmax, LogSoftmax, Identity, and Add/Sub/Mul with a constant) to a
//! MatMul or Gemm with a constant f32 weight whose output count is `n + 1` or `n + 2`.
//!
//! Kept: the blank, every listed character in the selection (in the model's order) and the
//! space class. The weight's output columns (rows for `Gemm` with `transB`) and any
//! per-class constant on the way (the bias) are sliced, the `character` metadata is rewritten
//! to the kept list, and declared shapes along the way that mention the old class count are
//! updated. Selected characters the model does not know are an error that lists them.
//!
//! The vocabulary file is UTF-8 text; every character in it is selected except line breaks
//! (`\n`, `\r`) and a leading byte-order mark, so a file may hold one character per line or
//! all of them on one line. A space is allowed (the space class is always kept).

use super::graph::{initializer_index, producers, use_counts};
use crate::error::{Error, Result};
use crate::onnx::{self, attr_int, f32_tensor, tensor_f32};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use tract_onnx::pb;

/// The metadata key holding the recogniser's character list.
pub const CHARACTER_KEY: &str = "character";

/// What a restriction did, for the report and META.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Restricted {
    /// The classifier node whose outputs were cut.
    pub classifier: String,
    /// Class count before and after (blank and space included).
    pub classes_before: usize,
    pub classes_after: usize,
}

fn invalid(msg: String) -> Error {
    Error::InvalidArgument(format!("--vocab: {msg}"))
}

/// The selected characters of a vocabulary file's text (see the module docs), sorted and
/// without repeats.
pub fn parse(text: &str) -> Result<Vec<char>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let chars: BTreeSet<char> = text.chars().filter(|&c| c != '\n' && c != '\r').collect();
    if chars.is_empty() {
        return Err(invalid("the vocabulary file selects no characters".into()));
    }
    Ok(chars.into_iter().collect())
}

/// The `character` metadata's entries, as `scan::ocr::ctc` reads them, and whether the text
/// ended with a line break.
fn entries(text: &str) -> (Vec<String>, bool) {
    let mut lines: Vec<String> =
        text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l).to_string()).collect();
    let trailing = lines.last().is_some_and(String::is_empty);
    if trailing {
        lines.pop();
    }
    (lines, trailing)
}

/// One step of the walk from the graph output back to the classifier.
struct Step {
    node: usize,
    /// Per-class constant inputs to slice (initializer indices).
    constants: Vec<usize>,
}

fn node_label(n: &pb::NodeProto) -> String {
    if n.name.is_empty() {
        format!("{} → {:?}", n.op_type, n.output.first().map_or("", String::as_str))
    } else {
        n.name.clone()
    }
}

/// Sets the last declared dimension of `vi` to `to` when it is `from`.
fn fix_last_dim(vi: &mut pb::ValueInfoProto, from: usize, to: usize) {
    use pb::tensor_shape_proto::dimension::Value;
    if let Some(pb::type_proto::Value::TensorType(t)) = vi.r#type.as_mut().and_then(|t| t.value.as_mut()) {
        if let Some(d) = t.shape.as_mut().and_then(|s| s.dim.last_mut()) {
            if d.value == Some(Value::DimValue(from as i64)) {
                d.value = Some(Value::DimValue(to as i64));
            }
        }
    }
}

/// Keeps the classes of `model` (a CTC recogniser, see the module docs) whose characters are in
/// `selected`, plus the blank and the space.
pub fn restrict(model: &mut pb::ModelProto, selected: &[char]) -> Result<Restricted> {
    let meta_at = model.metadata_props.iter().position(|p| p.key == CHARACTER_KEY).ok_or_else(|| {
        invalid("the model has no `character` metadata (not a PP-OCR-style CTC recogniser)".into())
    })?;
    let (chars, trailing) = entries(&model.metadata_props[meta_at].value);
    let known: HashMap<&str, usize> = chars.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
    let unknown: String =
        selected.iter().filter(|&&c| c != ' ' && !known.contains_key(c.to_string().as_str())).collect();
    if !unknown.is_empty() {
        return Err(invalid(format!(
            "{} selected characters are not in the model's character list: {unknown:?}",
            unknown.chars().count()
        )));
    }
    let g = model.graph.as_mut().ok_or_else(|| Error::Onnx("model has no graph".into()))?;
    let [output] = &g.output[..] else {
        return Err(invalid(format!("the model has {} outputs; a recogniser has one", g.output.len())));
    };
    let inits = initializer_index(g);
    let prods = producers(g);
    let uses = use_counts(g);

    // Walk back to the classifier, collecting the per-class constants on the way.
    let mut steps: Vec<Step> = Vec::new();
    let mut value = output.name.clone();
    let classifier = loop {
        let &at = prods.get(&value).ok_or_else(|| {
            invalid(format!("no node computes {value:?}, so no classifier was found before the output"))
        })?;
        let n = &g.node[at];
        match n.op_type.as_str() {
            "MatMul" | "Gemm" => break at,
            "Softmax" | "LogSoftmax" | "Identity" => {
                steps.push(Step { node: at, constants: Vec::new() });
                value = n.input.first().cloned().unwrap_or_default();
            }
            "Add" | "Sub" | "Mul" if n.input.len() == 2 => {
                let (c, x): (Vec<_>, Vec<_>) = n.input.iter().partition(|i| inits.contains_key(*i));
                let [c, x] = [c, x].map(|v| v.first().map(|s| s.to_string()));
                let (Some(c), Some(x)) = (c, x) else {
                    return Err(invalid(format!(
                        "{} {:?} before the output does not have exactly one constant input",
                        n.op_type,
                        node_label(n)
                    )));
                };
                steps.push(Step { node: at, constants: vec![inits[&c]] });
                value = x;
            }
            op => {
                return Err(invalid(format!(
                    "cannot follow {op} {:?} back to the classifier (supported between it and the \
                     output: Softmax, LogSoftmax, Identity, Add/Sub/Mul with a constant)",
                    node_label(n)
                )))
            }
        }
    };
    let cnode = &g.node[classifier];
    let label = node_label(cnode);
    let w_name = cnode.input.get(1).cloned().unwrap_or_default();
    let &w_at = inits
        .get(&w_name)
        .ok_or_else(|| invalid(format!("the classifier {label:?} has no constant weight")))?;
    let w = &g.initializer[w_at];
    let w_dims = onnx::dims(w)?;
    if w_dims.len() != 2 {
        return Err(invalid(format!("the classifier {label:?} has a weight of shape {w_dims:?}")));
    }
    // Output classes run along axis 1 of [K, N], or axis 0 when Gemm has transB.
    let class_axis = usize::from(!(cnode.op_type == "Gemm" && attr_int(cnode, "transB", 0) != 0));
    let n_before = w_dims[class_axis];
    let has_space = match n_before.checked_sub(chars.len()) {
        Some(2) => true,
        Some(1) => false,
        _ => {
            return Err(invalid(format!(
                "the classifier {label:?} has {n_before} outputs but the character list has {} \
                 entries ({} or {} outputs expected)",
                chars.len(),
                chars.len() + 1,
                chars.len() + 2
            )))
        }
    };
    if cnode.op_type == "Gemm" {
        if let Some(c) = cnode.input.get(2).filter(|c| !c.is_empty()) {
            let &at = inits.get(c).ok_or_else(|| {
                invalid(format!("the classifier {label:?} has a bias that is not constant"))
            })?;
            steps.push(Step { node: classifier, constants: vec![at] });
        }
    }
    let mut shared: Vec<&str> = Vec::new();
    for t in std::iter::once(w_at).chain(steps.iter().flat_map(|s| s.constants.iter().copied())) {
        if uses.get(&g.initializer[t].name).copied().unwrap_or(0) > 1 {
            shared.push(&g.initializer[t].name);
        }
    }
    if !shared.is_empty() {
        return Err(invalid(format!("constants {shared:?} of the classifier are also used elsewhere")));
    }

    let want: BTreeSet<char> = selected.iter().copied().collect();
    let mut keep: Vec<usize> = vec![0];
    let mut kept_chars: Vec<&str> = Vec::new();
    for (i, c) in chars.iter().enumerate() {
        let mut cs = c.chars();
        if let (Some(ch), None) = (cs.next(), cs.next()) {
            if want.contains(&ch) {
                keep.push(i + 1);
                kept_chars.push(c);
            }
        }
    }
    if has_space {
        keep.push(n_before - 1);
    }
    let n_after = keep.len();

    // The weight.
    let data = tensor_f32(w)?;
    let (rows, cols) = (w_dims[0], w_dims[1]);
    let sliced: Vec<f32> = if class_axis == 1 {
        (0..rows).flat_map(|r| keep.iter().map(|&c| data[r * cols + c]).collect::<Vec<_>>()).collect()
    } else {
        keep.iter().flat_map(|&r| data[r * cols..(r + 1) * cols].to_vec()).collect()
    };
    let mut new_dims = w_dims.clone();
    new_dims[class_axis] = n_after;
    g.initializer[w_at] = f32_tensor(&w_name, &new_dims, &sliced);

    // Per-class constants: sliced along their last axis when it holds the classes; scalars and
    // constants broadcast along the classes stay.
    for s in &steps {
        for &t in &s.constants {
            let c = &g.initializer[t];
            let dims = onnx::dims(c)?;
            match dims.last() {
                Some(&last) if last == n_before => {
                    let v = tensor_f32(c)?;
                    let sliced: Vec<f32> =
                        v.chunks_exact(n_before).flat_map(|row| keep.iter().map(|&k| row[k])).collect();
                    let mut d = dims.clone();
                    *d.last_mut().unwrap_or(&mut 0) = n_after;
                    g.initializer[t] = f32_tensor(&c.name.clone(), &d, &sliced);
                }
                Some(&1) | None => {}
                Some(_) => {
                    return Err(invalid(format!(
                        "constant {:?} on the way to the output has shape {dims:?}, which does not \
                         broadcast along {n_before} classes",
                        c.name
                    )))
                }
            }
        }
    }

    // Declared shapes of the values from the classifier to the output.
    let values: Vec<String> = std::iter::once(classifier)
        .chain(steps.iter().map(|s| s.node))
        .filter_map(|n| g.node[n].output.first().cloned())
        .collect();
    for vi in g.value_info.iter_mut().chain(g.output.iter_mut()) {
        if values.contains(&vi.name) {
            fix_last_dim(vi, n_before, n_after);
        }
    }

    let mut text = kept_chars.join("\n");
    if trailing {
        text.push('\n');
    }
    model.metadata_props[meta_at].value = text;
    Ok(Restricted { classifier: label, classes_before: n_before, classes_after: n_after })
}
