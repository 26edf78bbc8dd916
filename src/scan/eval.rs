//! Scoring scan results against a labelled scene set (`slimscan eval scan`): the set's
//! manifest, and what counts as a match for codes, form fields and the page.
//!
//! The manifest (benches/scan/README.md) is JSON lines:
//! `{"path", "type", "page": [[x, y]; 4] | null, "text", "codes": [{"format", "text"}],
//! "fields": [{"label", "value", "kind"}]}`.

use crate::error::{Error, Result};
use crate::scan::codes::Code;
use crate::scan::forms::Field;
use crate::scan::geometry::Point;
use serde::Deserialize;
use std::path::Path;

/// Largest manifest read (a set of thousands of scenes is a few MB).
pub const MAX_MANIFEST_BYTES: u64 = 64 << 20;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TruthCode {
    pub format: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TruthField {
    pub label: String,
    pub value: String,
    #[serde(default)]
    pub kind: String,
}

/// One labelled scene.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Scene {
    pub path: String,
    #[serde(rename = "type")]
    pub doc_type: String,
    #[serde(default)]
    pub page: Option<[Point; 4]>,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub codes: Vec<TruthCode>,
    #[serde(default)]
    pub fields: Vec<TruthField>,
}

/// Reads `DIR/manifest.jsonl`; errors name the line.
pub fn read_manifest(dir: &Path) -> Result<Vec<Scene>> {
    let path = dir.join("manifest.jsonl");
    let bad = |m: String| Error::InvalidArgument(format!("{}: {m}", path.display()));
    let meta =
        std::fs::metadata(&path).map_err(|e| bad(format!("{e} (make the set with `make scan-set`)")))?;
    if meta.len() > MAX_MANIFEST_BYTES {
        return Err(bad(format!("{} bytes; at most {MAX_MANIFEST_BYTES} are read", meta.len())));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
    let mut scenes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let s: Scene = serde_json::from_str(line).map_err(|e| bad(format!("line {}: {e}", i + 1)))?;
        if s.path.contains("..") || Path::new(&s.path).is_absolute() {
            return Err(bad(format!("line {}: path {:?} leaves the set folder", i + 1, s.path)));
        }
        scenes.push(s);
    }
    if scenes.is_empty() {
        return Err(bad("no scenes".into()));
    }
    Ok(scenes)
}

/// EAN-13 with a leading 0 is UPC-A (readers differ in which they report), UPC-A as 13 digits.
fn code_key(format: &str, text: &str) -> (String, String) {
    let t = text.trim();
    match format {
        "upc_a" if t.len() == 12 => ("ean_13".into(), format!("0{t}")),
        "upc_a" => ("ean_13".into(), t.into()),
        _ => (format.into(), t.into()),
    }
}

/// Whether a decoded code is the expected one: same format (UPC-A ≡ EAN-13 with a leading 0)
/// and exactly the same text.
pub fn code_matches(truth: &TruthCode, found: &Code) -> bool {
    code_key(&truth.format, &truth.text) == code_key(&found.format, &found.text)
}

/// Labels compare case-insensitively without a trailing colon; values exactly, up to runs of
/// whitespace.
fn field_key(label: &str, value: &str) -> (String, String) {
    let label = label.trim().trim_end_matches([':', '：']).split_whitespace().collect::<Vec<_>>().join(" ");
    (label.to_lowercase(), value.split_whitespace().collect::<Vec<_>>().join(" "))
}

pub fn field_matches(truth: &TruthField, found: &Field) -> bool {
    field_key(&truth.label, &truth.value) == field_key(&found.label, &found.value)
}

/// How many of `truth` are matched, each by a different item of `found`.
pub fn count_matched<T, F>(truth: &[T], found: &[F], matches: impl Fn(&T, &F) -> bool) -> usize {
    let mut used = vec![false; found.len()];
    let mut n = 0;
    for t in truth {
        if let Some(i) = (0..found.len()).find(|&i| !used[i] && matches(t, &found[i])) {
            used[i] = true;
            n += 1;
        }
    }
    n
}

/// The largest corner distance between a found page and the true one, as a fraction of the
/// true page's diagonal (corners compared in order: both are tl, tr, br, bl; the page's
/// printed orientation is not known to the scanner, so the best of the four rotations).
pub fn page_error(truth: &[Point; 4], found: &[Point; 4]) -> f64 {
    let diag = (truth[0][0] - truth[2][0]).hypot(truth[0][1] - truth[2][1]).max(1e-9);
    (0..4)
        .map(|r| {
            (0..4)
                .map(|i| {
                    let (a, b) = (truth[i], found[(i + r) % 4]);
                    (a[0] - b[0]).hypot(a[1] - b[1])
                })
                .fold(0.0, f64::max)
        })
        .fold(f64::MAX, f64::min)
        / diag
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(format: &str, text: &str) -> Code {
        Code {
            format: format.into(),
            text: text.into(),
            bytes: vec![],
            points: vec![],
            corners: [[0.0; 2]; 4],
            source: "frame",
        }
    }

    #[test]
    fn codes_fields_and_pages() {
        let t = |f: &str, s: &str| TruthCode { format: f.into(), text: s.into() };
        assert!(code_matches(&t("upc_a", "036000291452"), &code("ean_13", "0036000291452")));
        assert!(code_matches(&t("qr_code", "Café"), &code("qr_code", "Café")));
        assert!(!code_matches(&t("qr_code", "Café"), &code("qr_code", "Cafe")));
        assert!(!code_matches(&t("code_39", "AB"), &code("code_128", "AB")));
        let truth = vec![t("qr_code", "a"), t("qr_code", "a"), t("itf", "12")];
        assert_eq!(count_matched(&truth, &[code("qr_code", "a"), code("itf", "12")], code_matches), 2);

        let f = |l: &str, v: &str| Field {
            label: l.into(),
            value: v.into(),
            kind: "text",
            bbox: [[0.0; 2]; 4],
            confidence: 1.0,
        };
        let tf = TruthField { label: "Full name".into(), value: "Ada  Lovelace".into(), kind: "text".into() };
        assert!(field_matches(&tf, &f("full NAME:", "Ada Lovelace")));
        assert!(!field_matches(&tf, &f("Full name", "ada lovelace")));

        let q = [[0.0, 0.0], [30.0, 0.0], [30.0, 40.0], [0.0, 40.0]];
        assert_eq!(page_error(&q, &q), 0.0);
        let turned = [q[1], q[2], q[3], q[0]];
        assert_eq!(page_error(&q, &turned), 0.0);
        let off = [[5.0, 0.0], q[1], q[2], q[3]];
        assert!((page_error(&q, &off) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn manifest_errors_name_the_line() {
        let dir = std::env::temp_dir().join(format!("slimscan-eval-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(read_manifest(&dir).unwrap_err().to_string().contains("make scan-set"));
        std::fs::write(dir.join("manifest.jsonl"), "{\"path\": \"a.jpg\", \"type\": \"none\"}\n{oops\n")
            .unwrap();
        assert!(read_manifest(&dir).unwrap_err().to_string().contains("line 2"));
        std::fs::write(dir.join("manifest.jsonl"), "{\"path\": \"../x.jpg\", \"type\": \"qr\"}\n").unwrap();
        assert!(read_manifest(&dir).unwrap_err().to_string().contains("leaves the set"));
        std::fs::write(dir.join("manifest.jsonl"), "{\"path\": \"q/1.jpg\", \"type\": \"qr\", \"codes\": [{\"format\": \"qr_code\", \"text\": \"x\"}]}\n").unwrap();
        let s = read_manifest(&dir).unwrap();
        assert_eq!((s[0].doc_type.as_str(), s[0].codes.len(), s[0].page), ("qr", 1, None));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
