//! Calibration tensors for a PP-OCR recogniser (`slimscan compress --calib DIR` /
//! `--sensitivity`): every `line` (and `word`) image of an OCR set's `manifest.tsv`, prepared
//! as the pipeline prepares a crop (`scan::ocr::rec`: height 48, aspect kept, BGR, −1..=1), cut
//! into pieces of one fixed width (calibration runs one input shape; the last piece is
//! zero-padded as a short line is), each written as `OUT/rec_PP_LLLL.npy` (piece PP of line
//! LLLL, so that the first files in name order come from different lines), `[1, 3, 48, WIDTH]`.
//!
//! ```text
//! cargo run --release --features cli --example rec_calib -- SET_DIR OUT_DIR [WIDTH=320] [FIRST=0] [COUNT=all]
//! ```
//!
//! FIRST and COUNT pick a range of the manifest's images (e.g. a part not used for evaluation).
//! Compress with `--manifest` giving `"input_size": [48, WIDTH]`.

use anyhow::{bail, Context, Result};
use slimscan::npy;
use slimscan::scan::image::RgbImage;
use slimscan::scan::ocr::{manifest, rec};
use std::path::Path;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        bail!("usage: rec_calib SET_DIR OUT_DIR [WIDTH=320] [FIRST=0] [COUNT=all]");
    }
    let (set, out) = (Path::new(&args[0]), Path::new(&args[1]));
    let num = |i: usize, d: usize| args.get(i).map_or(Ok(d), |s| s.parse::<usize>().context("a number"));
    let (width, first, count) = (num(2, 320)?, num(3, 0)?, num(4, usize::MAX)?);
    let items = manifest::read(set)?;
    std::fs::create_dir_all(out)?;
    let mut written = 0;
    for (line, it) in items.into_iter().skip(first).take(count).enumerate() {
        if !it.is_crop() {
            continue;
        }
        let img = RgbImage::decode(&std::fs::read(set.join(&it.path)).with_context(|| it.path.clone())?)?;
        // The whole line at height 48, then cut into WIDTH-wide pieces.
        let full = rec::resized_width(img.width, img.height, rec::REC_MAX_WIDTH);
        let x = rec::batch(&[&img], full)?;
        let plane = rec::REC_HEIGHT * full;
        for (piece, start) in (0..full).step_by(width).enumerate() {
            let mut buf = vec![0f32; 3 * rec::REC_HEIGHT * width];
            let w = width.min(full - start);
            for c in 0..3 {
                for y in 0..rec::REC_HEIGHT {
                    let src = &x[c * plane + y * full + start..][..w];
                    buf[(c * rec::REC_HEIGHT + y) * width..][..w].copy_from_slice(src);
                }
            }
            let a = npy::Array { shape: vec![1, 3, rec::REC_HEIGHT, width], data: buf };
            std::fs::write(out.join(format!("rec_{piece:02}_{line:04}.npy")), npy::write(&a)?)?;
            written += 1;
        }
    }
    println!("{written} tensors [1, 3, {}, {width}] in {}", rec::REC_HEIGHT, out.display());
    Ok(())
}
