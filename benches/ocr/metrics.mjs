// OCR scoring: text normalisation, Levenshtein distance and set-level character/word accuracy.
// Accuracy = 1 - (sum of edit distances) / (sum of ground-truth lengths), pooled over the set, so
// long lines weigh more than short ones; it goes below 0 when a system inserts a lot of text.

/** NFC, every whitespace run (newlines included) -> one space, trimmed. */
export function normalize(text) {
  return text.normalize('NFC').replace(/\s+/gu, ' ').trim();
}

// Levenshtein distance between two arrays: the app's, which measures accuracy in the browser.
import { editDistance } from '../../www/js/metrics.js';

export { editDistance };

const codePoints = (s) => Array.from(s, (c) => c.codePointAt(0));
const words = (s) => (s === '' ? [] : s.split(' '));

/** Distances for one (reference, hypothesis) pair, both normalised first. */
export function scorePair(reference, hypothesis) {
  const ref = normalize(reference);
  const hyp = normalize(hypothesis);
  const refChars = codePoints(ref);
  const refWords = words(ref);
  return {
    chars: refChars.length,
    charErrors: editDistance(refChars, codePoints(hyp)),
    words: refWords.length,
    wordErrors: editDistance(refWords, words(hyp)),
  };
}

function total(scores) {
  const sum = (key) => scores.reduce((acc, s) => acc + s[key], 0);
  const t = { n: scores.length, chars: sum('chars'), charErrors: sum('charErrors'), words: sum('words'), wordErrors: sum('wordErrors') };
  t.charAcc = t.chars > 0 ? 1 - t.charErrors / t.chars : null;
  t.wordAcc = t.words > 0 ? 1 - t.wordErrors / t.words : null;
  return t;
}

/**
 * Scores a whole set. items: [{kind, reference, hypothesis}].
 * Returns {all, byKind: {kind: ...}} with n, chars, charErrors, words, wordErrors, charAcc, wordAcc
 * (accuracies are null when the ground truth has no characters / words).
 */
export function scoreSet(items) {
  const scored = items.map((it) => ({ kind: it.kind, ...scorePair(it.reference, it.hypothesis) }));
  const byKind = {};
  for (const kind of [...new Set(scored.map((s) => s.kind))].sort()) {
    byKind[kind] = total(scored.filter((s) => s.kind === kind));
  }
  return { all: total(scored), byKind };
}
