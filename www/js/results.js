// The results panel: document type, codes (links shown as text with an explicit, safe open
// button), the text (copy, .txt) and the form fields (table, JSON, CSV).

const OPENABLE = new Set(['http:', 'https:', 'mailto:', 'tel:']);

/** What a code's text is as a link: {kind: 'open' | 'refused' | 'text', url?, scheme?}. */
export function linkOf(text) {
  const t = text.trim();
  if (!/^[a-z][a-z0-9+.-]*:/i.test(t)) return { kind: 'text' };
  let u;
  try { u = new URL(t); } catch { return { kind: 'text' }; }
  if (OPENABLE.has(u.protocol)) return { kind: 'open', url: u.href, scheme: u.protocol };
  if (['javascript:', 'data:', 'vbscript:', 'blob:', 'file:'].includes(u.protocol)) return { kind: 'refused', scheme: u.protocol };
  return { kind: 'text', scheme: u.protocol };
}

/** One CSV cell: quoted when needed, and never read as a formula by a spreadsheet. */
export function csvCell(value) {
  let v = String(value ?? '');
  if (/^[=+\-@\t\r]/.test(v)) v = `'${v}`;
  return /[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

export function fieldsCsv(fields) {
  const rows = [['label', 'value', 'kind', 'confidence']];
  for (const f of fields) rows.push([f.label, f.value, f.kind, f.confidence.toFixed(3)]);
  return `${rows.map((r) => r.map(csvCell).join(',')).join('\r\n')}\r\n`;
}

function download(name, type, content) {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

async function copy(text, button, say) {
  try {
    await navigator.clipboard.writeText(text);
    const label = button.textContent;
    button.textContent = 'Copied';
    setTimeout(() => { button.textContent = label; }, 1500);
  } catch {
    say('Copying was refused by the browser; select the text and copy it by hand.');
  }
}

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props);
  e.append(...children);
  return e;
}

export class Results {
  constructor(say) {
    this.say = say;
    this.scan = null;
    const $ = (id) => document.getElementById(id);
    this.$ = $;
    $('copy-text').addEventListener('click', (ev) => copy(this.scan?.text ?? '', ev.currentTarget, say));
    $('download-text').addEventListener('click', () => download('slimscan.txt', 'text/plain;charset=utf-8', this.scan?.text ?? ''));
    $('download-json').addEventListener('click', () =>
      download('slimscan-fields.json', 'application/json', `${JSON.stringify(this.scan?.fields ?? [], null, 2)}\n`));
    $('download-csv').addEventListener('click', () => download('slimscan-fields.csv', 'text/csv;charset=utf-8', fieldsCsv(this.scan?.fields ?? [])));
  }

  /** Shows a scan; `reading` while its text is still being read. */
  show(scan, { reading = false } = {}) {
    const $ = this.$;
    this.scan = scan;
    $('no-result').hidden = true;
    $('summary').hidden = false;
    $('doc-type').textContent = scan.type;
    $('doc-type-note').textContent = scan.type_source === 'classifier'
      ? `(${Math.round(scan.type_confidence * 100)} % sure)`
      : `(${scan.type_source})`;
    const t = scan.timings_ms;
    $('scan-timing').textContent = reading ? `Page, type and codes in ${Math.round(t.total)} ms; reading the text…` : `Scanned in ${Math.round(t.total)} ms (page ${Math.round(t.page)}, codes ${Math.round(t.codes)}, ` +
      `text detection ${Math.round(t.ocr_det)}, recognition ${Math.round(t.ocr_rec)}, forms ${Math.round(t.forms)} ms).`;

    const list = $('codes');
    list.replaceChildren(...scan.codes.map((c) => this.codeItem(c)));
    $('codes-block').hidden = scan.codes.length === 0;

    $('text').value = scan.text;
    $('text').placeholder = reading ? 'Reading the text…' : '';
    $('text-block').hidden = !reading && scan.text.length === 0;
    $('copy-text').disabled = reading;
    $('download-text').disabled = reading;

    const body = $('fields').tBodies[0];
    body.replaceChildren(...scan.fields.map((f) => el('tr', {},
      el('td', { textContent: f.label }), el('td', { textContent: f.value }), el('td', { textContent: f.kind }),
      el('td', { className: 'num', textContent: `${Math.round(f.confidence * 100)} %` }))));
    $('fields-block').hidden = scan.fields.length === 0;
  }

  codeItem(c) {
    const li = el('li', {}, el('div', { className: 'muted', textContent: `${c.format.replaceAll('_', ' ')} (${c.source})` }),
      el('p', { className: 'code-text', textContent: c.text }));
    const row = el('div', { className: 'row' });
    const copyButton = el('button', { type: 'button', textContent: 'Copy' });
    copyButton.addEventListener('click', () => copy(c.text, copyButton, this.say));
    row.append(copyButton);
    const link = linkOf(c.text);
    if (link.kind === 'open') {
      const open = el('button', { type: 'button', textContent: `Open ${link.scheme === 'mailto:' ? 'e-mail' : link.scheme === 'tel:' ? 'phone number' : 'link'}` });
      open.addEventListener('click', () => window.open(link.url, '_blank', 'noopener,noreferrer'));
      row.append(open);
    } else if (link.kind === 'refused') {
      row.append(el('span', { className: 'refused', textContent: `${link.scheme} links are never opened from a code.` }));
    }
    li.append(row);
    return li;
  }
}
