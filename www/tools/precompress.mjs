// Writes a brotli (.br, quality 11) and a gzip (.gz, level 9) copy next to every file the app
// serves from the build (www/build.json, written by precache.mjs: the shell, the wasm package,
// the compressed models, and the originals and full engine of the comparison panel), for a server that sends
// them with `Content-Encoding` (issue 27). A copy newer than its file is kept. Prints the sizes
// and what a first visit downloads (the precache list) with each encoding. Run by `make app`;
// the copies are git-ignored.
//
//   node www/tools/precompress.mjs [--root .]
import { brotliCompressSync, gzipSync, constants } from 'node:zlib';
import { readFileSync, writeFileSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';
import { rootFromArgs, fileOf } from './site.mjs';

const root = rootFromArgs();
const www = path.join(root, 'www');

const buildFile = path.join(www, 'build.json');
if (!existsSync(buildFile)) {
  console.error('precompress: www/build.json is missing (run `node www/tools/precache.mjs` first, or `make app`)');
  process.exit(1);
}
const build = JSON.parse(readFileSync(buildFile, 'utf8'));
// What a first visit downloads: every file of the build but the originals and the full engine
// (pkg/full/), which only the comparison panel loads (precache.mjs lists them in build.json,
// not in the precache).
const catalog = JSON.parse(readFileSync(path.join(www, 'models.json'), 'utf8'));
const originals = new Set(catalog.models.map((m) => m.original));
const firstVisit = new Set(Object.keys(build.files).filter((u) => !originals.has(u) && !u.startsWith('/pkg/full/')));

const ENCODINGS = {
  br: (bytes) => brotliCompressSync(bytes, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
  }),
  gz: (bytes) => gzipSync(bytes, { level: 9 }),
};

const totals = { raw: 0, br: 0, gz: 0 };
const mb = (n) => `${(n / 1e6).toFixed(2)} MB`;
for (const url of Object.keys(build.files).sort()) {
  const file = fileOf(root, url);
  if (!existsSync(file)) continue;
  const source = statSync(file);
  const sizes = { raw: source.size };
  let bytes = null;
  for (const [ext, compress] of Object.entries(ENCODINGS)) {
    const out = `${file}.${ext}`;
    if (!existsSync(out) || statSync(out).mtimeMs < source.mtimeMs) {
      bytes ??= readFileSync(file);
      writeFileSync(out, compress(bytes));
    }
    sizes[ext] = statSync(out).size;
  }
  if (firstVisit.has(url)) for (const k of Object.keys(totals)) totals[k] += sizes[k];
  if (sizes.raw > 100_000) console.log(`  ${url}: ${mb(sizes.raw)}, gzip ${mb(sizes.gz)}, brotli ${mb(sizes.br)}`);
}
console.log(`precompress: first visit (${firstVisit.size} files) ${mb(totals.raw)}, gzip ${mb(totals.gz)}, brotli ${mb(totals.br)}`);
