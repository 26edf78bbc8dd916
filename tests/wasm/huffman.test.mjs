// The wasm build (simd128) decodes what it encodes, and errors reach JS as exceptions that
// carry the Rust message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSlimscan } from './load.mjs';

const slim = await loadSlimscan();

test('wasm Huffman decode reproduces 1M quantized Laplacian symbols', () => {
  const bench = new slim.HuffmanBench(1_000_000, 11);
  assert.equal(bench.verify(), false, 'nothing decoded yet');
  bench.decode();
  assert.equal(bench.verify(), true);
  const bitsPerSymbol = (bench.streamBytes() * 8) / 1_000_000;
  assert.ok(bitsPerSymbol > 3 && bitsPerSymbol < 8, `${bitsPerSymbol} bits/symbol`);
  bench.free();
});

test('empty and tiny streams', () => {
  for (const n of [0, 1, 3, 4, 5, 17]) {
    const bench = new slim.HuffmanBench(n, 1);
    bench.decode();
    assert.equal(bench.verify(), true, `n = ${n}`);
    bench.free();
  }
});

test('a malformed .slim file throws an Error with the reader message', () => {
  assert.throws(() => slim.inspectSlim(new Uint8Array([1, 2, 3])), /truncated/);
  const notSlim = new TextEncoder().encode('this is a text file, not a model, padded to 40 bytes');
  assert.throws(() => slim.inspectSlim(notSlim), /bad magic/);
});

test('version is the crate version', () => {
  assert.match(slim.version(), /^\d+\.\d+\.\d+$/);
});
