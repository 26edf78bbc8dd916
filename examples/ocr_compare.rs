//! Compares PP-OCR models, original ONNX against compressed `.slim`, one stage at a time:
//!
//! ```text
//! ocr_compare rec SET_DIR REC_MODEL...      # each model on the set's line/word images
//! ocr_compare det IMAGE_DIR DET_MODEL...    # each model's probability map against the first's
//! ocr_compare cls SET_DIR CLS_MODEL...      # 180° decisions on the set's lines, upright and turned
//! ```
//!
//! `rec`: every `line`/`word` row of `SET_DIR/manifest.tsv` is read as the pipeline reads a
//! crop (`scan::ocr::rec` input, greedy CTC with the model's `character` list; no direction
//! classifier) and scored with `scan::ocr::metrics` (character accuracy `1 − Σ edits / Σ
//! characters` after whitespace normalisation). Lines read differently from the first model
//! are counted and, with `-v`, printed. `det`: every .jpg/.png of IMAGE_DIR is prepared as
//! `scan::ocr::det` does; per model, the IoU of the map thresholded at 0.3 with the first
//! model's, the mean |Δp| and the number of boxes the post-processing finds. `cls`: every
//! line/word image as it is and turned by 180°, prepared as the pipeline does; a line counts as
//! turned when p(180°) > 0.9 (the pipeline's threshold): decisions right, and decisions that
//! differ from the first model's.
//!
//! `cargo run --release --features cli --example ocr_compare -- rec benches/ocr/set
//! models/ch_PP-OCRv4_rec_infer.onnx models/ppocr_rec.slim`

use anyhow::{bail, Context, Result};
use slimscan::engine::{F32Tensor, Model};
use slimscan::scan::image::RgbImage;
use slimscan::scan::ocr::{det, manifest, metrics::Score, rec, Recogniser};
use std::path::Path;
use std::time::Instant;

/// The set's line and word crops, decoded, with their ground truth.
fn crops(set: &Path) -> Result<Vec<(String, RgbImage, String)>> {
    manifest::read(set)?
        .into_iter()
        .filter(|it| it.is_crop())
        .map(|it| {
            let img = RgbImage::decode(&std::fs::read(set.join(&it.path)).with_context(|| it.path.clone())?)?;
            Ok((it.path, img, it.truth))
        })
        .collect()
}

fn compare_rec(set: &Path, models: &[String], verbose: bool) -> Result<()> {
    let items = crops(set)?;
    let mut first: Vec<String> = Vec::new();
    for (m, path) in models.iter().enumerate() {
        let model = Model::load(&std::fs::read(path).with_context(|| path.clone())?)?;
        let mut rec = Recogniser::new(model, "recogniser")?;
        let (mut score, mut differ) = (Score::default(), 0);
        let t = Instant::now();
        for (i, (file, img, truth)) in items.iter().enumerate() {
            let text = rec.read_one(img).map(|d| d.text).with_context(|| file.clone())?;
            score.add(truth, &text);
            if m == 0 {
                first.push(text);
            } else if text != first[i] {
                differ += 1;
                if verbose {
                    eprintln!("{file}\n  truth {truth:?}\n  first {:?}\n  this  {text:?}", first[i]);
                }
            }
        }
        println!(
            "{path}\t{} items\t{} chars\t{} edits\tchar acc {:.2} %\tword acc {:.2} %\t{differ} read differently\t{:.1} s",
            score.items,
            score.chars,
            score.char_edits,
            score.char_accuracy() * 100.0,
            score.word_accuracy() * 100.0,
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn compare_det(dir: &Path, models: &[String]) -> Result<()> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "jpg" | "jpeg" | "png"))
        })
        .collect();
    files.sort();
    let mut loaded: Vec<Model> =
        models.iter().map(|p| Model::load(&std::fs::read(p)?).map_err(Into::into)).collect::<Result<_>>()?;
    let opts = det::DetOptions::default();
    // Per model: Σ intersection, Σ union, Σ |Δp|, pixels, boxes.
    let mut tot = vec![(0usize, 0usize, 0f64, 0usize, 0usize); models.len()];
    for f in &files {
        let img = RgbImage::decode(&std::fs::read(f)?)?;
        let (x, w, h) = det::preprocess(&img, &opts);
        let mut maps: Vec<Vec<f32>> = Vec::new();
        for m in loaded.iter_mut() {
            let out = m.run(vec![F32Tensor::new(vec![1, 3, h, w], x.clone())?])?;
            maps.push(out.into_iter().next().context("no output")?.data);
        }
        let mut line = format!("{}\t{w}x{h}", f.file_name().and_then(|n| n.to_str()).unwrap_or("?"));
        for (k, map) in maps.iter().enumerate() {
            let (mut inter, mut union, mut diff) = (0usize, 0usize, 0f64);
            for (&a, &b) in maps[0].iter().zip(map) {
                let (a1, b1) = (a > opts.threshold, b > opts.threshold);
                inter += usize::from(a1 && b1);
                union += usize::from(a1 || b1);
                diff += f64::from((a - b).abs());
            }
            let boxes = det::postprocess(map, w, h, img.width, img.height, &opts)?.len();
            let t = &mut tot[k];
            *t = (t.0 + inter, t.1 + union, t.2 + diff, t.3 + map.len(), t.4 + boxes);
            line += &format!("\tIoU {:.4} boxes {boxes}", inter as f64 / union.max(1) as f64);
        }
        println!("{line}");
    }
    for (p, t) in models.iter().zip(&tot) {
        println!(
            "{p}\tIoU(p>0.3) {:.4}\tmean |Δp| {:.5}\tboxes {}",
            t.0 as f64 / t.1.max(1) as f64,
            t.2 / t.3.max(1) as f64,
            t.4
        );
    }
    Ok(())
}

fn compare_cls(set: &Path, models: &[String]) -> Result<()> {
    let mut turned = Vec::new();
    for (_, img, _) in crops(set)? {
        turned.push((img.rotated_180(), true));
        turned.push((img, false));
    }
    let crops = turned;
    let mut first: Vec<bool> = Vec::new();
    for (m, path) in models.iter().enumerate() {
        let mut model = Model::load(&std::fs::read(path).with_context(|| path.clone())?)?;
        let (mut right, mut differ) = (0, 0);
        for (i, (img, turned)) in crops.iter().enumerate() {
            let x = rec::batch(&[img], rec::CLS_WIDTH)?;
            let out = model.run(vec![F32Tensor::new(vec![1, 3, rec::REC_HEIGHT, rec::CLS_WIDTH], x)?])?;
            let said = out[0].data.get(1).copied().unwrap_or(0.0) > 0.9;
            right += usize::from(said == *turned);
            if m == 0 {
                first.push(said);
            } else {
                differ += usize::from(said != first[i]);
            }
        }
        println!(
            "{path}\t{} crops\t{right} decided right ({:.2} %)\t{differ} decided differently",
            crops.len(),
            right as f64 * 100.0 / crops.len().max(1) as f64,
        );
    }
    Ok(())
}

fn main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let verbose = args.iter().any(|a| a == "-v");
    args.retain(|a| a != "-v");
    match args.first().map(String::as_str) {
        Some("rec") if args.len() >= 3 => compare_rec(Path::new(&args[1]), &args[2..], verbose),
        Some("det") if args.len() >= 3 => compare_det(Path::new(&args[1]), &args[2..]),
        Some("cls") if args.len() >= 3 => compare_cls(Path::new(&args[1]), &args[2..]),
        _ => {
            bail!("usage: ocr_compare rec SET_DIR REC_MODEL... [-v] | det IMAGE_DIR DET_MODEL... | cls SET_DIR CLS_MODEL...")
        }
    }
}
