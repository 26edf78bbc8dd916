// The service worker: precaches the app shell, the wasm engine and the compressed models from
// the generated list (precache.js, written by `make app`), serves them cache-first so the app
// works offline, and deletes the caches of older versions when a new one activates. Everything
// else of this origin goes to the network first and falls back to the caches (the bundled
// evaluation set and the full engine of the comparison, pkg/full/, are stored as they are
// fetched; the worker stores the original models itself);
// requests to other origins are not touched (the app makes none).
importScripts('/precache.js');

const BUILD = self.SLIMSCAN_BUILD;
const SHELL = `slimscan-shell-${BUILD.version}`;
const MODELS = `slimscan-models-${BUILD.version}`;
const PRECACHED = new Set(BUILD.precache.map((u) => new URL(u, self.location.origin).href));

self.addEventListener('install', (ev) => {
  ev.waitUntil((async () => {
    const cache = await caches.open(SHELL);
    // `cache: 'reload'` so a stale HTTP cache cannot put an old file into a new version.
    await cache.addAll(BUILD.precache.map((u) => new Request(u, { cache: 'reload' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (ev) => {
  ev.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('slimscan-') && name !== SHELL && name !== MODELS) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (ev) => {
  const req = ev.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin) return;
  const key = url.pathname === '/' ? new URL('/index.html', url).href : url.origin + url.pathname;
  if (PRECACHED.has(key)) {
    ev.respondWith((async () => (await caches.match(key, { cacheName: SHELL })) ?? fetch(req))());
    return;
  }
  ev.respondWith((async () => {
    try {
      const res = await fetch(req);
      // The bundled evaluation set and the full engine (tract, for the original models) are
      // kept once fetched, so the comparison works offline too.
      const keep = url.pathname.startsWith('/eval/') || url.pathname.startsWith('/pkg/full/');
      if (res.ok && keep) await (await caches.open(MODELS)).put(key, res.clone());
      return res;
    } catch (e) {
      const hit = await caches.match(req);
      if (hit) return hit;
      if (req.mode === 'navigate') {
        const shell = await caches.match(new URL('/index.html', url).href, { cacheName: SHELL });
        if (shell) return shell;
      }
      throw e;
    }
  })());
});
