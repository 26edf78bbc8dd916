//! CTC greedy decoding of a recogniser's per-time-step class probabilities, with the
//! character list PP-OCR stores in the rec model's ONNX metadata (`character`).
//!
//! PP-OCR's convention: class 0 is the CTC blank, classes `1..=n` are the metadata's lines in
//! order, and when the model has one class more than that, the last class is a space.

use crate::error::{Error, Result};

fn invalid(msg: String) -> Error {
    Error::InvalidArgument(msg)
}

/// The characters of a recogniser's classes (index 0, the blank, has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charset {
    chars: Vec<String>,
}

impl Charset {
    /// Builds the class list from the `character` metadata (one character per line) for a
    /// model with `classes` outputs; errors when the counts cannot match.
    pub fn from_metadata(text: &str, classes: usize) -> Result<Charset> {
        let lines: Vec<&str> = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
        // A trailing newline leaves one empty line that is not a character.
        let lines = match lines.split_last() {
            Some((&"", rest)) => rest.to_vec(),
            _ => lines,
        };
        let mut chars = Vec::with_capacity(lines.len() + 2);
        chars.push(String::new());
        chars.extend(lines.iter().map(|s| s.to_string()));
        if chars.len() + 1 == classes {
            chars.push(" ".into());
        }
        if chars.len() != classes {
            return Err(invalid(format!(
                "the character list has {} entries, which does not fit a model with {classes} classes \
                 (expected {} or {})",
                lines.len(),
                classes.saturating_sub(1),
                classes.saturating_sub(2)
            )));
        }
        Ok(Charset { chars })
    }

    /// Number of classes, blank included.
    pub fn classes(&self) -> usize {
        self.chars.len()
    }

    /// The text of class `c` (empty for the blank or an unknown class).
    pub fn get(&self, c: usize) -> &str {
        self.chars.get(c).map_or("", String::as_str)
    }
}

/// One decoded line.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub text: String,
    /// Mean probability of the emitted characters (0 when none was emitted).
    pub confidence: f32,
    /// Time step at which each character was emitted (for boxes per character).
    pub steps: Vec<usize>,
}

/// Greedy CTC: the most probable class at each of `probs.len() / classes` time steps, repeats
/// collapsed, blanks dropped.
pub fn greedy_decode(probs: &[f32], charset: &Charset) -> Result<Decoded> {
    let classes = charset.classes();
    if classes == 0 || probs.len() % classes != 0 {
        return Err(invalid(format!(
            "{} probabilities are not whole steps of {classes} classes",
            probs.len()
        )));
    }
    let mut text = String::new();
    let mut steps = Vec::new();
    let mut sum = 0f32;
    let mut prev = 0usize;
    for (t, row) in probs.chunks_exact(classes).enumerate() {
        let (best, p) =
            row.iter().enumerate().fold(
                (0usize, f32::NEG_INFINITY),
                |(bi, bp), (i, &v)| if v > bp { (i, v) } else { (bi, bp) },
            );
        if best != 0 && best != prev {
            text.push_str(charset.get(best));
            steps.push(t);
            sum += p;
        }
        prev = best;
    }
    let confidence = if steps.is_empty() { 0.0 } else { sum / steps.len() as f32 };
    Ok(Decoded { text, confidence, steps })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn onehot(seq: &[usize], classes: usize, p: f32) -> Vec<f32> {
        seq.iter()
            .flat_map(|&c| {
                (0..classes).map(move |i| if i == c { p } else { (1.0 - p) / (classes - 1) as f32 })
            })
            .collect()
    }

    #[test]
    fn charset_follows_the_pp_ocr_convention() {
        let cs = Charset::from_metadata("a\nb\nc\n", 5).unwrap();
        assert_eq!((cs.get(0), cs.get(1), cs.get(3), cs.get(4)), ("", "a", "c", " "));
        let cs = Charset::from_metadata("a\r\nb\r\nc", 4).unwrap();
        assert_eq!(cs.get(2), "b");
        let err = Charset::from_metadata("a\nb", 9).unwrap_err().to_string();
        assert!(err.contains("9 classes"), "{err}");
    }

    #[test]
    fn repeats_collapse_and_blanks_separate() {
        let cs = Charset::from_metadata("h\ne\nl\no", 6).unwrap();
        // h h e blank l l blank l o o blank space
        let seq = [1, 1, 2, 0, 3, 3, 0, 3, 4, 4, 0, 5];
        let d = greedy_decode(&onehot(&seq, 6, 0.9), &cs).unwrap();
        assert_eq!(d.text, "hello ");
        assert_eq!(d.steps, vec![0, 2, 4, 7, 8, 11]);
        assert!((d.confidence - 0.9).abs() < 1e-6);
        let blank = greedy_decode(&onehot(&[0, 0, 0], 6, 0.8), &cs).unwrap();
        assert_eq!((blank.text.as_str(), blank.confidence), ("", 0.0));
        assert!(greedy_decode(&[0.5; 7], &cs).is_err());
    }
}
