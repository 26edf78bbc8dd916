// OCR set manifest reader (benches/ocr/manifest.mjs): unescaping and strict errors. No models.
import test from 'node:test';
import assert from 'node:assert/strict';
import { parseManifest, unescapeField } from '../../benches/ocr/manifest.mjs';

const H = 'relative_path\tkind\tground_truth\n';

test('unescapeField undoes \\\\ \\t \\n \\r', () => {
  assert.equal(unescapeField('a\\tb\\nc\\rd\\\\e'), 'a\tb\nc\rd\\e');
  assert.equal(unescapeField('\\\\n'), '\\n');
  assert.equal(unescapeField('plain "quoted" ü'), 'plain "quoted" ü');
});

test('parseManifest reads rows, kinds and line numbers', () => {
  const rows = parseManifest(`${H}lines/a.png\tline\t"Hello, world\nwords/b\\tc.jpg\tword\tx\\\\y\npages/p.png\tpage\tone\\ntwo\n`);
  assert.deepEqual(rows, [
    { relativePath: 'lines/a.png', kind: 'line', groundTruth: '"Hello, world', line: 2 },
    { relativePath: 'words/b\tc.jpg', kind: 'word', groundTruth: 'x\\y', line: 3 },
    { relativePath: 'pages/p.png', kind: 'page', groundTruth: 'one\ntwo', line: 4 },
  ]);
  assert.deepEqual(parseManifest(H), []);
  assert.equal(parseManifest(`${H}a.png\tword\t`)[0].groundTruth, '');
});

test('parseManifest errors name the line', () => {
  const bad = (text, re) => assert.throws(() => parseManifest(text, 'set/manifest.tsv'), re);
  bad('path\tkind\ttext\n', /set\/manifest\.tsv line 1: header must be/);
  bad('', /line 1: header must be/);
  bad(`${H}a.png\tline\tok\nb.png\tline\tbad \\x escape\n`, /line 3: bad escape \\x/);
  bad(`${H}a.png\tline\ttrailing\\\n`, /line 2: dangling backslash/);
  bad(`${H}a.png\tline\n`, /line 2: expected 3 tab-separated fields, got 2/);
  bad(`${H}a.png\tline\ta\tb\n`, /line 2: expected 3 tab-separated fields, got 4/);
  bad(`${H}a.png\tblock\ttext\n`, /line 2: kind must be one of line\/word\/page/);
  bad(`${H}a.png\tline\ttext\r\n`, /line 2: raw carriage return/);
  bad(`${H}\n`, /line 2: expected 3/);
  bad(`${H}../a.png\tline\ttext\n`, /line 2: relative_path must be a path inside the set/);
  bad(`${H}/abs/a.png\tline\ttext\n`, /line 2: relative_path must be/);
});
