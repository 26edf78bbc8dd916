//! Graph surgery on an ONNX `GraphProto`: who produces and who consumes each value, folding
//! BatchNormalization into the convolution before it, and dropping what became unused.

use crate::error::Result;
use crate::onnx::{self, attr_float, f32_tensor, tensor_f32};
use std::collections::{HashMap, HashSet};
use tract_onnx::pb;

/// Number of nodes reading each value, plus one for each graph output using it.
pub fn use_counts(g: &pb::GraphProto) -> HashMap<String, usize> {
    let mut uses: HashMap<String, usize> = HashMap::new();
    for n in &g.node {
        for i in n.input.iter().filter(|i| !i.is_empty()) {
            *uses.entry(i.clone()).or_default() += 1;
        }
    }
    for o in &g.output {
        *uses.entry(o.name.clone()).or_default() += 1;
    }
    uses
}

/// Index of each initializer by name.
pub fn initializer_index(g: &pb::GraphProto) -> HashMap<String, usize> {
    g.initializer.iter().enumerate().map(|(i, t)| (t.name.clone(), i)).collect()
}

/// Index of the node producing each value.
pub fn producers(g: &pb::GraphProto) -> HashMap<String, usize> {
    let mut p = HashMap::new();
    for (i, n) in g.node.iter().enumerate() {
        for o in &n.output {
            p.insert(o.clone(), i);
        }
    }
    p
}

pub fn is_default_domain(n: &pb::NodeProto) -> bool {
    n.domain.is_empty() || n.domain == "ai.onnx"
}

/// Turns constant-producing nodes into initializers so that weights are found wherever the
/// exporter put them: `Constant` nodes with a tensor `value` (PaddlePaddle exports keep every
/// weight that way) and `Identity` of an initializer (PyTorch shares equal tensors that way).
/// Returns how many nodes were replaced.
pub fn promote_constants(g: &mut pb::GraphProto) -> usize {
    let mut promoted = 0;
    loop {
        let inits = initializer_index(g);
        let found = g.node.iter().enumerate().find_map(|(i, n)| {
            if !is_default_domain(n) || n.output.len() != 1 {
                return None;
            }
            let tensor = match n.op_type.as_str() {
                "Constant" => n.attribute.iter().find(|a| a.name == "value").and_then(|a| a.t.clone()),
                "Identity" => n.input.first().and_then(|x| inits.get(x)).map(|&k| g.initializer[k].clone()),
                _ => None,
            }?;
            Some((i, tensor))
        });
        let Some((i, mut tensor)) = found else { break };
        tensor.name = g.node[i].output[0].clone();
        g.initializer.push(tensor);
        g.node.remove(i);
        promoted += 1;
    }
    promoted
}

/// Folds every `Conv → BatchNormalization` pair (the conv output read by nothing else, all
/// parameters constant) into the conv's weights and bias. Returns how many were folded.
pub fn fold_batch_norms(g: &mut pb::GraphProto) -> Result<usize> {
    let mut folded = 0;
    loop {
        let uses = use_counts(g);
        let inits = initializer_index(g);
        let producers = producers(g);
        let candidate = g.node.iter().enumerate().find_map(|(bi, bn)| {
            if bn.op_type != "BatchNormalization" || !is_default_domain(bn) || bn.output.len() != 1 {
                return None;
            }
            let x = bn.input.first()?;
            let ci = *producers.get(x)?;
            let conv = &g.node[ci];
            let params_const = bn.input.len() == 5 && bn.input[1..].iter().all(|i| inits.contains_key(i));
            let weight_const = conv.input.get(1).is_some_and(|w| inits.contains_key(w));
            let bias_ok = conv.input.get(2).is_none_or(|b| b.is_empty() || inits.contains_key(b));
            (conv.op_type == "Conv"
                && is_default_domain(conv)
                && uses.get(x) == Some(&1)
                && params_const
                && weight_const
                && bias_ok)
                .then_some((ci, bi))
        });
        let Some((ci, bi)) = candidate else { break };
        fold_one(g, ci, bi, &inits)?;
        folded += 1;
    }
    if folded > 0 {
        drop_unused_initializers(g);
    }
    Ok(folded)
}

fn fold_one(g: &mut pb::GraphProto, ci: usize, bi: usize, inits: &HashMap<String, usize>) -> Result<()> {
    let bn = g.node[bi].clone();
    let eps = attr_float(&bn, "epsilon", 1e-5);
    let get = |name: &str| tensor_f32(&g.initializer[inits[name]]);
    let (gamma, beta, mean, var) =
        (get(&bn.input[1])?, get(&bn.input[2])?, get(&bn.input[3])?, get(&bn.input[4])?);
    let conv = g.node[ci].clone();
    let w_init = &g.initializer[inits[&conv.input[1]]];
    let w_dims = onnx::dims(w_init)?;
    let mut w = tensor_f32(w_init)?;
    let out_ch = *w_dims.first().unwrap_or(&0);
    if [gamma.len(), beta.len(), mean.len(), var.len()].iter().any(|&l| l != out_ch) || out_ch == 0 {
        return Err(crate::Error::Onnx(format!(
            "BatchNormalization {:?} has parameters that do not match the {out_ch} channels of conv {:?}",
            bn.name, conv.name
        )));
    }
    let mut bias = match conv.input.get(2).filter(|b| !b.is_empty()) {
        Some(b) => get(b)?,
        None => vec![0.0; out_ch],
    };
    let per = w.len() / out_ch;
    for c in 0..out_ch {
        let f = gamma[c] / (var[c] + eps).sqrt();
        for x in &mut w[c * per..(c + 1) * per] {
            *x *= f;
        }
        bias[c] = (bias[c] - mean[c]) * f + beta[c];
    }
    // Never rewrite a tensor something else still reads: a shared weight gets a new name
    // (an unshared one keeps its own, which is what users see in reports and plans).
    let shared = g.node.iter().flat_map(|n| &n.input).filter(|i| **i == conv.input[1]).count() > 1;
    let w_name = if shared { format!("{}_bnfolded", conv.input[1]) } else { conv.input[1].clone() };
    if !shared {
        g.initializer.retain(|t| t.name != w_name);
    }
    let b_name = format!("{}_bnfolded_bias", conv.output[0]);
    g.initializer.push(f32_tensor(&w_name, &w_dims, &w));
    g.initializer.push(f32_tensor(&b_name, &[out_ch], &bias));
    let node = &mut g.node[ci];
    node.input.truncate(2);
    node.input[1] = w_name;
    node.input.push(b_name);
    node.output[0] = bn.output[0].clone();
    g.node.remove(bi);
    Ok(())
}

/// Removes nodes whose outputs nobody reads (repeatedly), then initializers nobody reads.
pub fn drop_dead_nodes(g: &mut pb::GraphProto) {
    loop {
        let uses = use_counts(g);
        let before = g.node.len();
        g.node.retain(|n| n.output.iter().any(|o| uses.get(o).copied().unwrap_or(0) > 0));
        if g.node.len() == before {
            break;
        }
    }
    drop_unused_initializers(g);
}

/// Removes initializers that no node reads and that are not graph outputs.
pub fn drop_unused_initializers(g: &mut pb::GraphProto) {
    let used: HashSet<String> = use_counts(g).into_keys().collect();
    let removed: HashSet<String> =
        g.initializer.iter().filter(|t| !used.contains(&t.name)).map(|t| t.name.clone()).collect();
    g.initializer.retain(|t| used.contains(&t.name));
    // Old exporters list initializers as graph inputs too; drop those entries with them.
    g.input.retain(|i| !removed.contains(&i.name));
}
