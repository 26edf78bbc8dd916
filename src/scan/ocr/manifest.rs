//! An OCR evaluation set's `manifest.tsv` (benches/ocr/README.md): a header `relative_path,
//! kind, ground_truth` and one tab-separated row per image, `kind` one of `line`, `word`,
//! `page`, the ground truth with `\\`, `\t`, `\n`, `\r` escaped. Read by `slimscan eval ocr`
//! and the OCR examples.

use crate::error::{Error, Result};
use std::path::Path;

/// One manifest row.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Relative to the set's folder.
    pub path: String,
    /// `line`, `word` or `page`.
    pub kind: String,
    pub truth: String,
}

impl Item {
    /// A crop of one line or word (read without detection).
    pub fn is_crop(&self) -> bool {
        self.kind != "page"
    }
}

fn unescape(s: &str, line: usize) -> Result<String> {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match it.next() {
            Some('\\') => '\\',
            Some('t') => '\t',
            Some('n') => '\n',
            Some('r') => '\r',
            other => {
                return Err(Error::InvalidArgument(format!(
                    "manifest.tsv line {line}: bad escape \\{}",
                    other.map_or(String::new(), String::from)
                )))
            }
        });
    }
    Ok(out)
}

/// Parses manifest text; `shown` names it in errors.
pub fn parse(text: &str, shown: &str) -> Result<Vec<Item>> {
    let bad = |msg: String| Error::InvalidArgument(format!("{shown}: {msg}"));
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h.split('\t').take(3).eq(["relative_path", "kind", "ground_truth"]) => {}
        _ => return Err(bad("the header must be relative_path, kind, ground_truth".into())),
    }
    let mut items = Vec::new();
    for (i, l) in lines {
        if l.is_empty() {
            continue;
        }
        let f: Vec<&str> = l.split('\t').collect();
        if f.len() < 3 {
            return Err(bad(format!("line {}: expected 3 tab-separated fields", i + 1)));
        }
        let kind = f[1].to_string();
        if !["line", "word", "page"].contains(&kind.as_str()) {
            return Err(bad(format!("line {}: unknown kind {kind:?} (line, word, page)", i + 1)));
        }
        items.push(Item { path: f[0].to_string(), kind, truth: unescape(f[2], i + 1)? });
    }
    Ok(items)
}

/// Reads `DIR/manifest.tsv`.
pub fn read(dir: &Path) -> Result<Vec<Item>> {
    let path = dir.join("manifest.tsv");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::InvalidArgument(format!("reading {}: {e}", path.display())))?;
    parse(&text, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_escapes_and_errors() {
        let text =
            "relative_path\tkind\tground_truth\nlines/a.png\tline\ta\\tb\\\\c\n\npages/p.jpg\tpage\tx\\ny\n";
        let items = parse(text, "m").unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[0],
            Item { path: "lines/a.png".into(), kind: "line".into(), truth: "a\tb\\c".into() }
        );
        assert!(items[0].is_crop() && !items[1].is_crop());
        assert_eq!(items[1].truth, "x\ny");
        for (bad, says) in [
            ("path\tkind\ttruth\n", "header"),
            ("relative_path\tkind\tground_truth\na.png\tline\n", "3 tab-separated"),
            ("relative_path\tkind\tground_truth\na.png\tblock\tx\n", "unknown kind"),
            ("relative_path\tkind\tground_truth\na.png\tline\tx\\q\n", "bad escape"),
        ] {
            let err = parse(bad, "m").unwrap_err().to_string();
            assert!(err.contains(says), "{err}");
        }
    }
}
