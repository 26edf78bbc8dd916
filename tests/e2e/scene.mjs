// The fake camera's picture: a camera-like scene (a slightly turned page on a textured desk,
// with printed text lines and a QR code) drawn in Chromium, written as a .y4m for
// --use-file-for-fake-video-capture and as a PNG for the file-picker tests. The QR code comes
// from zxing-wasm's writer (an npm dev package); nothing is fetched from the network.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { prepareZXingModule, writeBarcode } from 'zxing-wasm/writer';

export const SCENE = {
  width: 1280,
  height: 720,
  qr: 'https://example.org/slimscan?id=42',
  title: 'DELIVERY NOTE 4471',
  lines: ['Ship to: Harbour Supplies', 'Parcel weight 4.2 kg', 'Signed on arrival', 'Keep this page dry'],
};

const require = createRequire(import.meta.url);

async function qrPng(text) {
  const wasm = readFileSync(require.resolve('zxing-wasm/writer/zxing_writer.wasm'));
  prepareZXingModule({ overrides: { wasmBinary: wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) }, fireImmediately: true });
  const r = await writeBarcode(text, { format: 'QRCode', scale: 6, ecLevel: 'M' });
  if (r.error) throw new Error(`QR writer: ${r.error}`);
  return Buffer.from(await r.image.arrayBuffer());
}

// BT.601 limited-range I420, what a camera's YUV frames are.
export function rgbaToI420(rgba, w, h) {
  const y = Buffer.alloc(w * h);
  const u = Buffer.alloc((w / 2) * (h / 2));
  const v = Buffer.alloc((w / 2) * (h / 2));
  for (let i = 0; i < w * h; i++) {
    const r = rgba[i * 4], g = rgba[i * 4 + 1], b = rgba[i * 4 + 2];
    y[i] = Math.round(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255);
  }
  for (let j = 0; j < h / 2; j++) {
    for (let i = 0; i < w / 2; i++) {
      let r = 0, g = 0, b = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        const k = ((2 * j + dy) * w + 2 * i + dx) * 4;
        r += rgba[k]; g += rgba[k + 1]; b += rgba[k + 2];
      }
      r /= 4; g /= 4; b /= 4;
      u[j * (w / 2) + i] = Math.round(128 + (-37.797 * r - 74.203 * g + 112 * b) / 255);
      v[j * (w / 2) + i] = Math.round(128 + (112 * r - 93.786 * g - 18.214 * b) / 255);
    }
  }
  return Buffer.concat([y, u, v]);
}

/** Draws the scene in `browser` and writes DIR/scene.y4m and DIR/scene.png; returns their paths. */
export async function makeScene(browser, dir) {
  mkdirSync(dir, { recursive: true });
  const qr = (await qrPng(SCENE.qr)).toString('base64');
  const page = await browser.newPage();
  await page.setContent('<!doctype html><canvas id="c"></canvas>');
  const { rgba, png } = await page.evaluate(async ({ scene, qr }) => {
    const c = document.getElementById('c');
    c.width = scene.width;
    c.height = scene.height;
    const g = c.getContext('2d');
    // A desk: warm gradient, wood-like streaks and seeded noise.
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const grad = g.createLinearGradient(0, 0, scene.width, scene.height);
    grad.addColorStop(0, '#7a5230');
    grad.addColorStop(1, '#5a3a20');
    g.fillStyle = grad;
    g.fillRect(0, 0, scene.width, scene.height);
    for (let i = 0; i < 160; i++) {
      g.strokeStyle = `rgba(${40 + rnd() * 40}, ${25 + rnd() * 20}, 10, ${0.15 + rnd() * 0.2})`;
      g.lineWidth = 1 + rnd() * 3;
      const y = rnd() * scene.height;
      g.beginPath();
      g.moveTo(0, y);
      g.bezierCurveTo(400, y + rnd() * 30 - 15, 900, y + rnd() * 30 - 15, scene.width, y + rnd() * 20 - 10);
      g.stroke();
    }
    // The page, turned a little, with soft light falling off to one side.
    g.save();
    g.translate(scene.width / 2 + 20, scene.height / 2);
    g.rotate((-3 * Math.PI) / 180);
    const W = 490, H = 620;
    g.shadowColor = 'rgba(0,0,0,0.45)';
    g.shadowBlur = 18;
    g.shadowOffsetX = 6;
    g.shadowOffsetY = 8;
    const paper = g.createLinearGradient(-W / 2, 0, W / 2, 0);
    paper.addColorStop(0, '#f7f5ee');
    paper.addColorStop(1, '#e4e1d8');
    g.fillStyle = paper;
    g.fillRect(-W / 2, -H / 2, W, H);
    g.shadowColor = 'transparent';
    g.fillStyle = '#1a1a1a';
    g.font = 'bold 30px "DejaVu Sans", "Liberation Sans", sans-serif';
    g.fillText(scene.title, -W / 2 + 40, -H / 2 + 70);
    g.font = '24px "DejaVu Sans", "Liberation Sans", sans-serif';
    scene.lines.forEach((t, i) => g.fillText(t, -W / 2 + 40, -H / 2 + 130 + i * 44));
    const img = new Image();
    img.src = `data:image/png;base64,${qr}`;
    await img.decode();
    const side = 180;
    g.imageSmoothingEnabled = false;
    g.drawImage(img, W / 2 - side - 40, H / 2 - side - 40, side, side);
    g.restore();
    const data = g.getImageData(0, 0, scene.width, scene.height).data;
    let bin = '';
    for (let i = 0; i < data.length; i += 0x8000) bin += String.fromCharCode(...data.subarray(i, i + 0x8000));
    return { rgba: btoa(bin), png: c.toDataURL('image/png').split(',')[1] };
  }, { scene: SCENE, qr });
  await page.close();
  const pixels = Buffer.from(rgba, 'base64');
  const frame = rgbaToI420(pixels, SCENE.width, SCENE.height);
  const header = `YUV4MPEG2 W${SCENE.width} H${SCENE.height} F30:1 Ip A1:1 C420jpeg\n`;
  const y4m = path.join(dir, 'scene.y4m');
  // Two identical frames: Chromium loops the file, so the camera shows a still scene.
  writeFileSync(y4m, Buffer.concat([Buffer.from(header), Buffer.from('FRAME\n'), frame, Buffer.from('FRAME\n'), frame]));
  const pngPath = path.join(dir, 'scene.png');
  writeFileSync(pngPath, Buffer.from(png, 'base64'));
  return { y4m, png: pngPath };
}
