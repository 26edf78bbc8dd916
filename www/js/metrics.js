// Small measures shared by the worker and the page: character accuracy, agreement of two box
// lists, medians. Plain functions, no DOM, so the Node tests import them directly.

/**
 * Levenshtein distance (two rows of memory) between two sequences: strings compare by Unicode
 * code point, arrays (of code points, of words) by element.
 */
export function editDistance(a, b) {
  const s = [...a];
  const t = [...b];
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j);
  let cur = new Array(t.length + 1);
  for (let i = 1; i <= s.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= t.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (s[i - 1] === t[j - 1] ? 0 : 1));
    }
    [prev, cur] = [cur, prev];
  }
  return prev[t.length];
}

/**
 * 1 − total edits / total reference characters over [read, truth] pairs, in code points,
 * floored at 0: long lines weigh more than short ones (0 for no reference characters).
 */
export function pooledAccuracy(pairs) {
  let chars = 0;
  let edits = 0;
  for (const [read, truth] of pairs) {
    chars += [...truth].length;
    edits += editDistance(read, truth);
  }
  return chars ? Math.max(0, 1 - edits / chars) : 0;
}

/** The same for one reading (1 when both are empty). */
export function charAccuracy(read, truth) {
  if (truth.length === 0) return read.length === 0 ? 1 : 0;
  return pooledAccuracy([[read, truth]]);
}

/** How alike two readings are: 1 − edits / the longer length (1 when both are empty). */
export function textAgreement(a, b) {
  const n = Math.max([...a].length, [...b].length);
  return n === 0 ? 1 : 1 - editDistance(a, b) / n;
}

function iou(a, b) {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const area = (r) => (r[2] - r[0]) * (r[3] - r[1]);
  return inter / (area(a) + area(b) - inter);
}

/**
 * Share of boxes ([x0, y0, x1, y1]) that pair up one-to-one at IoU ≥ 0.5, greedily by best
 * overlap, over the larger list (1 when both are empty).
 */
export function boxAgreement(a, b) {
  if (a.length === 0 && b.length === 0) return 1;
  const pairs = [];
  a.forEach((ra, i) => b.forEach((rb, j) => { const v = iou(ra, rb); if (v >= 0.5) pairs.push([v, i, j]); }));
  pairs.sort((x, y) => y[0] - x[0]);
  const usedA = new Set();
  const usedB = new Set();
  for (const [, i, j] of pairs) {
    if (usedA.has(i) || usedB.has(j)) continue;
    usedA.add(i);
    usedB.add(j);
  }
  return usedA.size / Math.max(a.length, b.length);
}

/** Median of a list of numbers (null when empty). */
export function median(values) {
  if (!values.length) return null;
  const s = [...values].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
