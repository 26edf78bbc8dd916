// OCR scoring (benches/ocr/metrics.mjs): normalisation, edit distances, set-level accuracy.
// Pure JS, no models.
import test from 'node:test';
import assert from 'node:assert/strict';
import { normalize, editDistance, scorePair, scoreSet } from '../../benches/ocr/metrics.mjs';

test('normalize: NFC, whitespace runs (newlines too) to one space, trimmed', () => {
  assert.equal(normalize('  a \t b\n\nc\r\n '), 'a b c');
  assert.equal(normalize('e\u0301'), '\u00e9');
  assert.equal(normalize('a\u00a0\u2028b'), 'a b');
  assert.equal(normalize(' \n '), '');
});

test('editDistance: known distances', () => {
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('sitting', 'kitten'), 3);
  assert.equal(editDistance('flaw', 'lawn'), 2);
  assert.equal(editDistance('abc', 'abc'), 0);
  assert.equal(editDistance('abc', 'cab'), 2);
  assert.equal(editDistance(['the', 'cat'], ['the', 'hat', 'sat']), 2);
});

test('editDistance: empty inputs', () => {
  assert.equal(editDistance('', ''), 0);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('abcd', ''), 4);
});

test('scorePair counts code points, not UTF-16 units', () => {
  // U+1D400 (mathematical bold A) is two UTF-16 units but one character.
  assert.deepEqual(scorePair('\u{1D400}b', 'ab'), { chars: 2, charErrors: 1, words: 1, wordErrors: 1 });
  assert.deepEqual(scorePair('日本語', '日本'), { chars: 3, charErrors: 1, words: 1, wordErrors: 1 });
  // Decomposed and composed forms are the same text after NFC.
  assert.deepEqual(scorePair('caf\u00e9', 'cafe\u0301'), { chars: 4, charErrors: 0, words: 1, wordErrors: 0 });
});

test('scorePair: normalised before comparison; empty reference or hypothesis', () => {
  assert.deepEqual(scorePair('the  quick\nfox', ' the quick fox\n'), { chars: 13, charErrors: 0, words: 3, wordErrors: 0 });
  assert.deepEqual(scorePair('the fox', ''), { chars: 7, charErrors: 7, words: 2, wordErrors: 2 });
  assert.deepEqual(scorePair('', 'junk'), { chars: 0, charErrors: 4, words: 0, wordErrors: 1 });
});

test('scoreSet pools errors over the set and breaks them down per kind', () => {
  const r = scoreSet([
    { kind: 'line', reference: 'hello world', hypothesis: 'hello word' }, // 1 char, 1 word error
    { kind: 'word', reference: 'cat', hypothesis: 'cat' },
    { kind: 'word', reference: 'dog', hypothesis: 'dig' }, // 1 char, 1 word error
    { kind: 'page', reference: 'a b\nc d', hypothesis: 'a b c d e' }, // 2 chars, 1 word inserted
  ]);
  assert.deepEqual(r.byKind.line, { n: 1, chars: 11, charErrors: 1, words: 2, wordErrors: 1, charAcc: 1 - 1 / 11, wordAcc: 0.5 });
  assert.deepEqual(r.byKind.word, { n: 2, chars: 6, charErrors: 1, words: 2, wordErrors: 1, charAcc: 1 - 1 / 6, wordAcc: 0.5 });
  assert.deepEqual(r.byKind.page, { n: 1, chars: 7, charErrors: 2, words: 4, wordErrors: 1, charAcc: 1 - 2 / 7, wordAcc: 0.75 });
  assert.deepEqual(Object.keys(r.byKind), ['line', 'page', 'word']);
  assert.equal(r.all.n, 4);
  assert.equal(r.all.charAcc, 1 - 4 / 24);
  assert.equal(r.all.wordAcc, 1 - 3 / 8);
});

test('scoreSet: accuracies are null without ground truth, negative with many insertions', () => {
  assert.deepEqual(scoreSet([]).all, { n: 0, chars: 0, charErrors: 0, words: 0, wordErrors: 0, charAcc: null, wordAcc: null });
  assert.equal(scoreSet([{ kind: 'word', reference: '', hypothesis: 'x' }]).all.charAcc, null);
  assert.equal(scoreSet([{ kind: 'word', reference: 'a', hypothesis: 'abc' }]).all.charAcc, -1);
});
