// Integer kernel speed of the wasm build (simd128) in Node: dense vs sparse GEMM at several
// densities on ResNet-like layers, the scalar references beside them, the sparse/dense
// break-even density, and depthwise convolutions of MobileNetV2 / PP-OCR shapes.
//   make bench-kernels        (= make wasm && node benches/kernels_wasm.mjs)
//   node benches/kernels_wasm.mjs --runs 21 --scalar-runs 5 [--no-scalar] [--no-depthwise]
//        [--only-depthwise] [--base DIR]
// --base DIR: another wasm-bindgen package (e.g. a build of an older commit copied out of
// pkg/) whose depthwise kernels are timed in the same interleaved rounds, for a before/after
// column that the machine's load hits alike.
// Every timed kernel call is checked against the scalar result; times are medians of
// interleaved rounds (each round runs every kernel once), so load on this machine hits all
// columns alike. GMAC/s counts the dense product's rows·cols·p MACs for every column
// ("effective"): a sparse kernel faster than dense has the higher number.
import os from 'node:os';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadSlimscan } from '../tests/wasm/load.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const RUNS = opt('--runs', 21);
const SCALAR_RUNS = opt('--scalar-runs', 5);
const SCALAR = !args.includes('--no-scalar');
const DEPTHWISE = !args.includes('--no-depthwise');
const GEMM = !args.includes('--only-depthwise');
const BASE = args.includes('--base') ? args[args.indexOf('--base') + 1] : null;

const SHAPES = [
  { name: 'resnet 3x3 conv (im2col) 256x2304 · 2304x196', rows: 256, cols: 2304, p: 196 },
  { name: 'resnet 1x1 conv 512x512 · 512x784', rows: 512, cols: 512, p: 784 },
];
const DENSITIES = [1.0, 0.7, 0.5, 0.35, 0.25, 0.1];

const slim = await loadSlimscan();
async function loadPkg(dir) {
  const mod = await import(path.resolve(dir, 'slimscan.js'));
  await mod.default({ module_or_path: await readFile(path.resolve(dir, 'slimscan_bg.wasm')) });
  return mod;
}
const base = BASE ? await loadPkg(BASE) : null;
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const now = () => performance.now();

function time(fixture, kind) {
  const t0 = now();
  fixture.run(kind);
  const ms = now() - t0;
  // Checked outside the timed call (an output comparison is as slow as a depthwise layer).
  if (!fixture.matches(kind)) throw new Error(`${kind}: output differs from the scalar reference`);
  return ms;
}

/// Median ms of each kind, interleaved: `rounds` rounds, kinds in `slow` only every round
/// while their count is below `slowRuns`.
function measure(fixture, kinds, slow, rounds, slowRuns) {
  const t = Object.fromEntries([...kinds, ...slow].map((k) => [k, []]));
  for (const k of [...kinds, ...slow]) time(fixture, k); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const k of kinds) t[k].push(time(fixture, k));
    if (r < slowRuns) for (const k of slow) t[k].push(time(fixture, k));
  }
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, med(v)]));
}

console.log(`# wasm simd128 kernels, Node ${process.version}, ${os.cpus()[0].model}, ${os.cpus().length} cpus`);
console.log(`# medians of ${RUNS} interleaved runs (scalar: ${SCALAR ? SCALAR_RUNS : 'skipped'})\n`);

const breakEven = [];
for (const s of GEMM ? SHAPES : []) {
  console.log(`## ${s.name}\n`);
  console.log('| density | dense ms | dense GMAC/s | sparse ms | sparse GMAC/s (eff.) | sparse/dense time | scalar dense GMAC/s | scalar sparse GMAC/s (eff.) |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
  const ratios = [];
  for (const d of DENSITIES) {
    const f = new slim.GemmBench(s.rows, s.cols, s.p, d, 7);
    const macs = f.macs();
    const m = measure(f, ['dense', 'sparse'], SCALAR ? ['scalar_dense', 'scalar_sparse'] : [], RUNS, SCALAR_RUNS);
    const g = (ms) => (ms === undefined ? '–' : (macs / ms / 1e6).toFixed(2));
    const ratio = m.sparse / m.dense;
    ratios.push([d, ratio]);
    console.log(`| ${d} | ${m.dense.toFixed(2)} | ${g(m.dense)} | ${m.sparse.toFixed(2)} | ${g(m.sparse)} | ${ratio.toFixed(2)} | ${g(m.scalar_dense)} | ${g(m.scalar_sparse)} |`);
    f.free();
  }
  // Highest density at which sparse is as fast as dense: interpolate the time ratio between
  // the densities around 1.
  let be = null;
  for (let i = 0; i + 1 < ratios.length; i++) {
    const [dHi, rHi] = ratios[i];
    const [dLo, rLo] = ratios[i + 1];
    if (rHi >= 1 && rLo < 1) { be = dLo + (dHi - dLo) * (1 - rLo) / (rHi - rLo); break; }
  }
  if (be === null) be = ratios[0][1] < 1 ? 1 : 0;
  breakEven.push(be);
  console.log(`\nbreak-even density (sparse as fast as dense): ${be.toFixed(3)}\n`);
}
if (GEMM) console.log(`break-even over the shapes: min ${Math.min(...breakEven).toFixed(3)}, mean ${(breakEven.reduce((a, b) => a + b) / breakEven.length).toFixed(3)}\n`);

if (DEPTHWISE) {
  // [name, channels, height = width, kernel, stride]; padding k / 2.
  const DW = [
    ['mobilenetv2 3x3 s1 32ch 112x112', 32, 112, 3, 1],
    ['mobilenetv2 3x3 s2 96ch 112x112', 96, 112, 3, 2],
    ['mobilenetv2 3x3 s1 144ch 56x56', 144, 56, 3, 1],
    ['mobilenetv2 3x3 s2 144ch 56x56', 144, 56, 3, 2],
    ['mobilenetv2 3x3 s1 192ch 28x28', 192, 28, 3, 1],
    ['mobilenetv2 3x3 s2 192ch 28x28', 192, 28, 3, 2],
    ['mobilenetv2 3x3 s1 384ch 14x14', 384, 14, 3, 1],
    ['mobilenetv2 3x3 s1 576ch 14x14', 576, 14, 3, 1],
    ['mobilenetv2 3x3 s2 576ch 14x14', 576, 14, 3, 2],
    ['mobilenetv2 3x3 s1 960ch 7x7', 960, 7, 3, 1],
    ['pp-ocr 5x5 s1 120ch 24x24', 120, 24, 5, 1],
    ['pp-ocr 5x5 s2 240ch 48x48', 240, 48, 5, 2],
  ];
  console.log('## depthwise\n');
  const baseCols = base ? ' base ms | base GMAC/s | speed-up vs base |' : '';
  console.log(`| layer | simd ms | simd GMAC/s |${baseCols} scalar GMAC/s | speed-up vs scalar |`);
  console.log(`|---|---:|---:|${base ? '---:|---:|---:|' : ''}---:|---:|`);
  let total = 0;
  let totalBase = 0;
  for (const [name, c, hw, k, st] of DW) {
    const f = new slim.DepthwiseBench(c, hw, hw, k, st, 3);
    const fb = base ? new base.DepthwiseBench(c, hw, hw, k, st, 3) : null;
    // The base build's fixture is timed as one more kind of the same interleaved rounds.
    const both = {
      run: (kind) => (kind === 'base' ? fb.run('simd') : f.run(kind)),
      matches: (kind) => (kind === 'base' ? fb.matches() : f.matches()),
    };
    const m = measure(both, base ? ['simd', 'base'] : ['simd'], SCALAR ? ['scalar'] : [], RUNS, SCALAR_RUNS);
    const g = (ms) => (ms === undefined ? '–' : (f.macs() / ms / 1e6).toFixed(2));
    const up = m.scalar === undefined ? '–' : (m.scalar / m.simd).toFixed(1) + '×';
    const b = base ? ` ${m.base.toFixed(3)} | ${g(m.base)} | ${(m.base / m.simd).toFixed(2)}× |` : '';
    if (k === 3) {
      total += m.simd;
      totalBase += m.base ?? 0;
    }
    console.log(`| ${name} | ${m.simd.toFixed(3)} | ${g(m.simd)} |${b} ${g(m.scalar)} | ${up} |`);
    f.free();
    fb?.free();
  }
  const tb = base ? `, base ${totalBase.toFixed(2)} ms` : '';
  console.log(`\n3x3 layers above, one each: ${total.toFixed(2)} ms${tb}`);
}
