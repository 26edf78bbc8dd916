use super::*;
use crate::scan::test_scenes::{background, code_image, paste};
use rxing::BarcodeFormat;

fn decode_frame(img: &crate::scan::image::RgbImage) -> Vec<Code> {
    decode(&Luma::from_rgb(img), &CodeOptions::default(), "frame").unwrap()
}

#[test]
fn reads_a_qr_code_seen_in_perspective() {
    let mut frame = background(640, 480, 5);
    let qr = code_image(BarcodeFormat::QR_CODE, "https://example.org/slimscan?q=Café", 0, 0);
    let quad = [[200.0, 110.0], [420.0, 130.0], [410.0, 350.0], [190.0, 330.0]];
    paste(&mut frame, &qr, &quad);
    let codes = decode_frame(&frame);
    assert_eq!(codes.len(), 1, "{codes:?}");
    let c = &codes[0];
    assert_eq!((c.format.as_str(), c.text.as_str()), ("qr_code", "https://example.org/slimscan?q=Café"));
    assert!(!c.bytes.is_empty());
    // The outline lies inside the pasted image (code and quiet zone) and covers most of it.
    let pasted = crate::scan::geometry::polygon_area(&quad);
    let outline = crate::scan::geometry::polygon_area(&c.corners);
    assert!(outline > 0.12 * pasted && outline < 0.6 * pasted, "{:?} vs {quad:?}", c.corners);
    for p in c.corners {
        assert!(crate::scan::geometry::in_convex_quad(&quad, p), "{:?} vs {quad:?}", c.corners);
    }
}

#[test]
fn reads_several_codes_of_several_formats_in_one_frame() {
    let mut frame = background(1200, 640, 2);
    let ean = code_image(BarcodeFormat::EAN_13, "4006381333931", 300, 120);
    let c128 = code_image(BarcodeFormat::CODE_128, "SLIM-2026-42", 480, 110);
    let dm = code_image(BarcodeFormat::DATA_MATRIX, "lot 17/B", 120, 120);
    paste(&mut frame, &ean, &[[40.0, 40.0], [400.0, 52.0], [396.0, 222.0], [36.0, 210.0]]);
    paste(&mut frame, &c128, &[[560.0, 60.0], [1160.0, 70.0], [1160.0, 240.0], [560.0, 230.0]]);
    paste(&mut frame, &dm, &[[300.0, 330.0], [520.0, 330.0], [520.0, 550.0], [300.0, 550.0]]);
    let mut got: Vec<(String, String)> =
        decode_frame(&frame).into_iter().map(|c| (c.format, c.text)).collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("code_128".to_string(), "SLIM-2026-42".to_string()),
            ("data_matrix".to_string(), "lot 17/B".to_string()),
            ("ean_13".to_string(), "4006381333931".to_string()),
        ]
    );
}

#[test]
fn nothing_in_a_frame_without_codes() {
    assert!(decode_frame(&background(640, 480, 11)).is_empty());
    let tiny = Luma { width: 3, height: 3, data: vec![0; 9] };
    assert!(decode(&tiny, &CodeOptions::default(), "frame").unwrap().is_empty());
}

#[test]
fn dedupe_keeps_the_first_reading() {
    let code = |text: &str, source| Code {
        format: "qr_code".into(),
        text: text.into(),
        bytes: vec![],
        points: vec![],
        corners: [[0.0; 2]; 4],
        source,
    };
    let out = dedupe(vec![code("a", "frame"), code("b", "frame"), code("a", "page")]);
    assert_eq!(
        out.iter().map(|c| (c.text.as_str(), c.source)).collect::<Vec<_>>(),
        [("a", "frame"), ("b", "frame")]
    );
}

#[test]
fn long_texts_are_cut_on_a_character_boundary() {
    let s = truncate("é".repeat(MAX_TEXT));
    assert!(s.len() <= MAX_TEXT + '…'.len_utf8() && s.ends_with('…'));
}
