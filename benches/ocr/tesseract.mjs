// Tesseract.js as the peer OCR system, fully offline: core and eng traineddata (LSTM-only
// best_int, what Tesseract.js fetches by default) come from node_modules, the worker thread has
// fetch disabled (tesseract-worker.cjs), and nothing is cached to disk (cacheMethod 'none').
// One worker, default OEM (LSTM); PSM 7 for lines, 8 for words, 3 (auto) for pages.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));

export const TESSERACT_PATHS = {
  workerPath: path.join(here, 'tesseract-worker.cjs'),
  corePath: path.dirname(require.resolve('tesseract.js-core/package.json')),
  langPath: path.join(path.dirname(require.resolve('@tesseract.js-data/eng/package.json')), '4.0.0_best_int'),
};
export const TESSERACT_DATA_FILE = path.join(TESSERACT_PATHS.langPath, 'eng.traineddata.gz');
const PSM = { line: '7', word: '8', page: '3' };

/** Version of the tesseract.js package in node_modules. */
export const tesseractVersion = () => require('tesseract.js/package.json').version;

/** Bytes of the language data the worker loads (the gzipped traineddata, as downloaded). */
export const tesseractModelBytes = () => statSync(TESSERACT_DATA_FILE).size;

/**
 * Starts one worker. Returns {startupMs, recognize(bytes, kind) -> {text, ms}, terminate()};
 * ms is wall-clock time of the recognize call alone (PSM switches are not counted).
 * A failed start-up rejects, but Tesseract.js 7 gives no handle to its worker thread then, so
 * the thread keeps the process alive: command-line callers should exit explicitly.
 */
export async function createTesseract({ langPath = TESSERACT_PATHS.langPath } = {}) {
  const { createWorker, OEM } = require('tesseract.js');
  let fail;
  const failed = new Promise((_, reject) => { fail = reject; });
  const t0 = performance.now();
  const worker = await Promise.race([failed, createWorker('eng', OEM.LSTM_ONLY, {
    ...TESSERACT_PATHS,
    langPath,
    gzip: true,
    cacheMethod: 'none',
    // Errors of later jobs also reject their own promise; start-up ones only come here.
    errorHandler: (err) => fail(new Error(`Tesseract.js: ${err}`)),
  })]);
  const startupMs = performance.now() - t0;
  let psm = null;
  return {
    startupMs,
    async recognize(bytes, kind) {
      if (!(kind in PSM)) throw new Error(`unknown kind ${kind}`);
      if (psm !== PSM[kind]) {
        await worker.setParameters({ tessedit_pageseg_mode: PSM[kind] });
        psm = PSM[kind];
      }
      const start = performance.now();
      const { data } = await worker.recognize(Buffer.from(bytes));
      return { text: data.text, ms: performance.now() - start };
    },
    terminate: () => worker.terminate(),
  };
}
