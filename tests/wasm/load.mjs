// Loads the wasm package built by `make wasm` (pkg/, wasm-bindgen --target web) in Node.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function loadSlimscan() {
  const mod = await import(path.join(root, 'pkg', 'slimscan.js'));
  const bytes = await readFile(path.join(root, 'pkg', 'slimscan_bg.wasm'));
  await mod.default({ module_or_path: bytes });
  return mod;
}
