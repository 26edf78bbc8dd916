// Starts `slimscan serve` (the app's real server: MIME types, CSP, ETags) on a free port for the
// end-to-end tests, and stops it.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function startApp() {
  const bin = process.env.SLIMSCAN_BIN ?? path.join(ROOT, 'target/release/slimscan');
  const child = spawn(bin, ['serve', '--port', '0', '--www', 'www', '--pkg', 'pkg', '--models', 'models'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const origin = await new Promise((resolve, reject) => {
    let out = '';
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`slimscan serve exited with ${code}`)));
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/http:\/\/localhost:(\d+)\//);
      if (m) resolve(`http://localhost:${m[1]}`);
    });
  });
  child.removeAllListeners('exit');
  return { origin, stop: () => child.kill() };
}
