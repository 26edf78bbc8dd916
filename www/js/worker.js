// The inference worker: the wasm engine, the models and every scan run here, so the page's main
// thread only draws. Requests are `{id, op, ...args}` and get `{id, ok, result | error}`; model
// downloads, scans and evaluations also post `{type: 'progress' | 'partial' | 'eval-progress',
// ...}` as they go.
// Models come from Cache Storage when present (the service worker precaches the compressed
// ones; the originals are cached here the first time the comparison panel asks for them).
import init, { Scanner, Ocr, version, wasmMemoryBytes, wasmHeapBytes } from '/pkg/slimscan.js';
import { pooledAccuracy, textAgreement, boxAgreement, median } from './metrics.js';

const ROLES = ['detector', 'recogniser', 'direction', 'classifier', 'fast_recogniser'];
const PREVIEW_MAX_SIDE = 1280;
const CAPTURE_MAX_SIDE = 2560;
const LATENCY_WINDOW = 15;

// The full engine (tract: ONNX models), fetched only when the comparison panel asks for the
// original f32 models; every page loads the small one imported above.
let fullEngine = null;
async function engineFor(variant) {
  if (variant !== 'original') return { Scanner, Ocr };
  if (!fullEngine) {
    const mod = await import('/pkg/full/slimscan.js');
    await mod.default();
    fullEngine = mod;
  }
  return fullEngine;
}

let build = null;   // /build.json: version and download sizes
let catalog = null; // /models.json: the model files per role and variant
const sets = { compressed: null, original: null }; // {scanner, memory, bytes, errors}
const latency = { compressed: {}, original: {} };  // role -> recent ms
let lastAgreement = null;

const handlers = { init: initEngine, loadOriginal, frame, capture, scanFile, evaluate, stats, setCompare };
let compare = false;

self.onmessage = async (ev) => {
  const { id, op, ...args } = ev.data;
  try {
    if (!handlers[op]) throw new Error(`unknown request ${op}`);
    const { result, transfer = [] } = await handlers[op]({ ...args, id });
    self.postMessage({ id, ok: true, result }, transfer);
  } catch (e) {
    self.postMessage({ id, ok: false, error: String(e?.message ?? e) });
  }
};

async function fetchJson(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

// The smallest module using a wasm SIMD instruction (i8x16.splat, i8x16.popcnt): the engine is
// built with simd128 and cannot run without it.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

async function initEngine() {
  const t0 = performance.now();
  if (!WebAssembly.validate(SIMD_PROBE)) {
    throw new Error('this browser lacks WebAssembly SIMD, which the engine needs (Chrome 91+, Firefox 89+, Safari 16.4+)');
  }
  await init();
  catalog = await fetchJson('/models.json');
  build = await fetchJson('/build.json').catch(() => ({ version: 'dev', files: {} }));
  await loadSet('compressed');
  return { result: { version: version(), loadMs: performance.now() - t0, ...describe() } };
}

async function loadOriginal() {
  if (!sets.original) await loadSet('original');
  compare = true;
  return { result: describe() };
}

async function setCompare({ on }) {
  compare = Boolean(on) && Boolean(sets.original);
  return { result: { compare } };
}

// What the page shows about the loaded models.
function describe() {
  const out = {};
  for (const v of ['compressed', 'original']) {
    const s = sets[v];
    if (!s) continue;
    out[v] = { bytes: s.bytes, memory: s.memory, errors: s.errors };
  }
  return { sets: out, memory: memoryNow() };
}

function memoryNow() {
  return { wasm: wasmMemoryBytes(), heap: wasmHeapBytes() };
}

function modelCacheName() {
  return `slimscan-models-${build?.version ?? 'dev'}`;
}

// The bytes of one model file, from any cache of this origin or the network, with progress.
async function fetchModel(url, role, variant) {
  let res = await caches.match(url);
  const cached = Boolean(res);
  if (!res) {
    res = await fetch(url);
    if (!res.ok) throw new Error(`the ${role} model (${url}) could not be downloaded: HTTP ${res.status}`);
  }
  const total = Number(res.headers.get('content-length')) || build?.files?.[url] || 0;
  const reader = res.body.getReader();
  const chunks = [];
  let loaded = 0;
  let lastReport = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    if (loaded - lastReport > 256 * 1024 || loaded === total) {
      lastReport = loaded;
      self.postMessage({ type: 'progress', role, variant, url, loaded, total, cached });
    }
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) { bytes.set(c, at); at += c.length; }
  self.postMessage({ type: 'progress', role, variant, url, loaded, total: loaded, cached, done: true });
  if (!cached) {
    const cache = await caches.open(modelCacheName());
    await cache.put(url, new Response(bytes, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(loaded) } }));
  }
  return bytes;
}

async function forget(url) {
  for (const name of await caches.keys()) await (await caches.open(name)).delete(url);
}

// Which model a load error names (the engine prefixes its messages with the model's role).
function failedRole(message) {
  if (/^detector model/.test(message)) return 'detector';
  if (/^fast recogniser model|fast recogniser has no/.test(message)) return 'fast_recogniser';
  if (/^recogniser model|character. metadata/.test(message)) return 'recogniser';
  if (/^direction classifier model/.test(message)) return 'direction';
  if (/^document type model/.test(message)) return 'classifier';
  return null;
}

// Loads one variant's models; a model that fails is left out (and evicted from the caches so a
// reload fetches it again) and the rest still load, so codes keep working without OCR.
async function loadSet(variant) {
  const bytes = {};
  const files = {};
  const errors = [];
  for (const m of catalog.models) {
    const url = m[variant];
    try {
      files[m.role] = await fetchModel(url, m.role, variant);
      bytes[m.role] = files[m.role].length;
    } catch (e) {
      errors.push({ role: m.role, url, message: String(e.message ?? e) });
    }
  }
  const engine = await engineFor(variant);
  let scanner = null;
  for (let attempt = 0; attempt < ROLES.length && !scanner; attempt++) {
    try {
      const ocr = files.detector && files.recogniser;
      scanner = engine.Scanner.load(ocr ? files.detector : undefined, ocr ? files.recogniser : undefined,
        ocr ? files.direction : undefined, files.classifier, ocr ? files.fast_recogniser : undefined);
    } catch (e) {
      const message = String(e.message ?? e);
      const role = failedRole(message) ?? 'detector';
      const url = catalog.models.find((m) => m.role === role)?.[variant];
      errors.push({ role, url, message });
      if (url) await forget(url);
      if (role === 'classifier') delete files.classifier;
      else if (role === 'fast_recogniser') delete files.fast_recogniser; // PP-OCR's recogniser reads alone
      else { delete files.detector; delete files.recogniser; delete files.direction; delete files.fast_recogniser; }
    }
  }
  if (!scanner) throw new Error(`no ${variant} model could be loaded: ${errors.map((e) => e.message).join('; ')}`);
  const memory = JSON.parse(scanner.modelMemory());
  sets[variant] = { scanner, bytes, memory, errors };
}

function pixels(bitmap, maxSide) {
  const scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
  const w = Math.max(1, Math.round(bitmap.width * scale));
  const h = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = new OffscreenCanvas(w, h);
  const g = canvas.getContext('2d', { willReadFrequently: true });
  g.drawImage(bitmap, 0, 0, w, h);
  bitmap.close();
  return g.getImageData(0, 0, w, h);
}

function record(variant, role, ms) {
  if (!(ms >= 0)) return;
  const list = (latency[variant][role] ??= []);
  list.push(ms);
  if (list.length > LATENCY_WINDOW) list.shift();
}

function latencyMedians() {
  const out = {};
  for (const v of ['compressed', 'original']) {
    out[v] = {};
    for (const [role, list] of Object.entries(latency[v])) out[v][role] = { median: median(list), n: list.length };
  }
  return out;
}

async function frame({ bitmap }) {
  const img = pixels(bitmap, PREVIEW_MAX_SIDE);
  const r = JSON.parse(sets.compressed.scanner.push(img.width, img.height, img.data));
  r.width = img.width;
  r.height = img.height;
  if (r.doc_type) record('compressed', 'classifier', r.timings_ms.classify);
  if (compare && sets.original) {
    try {
      const t0 = performance.now();
      const o = JSON.parse(sets.original.scanner.classify(img.width, img.height, img.data));
      record('original', 'classifier', performance.now() - t0);
      r.original_doc_type = o;
    } catch { /* no original classifier: nothing to compare */ }
  }
  r.memory = memoryNow();
  return { result: r };
}

function rectifiedPage(scanner) {
  const w = scanner.pageWidth();
  const h = scanner.pageHeight();
  if (!w || !h) return null;
  const rgba = scanner.pageRgba();
  return { width: w, height: h, rgba };
}

function recordScan(variant, r) {
  const t = r.timings_ms ?? {};
  if (r.type_probabilities) record(variant, 'classifier', t.classify);
  if (t.ocr_det > 0) record(variant, 'detector', t.ocr_det);
  if (t.ocr_rec > 0) record(variant, 'recogniser', t.ocr_rec); // both recognisers: the reading stage
  if (t.ocr_rec_fast > 0) record(variant, 'fast_recogniser', t.ocr_rec_fast);
  if (t.ocr_cls > 0) record(variant, 'direction', t.ocr_cls);
}

function topLabel(r) {
  const p = r.type_probabilities;
  if (!p) return null;
  return ['text', 'form', 'barcode', 'qr', 'none'][p.indexOf(Math.max(...p))];
}

function agreement(c, o) {
  const rectOf = (l) => {
    const xs = l.corners.map((p) => p[0]);
    const ys = l.corners.map((p) => p[1]);
    return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
  };
  return {
    classifier: topLabel(c) && topLabel(o) ? { same: topLabel(c) === topLabel(o), compressed: topLabel(c), original: topLabel(o) } : null,
    detector: { compressed: c.lines.length, original: o.lines.length, matched: boxAgreement(c.lines.map(rectOf), o.lines.map(rectOf)) },
    recogniser: { text: textAgreement(c.text, o.text) },
  };
}

// A full scan in two parts: page, type and codes are posted as soon as they are known (a
// `partial` message with the rectified page), then the text and fields are read.
function scanPixels(img, id) {
  const c = sets.compressed.scanner;
  const first = JSON.parse(c.captureVisual(img.width, img.height, img.data));
  // The image the text is read in: the rectified page, or the frame when there is none.
  const page = rectifiedPage(c) ?? { width: img.width, height: img.height, rgba: img.data.slice(), frame: true };
  self.postMessage({ type: 'partial', id, scan: first, page }, [page.rgba.buffer]);
  const r = JSON.parse(c.captureText(img.width, img.height, img.data));
  recordScan('compressed', r);
  if (compare && sets.original) {
    const o = JSON.parse(sets.original.scanner.capture(img.width, img.height, img.data));
    recordScan('original', o);
    lastAgreement = agreement(r, o);
    r.original = { type: o.type, text: o.text, timings_ms: o.timings_ms };
  }
  r.memory = memoryNow();
  return { result: { scan: r } };
}

async function capture({ bitmap, id }) {
  return scanPixels(pixels(bitmap, CAPTURE_MAX_SIDE), id);
}

async function scanFile({ bytes, id }) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes]));
  } catch {
    throw new Error('this file is not an image the browser can decode (use PNG, JPEG or WebP)');
  }
  return scanPixels(pixels(bitmap, CAPTURE_MAX_SIDE), id);
}

async function stats() {
  return { result: { latency: latencyMedians(), agreement: lastAgreement, ...describe() } };
}

async function fetchBytes(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

// Accuracy of each loaded variant on the bundled set (www/eval): the classifier's top-1, the
// recogniser's character accuracy on line crops, and the detector's page character accuracy
// read with the compressed recogniser (so only the detector differs between the variants).
async function evaluate() {
  const manifest = await fetchJson('/eval/manifest.json');
  const variants = ['compressed', 'original'].filter((v) => sets[v]);
  const total = variants.length * (manifest.classifier.length + manifest.lines.length + manifest.pages.length);
  let done = 0;
  const step = (label) => self.postMessage({ type: 'eval-progress', done: ++done, total, label });
  const out = {};
  // The pages are read with the compressed recogniser and direction classifier whichever the
  // detector, so only the detector differs between the variants.
  const compressedFile = async (role) => fetchModel(catalog.models.find((m) => m.role === role).compressed, role, 'compressed');
  const rec = await compressedFile('recogniser');
  const direction = await compressedFile('direction');
  const fast = catalog.models.some((m) => m.role === 'fast_recogniser')
    ? await compressedFile('fast_recogniser').catch(() => undefined) : undefined;
  for (const v of variants) {
    const { scanner } = sets[v];
    const res = {};
    let right = 0;
    for (const item of manifest.classifier) {
      try {
        const r = JSON.parse(scanner.classifyImage(await fetchBytes(`/eval/${item.file}`)));
        if (r.label === item.label) right++;
      } catch { /* counted as wrong */ }
      step(`${v}: document type`);
    }
    res.classifier = { accuracy: right / manifest.classifier.length, n: manifest.classifier.length };
    const reads = [];
    for (const item of manifest.lines) {
      let text = '';
      try { text = JSON.parse(scanner.readLine(await fetchBytes(`/eval/${item.file}`))).text; } catch { /* empty */ }
      reads.push([text, item.text]);
      step(`${v}: text lines`);
    }
    res.recogniser = { accuracy: pooledAccuracy(reads), n: reads.length };
    const det = await fetchModel(catalog.models.find((m) => m.role === 'detector')[v], 'detector', v);
    // The original detector is ONNX: the full module (which runs the .slim files as well).
    const ocr = (await engineFor(v)).Ocr.load(det, rec, direction, fast);
    const pages = [];
    for (const item of manifest.pages) {
      let text = '';
      try { text = JSON.parse(ocr.scanImage(await fetchBytes(`/eval/${item.file}`))).text; } catch { /* empty */ }
      pages.push([text, item.text]);
      step(`${v}: pages`);
    }
    ocr.free();
    res.detector = { accuracy: pooledAccuracy(pages), n: pages.length };
    out[v] = res;
  }
  return { result: out };
}
