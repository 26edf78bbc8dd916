//! Engine parity: a `.slim` model against tract f32 on its original ONNX, on varied inputs.
//!
//! ```text
//! cargo run --release --features cli --example engine_parity -- ORIGINAL.onnx MODEL.slim \
//!     [--count 50] [--size H,W] [--mean 0.485,0.456,0.406 --std 0.229,0.224,0.225] \
//!     [--images DIR]... [--dump DIR]
//! ```
//!
//! Inputs: the real photos and scans under each `--images` folder (searched recursively,
//! resized to cover the input and centre-cropped, normalised with --mean/--std), then
//! synthetic ones (gradients, stripes, text-like bars, noise) until `--count`. Prints top-1
//! agreement (argmax of the first output, over its last axis for sequence outputs) and the
//! cosine similarity of every output. `--dump DIR` writes `input_<i>.npy` and the `.slim`
//! model's `output_<i>.npy`, so the wasm build can be checked bit for bit against native.

use anyhow::{bail, Context, Result};
use slimscan::compress::calib::{input_spec, load_sample};
use slimscan::engine::{F32Tensor, Model};
use slimscan::synth::SplitMix64;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn images(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            images(&p, out);
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        {
            out.push(p);
        }
    }
}

/// A synthetic, image-like normalised input: one of a few pattern families, varied by seed.
fn synthetic(shape: &[usize], seed: u64) -> Vec<f32> {
    let (c, h, w) = (shape[1], shape[2], shape[3]);
    let mut r = SplitMix64::new(seed);
    let kind = seed % 4;
    let (fx, fy) = (r.next_open01() * 0.3, r.next_open01() * 0.3);
    let tint: Vec<f64> = (0..c).map(|_| r.next_open01()).collect();
    let mut out = vec![0f32; c * h * w];
    for ch in 0..c {
        for y in 0..h {
            for x in 0..w {
                let (xf, yf) = (x as f64, y as f64);
                let v = match kind {
                    0 => (xf / w as f64 + yf / h as f64) / 2.0,
                    1 => 0.5 + 0.5 * (xf * fx + yf * fy).sin(),
                    2 => {
                        if ((yf * 0.15).sin() > 0.3) && ((xf * 0.9 + yf).sin() > 0.0) {
                            0.1
                        } else {
                            0.9
                        }
                    }
                    _ => r.next_open01(),
                };
                let v = (v * (0.5 + tint[ch])).clamp(0.0, 1.0);
                out[(ch * h + y) * w + x] = ((v - 0.45) / 0.25) as f32;
            }
        }
    }
    out
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let na = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    if na == 0.0 && nb == 0.0 {
        1.0
    } else {
        dot / (na * nb)
    }
}

/// Argmax over the last axis of every row (one row for a classifier, one per time step for a
/// sequence output).
fn argmaxes(t: &F32Tensor) -> Vec<usize> {
    let last = *t.shape.last().unwrap_or(&1);
    t.data
        .chunks(last.max(1))
        .map(|row| row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i))
        .collect()
}

fn floats(s: &str) -> Result<Vec<f32>> {
    s.split(',').map(|v| v.trim().parse::<f32>().context("a number")).collect()
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut count, mut dirs, mut dump, mut size, mut mean, mut std) =
        (50usize, Vec::new(), None, None, None, None);
    let mut pos = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--count" => count = val()?.parse()?,
            "--images" => dirs.push(PathBuf::from(val()?)),
            "--dump" => dump = Some(PathBuf::from(val()?)),
            "--size" => size = Some(floats(&val()?)?),
            "--mean" => mean = Some(floats(&val()?)?),
            "--std" => std = Some(floats(&val()?)?),
            _ if a.starts_with("--") => bail!("unknown option {a}"),
            _ => pos.push(a),
        }
    }
    let [onnx_path, slim_path] = &pos[..] else {
        bail!("usage: engine_parity ORIGINAL.onnx MODEL.slim [--count N] [--images DIR]... [--size H,W] [--dump DIR]");
    };
    let onnx = std::fs::read(onnx_path).with_context(|| onnx_path.clone())?;
    let slim = std::fs::read(slim_path).with_context(|| slim_path.clone())?;
    let proto = slimscan::onnx::decode_model(&onnx)?;
    let mut manifest = serde_json::Map::new();
    if let Some(s) = &size {
        manifest.insert("input_size".into(), serde_json::json!(s));
    }
    if let Some(m) = &mean {
        manifest.insert("mean".into(), serde_json::json!(m));
    }
    if let Some(s) = &std {
        manifest.insert("std".into(), serde_json::json!(s));
    }
    let spec = input_spec(&proto, Some(&serde_json::Value::Object(manifest)))?;
    let t = Instant::now();
    let mut original = Model::load(&onnx)?;
    let t_orig = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let mut compressed = Model::load(&slim)?;
    let t_slim = t.elapsed().as_secs_f64() * 1e3;
    println!("loaded: original {t_orig:.0} ms, .slim {t_slim:.0} ms; input {:?}", spec.shape);

    let mut files = Vec::new();
    for d in &dirs {
        images(d, &mut files);
    }
    files.truncate(count);
    let mut inputs: Vec<(String, Vec<f32>)> = Vec::new();
    for f in &files {
        match load_sample(f, &spec) {
            Ok(x) => inputs.push((f.display().to_string(), x)),
            Err(e) => eprintln!("skipping {}: {e}", f.display()),
        }
    }
    let real = inputs.len();
    let mut seed = 0;
    while inputs.len() < count {
        inputs.push((format!("synthetic #{seed}"), synthetic(&spec.shape, seed)));
        seed += 1;
    }
    if let Some(d) = &dump {
        std::fs::create_dir_all(d)?;
    }
    let (mut agree, mut rows, mut min_cos, mut cos_all) = (0usize, 0usize, f64::INFINITY, Vec::new());
    let (mut ms_orig, mut ms_slim) = (Vec::new(), Vec::new());
    // First outputs of both models, for the input-dependent part (deviation from the mean).
    let (mut all_a, mut all_b) = (Vec::new(), Vec::new());
    for (i, (name, x)) in inputs.iter().enumerate() {
        let input = || F32Tensor::new(spec.shape.clone(), x.clone());
        let t = Instant::now();
        let a = original.run(vec![input()?])?;
        ms_orig.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let b = compressed.run(vec![input()?])?;
        ms_slim.push(t.elapsed().as_secs_f64() * 1e3);
        for (oa, ob) in a.iter().zip(&b) {
            let c = cosine(&oa.data, &ob.data);
            cos_all.push(c);
            min_cos = min_cos.min(c);
        }
        all_a.push(a[0].data.clone());
        all_b.push(b[0].data.clone());
        let (ta, tb) = (argmaxes(&a[0]), argmaxes(&b[0]));
        rows += ta.len();
        agree += ta.iter().zip(&tb).filter(|(x, y)| x == y).count();
        if i < 3 || ta != tb {
            println!(
                "  {name}: top-1 {:?} vs {:?}, cosine {:.5}",
                &ta[..ta.len().min(8)],
                &tb[..tb.len().min(8)],
                cosine(&a[0].data, &b[0].data)
            );
        }
        if let Some(d) = &dump {
            let w = |p: PathBuf, shape: &[usize], data: &[f32]| -> Result<()> {
                let bytes = slimscan::npy::write(&slimscan::npy::Array {
                    shape: shape.to_vec(),
                    data: data.to_vec(),
                })?;
                Ok(std::fs::write(p, bytes)?)
            };
            w(d.join(format!("input_{i}.npy")), &spec.shape, x)?;
            w(d.join(format!("output_{i}.npy")), &b[0].shape, &b[0].data)?;
        }
    }
    cos_all.sort_by(f64::total_cmp);
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "{} inputs ({real} real images, {} synthetic): top-1 agreement {agree}/{rows} = {:.1} %, cosine min {min_cos:.5} median {:.5}",
        inputs.len(),
        inputs.len() - real,
        100.0 * agree as f64 / rows.max(1) as f64,
        cos_all[cos_all.len() / 2]
    );
    // Random-init networks can give nearly the same output for every input; the cosine of the
    // deviations from each model's mean output shows whether the input-dependent part agrees.
    let mean = |v: &[Vec<f32>]| -> Vec<f32> {
        let mut m = vec![0f32; v[0].len()];
        for x in v {
            for (a, b) in m.iter_mut().zip(x) {
                *a += b / v.len() as f32;
            }
        }
        m
    };
    let (ma, mb) = (mean(&all_a), mean(&all_b));
    let mut dev: Vec<f64> = all_a
        .iter()
        .zip(&all_b)
        .map(|(a, b)| {
            let da: Vec<f32> = a.iter().zip(&ma).map(|(x, m)| x - m).collect();
            let db: Vec<f32> = b.iter().zip(&mb).map(|(x, m)| x - m).collect();
            cosine(&da, &db)
        })
        .collect();
    dev.sort_by(f64::total_cmp);
    let spread = all_a.iter().map(|a| cosine(a, &ma)).fold(f64::INFINITY, f64::min);
    println!(
        "input-dependent part: cosine of deviations from the mean output min {:.4} median {:.4} \
         (original outputs vs their mean: min cosine {spread:.5})",
        dev[0],
        dev[dev.len() / 2]
    );
    println!(
        "native ms per run (median): original (tract f32) {:.1}, .slim {:.1}",
        med(&mut ms_orig),
        med(&mut ms_slim)
    );
    Ok(())
}
