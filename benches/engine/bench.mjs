// Engine benchmark: our wasm engine (.slim at several prune levels, and tract f32 on the
// original .onnx) against onnxruntime-web (wasm, 1 thread; f32 and its own int8 QDQ model),
// same input, same process, same run, engines interleaved. Hosts: Node and headless Chromium.
//
//   node benches/engine/bench.mjs [--host node|chromium|both] [--runs 10] [--warmup 2]
//        [--models mobilenet_v2,resnet50,ppocr_det,ppocr_rec] [--engines slim-p0,ort-f32,...]
//        [--pkg pkg] [--torchvision-dir /tmp/models_rbn] [--ppocr-dir /tmp/models/ppocr]
//        [--slim-dir /tmp/slim] [--ort-int8-dir /tmp/models/ort_int8]
//        [--out-dir benches/engine] [--chromium /usr/bin/chromium]
//        [--cases FILE.json] [--out FILE.json]
//
// --cases replaces the built-in model table with a JSON list of
// {"name", "shape": [n,c,h,w], "engines": [{"id", "path"}]} (ids: slim-* and tract-f32 run
// in our engine, ort-f32 / ort-int8 in onnxruntime-web); --out names the results file.
//
// Prints a markdown table per host and writes benches/engine/results-<host>.json.
// A missing model file, or a package without the engine, gives a row that says so.
// Where the files come from: models/ort_quantize.py's docstring and `make bench-engine`.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ENGINE_ORDER } from './core.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');

const { values: a } = parseArgs({
  options: {
    host: { type: 'string', default: 'both' },
    runs: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    models: { type: 'string', default: 'mobilenet_v2,resnet50,ppocr_det,ppocr_rec' },
    engines: { type: 'string', default: ENGINE_ORDER.join(',') },
    pkg: { type: 'string', default: path.join(ROOT, 'pkg') },
    'torchvision-dir': { type: 'string', default: '/tmp/models_rbn' },
    'ppocr-dir': { type: 'string', default: '/tmp/models/ppocr' },
    'slim-dir': { type: 'string', default: '/tmp/slim' },
    'ort-int8-dir': { type: 'string', default: '/tmp/models/ort_int8' },
    'out-dir': { type: 'string', default: HERE },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    cases: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (a.help) {
  console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\nimport ')[0].replace(/^\/\/ ?/gm, ''));
  process.exit(0);
}
const opts = { runs: Number(a.runs), warmup: Number(a.warmup) };
if (!(opts.runs >= 1) || !(opts.warmup >= 1)) throw new Error('--runs and --warmup must be >= 1');
const hosts = a.host === 'both' ? ['node', 'chromium'] : [a.host];
for (const h of hosts) if (!['node', 'chromium'].includes(h)) throw new Error(`unknown --host ${h}`);
const wantEngines = new Set(a.engines.split(',').filter(Boolean));

// Cases: file names under the configured folders. .slim files: <model>_p<percent>.slim.
const CASES = {
  mobilenet_v2: { dir: 'torchvision-dir', onnx: 'mobilenet_v2.onnx', shape: [1, 3, 224, 224], prunes: [0, 50, 90] },
  resnet50: { dir: 'torchvision-dir', onnx: 'resnet50.onnx', shape: [1, 3, 224, 224], prunes: [0, 50, 90] },
  ppocr_det: { dir: 'ppocr-dir', onnx: 'ch_PP-OCRv4_det_infer.onnx', shape: [1, 3, 640, 640], prunes: [0] },
  ppocr_rec: { dir: 'ppocr-dir', onnx: 'ch_PP-OCRv4_rec_infer.onnx', shape: [1, 3, 48, 320], prunes: [0] },
};

function fileEntry(p) {
  let bytes = null;
  try { bytes = statSync(p).isFile() ? statSync(p).size : null; } catch { bytes = null; }
  return { path: p, ref: p, bytes };
}

function casesFromFile(file) {
  const list = JSON.parse(readFileSync(file, 'utf8'));
  if (!Array.isArray(list)) throw new Error(`${file}: expected a JSON list of cases`);
  return list.map((c) => {
    if (!c.name || !Array.isArray(c.shape) || !Array.isArray(c.engines)) throw new Error(`${file}: a case needs name, shape and engines`);
    return { name: c.name, shape: c.shape, engines: c.engines.map((e) => ({ id: e.id, file: fileEntry(e.path) })) };
  });
}

function buildCases() {
  if (a.cases) return casesFromFile(a.cases);
  const out = [];
  for (const name of a.models.split(',').filter(Boolean)) {
    const c = CASES[name];
    if (!c) throw new Error(`unknown model ${name}; known: ${Object.keys(CASES).join(',')}`);
    const onnx = path.join(a[c.dir], c.onnx);
    const engines = [
      ...c.prunes.map((p) => ({ id: `slim-p${p}`, file: fileEntry(path.join(a['slim-dir'], `${name}_p${p}.slim`)) })),
      { id: 'tract-f32', file: fileEntry(onnx) },
      { id: 'ort-f32', file: fileEntry(onnx) },
      { id: 'ort-int8', file: fileEntry(path.join(a['ort-int8-dir'], `${name}_int8.onnx`)) },
    ].filter((e) => wantEngines.has(e.id));
    out.push({ name, shape: c.shape, engines });
  }
  return out;
}

function machine() {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1].trim();
  } catch { /* not Linux */ }
  let commit = null;
  try { commit = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(); } catch { /* no git */ }
  let pkgWasm = null;
  try { pkgWasm = statSync(path.join(a.pkg, 'slimscan_bg.wasm')).size; } catch { /* not built */ }
  const ortVersion = JSON.parse(readFileSync(path.join(ROOT, 'node_modules/onnxruntime-web/package.json'), 'utf8')).version;
  return { cpu, logical_cpus: os.cpus().length, os: `${os.type()} ${os.release()}`, commit, pkg_wasm_bytes: pkgWasm, onnxruntime_web: ortVersion };
}

const log = (m) => process.stderr.write(`${m}\n`);

// Node: one worker thread per case (fresh module map: our wasm instances and ORT's go away with it).
async function runNode(cases) {
  const results = [];
  for (const c of cases) {
    log(`[node] ${c.name} ${c.shape.join('x')}`);
    results.push(await new Promise((resolve) => {
      const w = new Worker(path.join(HERE, 'node-worker.mjs'), {
        workerData: { case_: c, opts, pkgDir: path.resolve(a.pkg) },
        resourceLimits: { maxOldGenerationSizeMb: 8192 },
      });
      let done = false;
      w.on('message', (m) => {
        if (m.log) log(m.log);
        if (m.result) { done = true; resolve(m.result); w.terminate(); }
        if (m.error) { done = true; resolve(failedCase(c, m.error)); w.terminate(); }
      });
      w.on('error', (e) => { if (!done) { done = true; resolve(failedCase(c, e?.stack ?? String(e))); } });
      w.on('exit', (code) => { if (!done) { done = true; resolve(failedCase(c, `worker exited with ${code}`)); } });
    }));
  }
  return { runtime: { node: process.version }, cases: results };
}

function failedCase(c, msg) {
  log(`  ${c.name}: ${msg}`);
  return { name: c.name, shape: c.shape, engines: c.engines.map((e) => ({ id: e.id, file: e.file.path, file_bytes: e.file.bytes, status: `host error: ${String(msg).split('\n')[0]}` })) };
}

// Chromium: one page (fresh context) per case, every request answered by our own server.
async function runChromium(cases) {
  if (!existsSync(a.chromium)) {
    log(`[chromium] ${a.chromium} not found (apt-get install -y chromium); skipped`);
    return { runtime: { browser: null, error: `${a.chromium} not found` }, cases: cases.map((c) => failedCase(c, 'chromium not installed')) };
  }
  const { chromium } = await import('playwright-core');
  const { startServer } = await import('./server.mjs');
  const files = [];
  const pageCases = cases.map((c) => ({
    ...c,
    engines: c.engines.map((e) => {
      if (e.file.bytes == null) return e;
      let i = files.indexOf(e.file.path);
      if (i < 0) i = files.push(e.file.path) - 1;
      return { ...e, file: { ...e.file, ref: `/f/${i}` } };
    }),
  }));
  const { server, origin } = await startServer({
    '/bench/': HERE,
    '/pkg/': path.resolve(a.pkg),
    '/ort/': path.join(ROOT, 'node_modules/onnxruntime-web/dist'),
  }, files);
  const browser = await chromium.launch({
    executablePath: a.chromium,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-extensions', '--disable-default-apps',
      '--mute-audio', '--no-default-browser-check', '--disable-renderer-backgrounding',
      '--disable-background-timer-throttling', '--disable-backgrounding-occluded-windows'],
  });
  const blocked = [];
  const runtime = { browser: `chromium ${browser.version()}`, user_agent: null, blocked_requests: blocked };
  const results = [];
  try {
    for (const c of pageCases) {
      log(`[chromium] ${c.name} ${c.shape.join('x')}`);
      const context = await browser.newContext();
      await context.route('**/*', (route) => {
        const u = route.request().url();
        if (u.startsWith(`${origin}/`)) return route.continue();
        blocked.push(u);
        return route.abort('blockedbyclient');
      });
      const page = await context.newPage();
      page.on('console', (m) => log(`  [page ${m.type()}] ${m.text()}`));
      page.on('pageerror', (e) => log(`  [page error] ${e.message}`));
      if (process.env.BENCH_DEBUG) page.on('request', (r) => log(`  [request] ${r.url()}`));
      try {
        await page.goto(`${origin}/bench/page.html`);
        await page.waitForFunction(() => window.benchReady === true, null, { timeout: 60_000 });
        runtime.user_agent ??= await page.evaluate(() => navigator.userAgent);
        page.setDefaultTimeout(0);
        results.push(await page.evaluate(([cc, o]) => window.benchCase(cc, o), [c, opts]));
      } catch (e) {
        results.push(failedCase(c, e?.message ?? String(e)));
      } finally {
        await context.close();
      }
    }
  } finally {
    await browser.close();
    server.close();
  }
  // Report the real paths, not the server's /f/<n> names.
  for (const r of results) for (const e of r.engines) if (/^\/f\/\d+$/.test(e.file ?? '')) e.file = files[Number(e.file.slice(3))];
  return { runtime, cases: results };
}

// ---- report ---------------------------------------------------------------------------------
const f1 = (v) => (v == null ? '' : v >= 100 ? v.toFixed(0) : v.toFixed(1));
const mb = (b) => (b == null ? '' : (b / 1e6).toFixed(1));
const mib = (b) => (b == null ? '' : (b / 1048576).toFixed(b < 10 * 1048576 ? 1 : 0));
const ratio = (v) => (v == null ? '' : `${v.toFixed(2)}x`);

function table(host, res) {
  const lines = [];
  const rt = res.runtime;
  lines.push(`### ${host}: ${rt.node ? `Node ${rt.node}` : rt.browser ?? 'no browser'}, ${res.machine.cpu} (${res.machine.logical_cpus} logical CPUs), onnxruntime-web ${res.machine.onnxruntime_web} wasm 1 thread; ${res.options.runs} timed runs after ${res.options.warmup} warm-up, round-robin`);
  lines.push('');
  lines.push('| model | engine | file MB | load ms | 1st run ms | median ms | min ms | ort f32 / ours | tract / ours | ort int8 / ours | wasm MiB load / peak | cos / max abs diff vs ref | status |');
  lines.push('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|');
  for (const c of res.cases) {
    for (const e of c.engines) {
      const r = e.ratios ?? {};
      const mem = e.mem_after_load != null ? `${mib(e.mem_after_load)} / ${mib(e.mem_peak)}` : '';
      const cos = e.parity?.cosine != null ? `${e.parity.cosine.toFixed(4)} / ${e.parity.max_abs_diff.toPrecision(2)} (${e.parity.vs})` : (e.parity?.note ?? '');
      lines.push(`| ${c.name} ${c.shape.join('x')} | ${e.id} | ${mb(e.file_bytes)} | ${f1(e.load_ms)} | ${f1(e.first_run_ms)} | ${f1(e.median_ms)} | ${f1(e.min_ms)} | ${ratio(r['ort-f32/ours'])} | ${ratio(r['tract-f32/ours'])} | ${ratio(r['ort-int8/ours'])} | ${mem} | ${cos} | ${e.status.replace(/\|/g, '/').slice(0, 160)} |`);
    }
  }
  lines.push('', 'ratios: peer median / this row\'s median (> 1: ours faster). Memory: our wasm instance (one per row), after load / after the runs (= peak). Parity on the same random-normal input.');
  if (rt.blocked_requests?.length) lines.push('', `blocked (off-machine) requests: ${rt.blocked_requests.join(', ')}`);
  return lines.join('\n');
}

const cases = buildCases();
const mach = machine();
let failedHosts = 0;
for (const host of hosts) {
  const t0 = Date.now();
  let res;
  try {
    res = host === 'node' ? await runNode(cases) : await runChromium(cases);
  } catch (e) {
    log(`[${host}] failed: ${e?.stack ?? e}`);
    failedHosts++;
    continue;
  }
  const out = { host, date: new Date().toISOString(), wall_s: (Date.now() - t0) / 1000, machine: mach, options: { ...opts, models: a.models, engines: a.engines, pkg: path.resolve(a.pkg) }, ...res };
  const outFile = a.out && hosts.length === 1 ? a.out : path.join(a['out-dir'], `results-${host}.json`);
  writeFileSync(outFile, `${JSON.stringify(out, null, 1)}\n`);
  console.log(`${table(host, out)}\n\n(${outFile}, ${out.wall_s.toFixed(0)} s)\n`);
}
process.exit(failedHosts ? 1 : 0);
