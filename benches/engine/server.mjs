// Tiny same-origin static server for the Chromium host: fixed mounts, correct MIME types for
// .wasm/.mjs, and model files only by their index in the list the runner registered.
import http from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';

const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.json': 'application/json', '.wasm': 'application/wasm', '.map': 'application/json',
};

/** mounts: { '/bench/': dir, ... }; files: array of absolute paths served as /f/<index>. */
export function startServer(mounts, files) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let file = null;
    const m = /^\/f\/(\d+)$/.exec(url.pathname);
    if (m) file = files[Number(m[1])] ?? null;
    for (const [prefix, dir] of Object.entries(mounts)) {
      if (file || !url.pathname.startsWith(prefix)) continue;
      const rel = decodeURIComponent(url.pathname.slice(prefix.length));
      const abs = path.resolve(dir, rel);
      if (abs.startsWith(path.resolve(dir) + path.sep)) file = abs;
    }
    let st = null;
    try { st = file && statSync(file); } catch { st = null; }
    if (!st || !st.isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`not found: ${url.pathname}`);
      return;
    }
    res.writeHead(200, {
      'content-type': MIME[path.extname(file)] ?? 'application/octet-stream',
      'content-length': st.size,
      'cache-control': 'no-store',
    });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, origin: `http://127.0.0.1:${server.address().port}` }));
  });
}
