// Drawing: the live overlay over the video (page outline, code outlines, and the text boxes of
// the last capture carried onto the page where it is now), and the rectified page after a
// capture with its text boxes. Coordinates arrive in the pixels of the frame the worker saw.

/** The homography taking the rectangle [0, w] × [0, h] onto the quad (tl, tr, br, bl). */
export function rectToQuad(w, h, quad) {
  const [[x0, y0], [x1, y1], [x2, y2], [x3, y3]] = quad;
  // Unit square → quad (Heckbert), then scale the input.
  const dx1 = x1 - x2, dx2 = x3 - x2, dx3 = x0 - x1 + x2 - x3;
  const dy1 = y1 - y2, dy2 = y3 - y2, dy3 = y0 - y1 + y2 - y3;
  const den = dx1 * dy2 - dx2 * dy1;
  const g = den ? (dx3 * dy2 - dx2 * dy3) / den : 0;
  const hh = den ? (dx1 * dy3 - dx3 * dy1) / den : 0;
  const a = x1 - x0 + g * x1, b = x3 - x0 + hh * x3, c = x0;
  const d = y1 - y0 + g * y1, e = y3 - y0 + hh * y3, f = y0;
  return ([u, v]) => {
    const s = u / w, t = v / h;
    const z = g * s + hh * t + 1;
    return [(a * s + b * t + c) / z, (d * s + e * t + f) / z];
  };
}

/** Where the video's picture lies inside its element (object-fit: contain), in CSS pixels. */
function contentBox(video, cw, ch) {
  const vw = video.videoWidth || cw;
  const vh = video.videoHeight || ch;
  const scale = Math.min(cw / vw, ch / vh);
  return { x: (cw - vw * scale) / 2, y: (ch - vh * scale) / 2, scale };
}

function polygon(g, points, stroke, width, fill) {
  if (!points?.length) return;
  g.beginPath();
  points.forEach(([x, y], i) => (i ? g.lineTo(x, y) : g.moveTo(x, y)));
  g.closePath();
  if (fill) { g.fillStyle = fill; g.fill(); }
  g.lineWidth = width;
  g.strokeStyle = stroke;
  g.stroke();
}

export class Overlay {
  constructor(canvas, video) {
    this.canvas = canvas;
    this.video = video;
  }

  clear() {
    const g = this.canvas.getContext('2d');
    g.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }

  /**
   * One preview result: `r` from the worker (frame size r.width × r.height), `lastScan` the
   * last capture ({scan, page}) whose text boxes follow the page while it is in view.
   */
  draw(r, lastScan) {
    const dpr = window.devicePixelRatio || 1;
    const cw = this.canvas.clientWidth;
    const ch = this.canvas.clientHeight;
    if (this.canvas.width !== Math.round(cw * dpr) || this.canvas.height !== Math.round(ch * dpr)) {
      this.canvas.width = Math.round(cw * dpr);
      this.canvas.height = Math.round(ch * dpr);
    }
    const g = this.canvas.getContext('2d');
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.clearRect(0, 0, this.canvas.width, this.canvas.height);
    const box = contentBox(this.video, cw, ch);
    const k = (box.scale * (this.video.videoWidth || r.width)) / r.width;
    g.setTransform(dpr * k, 0, 0, dpr * k, dpr * box.x, dpr * box.y);
    const px = 1 / k;
    if (r.page) {
      polygon(g, r.page.corners, r.steady ? '#2a9d8f' : '#f4a261', 4 * px, r.steady ? '#2a9d8f22' : null);
      const lines = lastScan?.scan?.lines;
      const size = lastScan?.page;
      if (lines?.length && size) {
        const map = rectToQuad(size.width, size.height, r.page.corners);
        for (const l of lines) polygon(g, l.corners.map(map), '#457b9d', 1.5 * px);
      }
    }
    for (const c of r.codes ?? []) {
      polygon(g, c.corners, '#e63946', 3 * px, '#e6394622');
      const [x, y] = c.corners[0];
      g.font = `${14 * px}px system-ui, sans-serif`;
      g.fillStyle = '#e63946';
      g.fillText(c.text.length > 40 ? `${c.text.slice(0, 39)}…` : c.text, x, y - 6 * px);
    }
  }
}

/** The rectified page (RGBA from the worker) with its text and field boxes. */
export function drawPage(canvas, page, scan) {
  canvas.width = page.width;
  canvas.height = page.height;
  const g = canvas.getContext('2d');
  g.putImageData(new ImageData(new Uint8ClampedArray(page.rgba), page.width, page.height), 0, 0);
  const px = Math.max(1, page.width / 800);
  for (const l of scan.lines ?? []) polygon(g, l.corners, '#457b9d', 1.5 * px);
  for (const f of scan.fields ?? []) polygon(g, f.box, '#2a9d8f', 2 * px);
  for (const c of scan.codes ?? []) if (c.source === 'page') polygon(g, c.corners, '#e63946', 3 * px);
}
