// Loads the wasm package built by `make wasm` (pkg/, wasm-bindgen --target web) in Node.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The small runtime (pkg/: .slim op lists only), or with `full` the module with tract
 * (pkg/full/: ONNX models too). */
export async function loadSlimscan({ full = false } = {}) {
  const dir = full ? path.join(root, 'pkg', 'full') : path.join(root, 'pkg');
  const mod = await import(path.join(dir, 'slimscan.js'));
  const bytes = await readFile(path.join(dir, 'slimscan_bg.wasm'));
  await mod.default({ module_or_path: bytes });
  return mod;
}
