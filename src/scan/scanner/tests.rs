use super::*;
use crate::scan::test_scenes::{background, code_image, paste, text_page};
use rxing::BarcodeFormat;

/// A 640×480 frame with a page (corners `quad`) carrying a QR code.
fn frame_with_page(quad: &[Point; 4]) -> RgbImage {
    let mut page = text_page(420, 594, 4);
    let qr = code_image(BarcodeFormat::QR_CODE, "slimscan page 1", 0, 0);
    let at = [[240.0, 420.0], [400.0, 420.0], [400.0, 580.0], [240.0, 580.0]];
    paste(&mut page, &qr, &at);
    let mut frame = background(640, 480, 8);
    paste(&mut frame, &page, quad);
    frame
}

fn committed_classifier() -> Classifier {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/models/classifier/mobilenet_v2_dc.slim");
    Classifier::load(&std::fs::read(path).unwrap()).unwrap()
}

const QUAD: [Point; 4] = [[160.0, 20.0], [470.0, 30.0], [480.0, 460.0], [150.0, 450.0]];

#[test]
fn scan_finds_the_page_rectifies_it_and_reads_its_code() {
    let classifier = committed_classifier();
    let mut s = Scanner::new(None, Some(classifier));
    let r = s.scan(&frame_with_page(&QUAD)).unwrap();
    let page = r.page.expect("a page");
    for (a, b) in page.corners.iter().zip(&QUAD) {
        assert!((a[0] - b[0]).hypot(a[1] - b[1]) < 4.0, "{:?}", page.corners);
    }
    // The rectified page keeps the page's proportions (about 310 × 430).
    let img = s.rectified().unwrap();
    assert_eq!((img.width, img.height), (page.width, page.height));
    let (qw, qh) = quad_size(&QUAD);
    assert!(
        (img.width as f64 - qw).abs() < 6.0 && (img.height as f64 - qh).abs() < 6.0,
        "{}x{}",
        img.width,
        img.height
    );
    assert_eq!(r.codes.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(), ["slimscan page 1"]);
    assert!(CLASSES_OK.contains(&r.doc_type.as_str()));
    // A page and a code were found: the type is the classifier's (or "qr" if it said none).
    assert!(r.type_source == "classifier" || (r.type_source == "codes" && r.doc_type == "qr"), "{r:?}");
    assert!(r.type_probabilities.is_some() && r.timings_ms.total >= r.timings_ms.page);
    // Without OCR models there is no text and there are no fields.
    assert!(r.text.is_empty() && r.fields.is_empty());
    let json = serde_json::to_value(&r).unwrap();
    assert!(
        json["type"].is_string()
            && json["page"]["corners"].is_array()
            && json["codes"][0]["format"] == "qr_code"
    );
}

const CLASSES_OK: [&str; 5] = crate::scan::doctype::CLASSES;

#[test]
fn session_reports_a_steady_page_and_remembers_codes() {
    let mut session = ScanSession::new(Scanner::new(None, None));
    let still = frame_with_page(&QUAD);
    let mut steady_at = None;
    for i in 1..=6 {
        let f = session.push(&still).unwrap();
        assert!(f.page.is_some());
        assert_eq!(f.codes.len(), 1, "{:?}", f.codes);
        if f.steady && steady_at.is_none() {
            steady_at = Some(i);
        }
    }
    assert_eq!(steady_at, Some(5));
    // The page moves: not steady any more.
    let moved = frame_with_page(&QUAD.map(|p| [p[0] + 40.0, p[1]]));
    let f = session.push(&moved).unwrap();
    assert!(!f.steady && f.still_frames == 1);
    // A frame without a page or code: the code is still listed (recent), the page is gone.
    let empty = background(640, 480, 8);
    let f = session.push(&empty).unwrap();
    assert!(f.page.is_none() && !f.steady);
    assert_eq!(f.codes.len(), 1);
    assert_eq!(f.codes[0].frames, 7);
    for _ in 0..session.options.code_memory {
        session.push(&empty).unwrap();
    }
    assert!(session.push(&empty).unwrap().codes.is_empty());
}

#[test]
fn options_from_json() {
    let mut o = ScanOptions::default();
    assert!(o.quick_frame_codes_with_page);
    o.apply_json(
        r#"{"preview_try_harder": true, "page_max_side": 256, "codes_on_page": false,
            "quick_frame_codes_with_page": false, "fast_rec_without_page": true}"#,
    )
    .unwrap();
    assert!(o.preview_codes.try_harder && !o.codes_on_page && o.page.max_side == 256);
    assert!(!o.quick_frame_codes_with_page && o.fast_rec_without_page);
    for bad in [
        r#"{"page_max_side": 5}"#,
        r#"{"codes_multiple": 1}"#,
        r#"{"nope": true}"#,
        r#"{"read_none": false}"#,
        "[1]",
        "{",
    ] {
        let before = o;
        assert!(o.apply_json(bad).unwrap_err().to_string().contains("scan options"), "{bad}");
        assert_eq!(o, before, "{bad}: a bad setting changes nothing");
    }
}

#[test]
fn an_empty_frame_is_none_whatever_the_classifier_says() {
    let classifier = committed_classifier();
    let mut s = Scanner::new(None, Some(classifier));
    let r = s.scan(&background(640, 480, 21)).unwrap();
    assert!(r.page.is_none() && r.codes.is_empty() && r.text.is_empty() && r.fields.is_empty());
    assert_eq!(r.doc_type, "none");
    assert!(r.type_source == "classifier" || r.type_source == "nothing found");
    // Without a classifier the type is unknown, never guessed.
    let r = Scanner::new(None, None).scan(&background(640, 480, 21)).unwrap();
    assert_eq!((r.doc_type.as_str(), r.type_source), ("unknown", "none"));
}

#[test]
fn a_scan_in_two_parts_equals_the_whole_scan() {
    let mut s = Scanner::new(None, Some(committed_classifier()));
    for frame in [frame_with_page(&QUAD), background(640, 480, 3)] {
        let whole = s.scan(&frame).unwrap();
        let mut parts = s.scan_visual(&frame).unwrap();
        assert!(parts.text.is_empty() && parts.lines.is_empty() && parts.fields.is_empty());
        s.read_text(&frame, &mut parts).unwrap();
        parts.timings_ms = whole.timings_ms;
        assert_eq!(parts, whole);
    }
}

fn code(format: &str) -> Code {
    Code {
        format: format.into(),
        text: "x".into(),
        bytes: Vec::new(),
        points: Vec::new(),
        corners: [[0.0; 2]; 4],
        source: "frame",
    }
}

#[test]
fn decoded_codes_settle_barcode_against_qr() {
    let (qr, ean) = (code("qr_code"), code("ean_13"));
    // The classifier's code type gives way to what was decoded ...
    assert_eq!(type_from_codes("barcode", std::slice::from_ref(&qr)), Some("qr"));
    assert_eq!(type_from_codes("qr", std::slice::from_ref(&ean)), Some("barcode"));
    assert_eq!(type_from_codes("none", &[ean.clone(), qr.clone()]), Some("barcode"));
    // ... agrees, is mixed, or is absent: the classifier's answer stands.
    assert_eq!(type_from_codes("qr", std::slice::from_ref(&qr)), None);
    assert_eq!(type_from_codes("qr", &[ean.clone(), qr.clone()]), None);
    assert_eq!(type_from_codes("barcode", &[]), None);
    // A code on a document does not make it a code scene.
    assert_eq!(type_from_codes("text", std::slice::from_ref(&qr)), None);
    assert_eq!(type_from_codes("form", &[ean]), None);
}

#[test]
fn text_read_where_no_code_was_found_makes_the_type_text() {
    let ean = code("ean_13");
    assert!(type_from_text("none", &[]));
    assert!(type_from_text("barcode", &[]));
    assert!(type_from_text("qr", &[]));
    // a code was read: the code decides (type_from_codes), not the text beside it
    assert!(!type_from_text("barcode", std::slice::from_ref(&ean)));
    assert!(!type_from_text("text", &[]));
    assert!(!type_from_text("form", &[]));
}

#[test]
fn fields_settle_text_against_form() {
    // Many fields for the lines read: a form, whatever the classifier said.
    assert_eq!(type_from_fields("text", 8, 14), Some("form"));
    assert_eq!(type_from_fields("form", 8, 14), None);
    // A few stray "Label: value" lines in a page of prose, or too few fields: text.
    assert_eq!(type_from_fields("form", 4, 28), Some("text"));
    assert_eq!(type_from_fields("form", 2, 3), Some("text"));
    assert_eq!(type_from_fields("text", 3, 9), Some("form"));
    assert_eq!(type_from_fields("text", 3, 10), None);
    // The other types are not the fields' to change.
    assert_eq!(type_from_fields("qr", 8, 8), None);
    assert_eq!(type_from_fields("none", 8, 8), None);
}

fn line(text: &str, confidence: f32) -> Line {
    Line {
        text: text.into(),
        confidence,
        corners: [[0.0; 2]; 4],
        det_score: 0.9,
        rotated: false,
        row: 0,
        block: 0,
    }
}

#[test]
fn a_read_counts_only_with_an_anchor_line() {
    // What textures and empty photos give: one or two characters.
    assert!(credible_lines(vec![line("O", 0.58), line("E", 0.98)], 480).is_empty());
    assert!(credible_lines(vec![line("ee", 0.88)], 480).is_empty());
    // Three letters or digits read surely: a word, and every line above the floor with it.
    let kept =
        credible_lines(vec![line("Total", 0.93), line("3", 0.7), line("-", 0.9), line("x1", 0.4)], 480);
    assert_eq!(kept.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["Total", "3"]);
    // An unsure word is no anchor.
    assert!(credible_lines(vec![line("Total", 0.7)], 480).is_empty());
    assert!(credible_lines(vec![], 480).is_empty());
}

/// A line as tall as `h` pixels.
fn line_of_height(text: &str, confidence: f32, h: f64) -> Line {
    Line { corners: [[0.0, 0.0], [40.0, 0.0], [40.0, h], [0.0, h]], ..line(text, confidence) }
}

#[test]
fn a_crop_of_a_page_number_is_its_own_anchor() {
    // A 44x34 crop of "68" (UW-III), read surely in a box as tall as the image: kept.
    let kept = credible_lines(vec![line_of_height("68", 1.0, 34.0)], 34);
    assert_eq!(kept.len(), 1);
    // The same read in a 480-px photo, an unsure read of the crop, or a small box in the crop:
    // no evidence of text.
    assert!(credible_lines(vec![line_of_height("68", 1.0, 34.0)], 480).is_empty());
    assert!(credible_lines(vec![line_of_height("68", 0.6, 34.0)], 34).is_empty());
    assert!(credible_lines(vec![line_of_height("68", 1.0, 12.0)], 34).is_empty());
    // A crop taller than a line (CROP_MAX_HEIGHT): the usual anchor rule.
    assert!(credible_lines(vec![line_of_height("68", 1.0, 120.0)], 120).is_empty());
    // Punctuation alone is no text.
    assert!(credible_lines(vec![line_of_height("-", 1.0, 34.0)], 34).is_empty());
}
