//! The fast recogniser (models/ocr_fast, committed) in the OCR pipeline: a line it reads
//! with confidence is read once; a line it is unsure of is read again by the main recogniser.

use slimscan::scan::image::RgbImage;
use slimscan::scan::ocr::Ocr;
use std::path::PathBuf;

/// tests/fixtures/ocr_line.png: line_0002 of the OCR calibration lines (`make models`).
const LINE_TEXT: &str = "6 x Safety gloves size L @ 0.47 = 2.82";

/// Levenshtein distance in characters.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, &cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The line read, up to two characters wrong (the int8 fast recogniser reads this line as
/// "6 x Safety gloves size L. @ 047 = 2.82"): the recognisers are scored in
/// models/REPORT.md; here it is the pipeline's plumbing that is checked.
fn assert_read(text: &str) {
    assert!(edits(text, LINE_TEXT) <= 2, "{text:?} is not {LINE_TEXT:?}");
}

fn file(path: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The fast recogniser's f32 original stands in for PP-OCR's (fetched by `make models`,
/// which `cargo test` does not need); `read_line` never runs the detector, so any model
/// stands in for it.
fn pipeline(with_fast: bool) -> Ocr {
    let det = Ocr::load_part("detector", &file("tests/fixtures/tiny_cnn.slim")).unwrap();
    let main = Ocr::load_part("recogniser", &file("models/ocr_fast/rec_fast_f32.onnx")).unwrap();
    let mut ocr = Ocr::from_models(det, main, None).unwrap();
    if with_fast {
        let fast = Ocr::load_part("fast recogniser", &file("models/ocr_fast/rec_fast.slim")).unwrap();
        ocr.set_fast_recogniser(fast).unwrap();
    }
    ocr
}

#[test]
fn sure_lines_are_read_once_and_unsure_ones_again() {
    let img = RgbImage::decode(&file("tests/fixtures/ocr_line.png")).unwrap();
    let mut ocr = pipeline(true);
    ocr.options.fallback_below = 0.0;
    let once = ocr.read_line(&img).unwrap();
    assert_read(&once.text);
    assert_eq!((once.reads.fast, once.reads.main), (1, 0));
    let t = once.timings_ms;
    assert!(t.rec_fast > 0.0 && t.rec >= t.rec_fast, "{t:?}");

    ocr.options.fallback_below = 1.0;
    let twice = ocr.read_line(&img).unwrap();
    assert_eq!((twice.reads.fast, twice.reads.main), (1, 1));
    assert_read(&twice.text);

    let mut alone = pipeline(false);
    let main_only = alone.read_line(&img).unwrap();
    assert_eq!((main_only.reads.fast, main_only.reads.main), (0, 1));
    assert_eq!(main_only.timings_ms.rec_fast, 0.0);
    assert_read(&main_only.text);
}

#[test]
fn a_fast_recogniser_needs_its_character_list() {
    let mut ocr = pipeline(false);
    let not_a_recogniser = Ocr::load_part("fast recogniser", &file("tests/fixtures/tiny_cnn.slim")).unwrap();
    let err = ocr.set_fast_recogniser(not_a_recogniser).unwrap_err().to_string();
    assert!(err.contains("fast recogniser has no `character` metadata"), "{err}");
}

#[test]
fn fallback_threshold_is_checked() {
    let mut ocr = pipeline(true);
    ocr.options.apply_json(r#"{"fallback_below": 0.8}"#).unwrap();
    assert_eq!(ocr.options.fallback_below, 0.8);
    for bad in [r#"{"fallback_below": 1.5}"#, r#"{"fallback_below": "high"}"#] {
        assert!(ocr.options.apply_json(bad).is_err(), "{bad}");
    }
    assert_eq!(ocr.options.fallback_below, 0.8);
}
