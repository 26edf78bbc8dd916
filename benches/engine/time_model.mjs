// One model in the wasm engine (Node): mean of 5 runs after a warm-up, on random input.
//   node benches/engine/time_model.mjs models/ppocr_rec.slim '[1,3,48,960]'
import { readFileSync } from 'node:fs';
import { loadSlimscan } from '../../tests/wasm/load.mjs';

const [file, shapeText = '[1,3,224,224]'] = process.argv.slice(2);
if (!file) throw new Error('usage: time_model.mjs MODEL [SHAPE_JSON]');
const slim = await loadSlimscan();
const model = slim.Model.load(new Uint8Array(readFileSync(file)));
const shape = Uint32Array.from(JSON.parse(shapeText));
const x = new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => Math.random() - 0.5);
model.run(x, shape);
const t = performance.now();
for (let i = 0; i < 5; i++) model.run(x, shape);
console.log(`${file} ${shapeText}: ${((performance.now() - t) / 5).toFixed(1)} ms per run, wasm memory ${slim.wasmMemoryBytes() >> 20} MiB`);
model.free();
