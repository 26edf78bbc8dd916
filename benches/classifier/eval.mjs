// Top-1 accuracy of document-type classifiers in our wasm engine (issue 6): every model file
// (.slim, or .onnx run by tract f32 inside the same wasm) on the sets models/train/prepare_eval.py
// wrote, in the same process.
//
//   node benches/classifier/eval.mjs --sets DIR --json OUT.json [--batch 20] MODEL...
//
// A set is DIR/<name>.u8 (N x S x S x 3 uint8 RGB) + DIR/<name>.json (labels, classes, mean,
// std). Prints one line per model and set; writes {model path: {set: {top1, n, correct,
// per_class, confusion, wrong}}}.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadSlimscan } from '../../tests/wasm/load.mjs';

const { values: a, positionals: models } = parseArgs({
  allowPositionals: true,
  options: {
    sets: { type: 'string' },
    json: { type: 'string' },
    batch: { type: 'string', default: '20' },
    names: { type: 'string', default: 'test,real,world,real_set' },
  },
});
if (!a.sets || !models.length) throw new Error('usage: eval.mjs --sets DIR [--json OUT] MODEL...');
const batch = Number(a.batch);
if (!(batch >= 1)) throw new Error('--batch must be >= 1');

function loadSet(name) {
  const meta = path.join(a.sets, `${name}.json`);
  if (!existsSync(meta)) return null;
  const m = JSON.parse(readFileSync(meta, 'utf8'));
  const pixels = readFileSync(path.join(a.sets, `${name}.u8`));
  const n = m.labels.length, s = m.size;
  if (pixels.length !== n * s * s * 3) throw new Error(`${name}.u8: ${pixels.length} bytes, expected ${n}x${s}x${s}x3`);
  return { name, ...m, n, pixels };
}

/** Images [i, i+k) as normalized f32 NCHW. */
function tensor(set, i, k) {
  const s = set.size, hw = s * s;
  const x = new Float32Array(k * 3 * hw);
  for (let b = 0; b < k; b++) {
    const src = (i + b) * hw * 3;
    for (let c = 0; c < 3; c++) {
      const dst = (b * 3 + c) * hw, mean = set.mean[c] * 255, inv = 1 / (set.std[c] * 255);
      for (let p = 0; p < hw; p++) x[dst + p] = (set.pixels[src + p * 3 + c] - mean) * inv;
    }
  }
  return x;
}

const sets = a.names.split(',').map(loadSet).filter(Boolean);
if (!sets.length) throw new Error(`no sets in ${a.sets}`);
const slim = await loadSlimscan();
const results = {};
for (const file of models) {
  const model = slim.Model.load(new Uint8Array(readFileSync(file)));
  results[file] = {};
  for (const set of sets) {
    const k = set.classes.length;
    const confusion = set.classes.map(() => new Array(k).fill(0));
    const wrong = [];
    let correct = 0;
    const t0 = performance.now();
    for (let i = 0; i < set.n; i += batch) {
      const m = Math.min(batch, set.n - i);
      const out = model.run(tensor(set, i, m), Uint32Array.from([m, 3, set.size, set.size]));
      if (out.length !== m * k) throw new Error(`${file}: ${out.length} outputs for ${m} images of ${k} classes`);
      for (let b = 0; b < m; b++) {
        let best = 0;
        for (let j = 1; j < k; j++) if (out[b * k + j] > out[b * k + best]) best = j;
        const truth = set.classes.indexOf(set.labels[i + b]);
        confusion[truth][best]++;
        if (best === truth) correct++;
        else wrong.push({ file: set.files[i + b], label: set.labels[i + b], predicted: set.classes[best] });
      }
    }
    const per_class = Object.fromEntries(set.classes.map((c, j) => {
      const n = confusion[j].reduce((s, v) => s + v, 0);
      return [c, n ? (100 * confusion[j][j]) / n : null];
    }));
    const r = { top1: (100 * correct) / set.n, n: set.n, correct, per_class, confusion,
      ms_per_image: (performance.now() - t0) / set.n, wrong: set.name.startsWith('real') ? wrong : wrong.length };
    results[file][set.name] = r;
    console.log(`${file} ${set.name}: top-1 ${r.top1.toFixed(2)} % (${correct}/${set.n}), ${r.ms_per_image.toFixed(1)} ms/image`);
  }
  model.free();
}
if (a.json) writeFileSync(a.json, `${JSON.stringify({ classes: sets[0].classes, results }, null, 1)}\n`);
