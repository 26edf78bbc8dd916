use super::layer::{ConvSpec, LayerKind, LayerWeights, Padding, SlimLayer};
use super::*;
use crate::format::TensorData;
use crate::kernels::{Activation, Codes, DepthwiseWeights, GemmWeights};
use crate::synth::SplitMix64;
use tract_onnx::pb;
use tract_onnx::prelude::*;

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn random_i8(r: &mut SplitMix64, n: usize, density: f64) -> Vec<i8> {
    (0..n)
        .map(|_| if r.next_open01() < density { (r.next_signed() * 127.0).round() as i8 } else { 0 })
        .collect()
}

/// Naive f32 convolution of the dequantized weights on the quantized-then-dequantized input:
/// what the integer path must reproduce up to f32 rounding.
#[allow(clippy::too_many_arguments)]
fn naive_conv(
    x: &[f32],
    shape: [usize; 4],
    w: &[f32],
    o: usize,
    spec: &ConvSpec,
    bias: &[f32],
    oh: usize,
    ow: usize,
) -> Vec<f32> {
    let [n, c, h, wd] = shape;
    let cg = c / spec.group;
    let og = o / spec.group;
    let (kh, kw) = (spec.kernel[0], spec.kernel[1]);
    let Padding::Explicit(p) = spec.padding else { panic!("explicit padding only") };
    let mut out = vec![0f32; n * o * oh * ow];
    for b in 0..n {
        for oc in 0..o {
            let g = oc / og;
            for y in 0..oh {
                for xx in 0..ow {
                    let mut acc = f64::from(bias[oc]);
                    for ci in 0..cg {
                        for ty in 0..kh {
                            for tx in 0..kw {
                                let iy =
                                    (y * spec.strides[0] + ty * spec.dilations[0]) as isize - p[0] as isize;
                                let ix =
                                    (xx * spec.strides[1] + tx * spec.dilations[1]) as isize - p[1] as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                let xv = x[((b * c + g * cg + ci) * h + iy as usize) * wd + ix as usize];
                                let wv = w[((oc * cg + ci) * kh + ty) * kw + tx];
                                acc += f64::from(xv) * f64::from(wv);
                            }
                        }
                    }
                    out[((b * o + oc) * oh + y) * ow + xx] = acc as f32;
                }
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn conv_case(
    group: usize,
    c: usize,
    o: usize,
    k: usize,
    stride: usize,
    dil: usize,
    pads: [usize; 4],
    density: f64,
) {
    let mut r = SplitMix64::new((group * 1000 + c * 100 + o * 10 + k) as u64);
    let cg = c / group;
    let q = random_i8(&mut r, o * cg * k * k, density);
    let w_scales: Vec<f32> = (0..o).map(|i| 0.01 + 0.001 * i as f32).collect();
    let spec = ConvSpec {
        kernel: [k, k],
        strides: [stride; 2],
        dilations: [dil; 2],
        padding: Padding::Explicit(pads),
        group,
    };
    let weights = if group > 1 && cg == 1 && o == group {
        LayerWeights::Depthwise(DepthwiseWeights::from_i8(&q, o, k, k, &[]).unwrap())
    } else {
        let og = o / group;
        let kk = cg * k * k;
        LayerWeights::Gemm(
            (0..group)
                .map(|g| GemmWeights::from_dense_i8(&q[g * og * kk..(g + 1) * og * kk], og, kk, &[]).unwrap())
                .collect(),
        )
    };
    let (in_scale, zp) = (0.05f32, -7);
    let layer = SlimLayer {
        weight: "w".into(),
        kind: LayerKind::Conv(spec.clone()),
        weights,
        out_channels: o,
        in_channels: cg,
        w_scales: w_scales.clone(),
        input_quant: Some((in_scale, zp)),
        dynamic_codes: Codes::INT8,
        act: Activation::None,
        weight_elements: q.len(),
        weight_nonzeros: q.iter().filter(|&&v| v != 0).count(),
    };
    let shape = [2, c, 9, 11];
    let x: Vec<f32> = (0..shape.iter().product::<usize>()).map(|_| r.next_signed() * 4.0).collect();
    let bias: Vec<f32> = (0..o).map(|_| r.next_signed()).collect();
    let (y, yshape) = layer.forward(&x, &shape, Some(&bias)).unwrap();
    // Reference: the same quantization of x, then f32 arithmetic.
    let xq: Vec<f32> = x
        .iter()
        .map(|&v| ((v / in_scale).round_ties_even() as i32 + zp).clamp(-128, 127) - zp)
        .map(|q| q as f32 * in_scale)
        .collect();
    let per = cg * k * k;
    let wf: Vec<f32> = q.iter().enumerate().map(|(i, &v)| f32::from(v) * w_scales[i / per]).collect();
    let want = naive_conv(&xq, shape, &wf, o, &spec, &bias, yshape[2], yshape[3]);
    assert_eq!(y.len(), want.len());
    for (i, (a, b)) in y.iter().zip(&want).enumerate() {
        assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "case g{group} c{c} o{o} k{k}: [{i}] {a} vs {b}");
    }
}

#[test]
fn conv_layers_match_a_naive_convolution() {
    for density in [1.0, 0.5, 0.1] {
        conv_case(1, 5, 7, 3, 1, 1, [1, 1, 1, 1], density); // 3x3 "same"
        conv_case(1, 4, 6, 3, 2, 1, [1, 0, 1, 2], density); // stride 2, asymmetric pads
        conv_case(1, 6, 3, 1, 1, 1, [0, 0, 0, 0], density); // pointwise
        conv_case(1, 3, 4, 1, 2, 1, [0, 0, 0, 0], density); // strided 1x1 (im2col path)
        conv_case(1, 3, 4, 3, 1, 2, [2, 2, 2, 2], density); // dilated
        conv_case(2, 6, 4, 3, 1, 1, [1, 1, 1, 1], density); // grouped
        conv_case(8, 8, 8, 3, 1, 1, [1, 1, 1, 1], density); // depthwise 3x3
        conv_case(8, 8, 8, 3, 2, 1, [1, 1, 1, 1], density); // depthwise stride 2
        conv_case(6, 6, 6, 5, 1, 1, [2, 2, 2, 2], density); // depthwise 5x5
    }
}

#[test]
fn gemm_and_matmul_layers_match_f32() {
    let mut r = SplitMix64::new(5);
    let (m, k, n) = (3, 10, 4);
    let q = random_i8(&mut r, n * k, 0.7);
    let w_scales = vec![0.02f32; n];
    let x: Vec<f32> = (0..m * k).map(|_| r.next_signed()).collect();
    let bias: Vec<f32> = (0..n).map(|_| r.next_signed()).collect();
    let make = |kind| SlimLayer {
        weight: "w".into(),
        kind,
        weights: LayerWeights::Gemm(vec![GemmWeights::from_dense_i8(&q, n, k, &[]).unwrap()]),
        out_channels: n,
        in_channels: k,
        w_scales: w_scales.clone(),
        input_quant: Some((1.0 / 127.0, 0)),
        dynamic_codes: Codes::INT8,
        act: Activation::Relu,
        weight_elements: q.len(),
        weight_nonzeros: q.len(),
    };
    let xq: Vec<f32> =
        x.iter().map(|&v| (v * 127.0).round_ties_even().clamp(-128.0, 127.0) / 127.0).collect();
    let want = |alpha: f32, beta: f32, with_bias: bool| -> Vec<f32> {
        let mut out = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let s: f32 = (0..k).map(|kk| xq[i * k + kk] * f32::from(q[j * k + kk]) * 0.02).sum();
                out[i * n + j] = (alpha * s + if with_bias { beta * bias[j] } else { 0.0 }).max(0.0);
            }
        }
        out
    };
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4);
    let gemm = make(LayerKind::Gemm { trans_a: false, alpha: 0.5, beta: 2.0 });
    let (y, s) = gemm.forward(&x, &[m, k], Some(&bias)).unwrap();
    assert_eq!(s, vec![m, n]);
    assert!(close(&y, &want(0.5, 2.0, true)), "{y:?}");
    // transA: the same numbers given as K × M.
    let xt: Vec<f32> = (0..k * m).map(|i| x[(i % m) * k + i / m]).collect();
    let gemm_t = make(LayerKind::Gemm { trans_a: true, alpha: 1.0, beta: 1.0 });
    let (y, _) = gemm_t.forward(&xt, &[k, m], Some(&bias)).unwrap();
    assert!(close(&y, &want(1.0, 1.0, true)));
    let mm = make(LayerKind::MatMul);
    let (y, s) = mm.forward(&x, &[1, m, k], None).unwrap();
    assert_eq!(s, vec![1, m, n]);
    assert!(close(&y, &want(1.0, 0.0, false)));
    // Wrong feature count: an error naming the layer.
    let err = mm.forward(&x, &[m * k], None).unwrap_err().to_string();
    assert!(err.contains("features"), "{err}");
}

#[test]
fn matmul_quantizes_each_row_with_its_own_range() {
    let mut r = SplitMix64::new(9);
    let (m, k, n) = (4, 16, 5);
    let q = random_i8(&mut r, n * k, 1.0);
    // Rows whose ranges differ by 10^4: one scale for all would zero the small rows.
    let x: Vec<f32> = (0..m * k).map(|i| r.next_signed() * 10f32.powi(i as i32 / k as i32 * 4 - 6)).collect();
    let weights = LayerWeights::Gemm(vec![GemmWeights::from_dense_i8(&q, n, k, &[]).unwrap()]);
    let dynamic_codes = layer::dynamic_codes(&weights);
    assert_eq!(dynamic_codes, Codes::bits(15), "16 weights of |w| ≤ 127 leave room for 15-bit codes");
    let layer = SlimLayer {
        weight: "w".into(),
        kind: LayerKind::MatMul,
        dynamic_codes,
        weights,
        out_channels: n,
        in_channels: k,
        w_scales: vec![0.01; n],
        input_quant: None,
        act: Activation::None,
        weight_elements: q.len(),
        weight_nonzeros: q.len(),
    };
    let (y, shape) = layer.forward(&x, &[m, k], None).unwrap();
    assert_eq!(shape, vec![m, n]);
    for row in 0..m {
        let want: Vec<f32> = (0..n)
            .map(|j| (0..k).map(|kk| x[row * k + kk] * f32::from(q[j * k + kk]) * 0.01).sum())
            .collect();
        let c = cosine(&y[row * n..(row + 1) * n], &want);
        assert!(c > 0.999, "row {row}: cosine {c}");
    }
}

#[test]
fn degenerate_convolution_specs_are_errors() {
    let spec = |k: usize, d: usize| ConvSpec {
        kernel: [k, 3],
        strides: [1, 1],
        dilations: [d, 1],
        padding: Padding::Explicit([0; 4]),
        group: 1,
    };
    assert!(spec(0, 1).geometry(1, 8, 8).is_err());
    assert!(spec(usize::MAX / 2, 4).geometry(1, 8, 8).is_err());
    assert!(spec(5, 1).geometry(1, 4, 8).is_err(), "kernel larger than the padded input");
    assert!(spec(3, 1).geometry(1, 8, 8).is_ok());
}

#[test]
fn dynamic_quantization_covers_the_range_and_zero() {
    for codes in [Codes::INT8, Codes::bits(12), Codes::bits(15)] {
        let steps = codes.steps() as f32;
        let (s, z) = layer::dynamic_quant(&[-1.0, 3.0, f32::NAN], codes);
        assert!((s - 4.0 / steps).abs() < 1e-7);
        assert_eq!(z, (codes.min as f32 + 1.0 / s).round() as i32);
        assert_eq!(layer::dynamic_quant(&[0.0; 4], codes), (1.0, 0));
        // Every lane and the remainder count; infinities are ignored.
        for at in 0..19 {
            let mut x = vec![0.5f32; 19];
            x[at] = -7.0;
            x[(at + 5) % 19] = f32::INFINITY;
            x[(at + 11) % 19] = 2.0 + at as f32;
            x[(at + 13) % 19] = f32::NEG_INFINITY;
            let (s, _) = layer::dynamic_quant(&x, codes);
            assert!((s - (9.0 + at as f32) / steps).abs() < 1e-6, "{at}");
        }
    }
}

/// What broke the 92 %-pruned MobileNetV2 (models/REPORT.md): after BatchNorm folding a row
/// amplifies one input channel ×127 around its mean (weight 127, then −127·mean) while
/// another channel sets the tensor's range 400× wider. The per-tensor code step must be fine
/// enough for the amplified channel: with 12-bit codes the rounding noise is over 2 % of the
/// output, with the 15-bit codes a row this small allows it is under 1 %.
#[test]
fn an_amplified_small_channel_survives_dynamic_quantization() {
    let mut r = SplitMix64::new(4);
    let m = 400;
    let x: Vec<f32> = (0..m).flat_map(|_| [r.next_signed() * 20.0, 5.0 + r.next_signed() * 0.05]).collect();
    let q = [0i8, 127];
    let weights = LayerWeights::Gemm(vec![GemmWeights::from_dense_i8(&q, 1, 2, &[]).unwrap()]);
    assert_eq!(layer::dynamic_codes(&weights), Codes::bits(15));
    let relative_error = |dynamic_codes: Codes| {
        let layer = SlimLayer {
            weight: "w".into(),
            kind: LayerKind::MatMul,
            dynamic_codes,
            weights: weights.clone(),
            out_channels: 1,
            in_channels: 2,
            w_scales: vec![1.0],
            input_quant: None,
            act: Activation::None,
            weight_elements: 2,
            weight_nonzeros: 1,
        };
        let (mut err, mut signal) = (0f64, 0f64);
        for row in x.chunks(2) {
            // One call per row: each is quantized over its own range (both channels). MatMul
            // leaves the bias to the graph's Add: the −127·mean is subtracted here.
            let (y, _) = layer.forward(row, &[1, 2], None).unwrap();
            let want = 127.0 * (f64::from(row[1]) - 5.0);
            err += (f64::from(y[0]) - 127.0 * 5.0 - want).powi(2);
            signal += want.powi(2);
        }
        (err / signal).sqrt()
    };
    let (at12, at15) = (relative_error(Codes::bits(12)), relative_error(Codes::bits(15)));
    assert!(at12 > 0.02, "12-bit codes: relative RMS error {at12:.4} (the case must be hard)");
    assert!(at15 < 0.01, "15-bit codes: relative RMS error {at15:.4} of the amplified channel");
}

#[test]
fn dynamic_codes_are_as_wide_as_the_accumulators_allow() {
    let dense = |k: usize, v: i8| {
        LayerWeights::Gemm(vec![GemmWeights::from_dense_i8(&vec![v; 2 * k], 2, k, &[]).unwrap()])
    };
    // Σ|w| · steps ≤ 2^31 − 1: 15 bits up to Σ|w| = 65 538, then fewer, never below 8.
    assert_eq!(layer::dynamic_codes(&dense(516, 127)), Codes::bits(15)); // Σ|w| = 65 532
    assert_eq!(layer::dynamic_codes(&dense(517, 127)), Codes::bits(14));
    assert_eq!(layer::dynamic_codes(&dense(4129, 127)), Codes::bits(12)); // Σ|w| = 524 383
    assert_eq!(layer::dynamic_codes(&dense(4130, 127)), Codes::bits(11));
    assert_eq!(layer::dynamic_codes(&dense(66_000, 127)), Codes::INT8);
    assert_eq!(layer::dynamic_codes(&dense(600_000, -127)), Codes::INT8, "no room at all: int8 as before");
    let dw = DepthwiseWeights::from_i8(&[100; 18], 2, 3, 3, &[]).unwrap();
    assert_eq!(layer::dynamic_codes(&LayerWeights::Depthwise(dw)), Codes::bits(15));
}

#[cfg(feature = "compress")]
mod with_compressor {
    use super::*;
    use crate::compress::plan::PrunePlan;
    use crate::compress::sample::{tiny_cnn, TINY_INPUT};
    use crate::compress::{compress, Options, Silent};

    fn slim(onnx: &[u8], opts: &Options) -> Vec<u8> {
        compress(onnx, opts, &mut Silent).unwrap().0
    }

    fn input(seed: u64) -> F32Tensor {
        let mut r = SplitMix64::new(seed);
        let n: usize = TINY_INPUT.iter().product();
        F32Tensor::new(TINY_INPUT.to_vec(), (0..n).map(|_| r.next_signed() * 2.0).collect()).unwrap()
    }

    #[test]
    fn slim_model_agrees_with_tract_f32_on_the_original() {
        let onnx = tiny_cnn(11);
        let mut original = Model::load(&onnx).unwrap();
        let mut compressed = Model::load(&slim(&onnx, &Options::default())).unwrap();
        let info = compressed.info().clone();
        assert_eq!(info.kind, ModelKind::Slim);
        assert_eq!(info.slim_layers, 5, "{info:?}"); // conv1, dw, pw, fc, head
        assert_eq!(info.fused_activations, 3, "{info:?}"); // each conv's Relu (BN folded into conv1)
        assert_eq!(original.info().kind, ModelKind::Onnx);
        for seed in 0..8 {
            let a = original.run(vec![input(seed)]).unwrap();
            let b = compressed.run(vec![input(seed)]).unwrap();
            assert_eq!(a[0].shape, vec![1, 4]);
            assert_eq!(b[0].shape, vec![1, 4]);
            let cos = cosine(&a[0].data, &b[0].data);
            assert!(cos > 0.99, "seed {seed}: cosine {cos}: {:?} vs {:?}", a[0].data, b[0].data);
        }
    }

    #[test]
    fn pruned_model_runs_its_sparse_layers() {
        let onnx = tiny_cnn(12);
        let opts = Options { prune: PrunePlan::Global(0.9), ..Options::default() };
        let mut m = Model::load(&slim(&onnx, &opts)).unwrap();
        let info = m.info().clone();
        assert!(info.sparsity > 0.5, "{info:?}");
        assert!(info.sparse_layers >= 1, "{info:?}");
        let y = m.run(vec![input(1)]).unwrap();
        assert!(y[0].data.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn plans_follow_the_input_shape() {
        let mut g = crate::compress::sample::tiny_cnn_graph(13);
        // Make H and W dynamic: the pooled classifier accepts any size.
        g.input = vec![crate::compress::sample::value_info("input", &[1, 3, 0, 0])];
        if let Some(pb::type_proto::Value::TensorType(t)) =
            g.input[0].r#type.as_mut().and_then(|t| t.value.as_mut())
        {
            for d in t.shape.as_mut().unwrap().dim.iter_mut().skip(2) {
                d.value = Some(pb::tensor_shape_proto::dimension::Value::DimParam("S".into()));
            }
        }
        let onnx = crate::compress::sample::model_bytes(g, 17);
        for bytes in [slim(&onnx, &Options::default()), onnx] {
            let mut m = Model::load(&bytes).unwrap();
            assert!(m.fixed_input_shapes().is_none());
            for s in [8, 16, 21] {
                let mut r = SplitMix64::new(s as u64);
                let data: Vec<f32> = (0..3 * s * s).map(|_| r.next_signed()).collect();
                let shape = vec![1, 3, s, s];
                let y = m.run(vec![F32Tensor::new(shape.clone(), data.clone()).unwrap()]).unwrap();
                assert_eq!(y[0].shape, vec![1, 4]);
                // The plan came from the template (sizes left open); one built for this size
                // from scratch gives the same numbers.
                // The .slim runs as an op list, which has no plans: any size runs as is.
                let Backend::Tract(t) = &m.backend else {
                    assert!(m.is_program());
                    continue;
                };
                assert!(matches!(t.template, Some(Some(_))), "a template for the open sizes");
                let scratch = t.build_plan(std::slice::from_ref(&shape)).unwrap();
                let x = tract_ndarray::ArrayD::from_shape_vec(shape, data).unwrap().into_tvalue();
                let z = scratch.run(tvec![x]).unwrap();
                let z: Vec<f32> = z[0].to_plain_array_view::<f32>().unwrap().iter().copied().collect();
                assert_eq!(y[0].data, z, "size {s}");
            }
        }
    }

    /// Paddle's recogniser reshapes by a size read with `Shape`, cast to INT32, sliced and
    /// cast back to INT64: with the width open tract cannot fold that unless the first cast is
    /// widened, and then one template serves every width.
    #[test]
    fn a_reshape_by_an_int32_shape_slice_still_gets_a_template() {
        use crate::compress::sample::{node, value_info};
        use crate::onnx::int_attr;
        let dynamic = |mut vi: pb::ValueInfoProto, axes: &[(usize, &str)]| {
            if let Some(pb::type_proto::Value::TensorType(t)) =
                vi.r#type.as_mut().and_then(|t| t.value.as_mut())
            {
                for &(a, name) in axes {
                    t.shape.as_mut().unwrap().dim[a].value =
                        Some(pb::tensor_shape_proto::dimension::Value::DimParam(name.into()));
                }
            }
            vi
        };
        let ints = |name: &str, v: &[i64]| pb::TensorProto {
            name: name.into(),
            dims: vec![v.len() as i64],
            data_type: pb::tensor_proto::DataType::Int64 as i32,
            int64_data: v.to_vec(),
            ..Default::default()
        };
        let g = pb::GraphProto {
            name: "paddle_reshape".into(),
            node: vec![
                node("Shape", "shape", &["x"], &["s"], vec![]),
                node("Cast", "to_i32", &["s"], &["s32"], vec![int_attr("to", 6)]),
                node("Slice", "width", &["s32", "start", "end", "axis"], &["w32"], vec![]),
                node("Cast", "to_i64", &["w32"], &["w"], vec![int_attr("to", 7)]),
                node("Concat", "target", &["head", "w"], &["t"], vec![int_attr("axis", 0)]),
                node("Reshape", "reshape", &["x", "t"], &["y"], vec![]),
                node("Relu", "relu", &["y"], &["z"], vec![]),
            ],
            initializer: vec![
                ints("start", &[2]),
                ints("end", &[3]),
                ints("axis", &[0]),
                ints("head", &[0, 2, 2]),
            ],
            input: vec![dynamic(value_info("x", &[1, 4, 1]), &[(0, "N"), (2, "W")])],
            output: vec![dynamic(value_info("z", &[1, 2, 2, 1]), &[(0, "N"), (3, "W")])],
            ..Default::default()
        };
        let mut without = g.clone();
        assert_eq!(graph::widen_shape_casts(&mut without.clone()), 1);
        // The same graph whose INT32 value also leaves the graph: not rewritten.
        without.output.push(value_info("s32", &[3]));
        assert_eq!(graph::widen_shape_casts(&mut without), 0);
        let mut m = Model::load(&crate::compress::sample::model_bytes(g, 17)).unwrap();
        for (n, w) in [(1, 5), (3, 7), (2, 160)] {
            let data: Vec<f32> = (0..n * 4 * w).map(|i| i as f32 - 10.0).collect();
            let y = m.run(vec![F32Tensor::new(vec![n, 4, w], data.clone()).unwrap()]).unwrap();
            assert_eq!(y[0].shape, vec![n, 2, 2, w]);
            assert_eq!(y[0].data, data.iter().map(|v| v.max(0.0)).collect::<Vec<_>>());
        }
        let Backend::Tract(t) = &m.backend else { panic!("an ONNX model runs on tract") };
        assert!(matches!(t.template, Some(Some(_))), "one template for every batch and width");
    }

    #[test]
    fn a_free_batch_dimension_is_planned_as_one_at_load_and_other_batches_still_run() {
        let mut g = crate::compress::sample::tiny_cnn_graph(16);
        if let Some(pb::type_proto::Value::TensorType(t)) =
            g.input[0].r#type.as_mut().and_then(|t| t.value.as_mut())
        {
            t.shape.as_mut().unwrap().dim[0].value =
                Some(pb::tensor_shape_proto::dimension::Value::DimParam("N".into()));
        }
        g.output.clear();
        g.output.push(crate::compress::sample::value_info("logits", &[1, 4]));
        if let Some(pb::type_proto::Value::TensorType(t)) =
            g.output[0].r#type.as_mut().and_then(|t| t.value.as_mut())
        {
            t.shape.as_mut().unwrap().dim[0].value =
                Some(pb::tensor_shape_proto::dimension::Value::DimParam("N".into()));
        }
        let onnx = crate::compress::sample::model_bytes(g, 17);
        let mut m = Model::load(&slim(&onnx, &Options::default())).unwrap();
        assert_eq!(m.fixed_input_shapes(), Some(vec![TINY_INPUT.to_vec()]));
        assert!(m.is_program(), "a compressed model runs as an op list, with no plan to build");
        let n: usize = TINY_INPUT.iter().product();
        let x = F32Tensor::new(vec![2, 3, 16, 16], vec![0.25; 2 * n]).unwrap();
        let y = m.run(vec![x]).unwrap();
        assert_eq!(y[0].shape, vec![2, 4]);
        assert_eq!(y[0].data[..4], y[0].data[4..], "both batch items are the same image");
    }

    /// Paddle-style export: Conv without bias → Add(per-channel constant) → HardSwish written
    /// as Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6).
    fn paddle_like(seed: u64) -> Vec<u8> {
        use crate::compress::sample::{model_bytes, node, value_info};
        use crate::onnx::{f32_tensor, ints_attr};
        let mut r = SplitMix64::new(seed);
        let scalar = |name: &str, v: f32| f32_tensor(name, &[], &[v]);
        let g = pb::GraphProto {
            name: "paddle_like".into(),
            node: vec![
                node(
                    "Conv",
                    "conv",
                    &["input", "w"],
                    &["c"],
                    vec![ints_attr("kernel_shape", &[3, 3]), ints_attr("pads", &[1, 1, 1, 1])],
                ),
                node("Add", "bias", &["c", "b"], &["x"], vec![]),
                node("Add", "plus3", &["x", "three"], &["x3"], vec![]),
                node("Clip", "clip", &["x3", "zero", "six"], &["cl"], vec![]),
                node("Mul", "mul", &["x", "cl"], &["m"], vec![]),
                node("Div", "div", &["m", "six"], &["y"], vec![]),
                node("GlobalAveragePool", "pool", &["y"], &["output"], vec![]),
            ],
            initializer: vec![
                f32_tensor("w", &[8, 3, 3, 3], &r.uniform_vec(216, 0.5)),
                f32_tensor("b", &[1, 8, 1, 1], &r.uniform_vec(8, 1.0)),
                scalar("three", 3.0),
                scalar("zero", 0.0),
                scalar("six", 6.0),
            ],
            input: vec![value_info("input", &TINY_INPUT)],
            output: vec![value_info("output", &[1, 8, 1, 1])],
            ..Default::default()
        };
        model_bytes(g, 13)
    }

    #[test]
    fn paddle_bias_add_and_decomposed_hardswish_fold_into_the_layer() {
        let onnx = paddle_like(21);
        let mut original = Model::load(&onnx).unwrap();
        let mut compressed = Model::load(&slim(&onnx, &Options::default())).unwrap();
        assert_eq!(compressed.info().fused_activations, 1, "{:?}", compressed.info());
        for seed in 0..4 {
            let a = original.run(vec![input(seed)]).unwrap();
            let b = compressed.run(vec![input(seed)]).unwrap();
            let cos = cosine(&a[0].data, &b[0].data);
            assert!(cos > 0.999, "seed {seed}: cosine {cos}: {:?} vs {:?}", a[0].data, b[0].data);
        }
    }

    /// Conv (bias) → Relu → depthwise Conv → HardSwish → Conv (no bias, stride 2) → Clip →
    /// GlobalAveragePool → Flatten → Gemm (`transB = 0`, alpha, beta) → Relu → MatMul: every
    /// Slim op, both stored weight layouts that were transposed, and activations of each kind.
    fn f32_layers_graph(seed: u64) -> pb::GraphProto {
        use crate::compress::sample::{node, value_info};
        use crate::onnx::{f32_tensor, float_attr, int_attr, ints_attr};
        let mut r = SplitMix64::new(seed);
        let conv = |k: i64, stride: i64, group: i64| {
            vec![
                ints_attr("kernel_shape", &[k, k]),
                ints_attr("pads", &[1, 1, 1, 1]),
                ints_attr("strides", &[stride, stride]),
                int_attr("group", group),
            ]
        };
        let gemm = vec![int_attr("transB", 0), float_attr("alpha", 0.5), float_attr("beta", 2.0)];
        pb::GraphProto {
            name: "f32_layers".into(),
            node: vec![
                node("Conv", "c1", &["input", "c1.w", "c1.b"], &["a"], conv(3, 1, 1)),
                node("Relu", "relu1", &["a"], &["a1"], vec![]),
                node("Conv", "dw", &["a1", "dw.w", "dw.b"], &["b"], conv(3, 1, 8)),
                node("HardSwish", "hs", &["b"], &["b1"], vec![]),
                node("Conv", "c2", &["b1", "c2.w"], &["c"], conv(3, 2, 1)),
                node("Clip", "clip", &["c", "zero", "six"], &["c1"], vec![]),
                node("GlobalAveragePool", "pool", &["c1"], &["p"], vec![]),
                node("Flatten", "flatten", &["p"], &["f"], vec![int_attr("axis", 1)]),
                node("Gemm", "fc", &["f", "fc.w", "fc.b"], &["h"], gemm),
                node("Relu", "relu2", &["h"], &["h1"], vec![]),
                node("MatMul", "head", &["h1", "head.w"], &["logits"], vec![]),
            ],
            initializer: vec![
                f32_tensor("c1.w", &[8, 3, 3, 3], &r.uniform_vec(216, 0.4)),
                f32_tensor("c1.b", &[8], &r.uniform_vec(8, 0.1)),
                f32_tensor("dw.w", &[8, 1, 3, 3], &r.uniform_vec(72, 0.6)),
                f32_tensor("dw.b", &[8], &r.uniform_vec(8, 0.1)),
                f32_tensor("c2.w", &[16, 8, 3, 3], &r.uniform_vec(1152, 0.3)),
                f32_tensor("zero", &[], &[0.0]),
                f32_tensor("six", &[], &[6.0]),
                f32_tensor("fc.w", &[16, 10], &r.uniform_vec(160, 0.4)),
                f32_tensor("fc.b", &[10], &r.uniform_vec(10, 0.1)),
                f32_tensor("head.w", &[10, 4], &r.uniform_vec(40, 0.5)),
            ],
            input: vec![value_info("input", &TINY_INPUT)],
            output: vec![value_info("logits", &[1, 4])],
            ..Default::default()
        }
    }

    /// The original graph with each layer's weight replaced by the (pruned) f32 weight the
    /// `.slim` file stores, put back in the original layout: what tract must compute.
    fn with_stored_weights(mut g: pb::GraphProto, slim_bytes: &[u8]) -> (Vec<u8>, usize, usize) {
        let file = crate::format::read(slim_bytes, &crate::format::Limits::default()).unwrap();
        let (mut zeros, mut total) = (0, 0);
        for (name, original_layout_transposed) in
            [("c1.w", false), ("dw.w", false), ("c2.w", false), ("fc.w", true), ("head.w", true)]
        {
            let t = file.tensors.iter().find(|t| t.name == name).unwrap();
            let TensorData::F32(data) = &t.data else { panic!("{name} is not f32 in TENS") };
            zeros += data.iter().filter(|&&v| v == 0.0).count();
            total += data.len();
            let init = g.initializer.iter_mut().find(|i| i.name == name).unwrap();
            let want = crate::onnx::dims(init).unwrap();
            let values = if original_layout_transposed {
                assert_eq!(t.dims, [want[1], want[0]], "{name} is stored [N, K]");
                crate::onnx::transpose_f32(data, t.dims[0], t.dims[1])
            } else {
                assert_eq!(t.dims, want, "{name}");
                data.clone()
            };
            *init = crate::onnx::f32_tensor(name, &want, &values);
        }
        (crate::compress::sample::model_bytes(g, 17), zeros, total)
    }

    fn assert_close(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len(), "{what}");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= 1e-4 * y.abs().max(1e-2), "{what}: [{i}] {x} vs {y}");
        }
    }

    /// `--quant none`: pruned f32 weights in TENS. The loader runs those layers as the standard
    /// ONNX ops in tract f32, with no activation folded into them.
    #[test]
    fn f32_weight_layers_run_as_standard_onnx_ops() {
        let g = f32_layers_graph(31);
        let onnx = crate::compress::sample::model_bytes(g.clone(), 17);
        for prune in [PrunePlan::None, PrunePlan::Global(0.5)] {
            let opts = Options { prune: prune.clone(), quantize: false, ..Options::default() };
            let bytes = slim(&onnx, &opts);
            let (reference, zeros, total) = with_stored_weights(g.clone(), &bytes);
            if prune == PrunePlan::None {
                assert_eq!(reference, onnx, "unpruned f32 weights are stored exactly");
            } else {
                assert!(zeros * 10 > total * 3, "pruned: {zeros} of {total} weights are zero");
            }
            let mut want = Model::load(&reference).unwrap();
            let mut got = Model::load(&bytes).unwrap();
            let info = got.info().clone();
            assert_eq!(info.kind, ModelKind::Slim);
            assert_eq!((info.slim_layers, info.fused_activations), (0, 0), "{info:?}");
            for seed in 0..4 {
                let a = got.run(vec![input(seed)]).unwrap();
                let b = want.run(vec![input(seed)]).unwrap();
                assert_eq!(a[0].shape, vec![1, 4]);
                assert_close(&a[0].data, &b[0].data, &format!("{prune:?} seed {seed}"));
            }
        }
    }

    /// The Paddle-style bias `Add` and decomposed HardSwish after a Conv stay as they are when
    /// its weight is f32 (they fold only into int8 layers), and the output is the original's.
    #[test]
    fn f32_weight_layer_keeps_its_bias_add_and_activation_nodes() {
        let onnx = paddle_like(22);
        let opts = Options { quantize: false, ..Options::default() };
        let mut original = Model::load(&onnx).unwrap();
        let mut compressed = Model::load(&slim(&onnx, &opts)).unwrap();
        let info = compressed.info().clone();
        assert_eq!((info.slim_layers, info.fused_activations), (0, 0), "{info:?}");
        for seed in 0..4 {
            let a = compressed.run(vec![input(seed)]).unwrap();
            let b = original.run(vec![input(seed)]).unwrap();
            assert_close(&a[0].data, &b[0].data, &format!("seed {seed}"));
        }
    }

    #[test]
    fn onnx_metadata_survives_compression() {
        use prost::Message;
        let mut proto = pb::ModelProto::decode(&tiny_cnn(17)[..]).unwrap();
        proto
            .metadata_props
            .push(pb::StringStringEntryProto { key: "character".into(), value: "a\nb\n".into() });
        let onnx = proto.encode_to_vec();
        for m in [Model::load(&onnx).unwrap(), Model::load(&slim(&onnx, &Options::default())).unwrap()] {
            assert_eq!(m.metadata("character"), Some("a\nb\n"));
            let cs =
                crate::scan::ocr::ctc::Charset::from_metadata(m.metadata("character").unwrap(), 4).unwrap();
            assert_eq!(cs.get(3), " ");
            assert_eq!(m.metadata("nope"), None);
        }
    }

    #[test]
    fn corrupt_or_truncated_files_are_errors() {
        let bytes = slim(&tiny_cnn(14), &Options::default());
        for cut in [0, 7, 31, 100, bytes.len() / 2, bytes.len() - 1] {
            let err = Model::load(&bytes[..cut]).unwrap_err().to_string();
            assert!(!err.is_empty());
        }
        let mut flipped = bytes.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x55;
        let err = Model::load(&flipped).unwrap_err().to_string();
        assert!(err.contains("CRC") || err.contains("crc") || err.contains("checksum"), "{err}");
        let err = Model::load(b"definitely not a model").unwrap_err().to_string();
        assert!(err.contains("not a .slim file") && err.contains("ONNX"), "{err}");
        assert!(Model::load(b"").unwrap_err().to_string().contains("empty"));
    }

    #[test]
    fn wrong_input_shape_is_an_error_not_a_panic() {
        let mut m = Model::load(&slim(&tiny_cnn(15), &Options::default())).unwrap();
        let x = F32Tensor::new(vec![1, 5, 16, 16], vec![0.0; 5 * 256]).unwrap();
        let err = m.run(vec![x]).unwrap_err().to_string();
        assert!(err.contains("channels") || err.contains("shape"), "{err}");
    }
}
