// The app's files on disk, shared by the build tools (precache.mjs, precompress.mjs): the
// repository root (`--root DIR`, default the working directory) and the file behind each URL
// path, as `slimscan serve` maps them.
import path from 'node:path';

/** The repository root from `--root DIR` in the command line (default: the working directory). */
export function rootFromArgs(argv = process.argv) {
  const at = argv.indexOf('--root');
  return path.resolve(at > 0 ? argv[at + 1] ?? '.' : '.');
}

/** URL path → file under `root`: /pkg/ from pkg, /models/ from models, the rest from www. */
export function fileOf(root, url) {
  if (url.startsWith('/pkg/')) return path.join(root, 'pkg', url.slice(5));
  if (url.startsWith('/models/')) return path.join(root, 'models', url.slice(8));
  return path.join(root, 'www', url.slice(1));
}
