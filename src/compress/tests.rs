//! The compressor on models built in code: every stored weight is checked against an
//! independent computation of "pruned, then fake-quantized" from the original ONNX weights,
//! and the rewritten graph against the conventions of docs/FORMAT.md §7.

use super::sample::{model_bytes, node, tiny_cnn, tiny_cnn_graph};
use super::*;
use crate::format::{self, Limits, SlimFile};
use crate::quant::dequantize;
use crate::sparse::decode_relative;
use std::collections::HashMap;

/// Compressed with the graph left as ONNX: these tests read the rewritten graph and its
/// f32 initializers (the engine's tests run the default op list).
fn compress_with(onnx: &[u8], opts: &Options) -> (SlimFile, Report) {
    let opts = Options { op_list: false, ..opts.clone() };
    let (bytes, report) = compress(onnx, &opts, &mut Silent).unwrap();
    assert_eq!(report.slim_bytes, bytes.len() as u64);
    (format::read(&bytes, &Limits::default()).unwrap(), report)
}

fn original_weights(g: &pb::GraphProto) -> HashMap<String, (Vec<usize>, Vec<f32>)> {
    g.initializer
        .iter()
        .map(|t| (t.name.clone(), (onnx::dims(t).unwrap(), onnx::tensor_f32(t).unwrap())))
        .collect()
}

/// The weights a decoder gets back, as f32 in the stored layout.
fn decoded(file: &SlimFile, name: &str) -> (Vec<usize>, Vec<f32>, Option<QuantParams>) {
    let t = file.tensors.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no tensor {name}"));
    let values = match &t.data {
        TensorData::F32(v) => v.clone(),
        TensorData::Int8Dense(q) => dequantize(q, &t.dims, t.quant.as_ref().unwrap()).unwrap(),
        TensorData::Int8Sparse(s) => {
            dequantize(&decode_relative(s).unwrap(), &t.dims, t.quant.as_ref().unwrap()).unwrap()
        }
    };
    (t.dims.clone(), values, t.quant.clone())
}

/// Indices of the `k` smallest |w|, lower index first on ties (the documented rule).
fn smallest(w: &[f32], k: usize) -> Vec<bool> {
    let mut idx: Vec<usize> = (0..w.len()).collect();
    idx.sort_by(|&a, &b| w[a].abs().total_cmp(&w[b].abs()).then(a.cmp(&b)));
    let mut mask = vec![false; w.len()];
    for &i in &idx[..k] {
        mask[i] = true;
    }
    mask
}

/// Checks a stored per-channel symmetric tensor against `expected_f32` (stored layout) pruned
/// to `sparsity` by magnitude: zeros exactly where pruned, elsewhere `clamp(round(w/s)) × s`.
fn assert_pruned_fake_quantized(file: &SlimFile, name: &str, expected_f32: &[f32], sparsity: f64) {
    let (dims, got, quant) = decoded(file, name);
    let q = quant.expect("int8");
    assert_eq!(q.axis, Some(0), "{name}: per output channel");
    let per = expected_f32.len() / dims[0];
    let k = (sparsity * expected_f32.len() as f64).round() as usize;
    let pruned = smallest(expected_f32, k);
    for (i, (&w, &g)) in expected_f32.iter().zip(&got).enumerate() {
        let s = q.scales[i / per];
        let want = if pruned[i] { 0.0 } else { (w / s).round().clamp(-127.0, 127.0) * s };
        assert_eq!(g, want, "{name}[{i}]: w = {w}, s = {s}");
        assert!(pruned[i] || (g - w).abs() <= s / 2.0 * 1.0001, "{name}[{i}] within s/2");
    }
    // Scales: max |w| of the channel / 127, rounded up to bfloat16.
    for (c, &s) in q.scales.iter().enumerate() {
        let m = expected_f32[c * per..(c + 1) * per].iter().fold(0f32, |a, w| a.max(w.abs()));
        assert!(
            s >= m / 127.0 && s <= m / 127.0 * 1.0079 + f32::MIN_POSITIVE,
            "{name} scale {c}: {s} vs {m}"
        );
        assert_eq!(s.to_bits() & 0xFFFF, 0, "scale is a bfloat16");
    }
}

#[test]
fn every_weight_is_the_pruned_fake_quantized_original() {
    let g = tiny_cnn_graph(7);
    let orig = original_weights(&g);
    let plan = PrunePlan::PerLayer {
        default: 0.5,
        layers: [("conv1".to_string(), 0.25), ("head".to_string(), 0.0)].into_iter().collect(),
    };
    let opts = Options { prune: plan, ..Options::default() };
    let (file, report) = compress_with(&model_bytes(g, 17), &opts);
    assert_eq!(report.layers.len(), 5);
    assert_eq!(report.folded_batch_norms, 1);

    // conv1 had BatchNorm folded in: w × γ / √(var + ε), per output channel.
    let (_, w) = &orig["conv1.weight"];
    let (gamma, var) = (&orig["bn1.scale"].1, &orig["bn1.var"].1);
    let folded: Vec<f32> =
        w.iter().enumerate().map(|(i, &x)| x * (gamma[i / 27] / (var[i / 27] + 1e-5).sqrt())).collect();
    assert_pruned_fake_quantized(&file, "conv1.weight", &folded, 0.25);
    assert_pruned_fake_quantized(&file, "dw.weight", &orig["dw.weight"].1, 0.5);
    assert_pruned_fake_quantized(&file, "pw.weight", &orig["pw.weight"].1, 0.5);
    assert_pruned_fake_quantized(&file, "fc.weight", &orig["fc.weight"].1, 0.5);
    // MatMul weight [K=10, N=4] is stored [N, K].
    let (dims, _, _) = decoded(&file, "head.weight");
    assert_eq!(dims, vec![4, 10]);
    assert_pruned_fake_quantized(
        &file,
        "head.weight",
        &crate::onnx::transpose_f32(&orig["head.weight"].1, 10, 4),
        0.0,
    );
    // Biases moved to TENS are bit-exact f32.
    assert_eq!(decoded(&file, "pw.bias").1, orig["pw.bias"].1);
}

#[test]
fn global_pruning_hits_the_exact_total_and_spares_sensitive_layers() {
    let (_, report) =
        compress_with(&tiny_cnn(3), &Options { prune: PrunePlan::Global(0.6), ..Options::default() });
    let total: usize = report.layers.iter().map(|l| l.dims.iter().product::<usize>()).sum();
    let zeros: f64 = report.layers.iter().map(|l| l.sparsity * l.dims.iter().product::<usize>() as f64).sum();
    assert_eq!(zeros.round() as usize, (0.6 * total as f64).round() as usize);
    let of = |n: &str| report.layers.iter().find(|l| l.name == n).unwrap();
    assert_eq!(of("conv1").role, Role::First);
    assert_eq!(of("dw").role, Role::Depthwise);
    assert_eq!(of("head").role, Role::Classifier);
    for sensitive in ["conv1", "dw", "head"] {
        assert!(of(sensitive).sparsity < of("pw").sparsity, "{sensitive} pruned less than the body");
    }
}

#[test]
fn graph_is_rewritten_to_slim_ops_with_external_stubs() {
    let (file, report) = compress_with(&tiny_cnn(1), &Options::default());
    let model = pb::ModelProto::decode(file.graph.as_deref().unwrap()).unwrap();
    assert!(model.opset_import.iter().any(|o| o.domain == onnx::SLIM_DOMAIN && o.version == 1));
    let g = model.graph.unwrap();
    let ops: Vec<&str> = g.node.iter().map(|n| n.op_type.as_str()).collect();
    assert_eq!(
        ops,
        [
            "SlimConv",
            "Relu",
            "SlimConv",
            "Relu",
            "SlimConv",
            "Relu",
            "GlobalAveragePool",
            "Flatten",
            "SlimGemm",
            "SlimMatMul"
        ]
    );
    let names: Vec<&str> = file.tensors.iter().map(|t| t.name.as_str()).collect();
    for n in g.node.iter().filter(|n| n.domain == onnx::SLIM_DOMAIN) {
        let w = onnx::attr(n, "weight").map(|a| String::from_utf8_lossy(&a.s).to_string()).unwrap();
        assert!(names.contains(&w.as_str()), "{w} in TENS");
        assert!(!n.input.contains(&w), "weight is not an input");
        assert!(onnx::attr(n, "transB").is_none());
    }
    // The folded BN left a bias on conv1; every initializer ≥ 16 elements is an external stub.
    let conv1 = &g.node[0];
    assert_eq!(conv1.input.len(), 2, "conv1 has a bias after folding");
    for t in &g.initializer {
        let n: i64 = t.dims.iter().product();
        assert_eq!(n >= 16, t.external_data.iter().any(|e| e.value == "slim:TENS"), "{}", t.name);
    }
    assert!(report.moved_to_tens >= 1);
    // META keeps the original's size and hash and every setting.
    let meta = &file.meta;
    assert_eq!(meta["original"]["bytes"], tiny_cnn(1).len());
    assert_eq!(meta["original"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(meta["compression"]["quant"], "int8");
    assert_eq!(meta["compression"]["layers"].as_array().unwrap().len(), 5);
    assert!(meta.contains_key("accuracy"));
}

#[test]
fn keep_leaves_a_layer_as_it_was_and_unknown_names_are_errors() {
    let opts = Options { keep: vec!["fc".into()], ..Options::default() };
    let (file, report) = compress_with(&tiny_cnn(2), &opts);
    assert!(report.layers.iter().all(|l| l.name != "fc"));
    let model = pb::ModelProto::decode(file.graph.as_deref().unwrap()).unwrap();
    assert!(model.graph.unwrap().node.iter().any(|n| n.op_type == "Gemm" && n.name == "fc"));
    assert_eq!(decoded(&file, "fc.weight").0, vec![10, 16], "kept weight moved raw, original layout");

    let err =
        compress(&tiny_cnn(2), &Options { keep: vec!["nope".into()], ..Options::default() }, &mut Silent)
            .unwrap_err()
            .to_string();
    assert!(err.contains("nope") && err.contains("--list-layers"), "{err}");
    let plan =
        PrunePlan::PerLayer { default: 0.0, layers: [("conv9".to_string(), 0.5)].into_iter().collect() };
    let err = compress(&tiny_cnn(2), &Options { prune: plan, ..Options::default() }, &mut Silent)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown layers") && err.contains("conv9"), "{err}");
}

#[test]
fn not_onnx_and_truncated_protobufs_are_explained() {
    let bytes = tiny_cnn(4);
    let cases: [(&[u8], &str); 4] = [
        (&[], "empty"),
        (b"\x89PNG\r\n\x1a\n this is an image", "not an ONNX model"),
        (&bytes[..bytes.len() / 2], "truncated"),
        (&bytes[..bytes.len() - 3], "truncated"),
    ];
    for (input, want) in cases {
        let err = compress(input, &Options::default(), &mut Silent).unwrap_err().to_string();
        assert!(err.contains(want), "{} bytes: {err:?} should say {want:?}", input.len());
    }
}

#[test]
fn unquantized_and_fixed_width_options_round_trip() {
    let g = tiny_cnn_graph(5);
    let orig = original_weights(&g);
    let opts =
        Options { quantize: false, huffman: false, prune: PrunePlan::Global(0.5), ..Options::default() };
    let (file, _) = compress_with(&model_bytes(g, 17), &opts);
    let (_, pw, q) = decoded(&file, "pw.weight");
    assert!(q.is_none());
    for (a, b) in pw.iter().zip(&orig["pw.weight"].1) {
        assert!(*a == 0.0 || a == b, "unquantized weights are kept bit-exact or pruned");
    }
    assert!(file.sizes.tensors.iter().all(|t| t
        .values
        .iter()
        .chain(&t.gaps)
        .all(|s| s.coding == Coding::Fixed)));
}

/// Per-channel int8 weights behind DequantizeLinear, and activations through uint8 QDQ pairs.
fn qdq_model() -> (Vec<u8>, Vec<i8>, Vec<f32>) {
    use crate::onnx::f32_tensor;
    let codes: Vec<i8> = (0..4 * 3 * 9).map(|i| ((i * 29) % 255) as i8).collect();
    let scales = vec![0.01f32, 0.02, 0.03, 0.04];
    let int8 = |name: &str, dims: &[i64], v: &[i8]| pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: pb::tensor_proto::DataType::Int8 as i32,
        raw_data: v.iter().map(|&x| x as u8).collect(),
        ..Default::default()
    };
    let uint8 = |name: &str, v: u8| pb::TensorProto {
        name: name.into(),
        data_type: pb::tensor_proto::DataType::Uint8 as i32,
        raw_data: vec![v],
        ..Default::default()
    };
    let graph = pb::GraphProto {
        name: "qdq".into(),
        node: vec![
            node("QuantizeLinear", "q_in", &["input", "a_scale", "a_zp"], &["xq"], vec![]),
            node("DequantizeLinear", "dq_in", &["xq", "a_scale", "a_zp"], &["xd"], vec![]),
            node(
                "DequantizeLinear",
                "dq_w",
                &["w_q", "w_scale", "w_zp"],
                &["w"],
                vec![onnx::int_attr("axis", 0)],
            ),
            node("Conv", "conv", &["xd", "w"], &["out"], vec![onnx::ints_attr("kernel_shape", &[3, 3])]),
        ],
        initializer: vec![
            int8("w_q", &[4, 3, 3, 3], &codes),
            f32_tensor("w_scale", &[4], &scales),
            int8("w_zp", &[4], &[0; 4]),
            f32_tensor("a_scale", &[], &[0.05]),
            uint8("a_zp", 100),
        ],
        input: tiny_cnn_graph(0).input,
        output: vec![],
        ..Default::default()
    };
    let mut graph = graph;
    graph.output = vec![pb::ValueInfoProto { name: "out".into(), ..Default::default() }];
    (model_bytes(graph, 17), codes, scales)
}

#[test]
fn qdq_models_keep_their_scales_and_codes_and_lose_their_qdq_pairs() {
    let (onnx, codes, scales) = qdq_model();
    let (file, report) = compress_with(&onnx, &Options::default());
    assert!(report.layers[0].qdq);
    let t = file.tensors.iter().find(|t| t.name == report.layers[0].tensor).unwrap();
    let q = t.quant.as_ref().unwrap();
    assert_eq!(q.scales, scales, "QDQ scales used as they are");
    let stored = match &t.data {
        TensorData::Int8Dense(v) => v.clone(),
        TensorData::Int8Sparse(s) => decode_relative(s).unwrap(),
        TensorData::F32(_) => panic!("stored as f32"),
    };
    assert_eq!(stored, codes, "QDQ codes stored exactly");
    let g = pb::ModelProto::decode(file.graph.as_deref().unwrap()).unwrap().graph.unwrap();
    assert_eq!(g.node.len(), 1, "QDQ pairs folded away: {:?}", g.node);
    let conv = &g.node[0];
    assert_eq!(conv.op_type, "SlimConv");
    assert_eq!(conv.input, vec!["input".to_string()]);
    assert_eq!(onnx::attr(conv, "input_scale").unwrap().f, 0.05);
    assert_eq!(
        onnx::attr(conv, "input_zero_point").unwrap().i,
        100 - 128,
        "uint8 zero point shifted to int8"
    );
}

fn calib_dir(tag: &str, samples: usize, shape: &[usize]) -> (std::path::PathBuf, Vec<Vec<f32>>) {
    let dir = std::env::temp_dir().join(format!("slimscan-calib-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut r = super::sample::Uniform::new(99);
    let n: usize = shape.iter().product();
    let xs: Vec<Vec<f32>> = (0..samples).map(|i| r.uniform_vec(n, 1.0 + i as f32)).collect();
    for (i, x) in xs.iter().enumerate() {
        let a = crate::npy::Array { shape: shape.to_vec(), data: x.clone() };
        std::fs::write(dir.join(format!("s{i:02}.npy")), crate::npy::write(&a).unwrap()).unwrap();
    }
    (dir, xs)
}

fn with_calib(dir: &std::path::Path, method: calib::Method) -> Options {
    Options { calib: Some(Calibration { dir: dir.to_path_buf(), method, count: 100 }), ..Options::default() }
}

#[test]
fn minmax_calibration_puts_the_observed_input_range_on_each_slim_node() {
    let (dir, xs) = calib_dir("minmax", 3, &super::sample::TINY_INPUT);
    let (file, report) = compress_with(&tiny_cnn(8), &with_calib(&dir, calib::Method::MinMax));
    let g = pb::ModelProto::decode(file.graph.as_deref().unwrap()).unwrap().graph.unwrap();
    let slim: Vec<&pb::NodeProto> = g.node.iter().filter(|n| n.domain == onnx::SLIM_DOMAIN).collect();
    assert_eq!(slim.len(), 5);
    for n in &slim {
        assert!(onnx::attr(n, "input_scale").is_some_and(|a| a.f > 0.0), "{} calibrated", n.name);
        let z = onnx::attr(n, "input_zero_point").unwrap().i;
        assert!((-128..=127).contains(&z));
    }
    // conv1 reads the raw input: its range is the samples' own min and max.
    let (lo, hi) = xs.iter().flatten().fold((0f32, 0f32), |(a, b), &x| (a.min(x), b.max(x)));
    let conv1 = onnx::attr(slim[0], "input_scale").unwrap().f;
    assert!((conv1 - (hi - lo) / 255.0).abs() <= 1e-6 * conv1.max(1.0), "{conv1} vs {}", (hi - lo) / 255.0);
    // After a Relu the range starts at 0, so the zero point sits at −128.
    assert_eq!(onnx::attr(slim[1], "input_zero_point").unwrap().i, -128);
    assert_eq!(report.layers[0].input_quant.map(|q| q.0), Some(conv1));
    assert_eq!(file.meta["compression"]["calibration"]["method"], "minmax");
}

#[test]
fn entropy_and_percentile_clip_no_wider_than_minmax() {
    let (dir, _) = calib_dir("methods", 4, &super::sample::TINY_INPUT);
    let scales = |m| {
        let (_, r) = compress_with(&tiny_cnn(9), &with_calib(&dir, m));
        r.layers.iter().map(|l| l.input_quant.unwrap().0).collect::<Vec<f32>>()
    };
    let minmax = scales(calib::Method::MinMax);
    for m in [calib::Method::Entropy, calib::Method::Percentile(99.0)] {
        for (a, b) in scales(m).iter().zip(&minmax) {
            assert!(*a <= *b * 1.0001 && *a > 0.0, "{m:?}: {a} vs minmax {b}");
        }
    }
}

#[test]
fn bad_calibration_sets_are_explained() {
    let empty = std::env::temp_dir().join(format!("slimscan-calib-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let err = compress(&tiny_cnn(1), &with_calib(&empty, calib::Method::MinMax), &mut Silent).unwrap_err();
    assert!(err.to_string().contains("no calibration samples"), "{err}");

    let (wrong, _) = calib_dir("wrong", 2, &[1, 3, 8, 8]);
    let err = compress(&tiny_cnn(1), &with_calib(&wrong, calib::Method::MinMax), &mut Silent).unwrap_err();
    assert!(err.to_string().contains("[1, 3, 8, 8]") && err.to_string().contains("[1, 3, 16, 16]"), "{err}");

    std::fs::write(wrong.join("a.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let err = compress(&tiny_cnn(1), &with_calib(&wrong, calib::Method::MinMax), &mut Silent).unwrap_err();
    assert!(err.to_string().contains("a.png"), "{err}");

    let missing = empty.join("nope");
    let err = compress(&tiny_cnn(1), &with_calib(&missing, calib::Method::MinMax), &mut Silent).unwrap_err();
    assert!(err.to_string().contains("cannot read the folder"), "{err}");
}

#[test]
fn images_are_resized_cropped_and_normalised() {
    let dir = std::env::temp_dir().join(format!("slimscan-calib-img-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // 40×20 image: left half black, right half white; a 16×16 centre crop after resizing to
    // 32×16 keeps both halves.
    let img = image::RgbImage::from_fn(40, 20, |x, _| {
        if x < 20 {
            image::Rgb([0, 0, 0])
        } else {
            image::Rgb([255, 255, 255])
        }
    });
    img.save(dir.join("half.png")).unwrap();
    let model = onnx::decode_model(&tiny_cnn(1)).unwrap();
    let manifest = serde_json::json!({"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]});
    let spec = calib::input_spec(&model, Some(&manifest)).unwrap();
    assert_eq!(spec.shape, vec![1, 3, 16, 16]);
    let x = calib::load_sample(&dir.join("half.png"), &spec).unwrap();
    assert_eq!(x.len(), 3 * 16 * 16);
    assert_eq!((x[0], x[15]), (-1.0, 1.0), "black → −1, white → +1 with mean = std = 0.5");
}

#[test]
fn sensitivity_grows_with_sparsity() {
    let (dir, _) = calib_dir("sens", 2, &super::sample::TINY_INPUT);
    let c = Calibration { dir, method: calib::Method::MinMax, count: 2 };
    let rows = super::sensitivity(&tiny_cnn(3), &Options::default(), &c, &mut Silent).unwrap();
    assert_eq!(rows.len(), 5);
    for r in &rows {
        assert_eq!(r.errors.len(), sensitivity::SPARSITIES.len());
        assert!(r.errors[0] < 0.02, "{}: int8 alone changes the output by {}", r.name, r.errors[0]);
        assert!(r.errors[5] > r.errors[0], "{}: {:?}", r.name, r.errors);
        assert!(r.errors[5] > 0.1, "{}: 95 % pruning must show: {:?}", r.name, r.errors);
    }
}

mod bits;
mod gptq;
mod vocab;
