// Host-agnostic part of the engine benchmark: loads every engine of one case, times them
// round-robin on the same input in the same process, measures load time and wasm memory.
// Runs unchanged in Node (node-worker.mjs) and in a Chromium page (page.mjs); the host passes
// an `env` with its own file reading, wasm instantiation and onnxruntime-web namespace.
//
// Engines of a case, in table order:
//   slim-pXX   our engine (pkg/slimscan.js) on a .slim file pruned XX %       (ours)
//   tract-f32  our engine on the original .onnx: tract f32 inside our wasm    (peer)
//   ort-f32    onnxruntime-web, wasm, 1 thread, on the original .onnx         (peer)
//   ort-int8   onnxruntime-web on its own QDQ int8 model (models/ort_quantize.py) (peer)
// Every "ours" engine (slim-* and tract-f32) gets a fresh instance of our wasm module, so the
// memory it reports is its own: wasm memory never shrinks, so its size after the timed runs is
// that instance's peak.

export const ENGINE_ORDER = ['slim-p0', 'slim-p50', 'slim-p90', 'tract-f32', 'ort-f32', 'ort-int8'];

const now = () => performance.now();

/** Deterministic standard-normal input (mulberry32 + Box-Muller), the same on every host. */
export function makeInput(shape, seed = 12345) {
  const n = shape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(n);
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rand(), 1e-12), v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    x[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) x[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return x;
}

export function median(xs) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function compare(a, b) {
  if (!a || !b) return null;
  if (a.length !== b.length) return { vs_len: b.length, len: a.length, note: 'output sizes differ' };
  let dot = 0, na = 0, nb = 0, maxd = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i];
    const d = Math.abs(a[i] - b[i]);
    if (d > maxd || Number.isNaN(d)) maxd = d;
  }
  return { cosine: dot / (Math.sqrt(na * nb) || 1e-30), max_abs_diff: maxd };
}

const errText = (e) => (e && e.message) ? e.message : String(e);

/**
 * case_ = { name, shape: [n,c,h,w], engines: [{ id, file: { ref, path, bytes|null } }] }
 *   file.bytes === null means the file does not exist (the row says "missing").
 * env = { readBytes(ref) -> Promise<Uint8Array>, newOurs(full) -> Promise<{ mod, memory } | { error }>, ort }
 *   newOurs(true): the full module (pkg/full/, with tract) for the original ONNX models.
 * opts = { runs, warmup }
 */
export async function runCase(case_, env, opts, log = () => {}) {
  const { shape } = case_;
  const x = makeInput(shape);
  const shapeU32 = Uint32Array.from(shape);
  const engines = [];

  for (const spec of case_.engines) {
    const e = { id: spec.id, file: spec.file.path, file_bytes: spec.file.bytes, status: 'ok' };
    engines.push(e);
    if (spec.file.bytes == null) { e.status = `missing: ${spec.file.path}`; continue; }
    const isOurs = !spec.id.startsWith('ort-');
    try {
      if (isOurs) {
        const inst = await env.newOurs(spec.id === 'tract-f32');
        if (inst.error) { e.status = inst.error; continue; }
        const bytes = await env.readBytes(spec.file.ref);
        e.mem_before_load = inst.memory.buffer.byteLength;
        const t0 = now();
        const m = inst.mod.Model.load(bytes);
        e.load_ms = now() - t0;
        e.mem_after_load = inst.memory.buffer.byteLength;
        try { e.info = JSON.parse(m.info()); } catch (err) { e.info = { error: errText(err) }; }
        e._model = m;
        e._memory = inst.memory;
        e._run = async () => m.run(x, shapeU32);
        e._shape = () => Array.from(m.outputShape());
      } else {
        const { ort } = env;
        const bytes = await env.readBytes(spec.file.ref);
        const t0 = now();
        const sess = await ort.InferenceSession.create(bytes, {
          executionProviders: ['wasm'],
          graphOptimizationLevel: 'all',
        });
        e.load_ms = now() - t0;
        const input = sess.inputNames[0], output = sess.outputNames[0];
        e._session = sess;
        let last;
        e._run = async () => {
          const r = await sess.run({ [input]: new ort.Tensor('float32', x, shape) });
          last = r[output];
          for (const k of Object.keys(r)) if (k !== output) r[k].dispose?.();
          return last.data;
        };
        e._shape = () => Array.from(last.dims);
      }
      // First run (timed on its own: it includes whatever lazy planning an engine defers).
      const t1 = now();
      e._out = await e._run();
      e.first_run_ms = now() - t1;
      e.output_shape = e._shape();
      e.output_len = e._out.length;
      e._out = Float32Array.from(e._out);
      log(`  ${case_.name} ${e.id}: loaded in ${e.load_ms.toFixed(1)} ms, first run ${e.first_run_ms.toFixed(1)} ms`);
    } catch (err) {
      e.status = `error: ${errText(err)}`;
      log(`  ${case_.name} ${e.id}: ${e.status}`);
    }
  }

  // Warm-up (the first run above counts as one), then timed runs, engines interleaved
  // round-robin with a rotating start so that no engine always runs first.
  let active = engines.filter((e) => e.status === 'ok');
  for (const e of active) e.times_ms = [];
  const total = Math.max(0, opts.warmup - 1) + opts.runs;
  for (let r = 0; r < total; r++) {
    const order = active.map((_, i) => active[(i + r) % active.length]);
    for (const e of order) {
      if (e.status !== 'ok') continue;
      try {
        const t0 = now();
        await e._run();
        const dt = now() - t0;
        if (r >= total - opts.runs) e.times_ms.push(dt);
      } catch (err) {
        e.status = `error during runs: ${errText(err)}`;
      }
    }
    active = active.filter((e) => e.status === 'ok');
  }

  const ref = engines.find((e) => e.id === 'ort-f32' && e._out) ?? engines.find((e) => e.id === 'tract-f32' && e._out);
  for (const e of engines) if (e._out && ref && ref !== e) e.parity = { vs: ref.id, ...compare(e._out, ref._out) };
  for (const e of engines) {
    if (e.times_ms?.length) {
      e.median_ms = median(e.times_ms);
      e.min_ms = Math.min(...e.times_ms);
    }
    if (e._memory) e.mem_peak = e._memory.buffer.byteLength;
    try { e._model?.free(); } catch { /* already freed */ }
    try { await e._session?.release(); } catch { /* ignore */ }
    for (const k of Object.keys(e)) if (k.startsWith('_')) delete e[k];
  }

  // Ratios: peer median / this engine's median, for each of our .slim rows.
  const med = Object.fromEntries(engines.filter((e) => e.median_ms).map((e) => [e.id, e.median_ms]));
  for (const e of engines) {
    if (!e.id.startsWith('slim-') || !e.median_ms) continue;
    e.ratios = {};
    for (const peer of ['ort-f32', 'tract-f32', 'ort-int8']) {
      if (med[peer]) e.ratios[`${peer}/ours`] = med[peer] / e.median_ms;
    }
  }
  return { name: case_.name, shape, runs: opts.runs, warmup: opts.warmup, engines };
}
