// The wasm Scanner inside real headless Chromium: a camera-like photo of a QR code on a card
// (tests/fixtures/scan_qr.jpg, from the scan scene set) goes through the live preview and the
// full scan with the committed document-type classifier; bad models throw readable Errors.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './chromium.mjs';
import { startServer } from '../../benches/engine/server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { server, origin } = await startServer({
  '/pkg/': path.join(root, 'pkg'),
  '/fixtures/': path.join(root, 'tests/fixtures'),
  '/classifier/': path.join(root, 'models/classifier'),
}, []);
const browser = await launchChromium();
after(async () => {
  await browser.close();
  server.close();
});

test('the Scanner finds the card and reads its QR code in the preview and the full scan', async () => {
  const p = await browser.newPage();
  const offOrigin = [];
  p.on('request', (r) => { if (!r.url().startsWith(origin)) offOrigin.push(r.url()); });
  await p.route(`${origin}/`, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>t</title>' }));
  await p.goto(`${origin}/`);
  const r = await p.evaluate(async () => {
    const slim = await import('/pkg/slimscan.js');
    await slim.default();
    const get = async (u) => new Uint8Array(await (await fetch(u)).arrayBuffer());
    const bmp = await createImageBitmap(await (await fetch('/fixtures/scan_qr.jpg')).blob());
    const c = new OffscreenCanvas(bmp.width, bmp.height);
    const g = c.getContext('2d');
    g.drawImage(bmp, 0, 0);
    const img = g.getImageData(0, 0, bmp.width, bmp.height);
    const s = slim.Scanner.load(undefined, undefined, undefined, await get('/classifier/mobilenet_v2_dc.slim'));
    const frames = [];
    for (let i = 0; i < 5; i++) frames.push(JSON.parse(s.push(img.width, img.height, img.data)));
    const full = JSON.parse(s.capture(img.width, img.height, img.data));
    const fromFile = JSON.parse(s.scanImage(await get('/fixtures/scan_qr.jpg')));
    const page = s.pageRgba();
    const pageSize = [s.pageWidth(), s.pageHeight()];
    let badOption = '';
    try { s.setOptions('{"page_max_side": 3}'); } catch (e) { badOption = String(e.message); }
    let badModel = '';
    try { slim.Scanner.load(undefined, undefined, undefined, new Uint8Array([1, 2, 3])); } catch (e) { badModel = String(e.message); }
    let halfOcr = '';
    try { slim.Scanner.load(new Uint8Array([1]), undefined, undefined, undefined); } catch (e) { halfOcr = String(e.message); }
    s.free();
    return { frames, full, fromFile, pageLen: page.length, pageSize, badOption, badModel, halfOcr };
  });
  const last = r.frames[4];
  assert.ok(last.page, 'the card is found in the preview');
  assert.equal(last.steady, true, 'five still frames are steady');
  assert.deepEqual(last.codes.map((c) => [c.format, c.text, c.frames]), [['qr_code', 'geo:-58.14136,-95.13397', 5]]);
  assert.ok(['text', 'form', 'barcode', 'qr', 'none'].includes(last.doc_type.label));
  for (const res of [r.full, r.fromFile]) {
    assert.deepEqual(res.codes.map((c) => c.text), ['geo:-58.14136,-95.13397']);
    assert.ok(res.page && res.page.width > 50 && res.page.height > 50);
    assert.equal(res.text, '');
    assert.ok(res.timings_ms.total > 0 && res.timings_ms.page >= 0);
  }
  assert.equal(r.pageLen, r.pageSize[0] * r.pageSize[1] * 4);
  assert.match(r.badOption, /page_max_side/);
  assert.match(r.badModel, /document type model/);
  assert.match(r.halfOcr, /detector and the recogniser/);
  assert.deepEqual(offOrigin, []);
  await p.close();
});
