// Node host: runs one case in this worker thread (a fresh module map, so fresh wasm
// instances; the worker is terminated afterwards and its memory goes with it).
import { parentPort, workerData } from 'node:worker_threads';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-web';
import { runCase } from './core.mjs';

ort.env.wasm.numThreads = 1;
ort.env.wasm.simd = true;
ort.env.wasm.proxy = false;
ort.env.logLevel = 'error';

const { case_, opts, pkgDir } = workerData;
const compiled = {};
let instances = 0;

// Our small module (pkg/: .slim op lists), or with `full` the one with tract (pkg/full/: ONNX).
async function newOurs(full = false) {
  const dir = full ? path.join(pkgDir, 'full') : pkgDir;
  const jsPath = path.join(dir, 'slimscan.js');
  const wasmPath = path.join(dir, 'slimscan_bg.wasm');
  if (!existsSync(jsPath) || !existsSync(wasmPath)) {
    return { error: `engine not built: ${jsPath} missing (run make wasm)` };
  }
  // A query string makes a new module record, hence a new wasm instance with its own memory.
  const mod = await import(`${pathToFileURL(jsPath).href}?instance=${++instances}`);
  if (typeof mod.Model !== 'function') {
    return { error: 'engine not built: pkg/slimscan.js has no Model export (run make wasm after the engine lands)' };
  }
  compiled[dir] ??= await WebAssembly.compile(await readFile(wasmPath));
  const exports = await mod.default({ module_or_path: compiled[dir] });
  return { mod, memory: exports.memory };
}

const env = { readBytes: async (ref) => new Uint8Array(await readFile(ref)), newOurs, ort };
const log = (msg) => parentPort.postMessage({ log: msg });
try {
  parentPort.postMessage({ result: await runCase(case_, env, opts, log) });
} catch (e) {
  parentPort.postMessage({ error: e?.stack ?? String(e) });
}
