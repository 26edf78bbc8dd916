// Tesseract.js worker thread with the network cut off: any fetch throws, then the stock Node
// worker script from node_modules runs. Used as workerPath by tesseract.mjs, so a run that
// completes is proof that no language data or code came from the network.
'use strict';

globalThis.fetch = (url) => {
  throw new Error(`network access blocked in the Tesseract.js worker (fetch ${url})`);
};
require('tesseract.js/src/worker-script/node/index.js');
