//! Form fields from OCR lines and the page's layout.
//!
//! Why this way: a printed form says which text is a field in three ways — punctuation
//! ("Label: value"), drawn structure (a box or an underline that holds the value) and
//! checkboxes. Punctuation is in the OCR text; boxes, rules and checkboxes are dark strokes in
//! the page image, found on a locally thresholded grey page. A value is paired with the label
//! on its left on the same row or, failing that, just above it.

use crate::scan::geometry::Point;
use crate::scan::luma::Luma;
use crate::scan::ocr::Line;
use serde::Serialize;

/// One form field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    pub label: String,
    /// The value as read; for checkboxes "checked" or "unchecked".
    pub value: String,
    /// "text" or "checkbox".
    pub kind: &'static str,
    /// Where the value is (the checkbox itself for checkboxes), page pixels: tl, tr, br, bl.
    #[serde(rename = "box")]
    pub bbox: [Point; 4],
    pub confidence: f32,
}

/// An axis-aligned box: x0, y0, x1, y1.
type Rect = [f64; 4];

fn rect_of(c: &[Point; 4]) -> Rect {
    let xs = c.iter().map(|p| p[0]);
    let ys = c.iter().map(|p| p[1]);
    [
        xs.clone().fold(f64::MAX, f64::min),
        ys.clone().fold(f64::MAX, f64::min),
        xs.fold(f64::MIN, f64::max),
        ys.fold(f64::MIN, f64::max),
    ]
}

fn corners_of(r: Rect) -> [Point; 4] {
    [[r[0], r[1]], [r[2], r[1]], [r[2], r[3]], [r[0], r[3]]]
}

fn v_overlap(a: Rect, b: Rect) -> f64 {
    (a[3].min(b[3]) - a[1].max(b[1])).max(0.0) / (a[3] - a[1]).min(b[3] - b[1]).max(1e-9)
}

fn h_overlap(a: Rect, b: Rect) -> f64 {
    (a[2].min(b[2]) - a[0].max(b[0])).max(0.0) / (a[2] - a[0]).min(b[2] - b[0]).max(1e-9)
}

/// Dark-stroke mask: darker than the local mean (31-pixel-ish window) by a margin.
struct Ink {
    w: usize,
    h: usize,
    dark: Vec<bool>,
}

impl Ink {
    fn new(page: &Luma) -> Ink {
        let (w, h) = (page.width, page.height);
        let mut integral = vec![0u64; (w + 1) * (h + 1)];
        for y in 0..h {
            let mut row = 0u64;
            for x in 0..w {
                row += u64::from(page.data[y * w + x]);
                integral[(y + 1) * (w + 1) + x + 1] = integral[y * (w + 1) + x + 1] + row;
            }
        }
        let r = (w.max(h) / 60).clamp(8, 40);
        let mut dark = vec![false; w * h];
        for y in 0..h {
            let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
            for x in 0..w {
                let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
                let s = integral[y1 * (w + 1) + x1] + integral[y0 * (w + 1) + x0]
                    - integral[y0 * (w + 1) + x1]
                    - integral[y1 * (w + 1) + x0];
                let mean = s as f64 / ((x1 - x0) * (y1 - y0)) as f64;
                let v = f64::from(page.data[y * w + x]);
                dark[y * w + x] = v < mean - 18.0 && v < 170.0;
            }
        }
        Ink { w, h, dark }
    }

    fn at(&self, x: usize, y: usize) -> bool {
        x < self.w && y < self.h && self.dark[y * self.w + x]
    }

    /// Fraction of dark pixels in a rectangle (clipped to the page).
    fn density(&self, r: Rect) -> f64 {
        let (x0, y0) = (r[0].max(0.0) as usize, r[1].max(0.0) as usize);
        let (x1, y1) = ((r[2].max(0.0) as usize).min(self.w), (r[3].max(0.0) as usize).min(self.h));
        if x1 <= x0 || y1 <= y0 {
            return 0.0;
        }
        let n: usize = (y0..y1).map(|y| (x0..x1).filter(|&x| self.dark[y * self.w + x]).count()).sum();
        n as f64 / ((x1 - x0) * (y1 - y0)) as f64
    }

    /// Horizontal rules: dark runs at least `min_len` long, merged across adjacent rows;
    /// returned as rectangles.
    fn rules(&self, min_len: usize) -> Vec<Rect> {
        let mut runs: Vec<Rect> = Vec::new();
        for y in 0..self.h {
            let mut x = 0;
            while x < self.w {
                if !self.dark[y * self.w + x] {
                    x += 1;
                    continue;
                }
                let start = x;
                // Tolerate one-pixel gaps (JPEG, thin strokes).
                while x < self.w
                    && (self.dark[y * self.w + x] || (x + 1 < self.w && self.dark[y * self.w + x + 1]))
                {
                    x += 1;
                }
                if x - start >= min_len {
                    let r = [start as f64, y as f64, x as f64, y as f64 + 1.0];
                    match runs.iter_mut().find(|q| q[3] >= r[1] - 1.0 && h_overlap(**q, r) > 0.8) {
                        Some(q) => {
                            q[0] = q[0].min(r[0]);
                            q[2] = q[2].max(r[2]);
                            q[3] = r[3];
                        }
                        None => runs.push(r),
                    }
                }
            }
        }
        // A rule is thin; a thick dark band is a filled shape or a photo.
        runs.retain(|r| r[3] - r[1] <= (min_len as f64 / 4.0).max(6.0));
        runs
    }
}

/// A checkbox found on the page.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Checkbox {
    rect: Rect,
    checked: bool,
    score: f32,
}

/// Square outlines about a text line high: dark along all four sides (corners included)
/// and either empty inside or marked (a tick or cross covers part of the inside).
fn checkboxes(ink: &Ink, line_h: f64) -> Vec<Checkbox> {
    let (lo, hi) = ((0.5 * line_h).max(8.0) as usize, (2.2 * line_h) as usize + 2);
    let mut seen = vec![false; ink.w * ink.h];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..ink.w * ink.h {
        if !ink.dark[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        let mut count = 0usize;
        while let Some(i) = stack.pop() {
            count += 1;
            let (x, y) = (i % ink.w, i / ink.w);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            if count > 4 * hi * hi {
                continue;
            }
            for (dx, dy) in [(-1i64, 0i64), (1, 0), (0, -1), (0, 1), (-1, -1), (1, 1), (-1, 1), (1, -1)] {
                let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                if nx < 0 || ny < 0 || nx >= ink.w as i64 || ny >= ink.h as i64 {
                    continue;
                }
                let j = ny as usize * ink.w + nx as usize;
                if ink.dark[j] && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        let (bw, bh) = (x1 + 1 - x0, y1 + 1 - y0);
        if bw < lo || bh < lo || bw > hi || bh > hi {
            continue;
        }
        let aspect = bw as f64 / bh as f64;
        if !(0.75..=1.33).contains(&aspect) {
            continue;
        }
        // Each side: the fraction of its positions with ink within the outer 15 %.
        let t = ((bw.min(bh) as f64) * 0.15).ceil().max(1.0) as usize;
        let side = |horizontal: bool, near: bool| {
            let len = if horizontal { bw } else { bh };
            let hits = (0..len)
                .filter(|&k| {
                    (0..t).any(|d| {
                        let (x, y) = match (horizontal, near) {
                            (true, true) => (x0 + k, y0 + d),
                            (true, false) => (x0 + k, y1 - d),
                            (false, true) => (x0 + d, y0 + k),
                            (false, false) => (x1 - d, y0 + k),
                        };
                        ink.at(x, y)
                    })
                })
                .count();
            hits as f64 / len as f64
        };
        let sides = [side(true, true), side(true, false), side(false, true), side(false, false)];
        let min_side = sides.iter().copied().fold(1.0, f64::min);
        if min_side < 0.85 {
            continue;
        }
        let inner = [
            (x0 + t) as f64,
            (y0 + t) as f64,
            (x1 + 1).saturating_sub(t) as f64,
            (y1 + 1).saturating_sub(t) as f64,
        ];
        let fill = ink.density(inner);
        if fill > 0.75 {
            // A filled square (a bullet, a logo block), not a box.
            continue;
        }
        out.push(Checkbox {
            rect: [x0 as f64, y0 as f64, (x1 + 1) as f64, (y1 + 1) as f64],
            checked: fill > 0.06,
            score: min_side as f32,
        });
    }
    out
}

/// Text with a checkbox glyph or stray marks before the first letter or digit removed.
fn strip_leading_marks(s: &str) -> &str {
    s.trim_start_matches(|c: char| !c.is_alphanumeric()).trim_end()
}

fn clean_label(s: &str) -> String {
    s.trim().trim_end_matches([':', '：']).trim().to_string()
}

/// Splits "Label: value" (label of one to five words before the first colon).
fn split_label(text: &str) -> Option<(String, String)> {
    let i = text.find([':', '：'])?;
    let (label, value) = (text[..i].trim(), text[i..].trim_start_matches([':', '：']).trim());
    let words = label.split_whitespace().count();
    if label.is_empty() || words > 5 || label.chars().count() > 40 {
        return None;
    }
    // "10:30" or "http://": digits or a slash right after the colon belong to the value.
    if label.chars().last().is_some_and(|c| c.is_ascii_digit())
        && value.starts_with(|c: char| c.is_ascii_digit())
    {
        return None;
    }
    Some((label.to_string(), value.to_string()))
}

/// The form fields of a page: OCR lines (page coordinates) and the page's grey image.
pub fn extract(lines: &[Line], page: &Luma) -> Vec<Field> {
    if lines.is_empty() {
        return Vec::new();
    }
    let rects: Vec<Rect> = lines.iter().map(|l| rect_of(&l.corners)).collect();
    let mut heights: Vec<f64> = rects.iter().map(|r| r[3] - r[1]).collect();
    heights.sort_by(f64::total_cmp);
    let line_h = heights[heights.len() / 2].max(4.0);
    let ink = Ink::new(page);
    let mut used = vec![false; lines.len()];
    let mut fields = Vec::new();

    // 1. Checkboxes and the text beside them.
    for cb in checkboxes(&ink, line_h) {
        let cy = (cb.rect[1] + cb.rect[3]) / 2.0;
        let beside = (0..lines.len())
            .filter(|&i| !used[i] && rects[i][2] > cb.rect[2] && rects[i][0] < cb.rect[2] + 3.0 * line_h)
            .filter(|&i| rects[i][1] <= cy && cy <= rects[i][3])
            .min_by(|&a, &b| rects[a][0].total_cmp(&rects[b][0]));
        let Some(i) = beside else { continue };
        // A detection box that covers the checkbox too reads it as a glyph ("口", "[]", "O"):
        // drop that first token.
        let text = lines[i].text.trim();
        let text = match text.split_once(char::is_whitespace) {
            Some((first, rest))
                if rects[i][0] < cb.rect[2] - 0.3 * (cb.rect[2] - cb.rect[0])
                    && first.chars().count() <= 2 =>
            {
                rest
            }
            _ => text,
        };
        let label = clean_label(strip_leading_marks(text));
        if label.is_empty() {
            continue;
        }
        used[i] = true;
        fields.push(Field {
            label,
            value: if cb.checked { "checked" } else { "unchecked" }.into(),
            kind: "checkbox",
            bbox: corners_of(cb.rect),
            confidence: lines[i].confidence.min(cb.score),
        });
    }

    // 2. "Label: value" on one line.
    for (i, l) in lines.iter().enumerate() {
        if used[i] {
            continue;
        }
        if let Some((label, value)) = split_label(&l.text) {
            if !value.is_empty() {
                used[i] = true;
                fields.push(Field { label, value, kind: "text", bbox: l.corners, confidence: l.confidence });
            }
        }
    }

    // 3. Values held by a box or an underline, and values after a "Label:" line.
    let rules = ink.rules((2.0 * line_h) as usize);
    let ruled = |r: Rect| {
        let h = r[3] - r[1];
        rules.iter().any(|q| h_overlap(*q, r) > 0.6 && q[1] >= r[3] - 0.4 * h && q[1] <= r[3] + 0.9 * h)
    };
    for i in 0..lines.len() {
        if used[i] {
            continue;
        }
        let r = rects[i];
        let after_colon_label = |j: usize| lines[j].text.trim_end().ends_with([':', '：']);
        let label_left = (0..lines.len())
            .filter(|&j| j != i && !used[j] && rects[j][2] <= r[0] + 2.0 && v_overlap(rects[j], r) > 0.5)
            .filter(|&j| r[0] - rects[j][2] < 12.0 * line_h)
            .max_by(|&a, &b| rects[a][2].total_cmp(&rects[b][2]));
        let label_above = || {
            (0..lines.len())
                .filter(|&j| {
                    j != i && !used[j] && rects[j][3] <= r[1] + 2.0 && r[1] - rects[j][3] < 1.2 * line_h
                })
                .filter(|&j| h_overlap(rects[j], r) > 0.3 || (rects[j][0] - r[0]).abs() < 2.0 * line_h)
                .max_by(|&a, &b| rects[a][3].total_cmp(&rects[b][3]))
        };
        let is_value = ruled(r);
        let label = match label_left {
            Some(j) if is_value || after_colon_label(j) => Some(j),
            _ if is_value => label_above(),
            _ => label_above().filter(|&j| after_colon_label(j)),
        };
        let Some(j) = label else { continue };
        let label_text = clean_label(&lines[j].text);
        let words = label_text.split_whitespace().count();
        if label_text.is_empty() || words > 5 {
            continue;
        }
        used[i] = true;
        used[j] = true;
        fields.push(Field {
            label: label_text,
            value: lines[i].text.trim().to_string(),
            kind: "text",
            bbox: lines[i].corners,
            confidence: lines[i].confidence.min(lines[j].confidence),
        });
    }
    fields
}

#[cfg(test)]
mod tests;
