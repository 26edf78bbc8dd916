// One model in two builds of the wasm package, in the same Node process and interleaved, so
// a change to the engine or its kernels is timed against the build before it under the same
// machine load; also checks that both builds give the same outputs.
//   cp -r pkg /tmp/pkg_before   (then change the code and `make wasm`)
//   node benches/engine/ab_model.mjs /tmp/pkg_before pkg models/ppocr_det.slim '[1,3,960,672]' [ROUNDS]
// Prints the median ms of each build over ROUNDS (default 7) alternating runs, their ratio
// and the largest absolute difference between the two outputs on one random input.
import { readFileSync } from 'node:fs';
import path from 'node:path';

const [a, b, file, shapeText, roundsText = '7'] = process.argv.slice(2);
if (!file || !shapeText) throw new Error('usage: ab_model.mjs PKG_A PKG_B MODEL SHAPE_JSON [ROUNDS]');
async function loadPkg(dir) {
  const mod = await import(path.resolve(dir, 'slimscan.js'));
  await mod.default({ module_or_path: readFileSync(path.resolve(dir, 'slimscan_bg.wasm')) });
  return mod;
}
const [pa, pb] = [await loadPkg(a), await loadPkg(b)];
const bytes = new Uint8Array(readFileSync(file));
const [ma, mb] = [pa.Model.load(bytes), pb.Model.load(bytes)];
const shape = Uint32Array.from(JSON.parse(shapeText));
const x = new Float32Array(shape.reduce((p, q) => p * q, 1)).map(() => Math.random() - 0.5);
const [ya, yb] = [ma.run(x, shape), mb.run(x, shape)];
let maxDiff = ya.length === yb.length ? 0 : Infinity;
for (let i = 0; i < Math.min(ya.length, yb.length); i++) maxDiff = Math.max(maxDiff, Math.abs(ya[i] - yb[i]));
const [ta, tb] = [[], []];
for (let r = 0; r < Number(roundsText); r++) {
  let t = performance.now();
  ma.run(x, shape);
  ta.push(performance.now() - t);
  t = performance.now();
  mb.run(x, shape);
  tb.push(performance.now() - t);
}
const med = (v) => [...v].sort((p, q) => p - q)[v.length >> 1];
console.log(`${file} ${shapeText}: A ${med(ta).toFixed(1)} ms, B ${med(tb).toFixed(1)} ms, B/A ${(med(tb) / med(ta)).toFixed(3)}, max |A − B| ${maxDiff}`);
ma.free();
mb.free();
