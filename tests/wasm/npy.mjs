// Minimal reader for the little-endian f32 .npy files our tools write (`slimscan run`,
// examples/engine_parity --dump, tests/fixtures).

/** @param {Uint8Array} buf  @returns {{shape: number[], data: Float32Array}} */
export function readNpy(buf) {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const major = buf[6];
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(buf.subarray(start, start + headerLen));
  if (!header.includes("'descr': '<f4'")) throw new Error(`not a little-endian f32 .npy: ${header}`);
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  return { shape, data: new Float32Array(buf.slice(start + headerLen).buffer) };
}
