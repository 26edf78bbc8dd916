// The wasm engine inside real headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core): the fixture models load and run, and corrupt or truncated bytes given to
// Model.load throw readable Errors — never a wasm trap, a hang or a dead page.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './chromium.mjs';
import { startServer } from '../../benches/engine/server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { server, origin } = await startServer(
  { '/pkg/': path.join(root, 'pkg'), '/fixtures/': path.join(root, 'tests/fixtures') },
  [],
);
const browser = await launchChromium();
after(async () => {
  await browser.close();
  server.close();
});

async function page() {
  const p = await browser.newPage();
  const offOrigin = [];
  p.on('request', (r) => { if (!r.url().startsWith(origin)) offOrigin.push(r.url()); });
  // An empty same-origin document to run module code in.
  await p.route(`${origin}/`, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>t</title>' }));
  await p.goto(`${origin}/`);
  await p.evaluate(async () => {
    const mod = await import('/pkg/slimscan.js');
    await mod.default();
    window.slim = mod;
  });
  return { p, offOrigin };
}

test('fixture models run in Chromium and match the native outputs bit for bit', async () => {
  const { p, offOrigin } = await page();
  const r = await p.evaluate(async () => {
    const get = async (n) => new Uint8Array(await (await fetch(`/fixtures/${n}`)).arrayBuffer());
    const npy = (buf) => {
      const hl = new DataView(buf.buffer).getUint16(8, true);
      const header = new TextDecoder().decode(buf.subarray(10, 10 + hl));
      const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
      return { shape, data: new Float32Array(buf.slice(10 + hl).buffer) };
    };
    const x = npy(await get('input.npy'));
    const out = {};
    for (const name of ['tiny_cnn.slim', 'tiny_cnn_p90.slim']) {
      const want = npy(await get(`${name}.out.npy`));
      const m = window.slim.Model.load(await get(name));
      const y = m.run(x.data, Uint32Array.from(x.shape));
      const a = new Uint32Array(y.buffer, y.byteOffset, y.length);
      const b = new Uint32Array(want.data.buffer);
      out[name] = { same: a.length === b.length && a.every((v, i) => v === b[i]), info: JSON.parse(m.info()) };
      m.free();
    }
    return out;
  });
  for (const [name, v] of Object.entries(r)) {
    assert.ok(v.same, `${name}: Chromium output differs from native`);
    assert.equal(v.info.kind, 'slim');
  }
  assert.deepEqual(offOrigin, []);
  await p.close();
});

test('corrupt and truncated .slim bytes throw readable Errors in the page', async () => {
  const { p } = await page();
  const results = await p.evaluate(async () => {
    const good = new Uint8Array(await (await fetch('/fixtures/tiny_cnn.slim')).arrayBuffer());
    const flip = (at, mask) => { const c = good.slice(); c[at] ^= mask; return c; };
    const cases = {
      empty: good.subarray(0, 0),
      header_only: good.subarray(0, 32),
      half: good.subarray(0, good.length >> 1),
      last_byte_missing: good.subarray(0, good.length - 1),
      flipped_payload: flip(good.length >> 1, 0x5a),
      flipped_header: flip(17, 0xff),
      text: new TextEncoder().encode('<html>404 not found</html>'),
    };
    const out = {};
    for (const [k, bytes] of Object.entries(cases)) {
      try {
        window.slim.Model.load(bytes);
        out[k] = { threw: false };
      } catch (e) {
        out[k] = { threw: true, isError: e instanceof Error, trap: e instanceof WebAssembly.RuntimeError, message: String(e.message) };
      }
    }
    // The module is still usable afterwards.
    const m = window.slim.Model.load(good);
    out.after = JSON.parse(m.info()).kind;
    m.free();
    return out;
  });
  for (const [k, v] of Object.entries(results)) {
    if (k === 'after') continue;
    assert.ok(v.threw, `${k}: no error`);
    assert.ok(v.isError && !v.trap, `${k}: ${JSON.stringify(v)}`);
    assert.ok(v.message.length > 15, `${k}: message "${v.message}"`);
  }
  console.log(Object.entries(results).map(([k, v]) => `${k}: ${v.message ?? v}`).join('\n'));
  assert.equal(results.after, 'slim');
  await p.close();
});
