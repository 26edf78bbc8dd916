// Reads an OCR evaluation set's manifest.tsv: header `relative_path<TAB>kind<TAB>ground_truth`,
// one image a row, fields escaped as \\ \t \n \r. Strict: any deviation is an error naming the line.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export const HEADER = 'relative_path\tkind\tground_truth';
export const KINDS = ['line', 'word', 'page'];
const ESCAPES = { '\\': '\\', t: '\t', n: '\n', r: '\r' };

/** Undoes the manifest escaping; throws on an unknown or dangling backslash escape. */
export function unescapeField(field) {
  return field.replace(/\\(.?)/gsu, (_, c) => {
    if (!(c in ESCAPES)) throw new Error(c === '' ? 'dangling backslash at end of field' : `bad escape \\${c}`);
    return ESCAPES[c];
  });
}

/** Parses manifest text into [{relativePath, kind, groundTruth, line}]; `name` labels errors. */
export function parseManifest(text, name = 'manifest.tsv') {
  const rows = text.split('\n');
  if (rows.at(-1) === '') rows.pop(); // final newline
  const fail = (i, msg) => { throw new Error(`${name} line ${i + 1}: ${msg}`); };
  if (rows[0] !== HEADER) fail(0, `header must be ${JSON.stringify(HEADER)}, got ${JSON.stringify(rows[0] ?? '')}`);
  return rows.slice(1).map((row, k) => {
    const i = k + 1;
    if (row.includes('\r')) fail(i, 'raw carriage return (must be escaped as \\r)');
    const fields = row.split('\t');
    if (fields.length !== 3) fail(i, `expected 3 tab-separated fields, got ${fields.length}`);
    let relativePath, groundTruth;
    try {
      relativePath = unescapeField(fields[0]);
      groundTruth = unescapeField(fields[2]);
    } catch (e) {
      fail(i, e.message);
    }
    const kind = fields[1];
    if (!KINDS.includes(kind)) fail(i, `kind must be one of ${KINDS.join('/')}, got ${JSON.stringify(kind)}`);
    if (relativePath === '' || path.isAbsolute(relativePath) || relativePath.split(/[\\/]/).includes('..')) {
      fail(i, `relative_path must be a path inside the set, got ${JSON.stringify(relativePath)}`);
    }
    return { relativePath, kind, groundTruth, line: i + 1 };
  });
}

/** Reads DIR/manifest.tsv; each entry also gets `file`, the image's absolute path. */
export async function readManifest(dir) {
  const file = path.resolve(dir, 'manifest.tsv');
  const entries = parseManifest(await readFile(file, 'utf8'), file);
  return entries.map((e) => ({ ...e, file: path.resolve(dir, e.relativePath) }));
}
