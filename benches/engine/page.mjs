// Chromium host: the page the runner (bench.mjs) opens once per case. Everything it loads is
// served by server.mjs from the same origin: /bench (this folder), /pkg (our wasm package),
// /ort (onnxruntime-web's dist), /f/<n> (the model files of this run).
import * as ort from '/ort/ort.wasm.min.mjs';
import { runCase } from '/bench/core.mjs';

// The wasm build (not the WebGPU/JSEP one), from this origin, one thread, SIMD.
ort.env.wasm.wasmPaths = `${location.origin}/ort/`;
ort.env.wasm.numThreads = 1;
ort.env.wasm.simd = true;
ort.env.wasm.proxy = false;
ort.env.logLevel = 'error';

const compiled = {};
let instances = 0;

// Our small module (pkg/: .slim op lists), or with `full` the one with tract (pkg/full/: ONNX).
async function newOurs(full = false) {
  const dir = full ? '/pkg/full' : '/pkg';
  let mod;
  try {
    // A query string makes a new module record, hence a new wasm instance with its own memory.
    mod = await import(`${dir}/slimscan.js?instance=${++instances}`);
  } catch (e) {
    return { error: `engine not built: ${dir}/slimscan.js did not load (run make wasm): ${e.message.replace(/\?instance=\d+/, '')}` };
  }
  if (typeof mod.Model !== 'function') {
    return { error: 'engine not built: pkg/slimscan.js has no Model export (run make wasm after the engine lands)' };
  }
  compiled[dir] ??= await WebAssembly.compileStreaming(fetch(`${dir}/slimscan_bg.wasm`));
  const exports = await mod.default({ module_or_path: compiled[dir] });
  return { mod, memory: exports.memory };
}

async function readBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

window.benchCase = (case_, opts) =>
  runCase(case_, { readBytes, newOurs, ort }, opts, (m) => console.log(m));
window.benchReady = true;
document.getElementById('log').textContent = 'ready';
