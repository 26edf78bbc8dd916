//! `--vocab`: a small CTC-style recogniser head whose restricted output must be exactly the
//! selected columns of the full output, before and after compression.

use super::super::sample::{model_bytes, node, value_info};
use super::super::vocab::{self, parse};
use super::super::*;
use crate::engine::{F32Tensor, Model};
use crate::onnx::{f32_tensor, int_attr};
use crate::synth::SplitMix64;

/// Six characters: classes = blank + 6 + space.
const CHARS: &str = "a\nb\nc\nd\ne\nf";
const CLASSES: usize = 8;
const T: usize = 5;
const K: usize = 12;

/// `x [1, T, K] → MatMul [K, CLASSES] (or Gemm with transB) → Add bias → (Softmax) → y`.
fn head(softmax: bool, gemm: bool) -> pb::ModelProto {
    let mut r = SplitMix64::new(11);
    let w = r.uniform_vec(K * CLASSES, 0.5);
    let mut nodes = Vec::new();
    let mut inits = vec![f32_tensor("bias", &[CLASSES], &r.uniform_vec(CLASSES, 0.3))];
    let input = if gemm {
        // Gemm needs 2-D input: [T, K].
        inits.push(f32_tensor("w", &[CLASSES, K], &w));
        nodes.push(node("Gemm", "cls", &["x", "w"], &["logits"], vec![int_attr("transB", 1)]));
        value_info("x", &[T, K])
    } else {
        inits.push(f32_tensor("w", &[K, CLASSES], &w));
        nodes.push(node("MatMul", "cls", &["x", "w"], &["logits"], vec![]));
        value_info("x", &[1, T, K])
    };
    nodes.push(node("Add", "add", &["logits", "bias"], &[if softmax { "z" } else { "y" }], vec![]));
    if softmax {
        nodes.push(node("Softmax", "softmax", &["z"], &["y"], vec![int_attr("axis", -1)]));
    }
    let out_dims: &[usize] = if gemm { &[T, CLASSES] } else { &[1, T, CLASSES] };
    let graph = pb::GraphProto {
        name: "ctc_head".into(),
        node: nodes,
        initializer: inits,
        input: vec![input],
        output: vec![value_info("y", out_dims)],
        value_info: vec![value_info("logits", out_dims)],
        ..Default::default()
    };
    let mut m = pb::ModelProto::decode(model_bytes(graph, 13).as_slice()).unwrap();
    m.metadata_props.push(pb::StringStringEntryProto { key: "character".into(), value: CHARS.into() });
    m
}

fn run(bytes: &[u8], gemm: bool) -> (Model, Vec<f32>) {
    let mut m = Model::load(bytes).unwrap();
    let shape = if gemm { vec![T, K] } else { vec![1, T, K] };
    let x = SplitMix64::new(5).uniform_vec(T * K, 1.0);
    let y = m.run(vec![F32Tensor::new(shape, x).unwrap()]).unwrap();
    let y = y.into_iter().next().unwrap();
    assert_eq!(*y.shape.last().unwrap(), y.data.len() / T);
    (m, y.data)
}

fn columns(y: &[f32], n: usize, keep: &[usize]) -> Vec<f32> {
    y.chunks_exact(n).flat_map(|row| keep.iter().map(|&k| row[k])).collect()
}

fn softmax_rows(y: &[f32], n: usize) -> Vec<f32> {
    y.chunks_exact(n)
        .flat_map(|row| {
            let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            let e: Vec<f32> = row.iter().map(|&v| (v - m).exp()).collect();
            let s: f32 = e.iter().sum();
            e.into_iter().map(move |v| v / s)
        })
        .collect()
}

fn assert_close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol, "[{i}]: {x} vs {y}");
    }
}

/// Blank, b, d, f, space.
const KEEP: [usize; 5] = [0, 2, 4, 6, 7];

#[test]
fn restricted_logits_are_the_selected_columns_of_the_full_logits() {
    for gemm in [false, true] {
        let full = head(false, gemm);
        let mut cut = full.clone();
        let r = vocab::restrict(&mut cut, &parse("f\nb\nd\n").unwrap()).unwrap();
        assert_eq!((r.classes_before, r.classes_after, r.classifier.as_str()), (8, 5, "cls"));
        let (_, y_full) = run(&full.encode_to_vec(), gemm);
        let (m, y_cut) = run(&cut.encode_to_vec(), gemm);
        assert_close(&y_cut, &columns(&y_full, CLASSES, &KEEP), 1e-6);
        // The character list follows, in the model's order; the space stays the last class.
        assert_eq!(m.metadata("character"), Some("b\nd\nf"));
        let declared = |m: &pb::ModelProto, name: &str| {
            let g = m.graph.as_ref().unwrap();
            let vi = g.output.iter().chain(&g.value_info).find(|v| v.name == name).unwrap();
            onnx::declared_dims(vi).last().cloned()
        };
        assert_eq!(declared(&cut, "y"), Some(onnx::DeclaredDim::Fixed(5)));
        assert_eq!(declared(&cut, "logits"), Some(onnx::DeclaredDim::Fixed(5)));
    }
}

#[test]
fn compressed_restricted_model_matches_the_compressed_full_model_on_the_kept_classes() {
    let full = head(true, false).encode_to_vec();
    let opts = Options { vocab: Some(parse("bdf").unwrap()), ..Options::default() };
    let (cut_slim, report) = compress(&full, &opts, &mut Silent).unwrap();
    assert_eq!(report.vocab.as_ref().map(|v| v.classes_after), Some(5));
    let (full_slim, _) = compress(&full, &Options::default(), &mut Silent).unwrap();
    let (_, y_full) = run(&full_slim, false);
    let (m, y_cut) = run(&cut_slim, false);
    assert_eq!(m.metadata("character"), Some("b\nd\nf"));
    // Per-channel weight scales are per class, so the kept classes' logits are unchanged and the
    // softmax renormalises over them.
    let logits = y_full.chunks_exact(CLASSES).map(|row| row.iter().map(|p| p.ln()).collect::<Vec<_>>());
    let want: Vec<f32> =
        logits.flat_map(|l| softmax_rows(&columns(&l, CLASSES, &KEEP), KEEP.len())).collect();
    assert_close(&y_cut, &want, 1e-5);
    let slim = crate::format::read(&cut_slim, &crate::format::Limits::default()).unwrap();
    let meta = serde_json::Value::Object(slim.meta.clone());
    assert_eq!(meta["compression"]["vocab"]["classes_after"], 5);
}

#[test]
fn unknown_characters_are_listed() {
    let mut m = head(false, false);
    let err = vocab::restrict(&mut m, &parse("abxyz").unwrap()).unwrap_err().to_string();
    assert!(err.contains("\"xyz\""), "{err}");
    let mut no_meta = head(false, false);
    no_meta.metadata_props.clear();
    assert!(vocab::restrict(&mut no_meta, &['a']).unwrap_err().to_string().contains("character"));
}

#[test]
fn the_class_count_must_fit_the_character_list() {
    let mut m = head(false, false);
    m.metadata_props[0].value = "a\nb\nc".into();
    let err = vocab::restrict(&mut m, &['a']).unwrap_err().to_string();
    assert!(err.contains("8 outputs"), "{err}");
}

#[test]
fn vocabulary_files_select_every_character_but_line_breaks() {
    assert_eq!(parse("\u{feff}b\r\na\nb\n").unwrap(), vec!['a', 'b']);
    assert_eq!(parse("ab c").unwrap(), vec![' ', 'a', 'b', 'c']);
    assert!(parse("\n\r\n").is_err());
}
