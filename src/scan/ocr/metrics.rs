//! OCR accuracy as `slimscan eval ocr` reports it: character accuracy `1 − Σ edits / Σ
//! ground-truth characters` (Levenshtein over Unicode scalar values) and word accuracy, the
//! same over whitespace-separated words, after collapsing whitespace runs (newlines included)
//! to one space. Sums run over a whole set, so long lines weigh more.

/// Whitespace runs → one space, trimmed.
pub fn normalize(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Levenshtein distance between two sequences (two rows of the table).
pub fn edit_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, x) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(x != y)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Running totals over a set.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Score {
    pub items: usize,
    pub char_edits: usize,
    pub chars: usize,
    pub word_edits: usize,
    pub words: usize,
}

impl Score {
    /// Adds one (ground truth, hypothesis) pair.
    pub fn add(&mut self, truth: &str, hyp: &str) {
        let (t, h) = (normalize(truth), normalize(hyp));
        let (tc, hc): (Vec<char>, Vec<char>) = (t.chars().collect(), h.chars().collect());
        let (tw, hw): (Vec<&str>, Vec<&str>) = (
            t.split(' ').filter(|w| !w.is_empty()).collect(),
            h.split(' ').filter(|w| !w.is_empty()).collect(),
        );
        self.items += 1;
        self.char_edits += edit_distance(&tc, &hc);
        self.chars += tc.len();
        self.word_edits += edit_distance(&tw, &hw);
        self.words += tw.len();
    }

    /// `1 − edits / characters` (1 for an empty set).
    pub fn char_accuracy(&self) -> f64 {
        1.0 - self.char_edits as f64 / self.chars.max(1) as f64
    }

    pub fn word_accuracy(&self) -> f64 {
        1.0 - self.word_edits as f64 / self.words.max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        let d =
            |a: &str, b: &str| edit_distance(&a.chars().collect::<Vec<_>>(), &b.chars().collect::<Vec<_>>());
        assert_eq!(d("kitten", "sitting"), 3);
        assert_eq!(d("", "abc"), 3);
        assert_eq!(d("abc", ""), 3);
        assert_eq!(d("é中", "e中"), 1);
    }

    #[test]
    fn scores() {
        let mut s = Score::default();
        s.add("Hello  world\nagain", "Hello world agian");
        assert_eq!((s.chars, s.char_edits, s.words, s.word_edits), (17, 2, 3, 1));
        s.add("x", "");
        assert!((s.char_accuracy() - (1.0 - 3.0 / 18.0)).abs() < 1e-12);
        assert!((s.word_accuracy() - 0.5).abs() < 1e-12);
        assert_eq!(Score::default().char_accuracy(), 1.0);
    }
}
