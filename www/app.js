// Placeholder app: loads the wasm package and inspects a user-chosen .slim file locally.
import init, { version, inspectSlim } from '/pkg/slimscan.js';

const status = document.getElementById('status');
const report = document.getElementById('report');

try {
  await init();
  status.textContent = `Engine ${version()} loaded (WebAssembly).`;
} catch (e) {
  status.textContent = `The engine failed to load: ${e.message}. Run \`make wasm\` and reload.`;
}

document.getElementById('file').addEventListener('change', async (ev) => {
  const file = ev.target.files?.[0];
  if (!file) return;
  try {
    const info = JSON.parse(inspectSlim(new Uint8Array(await file.arrayBuffer())));
    const rows = info.sizes.tensors.map(
      (t) => `${t.name.padEnd(32)} ${t.encoding.padEnd(12)} ${String(t.total_bytes).padStart(10)} B  ` +
        `${(t.total_bytes * 8 / Math.max(t.elements, 1)).toFixed(3)} bits/weight`);
    report.textContent = `${file.name}: ${info.sizes.file_bytes} bytes\n\n${rows.join('\n')}`;
  } catch (e) {
    report.textContent = `Not a valid .slim file: ${e.message}`;
  }
});
