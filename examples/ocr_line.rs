//! Reads one text line with a PP-OCR recogniser, original or compressed:
//!
//! ```text
//! cargo run --release --features cli --example ocr_line -- models/ppocr_rec.slim LINE.png
//! ```
//!
//! The whole image is the line (no detection; `slimscan eval ocr` runs the full pipeline): resized
//! to height 48, run, CTC-decoded with the character list from the model's metadata
//! (`scan::ocr::Recogniser::read_one`); ms covers those three steps.

use anyhow::{bail, Context, Result};
use slimscan::engine::Model;
use slimscan::scan::image::RgbImage;
use slimscan::scan::ocr::Recogniser;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model_path, image_path] = &args[..] else { bail!("usage: ocr_line REC_MODEL IMAGE") };
    let model = Model::load(&std::fs::read(model_path).context("reading the model")?)?;
    let mut rec = Recogniser::new(model, "recogniser")?;
    let bytes = std::fs::read(image_path).with_context(|| format!("reading {image_path}"))?;
    let img = RgbImage::decode(&bytes)?;
    let t = std::time::Instant::now();
    let d = rec.read_one(&img)?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    println!("{}\t{:.3}\t{ms:.0} ms", d.text, d.confidence);
    Ok(())
}
