// The page: starts the inference worker and the camera, sends preview frames one at a time
// (a frame is dropped while the worker is busy, so the UI never waits), draws the overlay,
// captures when the page is steady or on request, and shows the results and the comparison.
import { WorkerClient } from './worker-client.js';
import { Camera, CameraError } from './camera.js';
import { Overlay, drawPage } from './overlay.js';
import { Results } from './results.js';
import { ComparePanel, formatBytes } from './compare.js';

const $ = (id) => document.getElementById(id);
const video = $('video');
const overlay = new Overlay($('overlay'), video);
const camera = new Camera(video);
const worker = new WorkerClient(new URL('./worker.js', import.meta.url));
const compare = new ComparePanel($('compare-table'), $('chart'));

let ready = false;
let framePending = false;
let capturing = false;
let armed = true; // one auto-capture per steady spell
let lastScan = null;
let statsTimer = null;

function say(text) {
  $('status').textContent = text;
}

function showError(text) {
  $('error-text').textContent = text;
  $('error').hidden = false;
}
$('error-dismiss').addEventListener('click', () => { $('error').hidden = true; });
const results = new Results(showError);

// Model download progress, one bar per file.
const bars = new Map();
worker.on('progress', (m) => {
  let row = bars.get(m.url);
  if (!row) {
    const li = document.createElement('li');
    const label = document.createElement('span');
    const bar = document.createElement('progress');
    li.append(label, bar);
    $('progress-list').append(li);
    row = { li, label, bar };
    bars.set(m.url, row);
  }
  row.bar.max = m.total || 1;
  row.bar.value = m.loaded;
  const what = `${m.variant} ${m.role} model`;
  row.label.textContent = m.done
    ? `${what}: ${formatBytes(m.loaded)}${m.cached ? ' (from cache)' : ''}`
    : `${what}: ${formatBytes(m.loaded)} of ${m.total ? formatBytes(m.total) : '?'}`;
  if (m.done) setTimeout(() => { row.li.remove(); bars.delete(m.url); }, 1500);
});
worker.on('failure', (message) => {
  ready = false;
  showError(`The scanner stopped working: ${message}. Reload the page to start it again.`);
});

function reportModelErrors(set, variant) {
  const errors = set?.errors ?? [];
  if (!errors.length) return;
  showError(`Some ${variant} models could not be loaded, so the scanner works without them: ` +
    `${errors.map((e) => e.message).join('; ')}. Reload to download them again.`);
}

async function start() {
  say('Loading the scanner…');
  try {
    const info = await worker.call('init');
    $('engine-version').textContent = `Engine ${info.version}.`;
    reportModelErrors(info.sets.compressed, 'compressed');
    ready = true;
    $('capture').disabled = false;
    performance.mark('slimscan:ready');
    say(`Ready: models loaded in ${(info.loadMs / 1000).toFixed(1)} s.`);
  } catch (e) {
    showError(`The scanner could not start: ${e.message}`);
    say('Not ready.');
    return;
  }
  await startCamera();
}

function cameraUnavailable(message) {
  $('camera-message-text').textContent = message;
  $('camera-message').hidden = false;
  $('capture').disabled = true;
  $('auto').disabled = true;
  document.body.dataset.camera = 'unavailable';
}

async function startCamera(next = false) {
  try {
    if (next) await camera.next();
    else await camera.start();
    $('camera-message').hidden = true;
    $('switch-camera').hidden = !camera.canSwitch();
    $('torch').hidden = !camera.canTorch();
    document.body.dataset.camera = 'on';
    camera.track()?.addEventListener('ended', () => cameraUnavailable('The camera stopped (unplugged or taken by another app).'));
    startLoop();
  } catch (e) {
    cameraUnavailable(e instanceof CameraError ? e.message : `The camera could not be started: ${e.message}`);
  }
}

let looping = false;
function startLoop() {
  if (looping) return;
  looping = true;
  scheduleFrame();
}

function scheduleFrame() {
  if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(() => onFrame());
  else requestAnimationFrame(() => onFrame());
}

async function onFrame() {
  scheduleFrame();
  if (!ready || framePending || capturing || document.hidden || !camera.ready()) return;
  framePending = true;
  try {
    const bitmap = await createImageBitmap(video);
    const r = await worker.call('frame', { bitmap }, [bitmap]);
    if (!performance.getEntriesByName('slimscan:first-preview').length) performance.mark('slimscan:first-preview');
    overlay.draw(r, r.page ? lastScan : null);
    // For the soak test and anyone curious: frames seen and the engine's memory.
    document.body.dataset.frames = String(Number(document.body.dataset.frames ?? 0) + 1);
    document.body.dataset.wasmBytes = String(r.memory.wasm);
    document.body.dataset.heapBytes = String(r.memory.heap);
    describeLive(r);
    if (!r.steady || !r.page) armed = true;
    if ($('auto').checked && armed && r.steady && r.page) {
      armed = false;
      capture();
    }
  } catch (e) {
    showError(`A camera frame could not be scanned: ${e.message}`);
  } finally {
    framePending = false;
  }
}

function describeLive(r) {
  const parts = [];
  parts.push(r.page ? (r.steady ? 'Page found, steady' : 'Page found, hold still…') : 'Looking for a page…');
  if (r.doc_type) parts.push(`looks like ${r.doc_type.label}`);
  if (r.codes?.length) parts.push(`${r.codes.length} code${r.codes.length > 1 ? 's' : ''}: ${r.codes.map((c) => c.text).join(', ')}`);
  parts.push(`${Math.round(r.timings_ms.total)} ms/frame`);
  $('live').textContent = parts.join(' · ');
}

async function capture() {
  if (!ready || capturing || !camera.ready()) return;
  capturing = true;
  $('capture').disabled = true;
  say('Scanning…');
  try {
    const bitmap = await createImageBitmap(video);
    showFinal(await worker.call('capture', { bitmap }, [bitmap]));
  } catch (e) {
    showError(`The scan failed: ${e.message}`);
  } finally {
    capturing = false;
    $('capture').disabled = false;
  }
}

// The first part of a scan (page, type, codes) arrives before the text is read.
let shownPage = null;
worker.on('partial', ({ scan, page }) => {
  shownPage = page;
  lastScan = null;
  results.show(scan, { reading: true });
  $('page-view').hidden = false;
  $('page-view').querySelector('h2').textContent = page.frame ? 'Scanned image' : 'Captured page';
  drawPage($('page-canvas'), page, scan);
  if (!performance.getEntriesByName('slimscan:first-result').length) performance.mark('slimscan:first-result');
  say('Reading the text…');
});

function showFinal({ scan }) {
  const page = shownPage;
  lastScan = page && !page.frame ? { scan, page } : null;
  results.show(scan);
  if (page) drawPage($('page-canvas'), page, scan);
  if (!performance.getEntriesByName('slimscan:first-scan').length) performance.mark('slimscan:first-scan');
  document.body.dataset.scans = String(Number(document.body.dataset.scans ?? 0) + 1);
  say(`Scanned: ${scan.type}, ${scan.codes.length} code(s), ${scan.lines.length} text line(s), ${scan.fields.length} field(s).`);
  if ($('compare').open) refreshStats();
}

async function scanFile(file) {
  if (!file) return;
  if (!ready) { showError('The scanner is still loading; try again in a moment.'); return; }
  if (file.size > 64e6) { showError(`${file.name} is too large (${formatBytes(file.size)}; the limit is 64 MB).`); return; }
  say(`Scanning ${file.name || 'the image'}…`);
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    showFinal(await worker.call('scanFile', { bytes }, [bytes.buffer]));
  } catch (e) {
    showError(`${file.name || 'The image'} could not be scanned: ${e.message}`);
    say('Ready.');
  }
}

$('capture').addEventListener('click', () => capture());
$('switch-camera').addEventListener('click', () => startCamera(true));
$('torch').addEventListener('click', async (ev) => {
  try {
    ev.currentTarget.setAttribute('aria-pressed', String(await camera.toggleTorch()));
  } catch (e) {
    showError(`The torch could not be switched: ${e.message}`);
  }
});
$('file').addEventListener('change', (ev) => { scanFile(ev.target.files?.[0]); ev.target.value = ''; });

// Drag-and-drop onto the camera area, and paste anywhere.
const stage = $('stage');
stage.addEventListener('dragover', (ev) => { ev.preventDefault(); stage.classList.add('dragging'); $('drop-hint').hidden = false; });
stage.addEventListener('dragleave', () => { stage.classList.remove('dragging'); $('drop-hint').hidden = true; });
stage.addEventListener('drop', (ev) => {
  ev.preventDefault();
  stage.classList.remove('dragging');
  $('drop-hint').hidden = true;
  scanFile([...(ev.dataTransfer?.files ?? [])].find((f) => f.type.startsWith('image/')));
});
document.addEventListener('paste', (ev) => {
  const file = [...(ev.clipboardData?.files ?? [])].find((f) => f.type.startsWith('image/'));
  if (file) { ev.preventDefault(); scanFile(file); }
});

// The comparison panel loads the original models only when opened.
async function refreshStats() {
  try {
    compare.render(await worker.call('stats'));
  } catch (e) {
    showError(`The comparison could not be updated: ${e.message}`);
  }
}

$('compare').addEventListener('toggle', async () => {
  clearInterval(statsTimer);
  if (!$('compare').open) {
    await worker.call('setCompare', { on: false }).catch(() => {});
    return;
  }
  await refreshStats();
  try {
    say('Loading the original models for the comparison…');
    const info = await worker.call('loadOriginal');
    reportModelErrors(info.sets.original, 'original');
    $('evaluate').disabled = false;
    say('Original models loaded: both sets run on each frame while this panel is open.');
  } catch (e) {
    showError(`The original models could not be loaded: ${e.message}`);
  }
  await refreshStats();
  statsTimer = setInterval(refreshStats, 1000);
});

worker.on('eval-progress', (m) => {
  const p = $('eval-progress');
  p.max = m.total;
  p.value = m.done;
  $('eval-status').textContent = `${m.done} / ${m.total}: ${m.label}`;
});

$('evaluate').addEventListener('click', async () => {
  $('evaluate').disabled = true;
  $('eval-progress').hidden = false;
  try {
    compare.accuracy = await worker.call('evaluate');
    await refreshStats();
    $('eval-status').textContent = 'Accuracy measured on this device.';
  } catch (e) {
    showError(`The evaluation failed: ${e.message}`);
  } finally {
    $('evaluate').disabled = false;
  }
});

// Offline use: the service worker precaches the app, the engine and the compressed models.
if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('/sw.js').catch((e) => console.warn('service worker not registered:', e));
}

start();
