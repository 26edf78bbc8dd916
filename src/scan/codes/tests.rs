use super::*;
use crate::scan::test_scenes::{background, code_image, paste};
use rxing::BarcodeFormat;

fn decode_frame(img: &crate::scan::image::RgbImage) -> Vec<Code> {
    decode(&Luma::from_rgb(img), &CodeOptions::default(), "frame").unwrap()
}

/// The (format, text) of every code read in a frame, sorted.
fn formats_and_texts(img: &crate::scan::image::RgbImage) -> Vec<(String, String)> {
    let mut got: Vec<(String, String)> = decode_frame(img).into_iter().map(|c| (c.format, c.text)).collect();
    got.sort();
    got
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
    assert_eq!(
        formats_and_texts(&frame),
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

/// An Aztec code turned by `deg` around `centre`, `side` pixels with its quiet zone, pasted
/// on a textured frame.
fn turned_aztec(text: &str, centre: Point, side: f64, deg: f64) -> crate::scan::image::RgbImage {
    let mut frame = background(1280, 720, 3);
    let code = code_image(BarcodeFormat::AZTEC, text, 0, 0);
    let (s, c) = deg.to_radians().sin_cos();
    let h = side / 2.0;
    let quad = [[-h, -h], [h, -h], [h, h], [-h, h]]
        .map(|[u, v]| [centre[0] + u * c - v * s, centre[1] + u * s + v * c]);
    paste(&mut frame, &code, &quad);
    frame
}

#[test]
fn reads_a_turned_aztec_code_away_from_the_middle() {
    // ZXing's Aztec detector starts from the middle of the image and samples along its axes;
    // the bull's-eye pass hands it each code centred and upright.
    for (deg, centre) in [(17.0, [300.0, 260.0]), (-21.0, [960.0, 470.0])] {
        let frame = turned_aztec("TKT4402645552/SENIOR", centre, 230.0, deg);
        let codes = decode_frame(&frame);
        let aztec: Vec<_> = codes.iter().filter(|c| c.format == "aztec").collect();
        assert_eq!(aztec.len(), 1, "{deg}°: {codes:?}");
        assert_eq!(aztec[0].text, "TKT4402645552/SENIOR");
        // Its points come back in frame coordinates, around the centre.
        let mid = aztec[0].points.iter().fold([0.0, 0.0], |a, p| [a[0] + p[0], a[1] + p[1]]);
        let n = aztec[0].points.len() as f64;
        assert!(
            (mid[0] / n - centre[0]).hypot(mid[1] / n - centre[1]) < 20.0,
            "{deg}°: {:?}",
            aztec[0].points
        );
    }
}

#[test]
fn finds_a_bullseye_and_its_rotation() {
    let frame = turned_aztec("lot 17/B", [500.0, 300.0], 200.0, 14.0);
    let img = Luma::from_rgb(&frame);
    let source = Luma8LuminanceSource::new(img.data.clone(), img.width as u32, img.height as u32).unwrap();
    let bitmap = BinaryBitmap::new(HybridBinarizer::new(source));
    let found = bullseye::find(bitmap.get_black_matrix(), MAX_BULLSEYES);
    assert!(!found.is_empty());
    let b = found[0];
    assert!((b.center[0] - 500.0).hypot(b.center[1] - 300.0) < 4.0, "{b:?}");
    let angle = bullseye::rotation(&img, &b).to_degrees();
    assert!((angle - 14.0).abs() < 2.0, "{angle}");
    // Nothing on a page of text-like strokes or the textured background alone.
    for plain in [crate::scan::test_scenes::text_page(900, 600, 5), background(900, 600, 7)] {
        let l = Luma::from_rgb(&plain);
        let source = Luma8LuminanceSource::new(l.data.clone(), l.width as u32, l.height as u32).unwrap();
        let bitmap = BinaryBitmap::new(HybridBinarizer::new(source));
        assert!(bullseye::find(bitmap.get_black_matrix(), MAX_BULLSEYES).is_empty());
    }
}

/// An EAN-13 whose bars come out thin: each bar loses a pixel at either edge to a light grey
/// (`edge`), as a blurred, bright photo of a 4-pixel-module print does.
fn thin_barred_ean(edge: u8) -> crate::scan::image::RgbImage {
    let mut code = code_image(BarcodeFormat::EAN_13, "4006381333931", 380, 90);
    for y in 0..code.height {
        let dark = |img: &crate::scan::image::RgbImage, x: usize| img.pixel(x, y)[0] < 128;
        let edges: Vec<usize> = (1..code.width - 1)
            .filter(|&x| dark(&code, x) && (!dark(&code, x - 1) || !dark(&code, x + 1)))
            .collect();
        for x in edges {
            let i = (y * code.width + x) * 3;
            code.data[i..i + 3].copy_from_slice(&[edge; 3]);
        }
    }
    let mut frame = background(640, 360, 9);
    paste(&mut frame, &code, &[[120.0, 90.0], [540.0, 96.0], [538.0, 236.0], [118.0, 230.0]]);
    frame
}

#[test]
fn tone_curves_read_bars_thinner_than_their_spaces() {
    let frame = thin_barred_ean(150);
    let img = Luma::from_rgb(&frame);
    let hints = DecodeHints {
        PossibleFormats: Some(formats()),
        TryHarder: Some(true),
        AlsoInverted: Some(true),
        ..DecodeHints::default()
    };
    // The plain pass misreads every row (so this scene needs the curves)...
    let plain = confirmed(&img, read_all(&img, &hints, true), "frame").unwrap();
    assert!(plain.iter().all(|c| c.text != "4006381333931"), "{plain:?}");
    // ...and the curved passes read it, agreeing with each other, once.
    let codes = decode_frame(&frame);
    let ean: Vec<_> = codes.iter().filter(|c| c.format == "ean_13").collect();
    assert_eq!(ean.len(), 1, "{codes:?}");
    assert_eq!(ean[0].text, "4006381333931");
}

#[test]
fn a_curved_reading_on_a_code_already_read_gives_way() {
    let code = |text: &str, corners: [Point; 4]| Code {
        format: "upc_a".into(),
        text: text.into(),
        bytes: vec![],
        points: vec![],
        corners,
        source: "frame",
    };
    let read = code("023942431015", [[72.0, 50.0], [261.0, 50.0], [261.0, 110.0], [72.0, 110.0]]);
    let misread = code("013042431015", [[72.0, 56.0], [261.0, 56.0], [261.0, 116.0], [72.0, 116.0]]);
    let elsewhere = code("013042431015", [[72.0, 200.0], [261.0, 200.0], [261.0, 260.0], [72.0, 260.0]]);
    assert!(overlaps(&read, &misread));
    assert!(!overlaps(&read, &elsewhere));
}

/// A code's image with its tones swapped: light modules on a dark ground.
fn negative(img: &crate::scan::image::RgbImage) -> crate::scan::image::RgbImage {
    crate::scan::image::RgbImage {
        width: img.width,
        height: img.height,
        data: img.data.iter().map(|&v| 255 - v).collect(),
    }
}

#[test]
fn reads_light_codes_on_a_dark_ground_when_trying_harder() {
    let mut frame = background(1000, 560, 7);
    let qr = negative(&code_image(BarcodeFormat::QR_CODE, "dark mode 42", 0, 0));
    let ean = negative(&code_image(BarcodeFormat::EAN_13, "4006381333931", 300, 120));
    paste(&mut frame, &qr, &[[60.0, 80.0], [360.0, 90.0], [350.0, 390.0], [50.0, 380.0]]);
    paste(&mut frame, &ean, &[[500.0, 150.0], [940.0, 160.0], [936.0, 360.0], [496.0, 350.0]]);
    assert_eq!(
        formats_and_texts(&frame),
        vec![
            ("ean_13".to_string(), "4006381333931".to_string()),
            ("qr_code".to_string(), "dark mode 42".to_string())
        ]
    );
    // The quick pass (live preview) does not look for them.
    let quick = CodeOptions { try_harder: false, multiple: true };
    assert!(decode(&Luma::from_rgb(&frame), &quick, "frame").unwrap().is_empty());
}

#[test]
fn bars_as_short_as_a_text_row_are_not_a_code() {
    // The same EAN-13 pasted full height, and squeezed into a strip 10 px high (a row of
    // text is that tall against the length of the "code" a 1D reader finds in it).
    let ean = code_image(BarcodeFormat::EAN_13, "4006381333931", 300, 120);
    let mut tall = background(1200, 640, 2);
    paste(&mut tall, &ean, &[[40.0, 40.0], [400.0, 52.0], [396.0, 222.0], [36.0, 210.0]]);
    assert_eq!(formats_and_texts(&tall), vec![("ean_13".to_string(), "4006381333931".to_string())]);
    let mut strip = background(1200, 640, 2);
    paste(&mut strip, &ean, &[[40.0, 300.0], [400.0, 302.0], [400.0, 312.0], [40.0, 310.0]]);
    // rxing alone reads the strip's rows...
    let luma = Luma::from_rgb(&strip);
    let hints = DecodeHints {
        PossibleFormats: Some([BarcodeFormat::EAN_13].into_iter().collect()),
        TryHarder: Some(true),
        ..DecodeHints::default()
    };
    let raw = read_all(&luma, &hints, false);
    assert_eq!(raw.iter().map(|r| r.getText().to_string()).collect::<Vec<_>>(), ["4006381333931"]);
    // ...and its bars reach 10 px across a 340 px read: no code.
    let points: Vec<Point> = raw[0].getPoints().iter().map(|p| [f64::from(p.x), f64::from(p.y)]).collect();
    let e = bar_extent(&luma, points[0], points[points.len() - 1]);
    assert!(e < MIN_BAR_EXTENT, "{e}");
    assert!(formats_and_texts(&strip).is_empty());
}
