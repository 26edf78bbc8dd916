// Detector input size vs accuracy, time and memory: our pipeline (pkg/, `make wasm`) with the
// .slim models on the first N pages of a set, once per longest-side setting.
//   node benches/ocr/det_sweep.mjs [--set benches/ocr/set] [--pages 6] [--sides 960,1280,1600,2000]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadSlimscan } from '../../tests/wasm/load.mjs';
import { readManifest } from './manifest.mjs';
import { scoreSet } from './metrics.mjs';

const { values } = parseArgs({
  options: {
    set: { type: 'string', default: 'benches/ocr/set' },
    pages: { type: 'string', default: '6' },
    sides: { type: 'string', default: '960,1280,1600,2000' },
    models: { type: 'string', default: 'models' },
  },
});
const slim = await loadSlimscan();
const model = (f) => new Uint8Array(readFileSync(`${values.models}/${f}`));
const ocr = slim.Ocr.load(model('ppocr_det.slim'), model('ppocr_rec.slim'), model('ppocr_cls.slim'));
const pages = (await readManifest(values.set)).filter((e) => e.kind === 'page').slice(0, Number(values.pages));
if (pages.length === 0) throw new Error(`${values.set}: no pages (make ocr-set)`);
// Memory only grows: run the sides from small to large so each peak is its own.
for (const side of values.sides.split(',').map(Number).sort((a, b) => a - b)) {
  ocr.setOptions(JSON.stringify({ det_max_side: side }));
  const items = [];
  const t = { det: 0, rec: 0, total: 0 };
  for (const p of pages) {
    const r = JSON.parse(ocr.scanImage(new Uint8Array(readFileSync(p.file))));
    items.push({ kind: 'page', reference: p.groundTruth, hypothesis: r.text });
    for (const k of Object.keys(t)) t[k] += r.timings_ms[k] / pages.length;
  }
  const s = scoreSet(items).all;
  console.log(
    `det_max_side ${side}: char acc ${(100 * s.charAcc).toFixed(2)} %, word acc ${(100 * s.wordAcc).toFixed(2)} %, ` +
      `det ${t.det.toFixed(0)} ms, rec ${t.rec.toFixed(0)} ms, total ${t.total.toFixed(0)} ms per page, ` +
      `wasm memory ${slim.wasmMemoryBytes() >> 20} MiB`,
  );
}
ocr.free();
