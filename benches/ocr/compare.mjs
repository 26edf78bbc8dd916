// Same-run OCR comparison: our pipeline with the compressed models (.slim), our pipeline with the
// original ONNX models, and Tesseract.js, on the same images of each evaluation set, in one process.
// Usage: node benches/ocr/compare.mjs --set DIR [--set DIR2 ...] [--limit N] [--json OUT] [--models DIR]
//          [--markdown] [--systems slim,onnx,tesseract]
// --limit N keeps the first N images of each kind. Each system reads the set's first image once,
// untimed, before the timed pass. The network is off for the whole run (fetch throws).
import { readFile, writeFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import path from 'node:path';
import { readManifest } from './manifest.mjs';
import { scoreSet } from './metrics.mjs';
import { createSlimscan } from './slimscan.mjs';
import { createTesseract, tesseractVersion, TESSERACT_DATA_FILE } from './tesseract.mjs';
import { formatText, formatMarkdown, FOOTNOTE } from './report.mjs';

// --models DIR replaces this (set in main before any system is built).
let models = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models');
const model = (name) => path.join(models, name);
const SYSTEMS = {
  slim: {
    name: 'slimscan .slim',
    get files() { return { det: model('ppocr_det.slim'), rec: model('ppocr_rec.slim'), cls: model('ppocr_cls.slim') }; },
    create: createSlimscan,
  },
  onnx: {
    name: 'slimscan ONNX',
    get files() { return { det: model('ch_PP-OCRv4_det_infer.onnx'), rec: model('ch_PP-OCRv4_rec_infer.onnx'), cls: model('ch_ppocr_mobile_v2.0_cls_infer.onnx') }; },
    create: createSlimscan,
  },
  tesseract: {
    name: `Tesseract.js ${tesseractVersion()}`,
    files: { eng: TESSERACT_DATA_FILE },
    create: () => createTesseract(),
    hint: 'make browser-tools',
  },
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function loadSet(dir, limit) {
  const seen = {};
  const manifest = await readManifest(dir).catch((e) => {
    throw e.code === 'ENOENT' ? new Error(`${dir}: no manifest.tsv (benches/ocr/set is made by make ocr-set)`) : e;
  });
  const entries = manifest.filter((e) => (seen[e.kind] = (seen[e.kind] ?? 0) + 1) <= limit);
  if (entries.length === 0) throw new Error(`${dir}: manifest.tsv lists no images`);
  return Promise.all(entries.map(async (e) => ({ ...e, bytes: await readFile(e.file) })));
}

async function modelBytes(files) {
  let total = 0;
  for (const f of Object.values(files)) {
    const s = await stat(f).catch(() => null);
    if (!s) return { missing: f };
    total += s.size;
  }
  return { total };
}

/** Runs one system over the images; returns its summary and per-image results. */
async function runSystem(id, images) {
  const def = SYSTEMS[id];
  const summary = { id, name: def.name, modelFiles: Object.values(def.files).map((f) => path.relative(process.cwd(), f)) };
  const size = await modelBytes(def.files);
  if (size.missing) return { ...summary, status: 'unavailable', reason: `missing ${path.basename(size.missing)} (${def.hint ?? 'make models'})` };
  summary.modelBytes = size.total;
  let sys;
  try {
    sys = await def.create(def.files);
  } catch (e) {
    return { ...summary, status: 'unavailable', reason: e.message };
  }
  const results = [];
  try {
    await sys.recognize(images[0].bytes, images[0].kind); // warm-up, untimed
    for (const img of images) {
      try {
        const { text, ms, timings } = await sys.recognize(img.bytes, img.kind);
        results.push({ text, ms, ...(timings && { timings }) });
      } catch (e) {
        results.push({ text: '', ms: null, error: String(e.message ?? e) });
      }
    }
  } finally {
    await sys.terminate();
  }
  const timing = {};
  for (const kind of new Set(images.map((i) => i.kind))) {
    const t = results.filter((r, i) => images[i].kind === kind && r.ms !== null).map((r) => r.ms);
    if (t.length) timing[kind] = { n: t.length, medianMs: median(t), meanMs: t.reduce((a, b) => a + b, 0) / t.length };
  }
  const score = scoreSet(images.map((img, i) => ({ kind: img.kind, reference: img.groundTruth, hypothesis: results[i].text })));
  const errors = results.filter((r) => r.error).length;
  return { ...summary, status: 'ok', startupMs: sys.startupMs, errors, score, timing, results };
}

async function evaluateSet(dir, limit, systemIds) {
  const images = await loadSet(dir, limit);
  const kinds = {};
  for (const img of images) kinds[img.kind] = (kinds[img.kind] ?? 0) + 1;
  const runs = [];
  for (const id of systemIds) {
    const t0 = Date.now();
    const run = await runSystem(id, images);
    const note = run.status === 'ok' ? `${run.errors} errors` : `not run: ${run.reason}`;
    console.error(`${dir}: ${run.name}: ${((Date.now() - t0) / 1000).toFixed(1)} s, ${note}`);
    runs.push(run);
  }
  return {
    set: dir,
    kinds,
    systems: runs.map(({ results, ...s }) => s),
    // Side by side: each image with every system's hypothesis and time.
    images: images.map((img, i) => ({
      relativePath: img.relativePath,
      kind: img.kind,
      reference: img.groundTruth,
      results: Object.fromEntries(runs.filter((r) => r.results).map((r) => [r.id, r.results[i]])),
    })),
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      set: { type: 'string', multiple: true },
      limit: { type: 'string' },
      json: { type: 'string' },
      markdown: { type: 'boolean', default: false },
      models: { type: 'string' },
      systems: { type: 'string', default: Object.keys(SYSTEMS).join(',') },
    },
  });
  if (!values.set?.length) throw new Error('usage: compare.mjs --set DIR [--set DIR2 ...] [--limit N] [--json OUT] [--markdown] [--systems slim,onnx,tesseract]');
  if (values.models) models = path.resolve(values.models);
  const limit = values.limit === undefined ? Infinity : Number(values.limit);
  if (!(limit >= 1 && Number.isInteger(limit) || limit === Infinity)) throw new Error(`--limit must be a positive integer, got ${values.limit}`);
  const systemIds = values.systems.split(',');
  for (const id of systemIds) if (!(id in SYSTEMS)) throw new Error(`unknown system ${id} (one of ${Object.keys(SYSTEMS).join(', ')})`);

  globalThis.fetch = (url) => { throw new Error(`network access blocked during the OCR comparison (fetch ${url})`); };
  const sets = [];
  for (const dir of values.set) sets.push(await evaluateSet(dir, limit, systemIds));
  const format = values.markdown ? formatMarkdown : formatText;
  console.log(`${sets.map(format).join('\n\n')}\n\n${values.markdown ? `_${FOOTNOTE}_` : FOOTNOTE}`);
  if (values.json) {
    const report = { date: new Date().toISOString(), node: process.version, limitPerKind: values.limit ? limit : null, sets };
    await writeFile(values.json, `${JSON.stringify(report, null, 1)}\n`);
    console.error(`wrote ${values.json}`);
  }
}

// Explicit exit: a Tesseract.js worker that failed to start would keep the process alive.
main().then(() => process.exit(0), (e) => { console.error(`error: ${e.message}`); process.exit(1); });
