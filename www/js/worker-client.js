// The page's side of the inference worker: promise-returning requests, and progress events
// passed to listeners.

export class WorkerClient {
  constructor(url) {
    this.worker = new Worker(url, { type: 'module' });
    this.pending = new Map();
    this.nextId = 1;
    this.listeners = { progress: [], partial: [], 'eval-progress': [], failure: [] };
    this.worker.onmessage = (ev) => this.receive(ev.data);
    this.worker.onerror = (ev) => {
      const message = ev.message || 'the scanner worker could not start';
      for (const f of this.listeners.failure) f(message);
      for (const p of this.pending.values()) p.reject(new Error(message));
      this.pending.clear();
    };
  }

  on(type, f) {
    this.listeners[type].push(f);
  }

  receive(m) {
    if (m.type) {
      for (const f of this.listeners[m.type] ?? []) f(m);
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(new Error(m.error));
  }

  call(op, args = {}, transfer = []) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, ...args }, transfer);
    });
  }
}
