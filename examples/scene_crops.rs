//! Cuts the text-line crops the scan pipeline reads out of a scene set's text pages and forms,
//! and reads each with PP-OCR's models: training data for the fast recogniser
//! (models/train/rec_fast.py `scenes`), which must read what the pipeline cuts out of camera
//! pages — rules, box edges and checkboxes beside the text, small text — not only clean lines.
//!
//! ```text
//! cargo run --release --features cli --example scene_crops -- \
//!     DET REC CLS SET_DIR OUT_DIR [--limit N]
//! ```
//!
//! CLS `-`: no direction classifier (the scene set's pages are turned at most 20°, so no line
//! is upside down; natively the classifier took a quarter of the time).
//!
//! Each scene of type text or form goes through page detection and rectification
//! (`Scanner::scan_visual`), text detection and cropping as `Ocr::scan` does it; the crops
//! are read by the direction classifier and recogniser given. Writes OUT_DIR/NNNNNN.png (the
//! crop, turned upright when the read says so) and OUT_DIR/crops.tsv: file, scene path, PP-OCR
//! text, its mean character probability. The labels are decided in Python against the
//! scene's ground truth.

use anyhow::{bail, Context, Result};
use slimscan::scan::image::RgbImage;
use slimscan::scan::ocr::pipeline::line_crops;
use slimscan::scan::ocr::Ocr;
use slimscan::scan::scanner::Scanner;
use std::io::Write;
use std::path::PathBuf;

fn main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut limit = usize::MAX;
    if let Some(k) = args.iter().position(|a| a == "--limit") {
        limit = args.get(k + 1).context("--limit needs a number")?.parse().context("--limit")?;
        args.drain(k..k + 2);
    }
    let [det, rec, cls, set, out] = &args[..] else {
        bail!("usage: scene_crops DET REC CLS|- SET_DIR OUT_DIR [--limit N]")
    };
    let read = |p: &str| std::fs::read(p).with_context(|| format!("reading {p}"));
    let cls = if cls == "-" { None } else { Some(read(cls)?) };
    let mut ocr = Ocr::load(&read(det)?, &read(rec)?, cls.as_deref())?;
    let mut scanner = Scanner::new(None, None);
    // Only the page is wanted from `scan_visual`: the quick code pass on the frame.
    scanner.options.apply_json(r#"{"codes_try_harder": false, "codes_on_page": false}"#)?;
    let set = PathBuf::from(set);
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out)?;
    let manifest = std::fs::read_to_string(set.join("manifest.jsonl")).context("reading manifest.jsonl")?;
    let mut tsv = std::fs::File::create(out.join("crops.tsv"))?;
    let (mut scenes, mut n) = (0usize, 0usize);
    let t0 = std::time::Instant::now();
    for line in manifest.lines().filter(|l| !l.trim().is_empty()) {
        let row: serde_json::Value = serde_json::from_str(line).context("manifest row")?;
        let kind = row["type"].as_str().unwrap_or("");
        if kind != "text" && kind != "form" {
            continue;
        }
        if scenes >= limit {
            break;
        }
        let path = row["path"].as_str().context("manifest row without a path")?;
        let frame = RgbImage::decode(&read(set.join(path).to_str().context("path")?)?)?;
        scanner.scan_visual(&frame)?;
        let img = scanner.rectified().unwrap_or(&frame);
        let boxes = ocr.detect(img)?;
        let crops = line_crops(img, &boxes)?;
        let (reads, _, _) = ocr.read_crops(crops.clone())?;
        for (crop, r) in crops.into_iter().zip(reads) {
            let crop = if r.rotated { crop.rotated_180() } else { crop };
            let name = format!("{n:06}.png");
            image::save_buffer(
                out.join(&name),
                &crop.data,
                crop.width as u32,
                crop.height as u32,
                image::ExtendedColorType::Rgb8,
            )?;
            let text = r.text.replace(['\t', '\n'], " ");
            writeln!(tsv, "{name}\t{path}\t{text}\t{:.4}", r.confidence)?;
            n += 1;
        }
        scenes += 1;
        eprintln!("{scenes} scenes, {n} crops, {:.0} s", t0.elapsed().as_secs_f64());
    }
    Ok(())
}
