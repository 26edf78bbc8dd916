// The app's pure helpers in Node: accuracy and agreement measures, the link rules for code
// contents, CSV cells that a spreadsheet cannot run, the homography of the overlay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { editDistance, charAccuracy, pooledAccuracy, textAgreement, boxAgreement, median } from '../../www/js/metrics.js';
import { linkOf, csvCell, fieldsCsv } from '../../www/js/results.js';
import { rectToQuad } from '../../www/js/overlay.js';

test('edit distance, character accuracy and agreement', () => {
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('née', 'nee'), 1, 'code points, not UTF-16 units');
  assert.equal(charAccuracy('Parcel weight', 'Parcel weight'), 1);
  assert.ok(Math.abs(charAccuracy('Parcelweight', 'Parcel weight') - 12 / 13) < 1e-12);
  assert.equal(charAccuracy('something long and wrong', 'ab'), 0, 'floored at 0');
  assert.equal(charAccuracy('', ''), 1);
  // Pooled: 1 edit in 13 characters plus 0 in 2 is 1 − 1/15, not the mean of 12/13 and 1.
  assert.ok(Math.abs(pooledAccuracy([['Parcelweight', 'Parcel weight'], ['ab', 'ab']]) - 14 / 15) < 1e-12);
  assert.equal(pooledAccuracy([['a long wrong reading', 'x']]), 0, 'floored at 0');
  assert.deepEqual([editDistance(['to', 'on'], ['to']), editDistance('née', 'nee')], [1, 1], 'arrays by element');
  assert.equal(textAgreement('abcd', 'abce'), 0.75);
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([]), null);
});

test('boxes pair one to one at IoU 0.5', () => {
  const a = [[0, 0, 10, 10], [20, 0, 30, 10]];
  assert.equal(boxAgreement(a, a), 1);
  assert.equal(boxAgreement(a, [[1, 1, 11, 11]]), 0.5, 'one of two matched');
  assert.equal(boxAgreement(a, [[0, 0, 10, 10], [0, 0, 10, 10]]), 0.5, 'a box pairs once');
  assert.equal(boxAgreement([], []), 1);
  assert.equal(boxAgreement(a, []), 0);
});

test('code contents: web, mail and phone links may be opened; script and data links never', () => {
  assert.deepEqual(linkOf('https://example.org/a?b=1'), { kind: 'open', url: 'https://example.org/a?b=1', scheme: 'https:' });
  assert.equal(linkOf(' mailto:a@example.org ').kind, 'open');
  assert.equal(linkOf('tel:+441234').kind, 'open');
  for (const bad of ['javascript:alert(1)', 'JavaScript:alert(1)', 'data:text/html,<script>x</script>', 'vbscript:x', 'file:///etc/passwd']) {
    assert.equal(linkOf(bad).kind, 'refused', bad);
  }
  assert.equal(linkOf('4006381333931').kind, 'text');
  assert.equal(linkOf('geo:-58.1,-95.1').kind, 'text', 'other schemes are shown as text only');
  assert.equal(linkOf('Ship to: Harbour').kind, 'text');
});

test('CSV cells are quoted and never start a formula', () => {
  assert.equal(csvCell('plain'), 'plain');
  assert.equal(csvCell('a,b'), '"a,b"');
  assert.equal(csvCell('say "hi"'), '"say ""hi"""');
  assert.equal(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
  assert.equal(csvCell('-2+3'), "'-2+3");
  assert.equal(csvCell('@SUM(A1)'), "'@SUM(A1)");
  assert.equal(fieldsCsv([{ label: 'Name', value: 'Ann, B', kind: 'text', confidence: 0.5 }]),
    'label,value,kind,confidence\r\nName,"Ann, B",text,0.500\r\n');
});

test('the overlay homography takes the page rectangle onto its quad', () => {
  const quad = [[100, 50], [400, 60], [420, 500], [90, 480]];
  const map = rectToQuad(300, 400, quad);
  const close = (p, q) => Math.hypot(p[0] - q[0], p[1] - q[1]) < 1e-9;
  assert.ok(close(map([0, 0]), quad[0]));
  assert.ok(close(map([300, 0]), quad[1]));
  assert.ok(close(map([300, 400]), quad[2]));
  assert.ok(close(map([0, 400]), quad[3]));
  const square = rectToQuad(10, 10, [[0, 0], [20, 0], [20, 20], [0, 20]]);
  assert.ok(close(square([5, 5]), [10, 10]));
});
