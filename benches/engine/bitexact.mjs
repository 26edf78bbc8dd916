// Native vs wasm, bit for bit: runs MODEL.slim in the wasm build (Node, simd128) on every
// DUMP/input_<i>.npy written by `examples/engine_parity --dump DUMP` and compares the first
// output with the native DUMP/output_<i>.npy.
//
//   node benches/engine/bitexact.mjs MODEL.slim DUMP_DIR
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy } from '../../tests/wasm/npy.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const [modelPath, dump] = process.argv.slice(2);
if (!modelPath || !dump) {
  console.error('usage: node benches/engine/bitexact.mjs MODEL.slim DUMP_DIR');
  process.exit(2);
}


const mod = await import(path.join(root, 'pkg', 'slimscan.js'));
await mod.default({ module_or_path: readFileSync(path.join(root, 'pkg', 'slimscan_bg.wasm')) });
const model = mod.Model.load(new Uint8Array(readFileSync(modelPath)));
const inputs = readdirSync(dump).filter((f) => /^input_\d+\.npy$/.test(f)).sort();
let identical = 0;
let worst = 0;
for (const f of inputs) {
  const i = f.match(/\d+/)[0];
  const x = readNpy(new Uint8Array(readFileSync(path.join(dump, f))));
  const want = readNpy(new Uint8Array(readFileSync(path.join(dump, `output_${i}.npy`))));
  const y = model.run(x.data, Uint32Array.from(x.shape));
  const a = new Uint32Array(y.buffer, y.byteOffset, y.length);
  const b = new Uint32Array(want.data.buffer, want.data.byteOffset, want.data.length);
  let same = a.length === b.length;
  for (let k = 0; same && k < a.length; k++) same = a[k] === b[k];
  if (same) identical++;
  for (let k = 0; k < Math.min(y.length, want.data.length); k++) {
    worst = Math.max(worst, Math.abs(y[k] - want.data[k]));
  }
}
model.free();
console.log(`${path.basename(modelPath)}: ${identical}/${inputs.length} outputs bit-identical to native (max abs diff ${worst})`);
process.exit(identical === inputs.length ? 0 : 1);
