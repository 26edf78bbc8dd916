//! `--gptq`: data-aware rounding beats nearest rounding on the inputs a layer sees, keeps the
//! codes on the layer's grid and pruned weights at zero; and `"resize": "height"` calibration
//! images (text lines).

use super::super::gptq::{quantize_layer, Settings};
use super::super::plan::Bits;
use super::super::sample::{tiny_cnn, TINY_INPUT};
use super::super::*;
use super::{calib_dir, compress_with, decoded};
use crate::quant::quantize;
use crate::synth::SplitMix64;

/// `‖X (W − V)ᵀ‖` over the rows of `x` (`[m, k]`), weights `[n, k]`.
fn output_error(x: &[f32], w: &[f32], v: &[f32], k: usize) -> f64 {
    let n = w.len() / k;
    let mut e = 0.0;
    for row in x.chunks_exact(k) {
        for o in 0..n {
            let d: f64 = (0..k).map(|i| f64::from(row[i]) * f64::from(w[o * k + i] - v[o * k + i])).sum();
            e += d * d;
        }
    }
    e.sqrt()
}

#[test]
fn gptq_lowers_the_output_error_and_stays_on_the_grid() {
    let (n, k, m) = (12, 24, 400);
    let mut r = SplitMix64::new(3);
    let w = r.uniform_vec(n * k, 1.0);
    // Prune a few weights: they must become zero.
    let gone: Vec<bool> = (0..w.len()).map(|i| i % 7 == 0).collect();
    let pruned: Vec<f32> = w.iter().zip(&gone).map(|(&v, &g)| if g { 0.0 } else { v }).collect();
    // Correlated inputs (a shared component), as real activations are.
    let x: Vec<f32> = (0..m)
        .flat_map(|_| {
            let common = r.next_signed();
            (0..k).map(|_| common + 0.3 * r.next_signed()).collect::<Vec<f32>>()
        })
        .collect();
    let mut h = vec![0f64; k * k];
    for row in x.chunks_exact(k) {
        for i in 0..k {
            for j in 0..k {
                h[i * k + j] += f64::from(row[i]) * f64::from(row[j]) / m as f64;
            }
        }
    }
    let opts = Options { bits: Bits { default: 4, ..Bits::default() }, ..Options::default() };
    let layer = layers::Layer {
        name: "l".into(),
        node: 0,
        op: layers::LayerOp::MatMul,
        weight: "w".into(),
        dims: vec![n, k],
        weights: pruned.clone(),
        role: layers::Role::Body,
        fixed_quant: None,
    };
    let p = quant_params(&layer, &opts).unwrap();
    let rtn = crate::quant::dequantize(&quantize(&pruned, &[n, k], &p).unwrap(), &[n, k], &p).unwrap();
    let g = quantize_layer(&w, &gone, n, &h, &p, Bits::qmax(4), 0.01).unwrap();
    let (e_rtn, e_gptq) = (output_error(&x, &w, &rtn, k), output_error(&x, &w, &g, k));
    assert!(e_gptq < 0.8 * e_rtn, "GPTQ {e_gptq} vs nearest {e_rtn}");
    let codes = quantize(&g, &[n, k], &p).unwrap();
    let back = crate::quant::dequantize(&codes, &[n, k], &p).unwrap();
    assert_eq!(back, g, "on the grid: quantizing gives the same values back");
    assert!(codes.iter().all(|&c| (-7..=7).contains(&c)));
    for i in (0..w.len()).step_by(7) {
        assert_eq!(g[i], 0.0, "pruned weight {i} stays zero");
    }
}

#[test]
fn compress_with_gptq_records_it_and_the_model_runs() {
    let (dir, xs) = calib_dir("gptq", 6, &TINY_INPUT);
    let opts = Options {
        bits: Bits { default: 5, ..Bits::default() },
        gptq: Some(Settings { dir, count: 6, damp: 0.01 }),
        ..Options::default()
    };
    let (file, report) = compress_with(&tiny_cnn(5), &opts);
    // conv1, pw, fc and head; the depthwise conv keeps nearest rounding.
    assert_eq!(file.meta["compression"]["gptq"]["layers"], 4);
    assert!(report.layers.iter().all(|l| l.bits == 5 && !l.qdq));
    let (_, w, q) = decoded(&file, "pw.weight");
    let q = q.unwrap();
    for (i, v) in w.iter().enumerate() {
        assert!((v / q.scales[i / 8]).abs() <= 15.0 + 1e-4, "pw code beyond ±15");
    }
    let mut m = crate::engine::Model::load(&compress(&tiny_cnn(5), &opts, &mut Silent).unwrap().0).unwrap();
    let x = crate::engine::F32Tensor::new(TINY_INPUT.to_vec(), xs[0].clone()).unwrap();
    assert!(m.run(vec![x]).unwrap()[0].data.iter().all(|v| v.is_finite()));
}

#[test]
fn line_images_fit_the_height_and_are_padded() {
    let dir = std::env::temp_dir().join(format!("slimscan-calib-line-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // 10×20: black; height 16 → 8 wide, the other 8 columns stay 0.
    image::RgbImage::from_pixel(10, 20, image::Rgb([0, 0, 0])).save(dir.join("narrow.png")).unwrap();
    // 80×10: white; height 16 → 128 wide, cut at 16.
    image::RgbImage::from_pixel(80, 10, image::Rgb([255, 255, 255])).save(dir.join("wide.png")).unwrap();
    let model = onnx::decode_model(&tiny_cnn(1)).unwrap();
    let manifest = serde_json::json!({"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "resize": "height"});
    let spec = calib::input_spec(&model, Some(&manifest)).unwrap();
    let x = calib::load_sample(&dir.join("narrow.png"), &spec).unwrap();
    for c in 0..3 {
        for y in 0..16 {
            let row = &x[(c * 16 + y) * 16..][..16];
            assert!(row[..8].iter().all(|&v| v == -1.0) && row[8..].iter().all(|&v| v == 0.0), "{row:?}");
        }
    }
    let x = calib::load_sample(&dir.join("wide.png"), &spec).unwrap();
    assert!(x.iter().all(|&v| v == 1.0));
    let bad = serde_json::json!({"resize": "stretch"});
    assert!(calib::input_spec(&model, Some(&bad)).is_err());
}
