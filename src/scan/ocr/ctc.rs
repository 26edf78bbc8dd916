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
    /// Whether [`greedy_decode`] puts back word spaces the greedy path lost (PP-OCR's
    /// recognisers need it); off for a recogniser trained to emit its spaces.
    restore_spaces: bool,
}

/// ONNX metadata key a recogniser sets to `off` when it emits word spaces itself, so the
/// decoder must not restore any (models/ocr_fast: with restoration on, 400 test lines lost
/// most of their words to spaces inside words, "Con tact", "nin th").
pub const SPACE_RESTORATION_KEY: &str = "space_restoration";

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
        Ok(Charset { chars, restore_spaces: true })
    }

    /// The same classes; `restore` says whether lost word spaces are put back.
    pub fn with_space_restoration(self, restore: bool) -> Charset {
        Charset { restore_spaces: restore, ..self }
    }

    /// Whether a model's metadata value for [`SPACE_RESTORATION_KEY`] leaves restoration on
    /// (anything but `off`, or no value).
    pub fn restores_spaces(value: Option<&str>) -> bool {
        value.map(str::trim) != Some("off")
    }

    /// Number of classes, blank included.
    pub fn classes(&self) -> usize {
        self.chars.len()
    }

    /// The class whose text is a single space, if the model has one.
    pub fn space_class(&self) -> Option<usize> {
        self.chars.iter().rposition(|c| c == " ")
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

/// A space between two characters is restored when the space class reached this probability
/// somewhere in the gap, though the blank won every step there. 0.05 at first; the compressed
/// recogniser's space class peaks lower between short words ("TaxID", "Startdate" on the
/// generated forms), and 0.02 restored them; on benches/ocr/set, which it was not chosen on,
/// characters stayed within 0.05 points and page words lost 0.2–0.5 (models/REPORT.md, "Word
/// spaces restored").
const SPACE_EVIDENCE: f32 = 0.02;
/// ...or when the gap is this many times the line's median gap between characters (and at
/// least `WIDE_GAP_STEPS` steps wider) and the space class showed at least a trace there.
const WIDE_GAP_RATIO: f32 = 1.5;
const WIDE_GAP_STEPS: usize = 2;
const SPACE_TRACE: f32 = 0.005;
/// Characters that join the tokens around them (e-mail addresses, URLs, dates, reference
/// numbers): no space is restored next to them. The recogniser gives the space class
/// 0.1–0.4 beside these wide-bearing glyphs even where the text has none ("info @example.net",
/// "INV -067177", "http:/ /"); a space it actually emits stays.
const JOINERS: [&str; 5] = ["@", "/", "-", "_", "\\"];
/// Punctuation that prose follows with a space when it ends a word ("Road, Suite", "Mon, 17"):
/// after one of these that follows a letter, a trace of the space class (`SPACE_TRACE`) is
/// enough. The compressed recogniser's space class stays lower in the narrow gap after a comma
/// than the original's, and such fields were among its losses on the generated forms; a comma
/// between digits ("1,000") is left alone.
const SPACED_AFTER: [&str; 2] = [",", ";"];

/// Greedy CTC: the most probable class at each of `probs.len() / classes` time steps, repeats
/// collapsed, blanks dropped — then word spaces the greedy path lost restored.
///
/// PP-OCR's recognisers (trained mostly on Chinese) often let the blank win over the space
/// class in the gap between two Latin words, so greedy decoding runs words together ("Signed
/// onarrival"). Inside a word the space class stays near 0 in the gap; between words it rises
/// (0.1–0.5 measured) or the gap is wider than the line's usual letter pitch. Both are used.
pub fn greedy_decode(probs: &[f32], charset: &Charset) -> Result<Decoded> {
    let classes = charset.classes();
    if classes == 0 || probs.len() % classes != 0 {
        return Err(invalid(format!(
            "{} probabilities are not whole steps of {classes} classes",
            probs.len()
        )));
    }
    let space = charset.space_class();
    // Emitted characters: (step, class, probability, the space class's peak since the last one).
    let mut emitted: Vec<(usize, usize, f32, f32, usize)> = Vec::new();
    let mut peak = (0f32, 0usize);
    let mut prev = 0usize;
    for (t, row) in probs.chunks_exact(classes).enumerate() {
        let (best, p) =
            row.iter().enumerate().fold(
                (0usize, f32::NEG_INFINITY),
                |(bi, bp), (i, &v)| if v > bp { (i, v) } else { (bi, bp) },
            );
        if best != 0 && best != prev {
            emitted.push((t, best, p, peak.0, peak.1));
            peak = (0.0, t);
        } else if let Some(sp) = space {
            if row[sp] > peak.0 {
                peak = (row[sp], t);
            }
        }
        prev = best;
    }
    let is_space = |c: usize| Some(c) == space;
    let mut gaps: Vec<usize> = emitted
        .windows(2)
        .filter(|w| !is_space(w[0].1) && !is_space(w[1].1))
        .map(|w| w[1].0 - w[0].0)
        .collect();
    gaps.sort_unstable();
    let median_gap = (gaps.len() >= 3).then(|| gaps[gaps.len() / 2]);
    let mut text = String::new();
    let mut steps = Vec::new();
    let mut sum = 0f32;
    for (i, &(t, c, p, peak_p, peak_t)) in emitted.iter().enumerate() {
        if let (Some(sp), Some(&(t0, c0, ..))) = (space, i.checked_sub(1).and_then(|j| emitted.get(j))) {
            let gap = t - t0;
            let wide = median_gap
                .is_some_and(|m| gap as f32 >= WIDE_GAP_RATIO * m as f32 && gap >= m + WIDE_GAP_STEPS);
            let after_word_punct = SPACED_AFTER.contains(&charset.get(c0))
                && i >= 2
                && charset.get(emitted[i - 2].1).chars().all(char::is_alphabetic);
            let restore = charset.restore_spaces
                && (peak_p >= SPACE_EVIDENCE || ((wide || after_word_punct) && peak_p >= SPACE_TRACE));
            let joined = JOINERS.contains(&charset.get(c)) || JOINERS.contains(&charset.get(c0));
            if restore && !joined && c != sp && c0 != sp {
                text.push_str(charset.get(sp));
                steps.push(peak_t);
            }
        }
        text.push_str(charset.get(c));
        steps.push(t);
        sum += p;
    }
    let confidence = if emitted.is_empty() { 0.0 } else { sum / emitted.len() as f32 };
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
        // (0.95: the other classes, the space among them, share 0.05, below SPACE_EVIDENCE.)
        let d = greedy_decode(&onehot(&seq, 6, 0.95), &cs).unwrap();
        assert_eq!(d.text, "hello ");
        assert_eq!(d.steps, vec![0, 2, 4, 7, 8, 11]);
        assert!((d.confidence - 0.95).abs() < 1e-6);
        let blank = greedy_decode(&onehot(&[0, 0, 0], 6, 0.8), &cs).unwrap();
        assert_eq!((blank.text.as_str(), blank.confidence), ("", 0.0));
        assert!(greedy_decode(&[0.5; 7], &cs).is_err());
    }

    /// Rows of `classes` probabilities: the winner `c` at `p`, the space class (last) at `sp`.
    fn steps_with_space(seq: &[(usize, f32)], classes: usize) -> Vec<f32> {
        seq.iter()
            .flat_map(|&(c, sp)| {
                let mut row = vec![0.0; classes];
                row[classes - 1] = sp;
                row[c] += 0.9;
                row
            })
            .collect()
    }

    #[test]
    fn a_space_the_blank_hid_is_restored_from_its_evidence() {
        // "to" and "on", the gap between them blank but with the space class at 0.3.
        let cs = Charset::from_metadata("t\no\nn", 5).unwrap();
        let seq = [(1, 0.0), (0, 0.0), (2, 0.0), (0, 0.0), (0, 0.3), (0, 0.0), (2, 0.0), (0, 0.0), (3, 0.0)];
        let d = greedy_decode(&steps_with_space(&seq, 5), &cs).unwrap();
        assert_eq!(d.text, "to on");
        assert_eq!(d.steps, vec![0, 2, 4, 6, 8]);
        // The same gap without any space probability stays one word.
        let quiet: Vec<_> = seq.iter().map(|&(c, _)| (c, 0.0)).collect();
        assert_eq!(greedy_decode(&steps_with_space(&quiet, 5), &cs).unwrap().text, "toon");
    }

    #[test]
    fn a_recogniser_that_emits_its_spaces_gets_none_restored() {
        // The gap of `a_space_the_blank_hid_is_restored_from_its_evidence`, with restoration
        // off (metadata `space_restoration: off`): one word; an emitted space stays.
        let cs = Charset::from_metadata("t\no\nn", 5).unwrap().with_space_restoration(false);
        let seq = [(1, 0.0), (0, 0.0), (2, 0.0), (0, 0.0), (0, 0.3), (0, 0.0), (2, 0.0), (0, 0.0), (3, 0.0)];
        assert_eq!(greedy_decode(&steps_with_space(&seq, 5), &cs).unwrap().text, "toon");
        let emitted = [(1, 0.0), (2, 0.0), (4, 0.0), (2, 0.0), (3, 0.0)];
        assert_eq!(greedy_decode(&steps_with_space(&emitted, 5), &cs).unwrap().text, "to on");
        assert!(!Charset::restores_spaces(Some("off")) && !Charset::restores_spaces(Some(" off\n")));
        assert!(Charset::restores_spaces(None) && Charset::restores_spaces(Some("on")));
    }

    #[test]
    fn no_space_is_restored_beside_a_joining_character() {
        // "a@b" with the space class at 0.3 on both sides of the "@": still one token; a space
        // the recogniser emits itself stays.
        let cs = Charset::from_metadata("a\n@\nb", 5).unwrap();
        let seq = [(1, 0.0), (0, 0.3), (2, 0.0), (0, 0.3), (3, 0.0)];
        assert_eq!(greedy_decode(&steps_with_space(&seq, 5), &cs).unwrap().text, "a@b");
        let emitted = [(1, 0.0), (4, 0.0), (2, 0.0), (0, 0.0), (3, 0.0)];
        assert_eq!(greedy_decode(&steps_with_space(&emitted, 5), &cs).unwrap().text, "a @b");
    }

    #[test]
    fn a_trace_of_space_after_a_comma_ending_a_word_is_a_space() {
        // "d,S" in one letter pitch with the space class at 0.01 after the comma: "d, S"; the
        // same after a digit ("1,0") or without the trace stays joined.
        let cs = Charset::from_metadata("d\n,\nS\n1\n0", 7).unwrap();
        let read = |seq: &[(usize, f32)]| greedy_decode(&steps_with_space(seq, 7), &cs).unwrap().text;
        assert_eq!(read(&[(1, 0.0), (0, 0.0), (2, 0.0), (0, 0.01), (3, 0.0)]), "d, S");
        assert_eq!(read(&[(4, 0.0), (0, 0.0), (2, 0.0), (0, 0.01), (5, 0.0)]), "1,0");
        assert_eq!(read(&[(1, 0.0), (0, 0.0), (2, 0.0), (0, 0.0), (3, 0.0)]), "d,S");
    }

    #[test]
    fn a_wide_gap_with_a_trace_of_space_is_a_space() {
        // a_b_c_d______e: letter pitch 2 steps, then a gap of 7 with the space class at 0.01.
        let cs = Charset::from_metadata("a\nb\nc\nd\ne", 7).unwrap();
        let mut seq = vec![(1, 0.0), (0, 0.0), (2, 0.0), (0, 0.0), (3, 0.0), (0, 0.0), (4, 0.0)];
        seq.extend([(0, 0.0), (0, 0.01), (0, 0.0), (0, 0.0), (0, 0.0), (0, 0.0), (5, 0.0)]);
        assert_eq!(greedy_decode(&steps_with_space(&seq, 7), &cs).unwrap().text, "abcd e");
        // A wide gap with no trace at all, or a trace in a normal gap, is not.
        let none: Vec<_> = seq.iter().map(|&(c, _)| (c, 0.0)).collect();
        assert_eq!(greedy_decode(&steps_with_space(&none, 7), &cs).unwrap().text, "abcde");
        let mut narrow = vec![(1, 0.0), (0, 0.01), (2, 0.0), (0, 0.0), (3, 0.0), (0, 0.0), (4, 0.0)];
        narrow.extend([(0, 0.0), (5, 0.0)]);
        assert_eq!(greedy_decode(&steps_with_space(&narrow, 7), &cs).unwrap().text, "abcde");
    }
}
