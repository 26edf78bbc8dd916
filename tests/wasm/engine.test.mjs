// The wasm engine (simd128 kernels) runs the committed fixture models and computes exactly
// the bits the native build wrote (tests/engine_fixtures.rs); bad bytes throw readable errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { loadSlimscan } from './load.mjs';
import { readNpy } from './npy.mjs';

const slim = await loadSlimscan();
const full = await loadSlimscan({ full: true });
const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures');
const bytes = (name) => new Uint8Array(readFileSync(path.join(fixtures, name)));


const input = readNpy(bytes('input.npy'));

function run(modelBytes, engine = slim) {
  const m = engine.Model.load(modelBytes);
  try {
    const y = m.run(input.data, Uint32Array.from(input.shape));
    return { y, shape: Array.from(m.outputShape()), info: JSON.parse(m.info()) };
  } finally {
    m.free();
  }
}

for (const [name, engine, which] of [
  ['tiny_cnn.slim', slim, 'small'], ['tiny_cnn_p90.slim', slim, 'small'],
  ['tiny_cnn.slim', full, 'full'], ['tiny_cnn_p90.slim', full, 'full'],
]) {
  test(`${name}: wasm output (${which} module) is bit-identical to native`, () => {
    const want = readNpy(bytes(`${name}.out.npy`));
    const { y, shape, info } = run(bytes(name), engine);
    assert.deepEqual(shape, want.shape);
    assert.equal(info.kind, 'slim');
    assert.equal(info.slim_layers, 5);
    const got = new Uint32Array(y.buffer, y.byteOffset, y.length);
    const exp = new Uint32Array(want.data.buffer, want.data.byteOffset, want.data.length);
    assert.deepEqual(Array.from(got), Array.from(exp), `${Array.from(y)} vs ${Array.from(want.data)}`);
  });
}

test('the pruned fixture runs sparse layers', () => {
  const { info } = run(bytes('tiny_cnn_p90.slim'));
  assert.ok(info.sparsity > 0.5, JSON.stringify(info));
  assert.ok(info.sparse_layers >= 1, JSON.stringify(info));
});

test('the small module refuses ONNX with a message naming the full engine', () => {
  assert.throws(() => slim.Model.load(bytes('tiny_cnn.onnx')), /runs \.slim models only/);
});

test('plain ONNX runs with tract f32 (full module) and agrees with the compressed model', () => {
  const a = run(bytes('tiny_cnn.onnx'), full);
  const b = run(bytes('tiny_cnn.slim'));
  assert.equal(a.info.kind, 'onnx');
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.y.length; i++) {
    dot += a.y[i] * b.y[i];
    na += a.y[i] ** 2;
    nb += b.y[i] ** 2;
  }
  const cos = dot / Math.sqrt(na * nb);
  assert.ok(cos > 0.99, `cosine ${cos}`);
});

test('corrupt, truncated and foreign bytes throw Errors with a message, never a trap', () => {
  const good = bytes('tiny_cnn.slim');
  const cases = [
    good.subarray(0, 0),
    good.subarray(0, 9),
    good.subarray(0, 40),
    good.subarray(0, good.length >> 1),
    good.subarray(0, good.length - 1),
    (() => { const c = good.slice(); c[c.length >> 1] ^= 0xa5; return c; })(),
    (() => { const c = good.slice(); c[20] ^= 0xff; return c; })(),
    new TextEncoder().encode('not a model at all'),
  ];
  for (const c of cases) {
    assert.throws(() => slim.Model.load(c), (e) => {
      assert.ok(e instanceof Error, `not an Error: ${e}`);
      assert.ok(!(e instanceof WebAssembly.RuntimeError), `wasm trap: ${e.message}`);
      assert.ok(e.message.length > 10, e.message);
      return true;
    });
  }
  // The module still works after the errors.
  assert.equal(run(good).shape.length, 2);
});

test('a wrong input shape is an Error', () => {
  const m = slim.Model.load(bytes('tiny_cnn.slim'));
  assert.throws(() => m.run(new Float32Array(10), Uint32Array.of(1, 10)), /shape|channels|rank/);
  assert.throws(() => m.run(new Float32Array(5), Uint32Array.of(1, 3, 16, 16)), /values|shape/);
  m.free();
});

test('wasmMemoryBytes reports the linear memory', () => {
  assert.ok(slim.wasmMemoryBytes() >= 65536);
});
