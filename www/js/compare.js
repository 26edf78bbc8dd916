// The comparison panel: per model, original against compressed — download bytes, heap memory
// held, rolling median latency, accuracy on the bundled set (measured on demand) and agreement
// on the last captured frame — and a chart of size against accuracy.

const ROLE_NAMES = {
  classifier: 'Document type',
  detector: 'OCR detector',
  recogniser: 'OCR recogniser',
  direction: 'Text direction',
};
const ACCURACY_NAMES = {
  classifier: 'top-1',
  detector: 'page chars',
  recogniser: 'line chars',
};

/** Bytes in decimal units (kB = 1,000 B, MB = 1,000,000 B), as the reports use. */
export function formatBytes(n) {
  if (n == null) return '—';
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e8 ? 0 : 2)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)} kB`;
  return `${n} B`;
}

const pct = (v) => (v == null ? '—' : `${(v * 100).toFixed(1)} %`);
const ms = (v) => (v == null ? '—' : `${v.toFixed(v < 10 ? 1 : 0)} ms`);

function agreementText(role, a) {
  if (!a) return '—';
  if (role === 'classifier') return a.classifier ? (a.classifier.same ? `same (${a.classifier.compressed})` : `${a.classifier.compressed} vs ${a.classifier.original}`) : '—';
  if (role === 'detector') return `${pct(a.detector.matched)} of boxes (${a.detector.compressed} vs ${a.detector.original})`;
  if (role === 'recogniser') return `${pct(a.recogniser.text)} of text`;
  return '—';
}

export class ComparePanel {
  constructor(table, chart) {
    this.table = table;
    this.chart = chart;
    this.accuracy = null;
  }

  render(stats) {
    const rows = [];
    for (const role of Object.keys(ROLE_NAMES)) {
      ['compressed', 'original'].forEach((v, i) => {
        const set = stats.sets[v];
        const tr = document.createElement('tr');
        tr.dataset.role = role;
        tr.dataset.variant = v;
        const cells = [
          i === 0 ? ROLE_NAMES[role] : '',
          v,
          set ? formatBytes(set.bytes[role]) : 'not loaded',
          set ? formatBytes(set.memory[role]) : '—',
          ms(stats.latency[v]?.[role]?.median),
          this.accuracy?.[v]?.[role] ? `${pct(this.accuracy[v][role].accuracy)} ${ACCURACY_NAMES[role]}` : '—',
          i === 0 ? agreementText(role, stats.agreement) : '',
        ];
        cells.forEach((c, k) => {
          const td = document.createElement(k === 0 ? 'th' : 'td');
          if (k === 0) td.scope = 'row';
          if (k >= 2 && k <= 4) td.className = 'num';
          td.textContent = c;
          tr.append(td);
        });
        rows.push(tr);
      });
    }
    this.table.tBodies[0].replaceChildren(...rows);
    this.drawChart(stats);
  }

  drawChart(stats) {
    const svg = this.chart;
    const NS = 'http://www.w3.org/2000/svg';
    const node = (tag, attrs, text) => {
      const e = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      if (text != null) e.textContent = text;
      return e;
    };
    const L = 60, R = 440, T = 12, B = 220;
    const children = [
      node('line', { x1: L, y1: B, x2: R, y2: B, stroke: 'currentColor' }),
      node('line', { x1: L, y1: T, x2: L, y2: B, stroke: 'currentColor' }),
      node('text', { x: (L + R) / 2, y: 252, 'text-anchor': 'middle' }, 'download size'),
      node('text', { x: 14, y: (T + B) / 2, transform: `rotate(-90 14 ${(T + B) / 2})`, 'text-anchor': 'middle' }, 'accuracy'),
    ];
    const points = [];
    for (const role of Object.keys(ACCURACY_NAMES)) {
      const pair = ['compressed', 'original'].map((v) => ({
        v, bytes: stats.sets[v]?.bytes?.[role], acc: this.accuracy?.[v]?.[role]?.accuracy,
      })).filter((p) => p.bytes && p.acc != null);
      if (pair.length) points.push({ role, pair });
    }
    if (!points.length) {
      children.push(node('text', { x: (L + R) / 2, y: (T + B) / 2, 'text-anchor': 'middle' }, 'Measure accuracy to fill the chart'));
      svg.replaceChildren(...children);
      return;
    }
    const all = points.flatMap((p) => p.pair);
    const lo = Math.floor(Math.log10(Math.min(...all.map((p) => p.bytes))));
    const hi = Math.ceil(Math.log10(Math.max(...all.map((p) => p.bytes))));
    const yLo = Math.max(0, Math.floor(Math.min(...all.map((p) => p.acc)) * 10) / 10);
    const x = (b) => L + ((Math.log10(b) - lo) / Math.max(hi - lo, 1)) * (R - L);
    const y = (a) => B - ((a - yLo) / Math.max(1 - yLo, 0.01)) * (B - T);
    for (let e = lo; e <= hi; e++) {
      const b = 10 ** e;
      children.push(node('text', { x: x(b), y: B + 14, 'text-anchor': 'middle' }, b >= 1e6 ? `${b / 1e6} MB` : `${b / 1e3} kB`));
    }
    for (const a of [yLo, (yLo + 1) / 2, 1]) {
      children.push(node('text', { x: L - 4, y: y(a) + 4, 'text-anchor': 'end' }, `${Math.round(a * 100)}%`));
    }
    const colours = { classifier: '#e63946', detector: '#457b9d', recogniser: '#2a9d8f' };
    for (const { role, pair } of points) {
      if (pair.length === 2) {
        children.push(node('line', { x1: x(pair[0].bytes), y1: y(pair[0].acc), x2: x(pair[1].bytes), y2: y(pair[1].acc), stroke: colours[role], 'stroke-dasharray': '4 3' }));
      }
      for (const p of pair) {
        children.push(node('circle', { cx: x(p.bytes), cy: y(p.acc), r: 6, fill: p.v === 'compressed' ? colours[role] : 'none', stroke: colours[role], 'stroke-width': 2 },
        ));
      }
      const c = pair[0];
      const below = role === 'detector';
      children.push(node('text', { x: x(c.bytes) + 9, y: y(c.acc) + (below ? 18 : -8) }, ROLE_NAMES[role]));
    }
    svg.replaceChildren(...children);
  }
}
