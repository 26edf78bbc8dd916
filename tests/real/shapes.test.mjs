// Inputs of every common shape, as a user gives them to `slimscan scan`: real images of each
// shape of the development set (benches/real, fetched by benches/real/fetch.py: `make real-set`)
// through the release CLI with the compressed models (`make models`). Each asserts the text it
// must give (character accuracy against the hand-checked answer, and words that must be there),
// the codes, and that a photo without text or code gets neither. Images copied from
// ../shared/data are skipped, saying so, where that folder is absent (as tests/wasm does); the
// ones from PyPI packages always run.
// SLIMSCAN_BIN: the CLI (default $CARGO_TARGET_DIR/release/slimscan).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import os from 'node:os';
import { parseRealManifest, sameCode } from '../../benches/real/compare.mjs';
import { scorePair } from '../../benches/ocr/metrics.mjs';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = process.env.SLIMSCAN_BIN
  ?? path.join(process.env.CARGO_TARGET_DIR ?? path.join(os.homedir(), '.cache/slimscan/target'), 'release/slimscan');
const SET = path.join(ROOT, 'benches/real/set');
const MANIFEST = parseRealManifest(readFileSync(path.join(ROOT, 'benches/real/manifest.tsv'), 'utf8'));
const LONG = { timeout: 300_000 };

async function scan(relativePath) {
  const file = path.join(SET, relativePath);
  assert.ok(existsSync(file), `${file} is missing: run make real-set (python3 benches/real/fetch.py)`);
  assert.ok(existsSync(BIN), `${BIN} is missing: run make cli`);
  const { stdout } = await run(BIN, ['scan', '--json', file], { cwd: ROOT, maxBuffer: 64 << 20 });
  return JSON.parse(stdout);
}

/** The node:test options for an image: skipped (with why) when it comes from an absent ../shared. */
function opts(relativePath) {
  const item = MANIFEST.find((m) => m.relativePath === relativePath);
  const missing = item && item.source.startsWith('shared') && !existsSync(path.join(SET, relativePath))
    && !existsSync(path.join(ROOT, '../shared/data'));
  return { ...LONG, skip: missing && `${relativePath} comes from ../shared/data, which is absent here` };
}

function answer(relativePath) {
  const item = MANIFEST.find((m) => m.relativePath === relativePath);
  assert.ok(item, `${relativePath} is not in benches/real/manifest.tsv`);
  return item;
}

const charAccuracy = (reference, text) => {
  const p = scorePair(reference, text);
  return 1 - p.charErrors / p.chars;
};

// [shape, image, lowest character accuracy, words that must be read]. The floors sit a few
// points under what the compressed models read on 2026-12-07 (models/REPORT.md, "Real
// images"): they catch a pipeline that drops or garbles the text, not a single character.
const TEXT_CASES = [
  ['word', 'word/uw3_0188-010059_stretching.png', 0.99, ['stretching']],
  ['word', 'word/dtrb_demo_1.png', 0.99, ['Available']],
  ['line', 'line/uw3_0241-010015.png', 0.97, []],
  ['line', 'line/ocrmypdf_crom.png', 0.95, ['cromulent']],
  ['screenshot', 'screenshot/slimscan_settings_light.png', 0.95, ['Scanner settings']],
  ['screenshot', 'screenshot/img2table_invoice.png', 0.95, []],
  ['scan300', 'scan300/ocrmypdf_enron1.png', 0.95, []],
  ['phone_page', 'phone_page/jscanify-test2.png', 0.95, []],
  ['phone_page', 'phone_page/page_dewarp_linguistics_thesis_a.jpg', 0.8, []],
];

for (const [shape, image, floor, words] of TEXT_CASES) {
  test(`${shape}: ${image} reads its text`, opts(image), async () => {
    const want = answer(image);
    assert.equal(want.shape, shape);
    const r = await scan(image);
    const acc = charAccuracy(want.text, r.text);
    assert.ok(acc >= floor, `character accuracy ${(100 * acc).toFixed(2)} % < ${100 * floor} %: ${JSON.stringify(r.text.slice(0, 300))}`);
    for (const w of words) assert.ok(r.text.includes(w), `${JSON.stringify(w)} not in ${JSON.stringify(r.text.slice(0, 300))}`);
    assert.deepEqual(r.codes, [], 'no code on a page of text');
    assert.notEqual(r.type, 'none');
  });
}

for (const image of ['no_page/skimage_brick.png', 'no_page/skimage_coffee.png', 'no_page/zxing_falsepositives-1_11.png']) {
  test(`no_page: ${image} gets no text and no code`, opts(image), async () => {
    assert.equal(answer(image).shape, 'no_page');
    const r = await scan(image);
    assert.equal(r.text, '', `invented text: ${JSON.stringify(r.lines.map((l) => [l.text, l.confidence]))}`);
    assert.deepEqual(r.codes, []);
  });
}

const COVER = 'page_barcode/zxing_ean13-3_14.png';
test('page_barcode: a book cover gives its EAN-13 and the text beside it', opts(COVER), async () => {
  const image = COVER;
  const want = answer(image);
  const r = await scan(image);
  assert.equal(r.codes.length, 1, JSON.stringify(r.codes));
  assert.ok(sameCode(r.codes[0], want.codes[0]), `${JSON.stringify(r.codes[0])} vs ${JSON.stringify(want.codes[0])}`);
  // The type comes from the code; the text is read all the same.
  assert.equal(r.type, 'barcode');
  const acc = charAccuracy(want.text, r.text);
  assert.ok(acc >= 0.6, `character accuracy ${(100 * acc).toFixed(2)} %: ${JSON.stringify(r.text)}`);
});
