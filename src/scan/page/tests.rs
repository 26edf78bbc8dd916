use super::*;
use crate::scan::image::RgbImage;
use crate::scan::test_scenes::{background, paste, text_page, Rng};

fn max_corner_error(a: &[Point; 4], b: &[Point; 4]) -> f64 {
    a.iter().zip(b).map(|(p, q)| (p[0] - q[0]).hypot(p[1] - q[1])).fold(0.0, f64::max)
}

fn scene(quad: &[Point; 4], seed: u64) -> RgbImage {
    let mut frame = background(640, 480, seed);
    paste(&mut frame, &text_page(420, 594, seed), quad);
    frame
}

#[test]
fn finds_a_tilted_page_on_a_textured_desk() {
    let mut rng = Rng(7);
    for seed in 1..=6u64 {
        let j = |rng: &mut Rng| rng.uniform(-25.0, 25.0);
        let quad = [
            [170.0 + j(&mut rng), 50.0 + j(&mut rng)],
            [470.0 + j(&mut rng), 60.0 + j(&mut rng)],
            [490.0 + j(&mut rng), 440.0 + j(&mut rng)],
            [150.0 + j(&mut rng), 430.0 + j(&mut rng)],
        ];
        let frame = Luma::from_rgb(&scene(&quad, seed));
        let found = find_page(&frame, &PageOptions::default()).expect("a page");
        let err = max_corner_error(&found.corners, &quad);
        assert!(err < 4.0, "seed {seed}: corners {:?} vs {quad:?} (error {err:.1} px)", found.corners);
        assert!(found.support > 0.8, "{found:?}");
    }
}

#[test]
fn a_finger_over_one_edge_does_not_lose_the_page() {
    let quad = [[150.0, 60.0], [480.0, 50.0], [500.0, 430.0], [140.0, 440.0]];
    let mut img = scene(&quad, 3);
    // A skin-coloured "thumb" over the middle of the left edge.
    for y in 200..300usize {
        for x in 100..200usize {
            let (dx, dy) = (x as f64 - 150.0, y as f64 - 250.0);
            if (dx / 50.0).powi(2) + (dy / 50.0).powi(2) <= 1.0 {
                let i = (y * img.width + x) * 3;
                img.data[i..i + 3].copy_from_slice(&[214, 160, 130]);
            }
        }
    }
    let found = find_page(&Luma::from_rgb(&img), &PageOptions::default()).expect("a page");
    assert!(max_corner_error(&found.corners, &quad) < 5.0, "{found:?}");
}

#[test]
fn low_contrast_page_on_a_light_desk() {
    let quad = [[120.0, 40.0], [500.0, 70.0], [480.0, 450.0], [100.0, 420.0]];
    let mut frame = crate::scan::test_scenes::flat(640, 480, [205, 200, 195]);
    paste(&mut frame, &text_page(420, 594, 9), &quad);
    let found = find_page(&Luma::from_rgb(&frame), &PageOptions::default()).expect("a page");
    assert!(max_corner_error(&found.corners, &quad) < 4.0, "{found:?}");
}

#[test]
fn no_page_in_texture_or_flat_frames() {
    for seed in 1..=4u64 {
        let frame = Luma::from_rgb(&background(640, 480, seed));
        assert_eq!(find_page(&frame, &PageOptions::default()), None, "seed {seed}");
    }
    let flat = Luma { width: 320, height: 240, data: vec![128; 320 * 240] };
    assert_eq!(find_page(&flat, &PageOptions::default()), None);
    let tiny = Luma { width: 5, height: 3, data: vec![0; 15] };
    assert_eq!(find_page(&tiny, &PageOptions::default()), None);
}

#[test]
fn inscribed_quad_of_a_square_hull_is_the_square() {
    let mut pts = Vec::new();
    for i in 0..=10 {
        let t = i as f64;
        pts.extend([[t, 0.0], [10.0, t], [10.0 - t, 10.0], [0.0, 10.0 - t]]);
    }
    let q = largest_inscribed_quad(&convex_hull(&pts)).unwrap();
    assert!((polygon_area(&q) - 100.0).abs() < 1e-9);
}

#[test]
fn line_fit_and_intersection() {
    let (c, s, rho) = fit_line(&[[0.0, 2.0], [5.0, 2.0], [9.0, 2.0]]).unwrap();
    assert!(c.abs() < 1e-9 && (s.abs() - 1.0).abs() < 1e-9 && (rho.abs() - 2.0).abs() < 1e-9);
    let h = Line { theta: s.atan2(c), rho, votes: 0 };
    let v = Line { theta: 0.0, rho: 3.0, votes: 0 };
    let p = intersect(&h, &v).unwrap();
    assert!((p[0] - 3.0).abs() < 1e-9 && (p[1] - 2.0).abs() < 1e-9);
}

#[test]
fn a_dark_object_on_a_light_desk_is_not_a_page() {
    let quad = [[200.0, 100.0], [420.0, 140.0], [400.0, 380.0], [180.0, 350.0]];
    let mut frame = crate::scan::test_scenes::flat(640, 480, [200, 202, 198]);
    paste(&mut frame, &crate::scan::test_scenes::flat(50, 50, [25, 30, 25]), &quad);
    assert_eq!(find_page(&Luma::from_rgb(&frame), &PageOptions::default()), None);
}

/// A light sheet `w × h` pasted on a dark ground at `quad`: whether a page is found there.
fn finds_sheet(w: usize, h: usize, quad: [Point; 4]) -> bool {
    let mut frame = crate::scan::test_scenes::flat(640, 480, [40, 40, 40]);
    paste(&mut frame, &crate::scan::test_scenes::flat(w, h, [240, 240, 240]), &quad);
    find_page(&Luma::from_rgb(&frame), &PageOptions::default()).is_some()
}

#[test]
fn a_strip_is_not_a_page() {
    // A long light strip (a line of text on a dark screen, a ruler): sharp edges all round, but
    // 10 times as long as wide. A page-shaped sheet on the same ground is found.
    assert!(!finds_sheet(50, 5, [[70.0, 215.0], [570.0, 215.0], [570.0, 265.0], [70.0, 265.0]]));
    assert!(finds_sheet(50, 70, [[170.0, 60.0], [470.0, 60.0], [470.0, 420.0], [170.0, 420.0]]));
}
