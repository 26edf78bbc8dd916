// Formats compare.mjs results as a plain-text or Markdown table per set: one row per system and
// kind (plus an "all" row carrying model size and start-up time); systems that could not run are
// listed under the table with the reason, as are failed images.

const pct = (x) => (x === null || x === undefined ? '-' : `${(100 * x).toFixed(2)} %`);
const mb = (bytes) => `${(bytes / 1e6).toFixed(2)} MB`;
const ms = (t) => (t ? `${t.medianMs.toFixed(1)} (${t.meanMs.toFixed(1)})` : '');
const HEAD = ['system', 'kind', 'images', 'model bytes', 'char acc', 'word acc',
  'ms/line median (mean)', 'ms/page median (mean)', 'start-up ms'];

function rows(set) {
  const out = [];
  for (const s of set.systems.filter((x) => x.status === 'ok')) {
    const { all, byKind } = s.score;
    out.push([s.name, 'all', String(all.n), mb(s.modelBytes), pct(all.charAcc), pct(all.wordAcc), '', '', s.startupMs.toFixed(0)]);
    for (const [kind, k] of Object.entries(byKind)) {
      const t = s.timing[kind];
      const perLine = kind === 'page' ? '' : ms(t);
      const perPage = kind === 'page' ? ms(t) : '';
      out.push(['', kind, String(k.n), '', pct(k.charAcc), pct(k.wordAcc), perLine, perPage, '']);
    }
  }
  return out;
}

const notes = (set) => set.systems.map((s) => (s.status !== 'ok' ? `not run: ${s.name}: ${s.reason}`
  : s.errors ? `${s.name}: ${s.errors} image(s) failed, scored as empty text (see the JSON)` : null)).filter(Boolean);
export const FOOTNOTE = 'model bytes: det+rec+cls files as loaded (Tesseract.js: eng.traineddata.gz, LSTM best_int); '
  + 'ms: wall clock per call after one untimed warm-up; start-up: model load (ours), worker start with language data (Tesseract.js)';

function title(set) {
  const counts = Object.entries(set.kinds).map(([k, n]) => `${n} ${k}`).join(', ');
  return `${set.set} (${set.images.length} images: ${counts})`;
}

/** Plain text, columns padded. */
export function formatText(set) {
  const table = [HEAD, ...rows(set)];
  const widths = HEAD.map((_, c) => Math.max(...table.map((r) => r[c].length)));
  const line = (r) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd();
  return [title(set), ...table.map(line), ...notes(set)].join('\n');
}

/** GitHub Markdown, for models/REPORT.md. */
export function formatMarkdown(set) {
  const line = (r) => `| ${r.join(' | ')} |`;
  const align = HEAD.map((_, c) => (c < 2 ? '---' : '---:'));
  const list = notes(set).map((n) => `- ${n}`);
  return [`**${title(set)}**`, '', line(HEAD), line(align), ...rows(set).map(line), ...(list.length ? ['', ...list] : [])].join('\n');
}
