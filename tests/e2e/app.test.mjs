// The web app end to end, as a user gets it: `slimscan serve`, Debian's Chromium, a fake camera
// showing a generated scene (a page with text lines and a QR code on a desk). It checks that the
// QR text and a known line appear, that the comparison panel measures both model sets, that the
// permission-denied path offers the file picker, that a corrupt model gives an error rather than
// a dead page, and that a reload works offline from the service worker's caches; no request may
// leave the origin. Screenshots go to tests/e2e/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { launchChromium, launchWithCamera, launchWithProfile } from '../browser/chromium.mjs';
import { makeScene, SCENE } from './scene.mjs';
import { startApp, ROOT } from './server.mjs';

const ARTIFACTS = path.join(ROOT, 'tests/e2e/artifacts');
const KNOWN_LINE = SCENE.lines[1]; // "Parcel weight 4.2 kg"
const LONG = { timeout: 120_000 };

let app;
let scene;
let browser;
const offOrigin = [];

function watch(context) {
  context.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(`${app.origin}/`) && !u.startsWith('data:') && !u.startsWith('blob:')) offOrigin.push(u);
  });
}

async function open(context, url = app.origin) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  return { page, errors };
}

async function waitForScan(page, count = 1) {
  await page.waitForFunction((n) => Number(document.body.dataset.scans ?? 0) >= n, count, LONG);
}

async function resultOf(page) {
  return page.evaluate(() => ({
    codes: [...document.querySelectorAll('#codes .code-text')].map((e) => e.textContent),
    text: document.getElementById('text').value,
    error: document.getElementById('error').hidden ? '' : document.getElementById('error-text').textContent,
    marks: Object.fromEntries(performance.getEntriesByType('mark').map((m) => [m.name, m.startTime])),
  }));
}

// Visible buttons, file pickers, checkboxes' labels and the panel's summary smaller than 44 px.
function smallTargets(page) {
  return page.evaluate(() => [...document.querySelectorAll('button, .button, label.toggle, summary')]
    .filter((e) => e.offsetParent !== null)
    .map((e) => ({ e, r: e.getBoundingClientRect() }))
    .filter(({ r }) => r.width < 44 || r.height < 44)
    .map(({ e, r }) => `${e.id || e.textContent.trim()}: ${Math.round(r.width)}x${Math.round(r.height)}`));
}

function ms(v) {
  return `${Math.round(v)} ms`;
}

// When each result appeared, counted from the start of the page load.
function timeline(marks) {
  return `models ready ${ms(marks['slimscan:ready'])}, first live result (page outline, codes) ` +
    `${ms(marks['slimscan:first-preview'])}, first scan result (rectified page, type, codes) ` +
    `${ms(marks['slimscan:first-result'])}, its text and fields ${ms(marks['slimscan:first-scan'])} after page load`;
}

before(async () => {
  app = await startApp();
  const drawing = await launchChromium();
  scene = await makeScene(drawing, ARTIFACTS);
  await drawing.close();
  browser = await launchWithCamera(scene.y4m);
});

after(async () => {
  await browser?.close();
  app?.stop();
  assert.deepEqual(offOrigin, [], 'no request leaves the origin');
});

let mainContext;
let mainPage;

test('the camera scene is scanned: the QR code and a known text line appear', LONG, async () => {
  mainContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  watch(mainContext);
  let popups = 0;
  mainContext.on('page', () => popups++);
  const { page, errors } = await open(mainContext);
  mainPage = page;
  await waitForScan(page);
  const r = await resultOf(page);
  assert.deepEqual(r.codes, [SCENE.qr]);
  assert.ok(r.text.split('\n').includes(KNOWN_LINE), `"${KNOWN_LINE}" in:\n${r.text}`);
  assert.equal(r.error, '');
  assert.deepEqual(errors, []);
  // A URL is shown with an explicit button, never opened by itself.
  assert.equal(await page.locator('#codes button', { hasText: 'Open link' }).count(), 1);
  assert.equal(popups, 1, 'only the page itself');
  assert.deepEqual(await smallTargets(page), [], 'touch targets of at least 44 px');
  console.log(`cold cache: ${timeline(r.marks)}`);
  // Two more preview frames, so the overlay carries the captured text boxes.
  const frames = await page.evaluate(() => Number(document.body.dataset.frames));
  await page.waitForFunction((n) => Number(document.body.dataset.frames) >= n + 2, frames, LONG);
  await page.screenshot({ path: path.join(ARTIFACTS, 'app-scan.png') });
});

test('the comparison panel measures original and compressed models', { timeout: 600_000 }, async () => {
  const page = mainPage;
  await page.click('#compare summary');
  await page.waitForFunction(() => !document.getElementById('evaluate').disabled, null, LONG);
  await page.click('#capture');
  await waitForScan(page, 2);
  await page.click('#evaluate');
  await page.waitForFunction(() => document.getElementById('eval-status').textContent.startsWith('Accuracy'), null, { timeout: 540_000 });
  await page.waitForFunction(() => [...document.querySelectorAll('#compare-table tbody tr')].every((tr) =>
    tr.dataset.role === 'direction' || tr.cells[4].textContent.includes('ms')), null, LONG);
  const rows = await page.$$eval('#compare-table tbody tr', (trs) => trs.map((tr) => ({
    role: tr.dataset.role, variant: tr.dataset.variant, cells: [...tr.cells].map((c) => c.textContent),
  })));
  for (const role of ['classifier', 'detector', 'recogniser']) {
    for (const variant of ['compressed', 'original']) {
      const row = rows.find((x) => x.role === role && x.variant === variant);
      const [, , bytes, memory, latency, accuracy] = row.cells;
      assert.match(bytes, /^[\d.]+ (kB|MB)$/, `${role} ${variant} download`);
      assert.match(memory, /^[\d.]+ (kB|MB)$/, `${role} ${variant} memory`);
      assert.match(latency, /^[\d.]+ ms$/, `${role} ${variant} latency`);
      assert.match(accuracy, /^[\d.]+ %/, `${role} ${variant} accuracy`);
    }
    const agreement = rows.find((x) => x.role === role && x.variant === 'compressed').cells[6];
    assert.notEqual(agreement, '—', `${role} agreement`);
  }
  const size = (role, v) => rows.find((x) => x.role === role && x.variant === v).cells[2];
  console.log(rows.map((x) => x.cells.join(' | ')).join('\n'));
  assert.notEqual(size('recogniser', 'compressed'), size('recogniser', 'original'));
  assert.equal(await page.locator('#chart circle').count(), 6, 'three models, two points each');
  await page.locator('#compare').screenshot({ path: path.join(ARTIFACTS, 'app-compare.png') });
});

test('Chromium finds the app installable', LONG, async () => {
  // Installability is not judged in incognito contexts, so this one has a profile on disk.
  const profile = mkdtempSync(path.join(os.tmpdir(), 'slimscan-profile-'));
  const context = await launchWithProfile(profile);
  try {
    watch(context);
    const page = context.pages()[0] ?? await context.newPage();
    await page.goto(app.origin);
    await page.evaluate(() => navigator.serviceWorker.ready);
    const cdp = await context.newCDPSession(page);
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
    assert.deepEqual(installabilityErrors, []);
    const { url, data } = await cdp.send('Page.getAppManifest');
    assert.match(url, /manifest\.webmanifest$/);
    assert.equal(JSON.parse(data).display, 'standalone');
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
});

test('a denied camera explains itself and the file picker still scans', LONG, async () => {
  const denied = await launchWithCamera(scene.y4m, { grant: false });
  try {
    const context = await denied.newContext({ viewport: { width: 1024, height: 1366 } });
    watch(context);
    const { page, errors } = await open(context);
    await page.waitForFunction(() => document.body.dataset.camera === 'unavailable', null, LONG);
    assert.match(await page.textContent('#camera-message-text'), /permission was denied/i);
    await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Ready'), null, LONG);
    await page.setInputFiles('#file', scene.png);
    await waitForScan(page);
    const r = await resultOf(page);
    assert.deepEqual(r.codes, [SCENE.qr]);
    assert.ok(r.text.includes(KNOWN_LINE), r.text);
    assert.deepEqual(errors, []);
    assert.deepEqual(await smallTargets(page), [], 'touch targets in portrait');
    await page.screenshot({ path: path.join(ARTIFACTS, 'app-denied-portrait.png') });
  } finally {
    await denied.close();
  }
});

test('a corrupt model shows an error, and the page keeps reading codes', LONG, async () => {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  watch(context);
  await context.route('**/models/ppocr_rec.slim', (route) =>
    route.fulfill({ status: 200, contentType: 'application/octet-stream', body: Buffer.from('SLIM\u0001 this is not a model') }));
  const { page, errors } = await open(context);
  await page.waitForFunction(() => !document.getElementById('error').hidden, null, LONG);
  assert.match(await page.textContent('#error-text'), /recogniser model/);
  await page.waitForFunction((qr) => document.getElementById('live').textContent.includes(qr), SCENE.qr, LONG);
  assert.deepEqual(errors, []);
  await page.screenshot({ path: path.join(ARTIFACTS, 'app-corrupt-model.png') });
  await context.close();
});

test('with a warm cache the first scan is timed, and offline the app still scans', LONG, async () => {
  const page = mainPage;
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.reload();
  await waitForScan(page);
  const warm = await resultOf(page);
  assert.ok(await page.evaluate(() => Boolean(navigator.serviceWorker.controller)), 'the service worker controls the page');
  const build = await page.evaluate(async () => (await fetch('/build.json')).json());
  const names = await page.evaluate(() => caches.keys());
  assert.ok(names.includes(`slimscan-shell-${build.version}`), names.join());
  assert.ok(names.every((n) => n.endsWith(build.version)), `only this version's caches: ${names.join()}`);
  console.log(`warm cache: ${timeline(warm.marks)}`);

  // Really offline: the browser's network is cut and the server is gone.
  await mainContext.setOffline(true);
  app.stop();
  await page.reload();
  await waitForScan(page);
  const offline = await resultOf(page);
  assert.deepEqual(offline.codes, [SCENE.qr]);
  assert.ok(offline.text.includes(KNOWN_LINE), offline.text);
  assert.equal(offline.error, '');
  await page.screenshot({ path: path.join(ARTIFACTS, 'app-offline.png') });
  await mainContext.close();
});
