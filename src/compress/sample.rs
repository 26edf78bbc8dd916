//! A small, deterministic ONNX classifier built in code, so that tests, examples and fuzz
//! seeds have a real model to compress without shipping one: Conv 3×3 (3→8) → BatchNorm →
//! Relu → depthwise Conv 3×3 (8) → Relu → Conv 1×1 (8→16) → Relu → GlobalAveragePool →
//! Flatten → Gemm (16→10, `transB = 1`) → MatMul (10→4, weight `[K, N]`) on a
//! `1 × 3 × 16 × 16` input named `input`, output `logits`. Weights are uniform in ±1/√fan_in
//! (PyTorch's default init) from a fixed-seed generator.

use crate::onnx::{f32_tensor, int_attr, ints_attr};
use crate::synth::SplitMix64;
use tract_onnx::pb;

/// Input shape of [`tiny_cnn`].
pub const TINY_INPUT: [usize; 4] = [1, 3, 16, 16];

/// The sample's generator: [`SplitMix64`] with uniform helpers.
pub type Uniform = SplitMix64;

pub fn value_info(name: &str, dims: &[usize]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            denotation: String::new(),
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: pb::tensor_proto::DataType::Float as i32,
                shape: Some(pb::TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            denotation: String::new(),
                            value: Some(Value::DimValue(d as i64)),
                        })
                        .collect(),
                }),
            })),
        }),
        doc_string: String::new(),
    }
}

/// A node in the default domain.
pub fn node(
    op: &str,
    name: &str,
    inputs: &[&str],
    outputs: &[&str],
    attribute: Vec<pb::AttributeProto>,
) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.into(),
        name: name.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute,
        ..Default::default()
    }
}

/// A model around `graph` importing the default opset `opset`, as bytes.
pub fn model_bytes(graph: pb::GraphProto, opset: i64) -> Vec<u8> {
    use prost::Message;
    pb::ModelProto {
        ir_version: 8,
        producer_name: "slimscan-sample".into(),
        opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: opset }],
        graph: Some(graph),
        ..Default::default()
    }
    .encode_to_vec()
}

/// The graph of [`tiny_cnn`], for tests that edit it before encoding.
pub fn tiny_cnn_graph(seed: u64) -> pb::GraphProto {
    let mut r = Uniform::new(seed);
    let conv = |c: &[i64]| vec![ints_attr("kernel_shape", c), ints_attr("pads", &[1, 1, 1, 1])];
    let mut dw_attrs = conv(&[3, 3]);
    dw_attrs.push(int_attr("group", 8));
    let initializer = vec![
        f32_tensor("conv1.weight", &[8, 3, 3, 3], &r.uniform_vec(8 * 27, 1.0 / 27f32.sqrt())),
        f32_tensor("bn1.scale", &[8], &r.uniform_vec(8, 0.2).iter().map(|x| 1.0 + x).collect::<Vec<_>>()),
        f32_tensor("bn1.bias", &[8], &r.uniform_vec(8, 0.1)),
        f32_tensor("bn1.mean", &[8], &r.uniform_vec(8, 0.1)),
        f32_tensor("bn1.var", &[8], &r.uniform_vec(8, 0.3).iter().map(|x| 1.0 + x).collect::<Vec<_>>()),
        f32_tensor("dw.weight", &[8, 1, 3, 3], &r.uniform_vec(72, 1.0 / 3.0)),
        f32_tensor("dw.bias", &[8], &r.uniform_vec(8, 0.1)),
        f32_tensor("pw.weight", &[16, 8, 1, 1], &r.uniform_vec(128, 1.0 / 8f32.sqrt())),
        f32_tensor("pw.bias", &[16], &r.uniform_vec(16, 0.1)),
        f32_tensor("fc.weight", &[10, 16], &r.uniform_vec(160, 0.25)),
        f32_tensor("fc.bias", &[10], &r.uniform_vec(10, 0.1)),
        f32_tensor("head.weight", &[10, 4], &r.uniform_vec(40, 1.0 / 10f32.sqrt())),
    ];
    pb::GraphProto {
        name: "tiny_cnn".into(),
        node: vec![
            node("Conv", "conv1", &["input", "conv1.weight"], &["c1"], conv(&[3, 3])),
            node(
                "BatchNormalization",
                "bn1",
                &["c1", "bn1.scale", "bn1.bias", "bn1.mean", "bn1.var"],
                &["b1"],
                vec![],
            ),
            node("Relu", "relu1", &["b1"], &["r1"], vec![]),
            node("Conv", "dw", &["r1", "dw.weight", "dw.bias"], &["c2"], dw_attrs),
            node("Relu", "relu2", &["c2"], &["r2"], vec![]),
            node(
                "Conv",
                "pw",
                &["r2", "pw.weight", "pw.bias"],
                &["c3"],
                vec![ints_attr("kernel_shape", &[1, 1])],
            ),
            node("Relu", "relu3", &["c3"], &["r3"], vec![]),
            node("GlobalAveragePool", "pool", &["r3"], &["p"], vec![]),
            node("Flatten", "flatten", &["p"], &["f"], vec![int_attr("axis", 1)]),
            node("Gemm", "fc", &["f", "fc.weight", "fc.bias"], &["h"], vec![int_attr("transB", 1)]),
            node("MatMul", "head", &["h", "head.weight"], &["logits"], vec![]),
        ],
        initializer,
        input: vec![value_info("input", &TINY_INPUT)],
        output: vec![value_info("logits", &[1, 4])],
        ..Default::default()
    }
}

/// The sample model as ONNX bytes (opset 17).
pub fn tiny_cnn(seed: u64) -> Vec<u8> {
    model_bytes(tiny_cnn_graph(seed), 17)
}
