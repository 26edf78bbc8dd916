// Our pipeline as an OCR system for compare.mjs: the wasm package in pkg/ (`make wasm`) with one
// set of det/rec/cls model files (.slim or .onnx). Pages go through Ocr.scanImage, line and word
// crops through Ocr.readLine; `text` of the result is the hypothesis.
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { loadSlimscan } from '../../tests/wasm/load.mjs';

/**
 * Loads the models. Returns {startupMs, recognize(bytes, kind) -> {text, ms, timings}, terminate()};
 * startupMs is Ocr.load alone, ms the wall-clock time of the readLine/scanImage call.
 */
export async function createSlimscan({ det, rec, cls }) {
  // ONNX models (the originals) run in the module with tract (pkg/full/).
  const slim = await loadSlimscan({ full: [det, rec, cls].some((f) => f && f.endsWith('.onnx')) });
  if (typeof slim.Ocr !== 'function') throw new Error('pkg/ has no Ocr API (src/wasm.rs; rebuild with make wasm)');
  const [detBytes, recBytes, clsBytes] = await Promise.all(
    [det, rec, cls].map((f) => (f ? readFile(f).then((b) => new Uint8Array(b)) : undefined)),
  );
  const t0 = performance.now();
  const ocr = slim.Ocr.load(detBytes, recBytes, clsBytes);
  const startupMs = performance.now() - t0;
  return {
    startupMs,
    recognize(bytes, kind) {
      const input = new Uint8Array(bytes);
      const start = performance.now();
      const json = kind === 'page' ? ocr.scanImage(input) : ocr.readLine(input);
      const ms = performance.now() - start;
      const out = JSON.parse(json);
      return { text: out.text, ms, timings: out.timings_ms };
    },
    terminate() {
      ocr.free();
    },
  };
}
