use super::*;
use crate::scan::test_scenes::{fill_rect, flat};

fn line(text: &str, x0: f64, y0: f64, x1: f64, y1: f64) -> Line {
    Line {
        text: text.into(),
        confidence: 0.95,
        corners: [[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
        det_score: 0.9,
        rotated: false,
        row: 0,
        block: 0,
    }
}

fn outline(img: &mut crate::scan::image::RgbImage, x: usize, y: usize, s: usize) {
    fill_rect(img, x, y, s, 2, [20, 20, 20]);
    fill_rect(img, x, y + s - 2, s, 2, [20, 20, 20]);
    fill_rect(img, x, y, 2, s, [20, 20, 20]);
    fill_rect(img, x + s - 2, y, 2, s, [20, 20, 20]);
}

#[test]
fn fields_from_colons_rules_labels_above_and_checkboxes() {
    let mut img = flat(800, 600, [250, 250, 250]);
    // Underline under the "Date" value.
    fill_rect(&mut img, 200, 132, 260, 2, [20, 20, 20]);
    // Two checkboxes: the first ticked.
    outline(&mut img, 40, 300, 22);
    for k in 0..10 {
        fill_rect(&mut img, 46 + k, 306 + k, 3, 3, [10, 10, 10]);
    }
    outline(&mut img, 40, 350, 22);
    let lines = vec![
        line("Name: Ada Lovelace", 40.0, 40.0, 300.0, 64.0),
        line("Date", 40.0, 104.0, 100.0, 128.0),
        line("2026-12-05", 210.0, 104.0, 400.0, 128.0),
        line("Address:", 40.0, 170.0, 140.0, 194.0),
        line("12 Analytical Row, London", 40.0, 200.0, 380.0, 224.0),
        line("Subscribe to updates", 72.0, 300.0, 300.0, 322.0),
        line("口 Newsletter", 36.0, 350.0, 220.0, 372.0),
        line("Please write clearly and sign below the line", 40.0, 450.0, 600.0, 474.0),
    ];
    let luma = Luma::from_rgb(&img);
    let mut got: Vec<(String, String, &str)> =
        extract(&lines, &luma).into_iter().map(|f| (f.label, f.value, f.kind)).collect();
    got.sort();
    let want = vec![
        ("Address".to_string(), "12 Analytical Row, London".to_string(), "text"),
        ("Date".to_string(), "2026-12-05".to_string(), "text"),
        ("Name".to_string(), "Ada Lovelace".to_string(), "text"),
        ("Newsletter".to_string(), "unchecked".to_string(), "checkbox"),
        ("Subscribe to updates".to_string(), "checked".to_string(), "checkbox"),
    ];
    assert_eq!(got, want);
}

#[test]
fn prose_and_times_are_not_fields() {
    let img = flat(400, 200, [250, 250, 250]);
    let lines = vec![
        line("The meeting starts at 10:30 sharp", 10.0, 10.0, 380.0, 30.0),
        line("and ends when everyone has spoken", 10.0, 36.0, 380.0, 56.0),
    ];
    assert!(extract(&lines, &Luma::from_rgb(&img)).is_empty());
    assert!(extract(&[], &Luma::from_rgb(&img)).is_empty());
}

#[test]
fn splitting_labels() {
    assert_eq!(split_label("E-mail: a@b.org"), Some(("E-mail".into(), "a@b.org".into())));
    assert_eq!(split_label("Ref：42"), Some(("Ref".into(), "42".into())));
    assert_eq!(split_label("no colon here"), None);
    assert_eq!(split_label("a very long label of many many words: x"), None);
    assert_eq!(strip_leading_marks("☐ [x] Yes "), "x] Yes");
}
