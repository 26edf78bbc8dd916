// One model in the wasm engine (Node): mean of 5 runs after a warm-up, on random input;
// with --profile (or --profile-nodes), then the time per operator kind (or per node) of one run.
//   node benches/engine/time_model.mjs models/ppocr_rec.slim '[1,3,48,960]' [--profile]
import { readFileSync } from 'node:fs';
import { loadSlimscan } from '../../tests/wasm/load.mjs';

const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith('--')));
const [file, shapeText = '[1,3,224,224]'] = args.filter((a) => !a.startsWith('--'));
if (!file) throw new Error('usage: time_model.mjs MODEL [SHAPE_JSON]');
const slim = await loadSlimscan();
const model = slim.Model.load(new Uint8Array(readFileSync(file)));
const shape = Uint32Array.from(JSON.parse(shapeText));
const x = new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => Math.random() - 0.5);
model.run(x, shape);
const t = performance.now();
for (let i = 0; i < 5; i++) model.run(x, shape);
console.log(`${file} ${shapeText}: ${((performance.now() - t) / 5).toFixed(1)} ms per run, wasm memory ${slim.wasmMemoryBytes() >> 20} MiB`);
if (flags.has('--profile') || flags.has('--profile-nodes')) {
  const rows = JSON.parse(model.profile(x, shape, flags.has('--profile-nodes')));
  const total = rows.reduce((a, r) => a + r[1], 0);
  for (const [name, ms, calls] of rows) {
    console.log(`${ms.toFixed(2).padStart(9)} ms ${((100 * ms) / total).toFixed(1).padStart(5)} % ${String(calls).padStart(4)}x  ${name}`);
  }
}
model.free();
