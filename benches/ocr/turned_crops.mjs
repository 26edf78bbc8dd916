// How the fast recogniser and the direction classifier see line crops turned by 180°: the
// fast recogniser's confidence on each crop (no classifier), and whether the classifier turns
// it, for a folder of upright crops and a folder of the same crops turned. The numbers behind
// `CLS_SAMPLE` (src/scan/ocr/pipeline.rs). Crops: the scene crops of `make train-rec-fast`
// (models/train/work/rec/scene_crops), every 12th, turned with PIL:
//   python3 -c "import os,sys; from PIL import Image; s,u,t=sys.argv[1:]; [ (Image.open(f'{s}/{f}').convert('RGB').save(f'{u}/{f}'), Image.open(f'{s}/{f}').convert('RGB').rotate(180).save(f'{t}/{f}')) for f in sorted(os.listdir(s))[::12] ]" models/train/work/rec/scene_crops UP TURNED
//   node benches/ocr/turned_crops.mjs UP TURNED [MODELS_DIR]
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { loadSlimscan } from '../../tests/wasm/load.mjs';

const [upDir, turnedDir, modelsDir = 'models'] = process.argv.slice(2);
if (!upDir || !turnedDir) throw new Error('usage: turned_crops.mjs UPRIGHT_DIR TURNED_DIR [MODELS_DIR]');
const slim = await loadSlimscan();
const model = (p) => new Uint8Array(readFileSync(path.join(modelsDir, p)));
const load = () => slim.Ocr.load(model('ppocr_det.slim'), model('ocr_fast/rec_fast.slim'), model('ppocr_cls.slim'), null);
const fastAlone = load();
fastAlone.setOptions(JSON.stringify({ use_cls: false }));
const withCls = load();
withCls.setOptions(JSON.stringify({ cls_sample: 0 }));
const quantile = (v, q) => [...v].sort((a, b) => a - b)[Math.floor(q * (v.length - 1))];
for (const [name, dir] of [['upright', upDir], ['turned', turnedDir]]) {
  const conf = [];
  let turnedByCls = 0;
  for (const f of readdirSync(dir).sort()) {
    const bytes = new Uint8Array(readFileSync(path.join(dir, f)));
    conf.push(JSON.parse(fastAlone.readLine(bytes)).confidence);
    if (JSON.parse(withCls.readLine(bytes)).rotated) turnedByCls++;
  }
  console.log(`${name}: ${conf.length} crops; fast recogniser confidence ≥ 0.8: ${conf.filter((c) => c >= 0.8).length}, `
    + `median ${quantile(conf, 0.5).toFixed(3)}, 5th percentile ${quantile(conf, 0.05).toFixed(3)}; read turned with the classifier: ${turnedByCls}`);
}
