// Tesseract.js peer (benches/ocr/tesseract.mjs) runs offline: data from node_modules, fetch
// blocked in its worker. Needs the npm dev packages (`make browser-tools`, which `make test-wasm`
// runs first); the recognition check also needs ../shared/data/ocr.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const word = path.resolve(root, '../shared/data/ocr/words/dtrb/demo_1.png'); // "Available"
test('tesseract.js is installed (make browser-tools)', () => {
  assert.doesNotThrow(() => createRequire(import.meta.url).resolve('tesseract.js'));
});

test('reads a word offline and writes no traineddata cache', { skip: !existsSync(word) && `${word} missing` }, async () => {
  const { createTesseract } = await import('../../benches/ocr/tesseract.mjs');
  const before = readdirSync(process.cwd());
  const t = await createTesseract();
  try {
    const r = await t.recognize(readFileSync(word), 'word');
    assert.equal(r.text.trim(), 'Available');
    assert.ok(r.ms > 0 && t.startupMs > 0);
    await assert.rejects(t.recognize(readFileSync(word), 'block'), /unknown kind/);
  } finally {
    await t.terminate();
  }
  assert.deepEqual(readdirSync(process.cwd()), before);
});

test('the worker refuses network access (URL langPath fails fast)', async () => {
  // In a child process: after a failed start-up Tesseract.js leaves its worker thread running.
  const script = `
    const { createTesseract } = await import(${JSON.stringify(path.join(root, 'benches/ocr/tesseract.mjs'))});
    try { await createTesseract({ langPath: 'https://example.invalid/tessdata' }); console.log('loaded'); }
    catch (e) { console.log(String(e)); }
    process.exit(0);`;
  const out = await new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
  assert.match(out, /network access blocked in the Tesseract\.js worker \(fetch https:\/\/example\.invalid\/tessdata\/eng\.traineddata\.gz\)/);
});
