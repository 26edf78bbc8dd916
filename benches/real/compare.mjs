// The real-image development set (benches/real/README.md) through the whole scanner, as a user
// would give it the pictures: `slimscan scan --json IMAGE` with the compressed models and with
// the original ones (`--original`), and Tesseract.js on the same files in the same run. Scores
// per shape: character accuracy (benches/ocr/metrics.mjs), images with text that got none,
// images without text that got some, codes read and codes invented.
//
// Usage: node benches/real/compare.mjs [--set benches/real/set] [--manifest benches/real/manifest.tsv]
//          [--bin PATH] [--systems slim,original,tesseract] [--shapes word,line,...] [--limit N]
//          [--json OUT] [--markdown]
// Tesseract.js gets the page segmentation mode that suits the shape (8 for a word, 7 for a line,
// 3 for everything else): the peer at its best, while our scanner is told nothing.
import { readFile, writeFile, access } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import os from 'node:os';
import { unescapeField } from '../ocr/manifest.mjs';
import { scorePair, normalize } from '../ocr/metrics.mjs';
import { createTesseract, tesseractVersion } from '../ocr/tesseract.mjs';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SHAPES = ['word', 'line', 'screenshot', 'scan300', 'phone_page', 'no_page', 'page_barcode'];
export const HEADER = 'relative_path\tshape\texpected_text\texpected_codes\tsource\tlicence\tnotes';
const PSM_KIND = { word: 'word', line: 'line' };

/** Parses benches/real/manifest.tsv (strict: a bad row names its line). */
export function parseRealManifest(text, name = 'manifest.tsv') {
  const rows = text.split('\n');
  if (rows.at(-1) === '') rows.pop();
  const fail = (i, m) => { throw new Error(`${name} line ${i + 1}: ${m}`); };
  if (rows[0] !== HEADER) fail(0, `header must be ${JSON.stringify(HEADER)}`);
  return rows.slice(1).map((row, k) => {
    const i = k + 1;
    const f = row.split('\t');
    if (f.length !== 7) fail(i, `expected 7 tab-separated fields, got ${f.length}`);
    if (!SHAPES.includes(f[1])) fail(i, `shape must be one of ${SHAPES.join('/')}, got ${JSON.stringify(f[1])}`);
    let text, codes;
    try {
      text = unescapeField(f[2]);
      codes = unescapeField(f[3]).trim();
    } catch (e) {
      fail(i, e.message);
    }
    const expectedCodes = codes === '' ? [] : codes.split(' ; ').map((c) => {
      const at = c.indexOf(':');
      if (at <= 0) fail(i, `a code must be format:text, got ${JSON.stringify(c)}`);
      return { format: c.slice(0, at), text: c.slice(at + 1) };
    });
    return { relativePath: f[0], shape: f[1], text, codes: expectedCodes, codesUnknown: codes === '?', source: f[4] };
  });
}

/** Our format names (qr_code, ean_13, upc_a, ...) as the manifest writes them (qr, ean13, upca). */
export function shortFormat(f) {
  const s = f.toLowerCase().replace(/[_\s-]/g, '');
  return s === 'qrcode' ? 'qr' : s === 'microqrcode' ? 'microqr' : s;
}

/** Whether a code read matches an expected one (UPC-A as 12 or 13 digits). */
export function sameCode(got, want) {
  const gf = shortFormat(got.format);
  const wf = shortFormat(want.format);
  const digits = (t) => (t.length === 13 && t.startsWith('0') ? t.slice(1) : t);
  if (gf === wf && got.text === want.text) return true;
  const upc = new Set(['upca', 'ean13']);
  return upc.has(gf) && upc.has(wf) && digits(got.text) === digits(want.text);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? null : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function scanWith(bin, file, original) {
  const args = ['scan', '--json', file, ...(original ? ['--original'] : [])];
  const t0 = Date.now();
  const { stdout } = await run(bin, args, { cwd: ROOT, maxBuffer: 64 << 20 });
  const r = JSON.parse(stdout);
  return { text: r.text, lines: r.lines.map((l) => ({ text: l.text, confidence: l.confidence, det_score: l.det_score })), codes: r.codes.map((c) => ({ format: c.format, text: c.text })), type: r.type, typeSource: r.type_source, ms: Date.now() - t0, scanMs: r.timings_ms.total };
}

function summarise(items, results) {
  const byShape = {};
  for (const shape of [...SHAPES, 'all']) {
    const idx = items.map((it, i) => i).filter((i) => shape === 'all' || items[i].shape === shape);
    if (idx.length === 0) continue;
    const s = { n: idx.length, chars: 0, charErrors: 0, words: 0, wordErrors: 0, textless: 0, withText: 0, noTextReturned: 0, invented: 0, codesWanted: 0, codesRead: 0, codesInvented: 0 };
    for (const i of idx) {
      const it = items[i];
      const r = results[i];
      if (it.text !== '') {
        s.withText += 1;
        const p = scorePair(it.text, r.text);
        s.chars += p.chars; s.charErrors += p.charErrors; s.words += p.words; s.wordErrors += p.wordErrors;
        if (normalize(r.text) === '') s.noTextReturned += 1;
      } else {
        s.textless += 1;
        if (normalize(r.text) !== '') s.invented += 1;
      }
      if (r.codes && !it.codesUnknown) {
        s.codesWanted += it.codes.length;
        s.codesRead += it.codes.filter((w) => r.codes.some((g) => sameCode(g, w))).length;
        s.codesInvented += r.codes.filter((g) => !it.codes.some((w) => sameCode(g, w))).length;
      }
    }
    s.charAcc = s.chars ? 1 - s.charErrors / s.chars : null;
    s.wordAcc = s.words ? 1 - s.wordErrors / s.words : null;
    s.medianMs = median(idx.map((i) => results[i].ms).filter((m) => m != null));
    byShape[shape] = s;
  }
  return byShape;
}

const pct = (v) => (v == null ? '—' : `${(100 * v).toFixed(2)} %`);

function table(systems, markdown) {
  const head = ['shape', 'images', ...systems.map((s) => `${s.name}: chars`), ...systems.map((s) => `${s.name}: no text / invented`), ...systems.filter((s) => s.codes).map((s) => `${s.name}: codes read / invented`)];
  const rows = [];
  for (const shape of [...SHAPES, 'all']) {
    const first = systems[0].byShape[shape];
    if (!first) continue;
    rows.push([shape, String(first.n),
      ...systems.map((s) => pct(s.byShape[shape].charAcc)),
      ...systems.map((s) => `${s.byShape[shape].noTextReturned} of ${s.byShape[shape].withText} / ${s.byShape[shape].invented} of ${s.byShape[shape].textless}`),
      ...systems.filter((s) => s.codes).map((s) => `${s.byShape[shape].codesRead} of ${s.byShape[shape].codesWanted} / ${s.byShape[shape].codesInvented}`)]);
  }
  if (markdown) {
    return [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '--:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  }
  return [head, ...rows].map((r) => r.join('\t')).join('\n');
}

async function main() {
  const { values } = parseArgs({
    options: {
      set: { type: 'string', default: path.join(ROOT, 'benches/real/set') },
      manifest: { type: 'string', default: path.join(ROOT, 'benches/real/manifest.tsv') },
      bin: { type: 'string', default: path.join(process.env.CARGO_TARGET_DIR ?? path.join(os.homedir(), '.cache/slimscan/target'), 'release/slimscan') },
      systems: { type: 'string', default: 'slim,original,tesseract' },
      shapes: { type: 'string', default: SHAPES.join(',') },
      limit: { type: 'string' },
      json: { type: 'string' },
      markdown: { type: 'boolean', default: false },
    },
  });
  const limit = values.limit ? Number(values.limit) : Infinity;
  const shapes = values.shapes.split(',');
  for (const s of shapes) if (!SHAPES.includes(s)) throw new Error(`unknown shape ${s}`);
  await access(values.bin).catch(() => { throw new Error(`${values.bin}: no slimscan binary (make cli)`); });
  const all = parseRealManifest(await readFile(values.manifest, 'utf8'), values.manifest);
  const seen = {};
  const items = all.filter((it) => shapes.includes(it.shape) && (seen[it.shape] = (seen[it.shape] ?? 0) + 1) <= limit);
  for (const it of items) {
    it.file = path.resolve(values.set, it.relativePath);
    await access(it.file).catch(() => { throw new Error(`${it.file} is missing: python3 benches/real/fetch.py`); });
  }
  const systems = [];
  for (const id of values.systems.split(',')) {
    const t0 = Date.now();
    const results = [];
    if (id === 'slim' || id === 'original') {
      for (const it of items) {
        try {
          results.push(await scanWith(values.bin, it.file, id === 'original'));
        } catch (e) {
          results.push({ text: '', codes: [], error: String(e.stderr || e.message).trim(), ms: null });
        }
      }
      systems.push({ id, name: id === 'slim' ? 'slimscan compressed' : 'slimscan original', codes: true, results });
    } else if (id === 'tesseract') {
      const tess = await createTesseract();
      try {
        for (const it of items) {
          const bytes = await readFile(it.file);
          try {
            const { text, ms } = await tess.recognize(bytes, PSM_KIND[it.shape] ?? 'page');
            results.push({ text, ms });
          } catch (e) {
            results.push({ text: '', error: String(e.message ?? e), ms: null });
          }
        }
      } finally {
        await tess.terminate();
      }
      systems.push({ id, name: `Tesseract.js ${tesseractVersion()}`, codes: false, results });
    } else {
      throw new Error(`unknown system ${id} (slim, original, tesseract)`);
    }
    const errors = results.filter((r) => r.error);
    console.error(`${id}: ${((Date.now() - t0) / 1000).toFixed(1)} s, ${errors.length} errors${errors.length ? `: ${errors[0].error}` : ''}`);
  }
  for (const s of systems) s.byShape = summarise(items, s.results);
  console.log(table(systems, values.markdown));
  if (values.json) {
    const report = {
      date: new Date().toISOString(),
      command: `node benches/real/compare.mjs ${process.argv.slice(2).join(' ')}`.trim(),
      systems: systems.map(({ results, ...s }) => s),
      images: items.map((it, i) => ({
        relativePath: it.relativePath, shape: it.shape, reference: it.text, codes: it.codes,
        results: Object.fromEntries(systems.map((s) => [s.id, s.results[i]])),
      })),
    };
    await writeFile(values.json, `${JSON.stringify(report, null, 1)}\n`);
    console.error(`wrote ${values.json}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().then(() => process.exit(0), (e) => { console.error(`error: ${e.message}`); process.exit(1); });
}
