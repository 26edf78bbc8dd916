// Memory soak: the app on a fake camera for SOAK_SECONDS (`make test` runs a short form,
// `make soak` five minutes), live preview on every frame and a full capture every 10 s. The
// engine's wasm memory may grow while it warms up; after the first fifth of the run (the first
// minute of the full run) it must grow by at most 5 %. Prints the numbers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { launchChromium, launchWithCamera } from '../browser/chromium.mjs';
import { makeScene } from './scene.mjs';
import { startApp, ROOT } from './server.mjs';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 50);
const WARMUP = Math.min(60, SECONDS / 5);
const CAPTURE_EVERY = 10;
const MAX_GROWTH = 0.05;

let app;
let browser;

before(async () => {
  app = await startApp();
  const drawing = await launchChromium();
  const scene = await makeScene(drawing, path.join(ROOT, 'tests/e2e/artifacts/soak'));
  await drawing.close();
  browser = await launchWithCamera(scene.y4m);
});

after(async () => {
  await browser?.close();
  app?.stop();
});

test(`wasm memory stays flat over a ${SECONDS} s camera session`, { timeout: (SECONDS + 180) * 1000 }, async () => {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(app.origin);
  await page.waitForFunction(() => Number(document.body.dataset.scans ?? 0) >= 1, null, { timeout: 120_000 });
  const state = () => page.evaluate(() => ({
    frames: Number(document.body.dataset.frames ?? 0),
    scans: Number(document.body.dataset.scans ?? 0),
    wasm: Number(document.body.dataset.wasmBytes ?? 0),
    heap: Number(document.body.dataset.heapBytes ?? 0),
  }));
  const start = await state();
  let baseline = null;
  let lastCapture = 0;
  const t0 = Date.now();
  for (let s = 1; s <= SECONDS; s++) {
    await page.waitForTimeout(Math.max(0, t0 + s * 1000 - Date.now()));
    if (s - lastCapture >= CAPTURE_EVERY) {
      lastCapture = s;
      await page.click('#capture');
    }
    if (!baseline && s >= WARMUP) baseline = await state();
  }
  await page.waitForFunction(() => !document.getElementById('capture').disabled, null, { timeout: 120_000 });
  const end = await state();
  const growth = (end.wasm - baseline.wasm) / baseline.wasm;
  const mb = (b) => `${(b / 1e6).toFixed(1)} MB`;
  console.log(`soak ${SECONDS} s: ${end.frames - start.frames} preview frames, ${end.scans - start.scans} captures; ` +
    `wasm memory ${mb(start.wasm)} before the first capture grew it, ${mb(baseline.wasm)} after ${WARMUP} s, ${mb(end.wasm)} at the end ` +
    `(growth after warm-up ${(growth * 100).toFixed(2)} %); Rust heap in use ${mb(baseline.heap)} → ${mb(end.heap)}`);
  assert.ok(end.frames - start.frames > SECONDS, 'the preview kept running');
  assert.ok(end.scans - start.scans >= Math.floor(SECONDS / CAPTURE_EVERY) - 1, 'the captures ran');
  assert.ok(growth <= MAX_GROWTH, `wasm memory grew ${(growth * 100).toFixed(2)} % after warm-up (limit 5 %)`);
  assert.deepEqual(errors, []);
  await context.close();
});
