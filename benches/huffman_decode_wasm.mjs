// Huffman decode speed of the wasm build (simd128) in Node, on the same 10 M-symbol stream
// of quantized Laplacian weights as the native criterion bench (benches/huffman_decode.rs),
// and the ratio to the native median when criterion's result is present.
//   node benches/huffman_decode_wasm.mjs        (after `make wasm` and `cargo bench`)
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import os from 'node:os';
import { loadSlimscan } from '../tests/wasm/load.mjs';

const SYMBOLS = 10_000_000;
const RUNS = 25;

const slim = await loadSlimscan();
const bench = new slim.HuffmanBench(SYMBOLS, 7);
for (let i = 0; i < 5; i++) bench.decode();
const times = [];
for (let i = 0; i < RUNS; i++) {
  const t0 = process.hrtime.bigint();
  bench.decode();
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
if (!bench.verify()) throw new Error('wasm decode produced wrong symbols');
times.sort((a, b) => a - b);
const median = times[Math.floor(RUNS / 2)];
const wasmRate = SYMBOLS / median / 1e3; // M symbols/s
console.log(`wasm (Node ${process.version}, simd128): median ${median.toFixed(2)} ms over ${RUNS} runs = ${wasmRate.toFixed(0)} M symbols/s`);
console.log(`  stream ${bench.streamBytes()} bytes, ${(bench.streamBytes() * 8 / SYMBOLS).toFixed(3)} bits/symbol; cpu: ${os.cpus()[0].model}`);

// Same-window comparison: alternate native and wasm rounds, compare the medians of all runs.
const native = path.join(process.env.CARGO_TARGET_DIR ?? path.join(os.homedir(), '.cache/slimscan/target'),
  'release/examples/huffman_decode_native');
if (existsSync(native)) {
  const ROUNDS = 7, PER_ROUND = 5;
  const nat = [], was = [];
  for (let r = 0; r < ROUNDS; r++) {
    const res = spawnSync(native, [String(PER_ROUND)], { encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`native harness failed: ${res.stderr}`);
    nat.push(...JSON.parse(res.stdout));
    for (let i = 0; i < PER_ROUND; i++) {
      const t0 = process.hrtime.bigint();
      bench.decode();
      was.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
  const n = med(nat), w = med(was);
  console.log(`interleaved, ${ROUNDS} rounds × ${PER_ROUND} runs each: native median ${n.toFixed(2)} ms = ${(SYMBOLS / n / 1e3).toFixed(0)} M symbols/s, wasm median ${w.toFixed(2)} ms = ${(SYMBOLS / w / 1e3).toFixed(0)} M symbols/s`);
  console.log(`wasm / native speed ratio (same window): ${(n / w).toFixed(2)}`);
} else {
  console.log(`(no ${native}; build it with \`cargo build --release --example huffman_decode_native\`)`);
}

const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(os.homedir(), '.cache/slimscan/target');
const estimates = path.join(targetDir, 'criterion/huffman/decode_laplacian_i8_10M/new/estimates.json');
if (existsSync(estimates)) {
  const est = JSON.parse(await readFile(estimates, 'utf8'));
  const nativeMs = est.median.point_estimate / 1e6;
  const nativeRate = SYMBOLS / nativeMs / 1e3;
  console.log(`native (criterion median): ${nativeMs.toFixed(2)} ms = ${nativeRate.toFixed(0)} M symbols/s`);
  console.log(`wasm / criterion-native speed ratio (different windows): ${(wasmRate / nativeRate).toFixed(2)}`);
} else {
  console.log(`(no criterion result at ${estimates}; run \`cargo bench --bench huffman_decode\` for the ratio)`);
}
