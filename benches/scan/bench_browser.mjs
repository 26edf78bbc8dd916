// The scan pipeline in headless Chromium (wasm, one thread) against zxing-wasm (ZXing-C++) in
// the same page, on the same pixels:
//   1. barcodes and QR codes of the scene set (benches/scan/make_set.py) and the real photos
//      of ../shared/data/codes: exact decode rate of ours (live preview: frame only; full scan:
//      frame and rectified page) and of zxing-wasm (tryHarder), false codes on code-free
//      images, and the median ms of our preview (page detection + codes) vs zxing-wasm;
//   2. full scans of the set's text pages with the most lines: median ms with the compressed
//      models and with the original ones (same page, same pipeline).
//      Each page is captured four times: the first capture of a page is what a user waits
//      for (the engine plans the new page size and line widths; the very first one also
//      prepares the models' plan templates), the median of the other three the warm time.
// Usage: node benches/scan/bench_browser.mjs [--set DIR] [--real DIR] [--models DIR]
//        [--pages N] [--out FILE] [--only-full-scan] [--engine auto|full]
import path from 'node:path';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../engine/server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const setDir = path.resolve(arg('set', path.join(root, 'benches/scan/set')));
const realDir = path.resolve(arg('real', path.join(root, '../shared/data/codes')));
const modelsDir = path.resolve(arg('models', path.join(root, 'models')));
const pages = Number(arg('pages', '5'));
const onlyFullScan = process.argv.includes('--only-full-scan');
// --engine full: every set in pkg/full/ (tract for ONNX graphs: with format 1.0 .slim files,
// the engine as it was before the op list); default: .slim sets in the small pkg/.
const engineChoice = arg('engine', 'auto');
// A partial run does not overwrite the committed results unless told where to write.
const out = arg('out', onlyFullScan ? null : path.join(root, 'benches/scan/results/browser.json'));

// Our format names ← the real set's manifest and zxing-wasm's.
const REAL_FORMAT = { qr: 'qr_code', ean13: 'ean_13', upca: 'upc_a', itf: 'itf', code128: 'code_128' };
const ZXING_FORMAT = {
  QRCode: 'qr_code', MicroQRCode: 'micro_qr_code', DataMatrix: 'data_matrix', Aztec: 'aztec', PDF417: 'pdf_417',
  EAN13: 'ean_13', EAN8: 'ean_8', UPCA: 'upc_a', UPCE: 'upc_e', Code128: 'code_128', Code39: 'code_39',
  Code93: 'code_93', ITF: 'itf', Codabar: 'codabar',
  'EAN-13': 'ean_13', 'EAN-8': 'ean_8', 'UPC-A': 'upc_a', 'UPC-E': 'upc_e',
};
// zxing-wasm's texts in the manifest's convention (the one rxing and most apps use): UPC-E as
// its 8 printed digits (zxing-cpp 3 expands it to 13 and keeps the 8 in extra.UPCE), Codabar
// without its start/stop letters.
function zxingCode(c) {
  const format = ZXING_FORMAT[c.format] ?? c.format;
  let text = c.text;
  if (format === 'upc_e') {
    try { text = JSON.parse(c.extra || '{}').UPCE ?? text; } catch { /* keep the text */ }
  }
  if (format === 'codabar') text = text.replace(/^[A-D]/, '').replace(/[A-D]$/, '');
  return { format, text };
}

function unescapeTsv(s) {
  return s.replace(/\\(.)/g, (_, c) => ({ t: '\t', n: '\n', r: '\r', '\\': '\\' })[c] ?? c);
}

// Scenes: { url, codes: [{format, text}] }.
const codeScenes = [];
if (onlyFullScan) {
  console.error('--only-full-scan: codes not measured');
} else if (existsSync(path.join(setDir, 'manifest.jsonl'))) {
  for (const line of readFileSync(path.join(setDir, 'manifest.jsonl'), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const s = JSON.parse(line);
    if (s.type === 'barcode' || s.type === 'qr' || s.type === 'none') {
      codeScenes.push({ group: `set:${s.type}`, url: `/set/${s.path}`, codes: s.codes });
    }
  }
} else {
  console.error(`no scene set at ${setDir} (make scan-set); only the real photos are measured`);
}
if (!onlyFullScan && existsSync(path.join(realDir, 'manifest.tsv'))) {
  const rows = readFileSync(path.join(realDir, 'manifest.tsv'), 'utf8').split('\n').slice(1).filter((l) => l.trim());
  for (const row of rows) {
    const [rel, format, text] = row.split('\t');
    const codes = format === 'none' ? [] : [{ format: REAL_FORMAT[format], text: unescapeTsv(text ?? '') }];
    codeScenes.push({ group: `real:${format === 'none' ? 'none' : format === 'qr' ? 'qr' : 'barcode'}`, url: `/real/${rel}`, codes });
  }
}
const textScenes = [];
if (existsSync(path.join(setDir, 'manifest.jsonl'))) {
  const all = readFileSync(path.join(setDir, 'manifest.jsonl'), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  const texts = all.filter((s) => s.type === 'text').sort((a, b) => b.text.split('\n').length - a.text.split('\n').length);
  for (const s of texts.slice(0, pages)) textScenes.push({ url: `/set/${s.path}`, lines: s.text.split('\n').length });
}

const { server, origin } = await startServer({
  '/pkg/': path.join(root, 'pkg'),
  '/set/': setDir,
  '/real/': realDir,
  '/zxing/': path.join(root, 'node_modules/zxing-wasm/dist'),
  '/models/': modelsDir,
}, []);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage();
const offOrigin = [];
page.on('request', (r) => { if (!r.url().startsWith(origin)) offOrigin.push(r.url()); });
page.on('console', (m) => { if (m.type() === 'error') console.error('page:', m.text()); });
await page.route(`${origin}/`, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>scan bench</title>' }));
await page.goto(`${origin}/`);
await page.evaluate(async () => {
  const slim = await import('/pkg/slimscan.js');
  await slim.default();
  // The module with tract (pkg/full/) runs the original ONNX models.
  const full = await import('/pkg/full/slimscan.js');
  await full.default();
  window.full = full;
  const zx = await import('/zxing/es/reader/index.js');
  const wasmBinary = await (await fetch('/zxing/reader/zxing_reader.wasm')).arrayBuffer();
  await zx.prepareZXingModule({ overrides: { wasmBinary }, fireImmediately: true });
  window.slim = slim;
  window.zx = zx;
  window.pixels = async (url) => {
    const bmp = await createImageBitmap(await (await fetch(url)).blob(), { imageOrientation: 'from-image' });
    const c = new OffscreenCanvas(bmp.width, bmp.height);
    const g = c.getContext('2d', { willReadFrequently: true });
    g.drawImage(bmp, 0, 0);
    return g.getImageData(0, 0, bmp.width, bmp.height);
  };
});

const codeKey = (format, text) => {
  const t = text.trim();
  if (format === 'upc_a') return `ean_13:${t.length === 12 ? `0${t}` : t}`;
  return `${format}:${t}`;
};
function score(truth, found) {
  const left = found.map((c) => codeKey(c.format, c.text));
  let hit = 0;
  for (const t of truth) {
    const i = left.indexOf(codeKey(t.format, t.text));
    if (i >= 0) { hit++; left.splice(i, 1); }
  }
  return { hit, invented: left.length };
}

console.error(`codes: ${codeScenes.length} images`);
const rows = [];
for (const [i, s] of codeScenes.entries()) {
  const r = await page.evaluate(async (url) => {
    const img = await window.pixels(url);
    const scanner = window.slim.Scanner.load(undefined, undefined, undefined, undefined);
    let t = performance.now();
    const preview = JSON.parse(scanner.preview(img.width, img.height, img.data));
    const previewMs = performance.now() - t;
    t = performance.now();
    const full = JSON.parse(scanner.capture(img.width, img.height, img.data));
    const scanMs = performance.now() - t;
    scanner.free();
    t = performance.now();
    const z = await window.zx.readBarcodes(img, { tryHarder: true, maxNumberOfSymbols: 8 });
    const zxingMs = performance.now() - t;
    const pick = (cs) => cs.map((c) => ({ format: c.format, text: c.text }));
    return {
      width: img.width, height: img.height,
      preview: pick(preview.codes), previewMs, pageMs: preview.timings_ms.page, codesMs: preview.timings_ms.codes,
      scan: pick(full.codes), scanMs,
      zxing: z.filter((c) => c.isValid).map((c) => ({ format: c.format, text: c.text, extra: c.extra })), zxingMs,
    };
  }, s.url);
  r.zxing = r.zxing.map(zxingCode);
  rows.push({ ...s, ...r });
  process.stderr.write(`\r${i + 1}/${codeScenes.length}`);
}
process.stderr.write('\n');

const median = (v) => { const s = [...v].sort((a, b) => a - b); return s.length ? s[s.length >> 1] : null; };
const groups = {};
for (const r of rows) {
  const g = (groups[r.group] ??= { images: 0, codes: 0, preview: 0, scan: 0, zxing: 0, invented: { preview: 0, scan: 0, zxing: 0 }, previewMs: [], pageMs: [], codesMs: [], zxingMs: [], sizes: new Set() });
  g.images++;
  g.codes += r.codes.length;
  g.sizes.add(`${r.width}x${r.height}`);
  for (const k of ['preview', 'scan', 'zxing']) {
    const sc = score(r.codes, r[k]);
    g[k] += sc.hit;
    g.invented[k] += sc.invented;
  }
  g.previewMs.push(r.previewMs); g.pageMs.push(r.pageMs); g.codesMs.push(r.codesMs); g.zxingMs.push(r.zxingMs);
}
const summary = {};
console.log('group          images codes  ours preview  ours scan  zxing-wasm  invented (p/s/z)  ms preview  (page+codes)  ms zxing');
for (const [k, g] of Object.entries(groups).sort()) {
  const rate = (n) => (g.codes ? (100 * n) / g.codes : null);
  summary[k] = {
    images: g.images, codes: g.codes, sizes: [...g.sizes].slice(0, 4),
    decode_rate: { ours_preview: rate(g.preview), ours_scan: rate(g.scan), zxing_wasm: rate(g.zxing) },
    codes_invented: g.invented,
    ms_median: { ours_preview: median(g.previewMs), page: median(g.pageMs), codes: median(g.codesMs), zxing_wasm: median(g.zxingMs) },
  };
  const f = (v) => (v == null ? '   -  ' : v.toFixed(1).padStart(6));
  console.log(`${k.padEnd(14)} ${String(g.images).padStart(6)} ${String(g.codes).padStart(5)}  ${f(rate(g.preview))}%      ${f(rate(g.scan))}%   ${f(rate(g.zxing))}%   ${`${g.invented.preview}/${g.invented.scan}/${g.invented.zxing}`.padStart(10)}      ${f(median(g.previewMs))}  (${f(median(g.pageMs))} + ${f(median(g.codesMs))})  ${f(median(g.zxingMs))}`);
}

// Full scans of A4 text pages: compressed, then original models.
const full = {};
if (textScenes.length && existsSync(path.join(modelsDir, 'ppocr_det.slim'))) {
  // The app's sets (the fast recogniser reads every line first, PP-OCRv4's the lines it is
  // unsure of), and `compressed_ppocr`: the compressed set with PP-OCRv4's recogniser reading
  // every line (`--no-fast-rec`).
  const compressed = ['ppocr_det.slim', 'ppocr_rec.slim', 'ppocr_cls.slim', 'classifier/mobilenet_v2_dc.slim'];
  const sets = {
    compressed: [...compressed, 'ocr_fast/rec_fast.slim'],
    original: ['ch_PP-OCRv4_det_infer.onnx', 'ch_PP-OCRv4_rec_infer.onnx', 'ch_ppocr_mobile_v2.0_cls_infer.onnx',
      'classifier/mobilenet_v2_f32.onnx', 'ocr_fast/rec_fast_f32.onnx'],
    compressed_ppocr: compressed,
  };
  for (const [kind, names] of Object.entries(sets)) {
    const r = await page.evaluate(async ({ names, urls, engineChoice }) => {
      const get = async (n) => new Uint8Array(await (await fetch(`/models/${n}`)).arrayBuffer());
      const [det, rec, cls, typ, fast] = await Promise.all(names.map(get));
      const engine = engineChoice === 'full' || names.some((n) => n.endsWith('.onnx')) ? window.full : window.slim;
      const scanner = engine.Scanner.load(det, rec, cls, typ, fast);
      const res = [];
      for (const url of urls) {
        const img = await window.pixels(url);
        const t0 = performance.now();
        const firstResult = JSON.parse(scanner.capture(img.width, img.height, img.data)); // planning
        const first = performance.now() - t0;
        const times = [];
        let last;
        for (let k = 0; k < 3; k++) {
          const t = performance.now();
          last = JSON.parse(scanner.capture(img.width, img.height, img.data));
          times.push(performance.now() - t);
        }
        times.sort((a, b) => a - b);
        res.push({ url, ms: times[1], ms_first: first, timings_first: firstResult.timings_ms, lines: last.lines.length, reads: last.ocr_reads, type: last.type, timings: last.timings_ms, width: img.width, height: img.height });
      }
      scanner.free();
      return { res, memory: engine.wasmMemoryBytes() };
    }, { names, urls: textScenes.map((s) => s.url), engineChoice });
    full[kind] = {
      pages: r.res, ms_median: median(r.res.map((x) => x.ms)), ms_first_median: median(r.res.map((x) => x.ms_first)),
      wasm_memory_bytes: r.memory,
    };
    console.log(`full scan, ${kind} models: median ${full[kind].ms_median.toFixed(0)} ms (first capture of a page: ${full[kind].ms_first_median.toFixed(0)} ms; wasm memory after: ${(r.memory / 1e6).toFixed(1)} MB) over ${r.res.length} text pages (${r.res.map((x) => `${x.width}x${x.height} ${x.lines} lines (${x.reads.fast ? `read again: ${x.reads.main} of ${x.reads.fast}` : `${x.reads.main} crops`}) ${x.ms.toFixed(0)} ms, first ${x.ms_first.toFixed(0)} ms`).join('; ')})`);
  }
} else {
  console.error('no text scenes or no OCR models (make models): full-scan timing skipped');
}

await browser.close();
server.close();
if (offOrigin.length) throw new Error(`requests left the origin: ${offOrigin.join(', ')}`);
const result = {
  date: new Date().toISOString(), chromium: await browser.version?.(), set: setDir, real: realDir,
  codes: summary, full_scan: full,
  criteria: {
    preview_ms_at_1280x720: median(rows.filter((r) => r.width === 1280 && r.height === 720).map((r) => r.previewMs)),
  },
};
if (out) {
  writeFileSync(out, `${JSON.stringify(result, null, 1)}\n`);
  console.error(`wrote ${out}`);
}
