//! `slimscan scan IMAGE` (the whole scan pipeline on a photo: page, document type, codes,
//! text, form fields) and `slimscan eval ocr --set DIR` (character and word accuracy over a
//! labelled set), with the compressed models or, with `--original`, the original ONNX ones,
//! through the same pipeline.

use anyhow::{Context, Result};
use clap::Args as ClapArgs;
use slimscan::scan::doctype::Classifier;
use slimscan::scan::image::RgbImage;
use slimscan::scan::ocr::manifest;
use slimscan::scan::ocr::metrics::Score;
use slimscan::scan::ocr::{Ocr, ReadCounts};
use slimscan::scan::scanner::Scanner;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where the models are and which ones to use.
#[derive(ClapArgs)]
pub struct ModelArgs {
    /// Folder with the models (`make models`).
    #[arg(long, default_value = "models")]
    models: PathBuf,
    /// Use the original ONNX models (tract f32) instead of the compressed .slim ones.
    #[arg(long)]
    original: bool,
    /// Skip the 180° direction classifier.
    #[arg(long)]
    no_cls: bool,
    /// Let PP-OCR's recogniser read every line, without the fast recogniser
    /// (ocr_fast/rec_fast.slim, or ocr_fast/rec_fast_f32.onnx with --original) reading them
    /// first: ~5x slower full scans (models/REPORT.md, "Fast recogniser").
    #[arg(long)]
    no_fast_rec: bool,
    /// Lines the fast recogniser reads with a mean character probability below this are read
    /// again by PP-OCR's recogniser (0: never, 1: always).
    #[arg(long, default_value_t = slimscan::scan::ocr::pipeline::FALLBACK_BELOW)]
    fallback_below: f32,
    /// Longest side of the detector input, in pixels (smaller: faster, less memory, small
    /// text may be missed).
    #[arg(long, default_value_t = slimscan::scan::ocr::det::DetOptions::default().max_side)]
    det_max_side: usize,
    /// Scanner settings as JSON (`ScanOptions::apply_json`), e.g.
    /// '{"codes_try_harder": false, "page_max_side": 320}'.
    #[arg(long, value_name = "JSON")]
    scan_options: Option<String>,
    /// OCR settings as JSON (`OcrOptions::apply_json`, applied after the flags above), e.g.
    /// `{"agreement_sample": 4, "min_confidence": 0.6}`.
    #[arg(long, value_name = "JSON")]
    ocr_options: Option<String>,
    /// The document-type classifier (default: MODELS/classifier/mobilenet_v2_dc.slim, or
    /// mobilenet_v2_f32.onnx with --original).
    #[arg(long)]
    classifier: Option<PathBuf>,
}

const SLIM: [&str; 4] = ["ppocr_det.slim", "ppocr_rec.slim", "ppocr_cls.slim", "ocr_fast/rec_fast.slim"];
const ONNX: [&str; 4] = [
    "ch_PP-OCRv4_det_infer.onnx",
    "ch_PP-OCRv4_rec_infer.onnx",
    "ch_ppocr_mobile_v2.0_cls_infer.onnx",
    "ocr_fast/rec_fast_f32.onnx",
];

impl ModelArgs {
    /// Loads the pipeline; returns it with the models' total file size.
    fn load(&self) -> Result<(Ocr, u64)> {
        let names = if self.original { ONNX } else { SLIM };
        let read = |name: &str| -> Result<Vec<u8>> {
            let path = self.models.join(name);
            std::fs::read(&path)
                .with_context(|| format!("reading {} (run `make models` first)", path.display()))
        };
        let (det, rec) = (read(names[0])?, read(names[1])?);
        let cls = if self.no_cls { None } else { Some(read(names[2])?) };
        let fast = if self.no_fast_rec { None } else { Some(read(names[3])?) };
        let bytes =
            (det.len() + rec.len() + cls.as_ref().map_or(0, Vec::len) + fast.as_ref().map_or(0, Vec::len))
                as u64;
        let mut ocr = Ocr::load(&det, &rec, cls.as_deref())?;
        if let Some(f) = fast {
            ocr.set_fast_recogniser(Ocr::load_part("fast recogniser", &f)?)?;
        }
        ocr.options.use_cls = !self.no_cls;
        ocr.options.apply_json(&format!(
            "{{\"det_max_side\": {}, \"fallback_below\": {}}}",
            self.det_max_side, self.fallback_below
        ))?;
        if let Some(json) = &self.ocr_options {
            ocr.options.apply_json(json).context("--ocr-options")?;
        }
        Ok((ocr, bytes))
    }

    /// The whole scanner (OCR and classifier); returns it with the models' total file size.
    pub fn load_scanner(&self, with_ocr: bool) -> Result<(Scanner, u64)> {
        let (ocr, ocr_bytes) = if with_ocr {
            let (o, b) = self.load()?;
            (Some(o), b)
        } else {
            (None, 0)
        };
        let path = self.classifier.clone().unwrap_or_else(|| {
            self.models.join("classifier").join(if self.original {
                "mobilenet_v2_f32.onnx"
            } else {
                "mobilenet_v2_dc.slim"
            })
        });
        let bytes =
            std::fs::read(&path).with_context(|| format!("reading the classifier {}", path.display()))?;
        let classifier = Classifier::load(&bytes).with_context(|| path.display().to_string())?;
        let mut scanner = Scanner::new(ocr, Some(classifier));
        if let Some(json) = &self.scan_options {
            scanner.options.apply_json(json).context("--scan-options")?;
        }
        Ok((scanner, ocr_bytes + bytes.len() as u64))
    }

    pub fn kind(&self) -> &'static str {
        if self.original {
            "original"
        } else {
            "compressed"
        }
    }
}

#[derive(ClapArgs)]
pub struct ScanArgs {
    /// The image (PNG or JPEG).
    image: PathBuf,
    #[command(flatten)]
    models: ModelArgs,
    /// Print JSON: type, page corners, codes, lines with corners and confidences, text, form
    /// fields, timings per stage.
    #[arg(long)]
    json: bool,
    /// Without the OCR models: page, type and codes only.
    #[arg(long)]
    no_ocr: bool,
}

pub fn read_image(path: &Path) -> Result<RgbImage> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    RgbImage::decode(&bytes).with_context(|| format!("{}", path.display()))
}

pub fn scan(args: ScanArgs) -> Result<()> {
    // The image first: a bad one is reported before the models are read.
    let t = Instant::now();
    let img = read_image(&args.image)?;
    let decode_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let (mut scanner, _) = args.models.load_scanner(!args.no_ocr)?;
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let r = scanner.scan(&img)?;
    if args.json {
        let mut v = serde_json::to_value(&r)?;
        v["models"] = args.models.kind().into();
        v["timings_ms"]["decode"] = decode_ms.into();
        v["timings_ms"]["load"] = load_ms.into();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("type: {} ({:.0} %)", r.doc_type, 100.0 * r.type_confidence);
    match &r.page {
        Some(p) => {
            let c: Vec<String> = p.corners.iter().map(|q| format!("({:.0}, {:.0})", q[0], q[1])).collect();
            println!("page: {} → {}x{} px", c.join(" "), p.width, p.height);
        }
        None => println!("page: none found"),
    }
    for c in &r.codes {
        println!("code: {} {:?}", c.format, c.text);
    }
    for f in &r.fields {
        println!("field: {:?} = {:?} ({}, {:.2})", f.label, f.value, f.kind, f.confidence);
    }
    if !r.text.is_empty() {
        println!("\n{}\n", r.text);
    }
    let t = r.timings_ms;
    println!(
        "{} lines; {}x{} px; load {load_ms:.0} ms, decode {decode_ms:.0} ms, page {:.0} ms, rectify {:.0} ms, \
         type {:.0} ms, codes {:.0} ms, text detect {:.0} ms, direction {:.0} ms, recognise {:.0} ms, forms {:.0} ms, \
         total {:.0} ms",
        r.lines.len(),
        r.width,
        r.height,
        t.page,
        t.rectify,
        t.classify,
        t.codes,
        t.ocr_det,
        t.ocr_cls,
        t.ocr_rec,
        t.forms,
        t.total
    );
    Ok(())
}

#[derive(ClapArgs)]
pub struct EvalOcrArgs {
    /// A set folder with manifest.tsv (relative_path, kind, ground_truth); kinds: line and
    /// word (read as one line), page (detected and read).
    #[arg(long, required = true)]
    set: Vec<PathBuf>,
    #[command(flatten)]
    models: ModelArgs,
    /// Use at most this many images of each kind per set.
    #[arg(long)]
    limit: Option<usize>,
    /// Print JSON (scores per set and kind, and every hypothesis).
    #[arg(long)]
    json: bool,
}

#[derive(serde::Serialize, Default)]
struct KindResult {
    score: Score,
    char_accuracy: f64,
    word_accuracy: f64,
    ms_total: f64,
    ms_per_item: f64,
    items_per_s: f64,
    /// Crops the fast recogniser read, and those PP-OCR's recogniser read (again).
    reads: ReadCounts,
}

#[derive(serde::Serialize)]
struct Hyp {
    path: String,
    kind: String,
    truth: String,
    text: String,
    ms: f64,
    reads: ReadCounts,
}

pub fn eval_ocr(args: EvalOcrArgs) -> Result<()> {
    let (mut ocr, model_bytes) = args.models.load()?;
    let mut report = serde_json::Map::new();
    report.insert("models".into(), if args.models.original { "original" } else { "compressed" }.into());
    report.insert("model_bytes".into(), model_bytes.into());
    let mut sets = serde_json::Map::new();
    for dir in &args.set {
        let mut items = manifest::read(dir)?;
        if let Some(n) = args.limit {
            let mut seen: BTreeMap<String, usize> = BTreeMap::new();
            items.retain(|it| {
                let c = seen.entry(it.kind.clone()).or_default();
                *c += 1;
                *c <= n
            });
        }
        let mut per_kind: BTreeMap<String, KindResult> = BTreeMap::new();
        let mut hyps = Vec::new();
        for (i, it) in items.iter().enumerate() {
            let img = read_image(&dir.join(&it.path))?;
            let t = Instant::now();
            let (text, reads) = if it.kind == "page" {
                let p = ocr.scan(&img)?;
                (p.text, p.reads)
            } else {
                let l = ocr.read_line(&img)?;
                (l.text, l.reads)
            };
            let ms = t.elapsed().as_secs_f64() * 1e3;
            let r = per_kind.entry(it.kind.clone()).or_default();
            r.score.add(&it.truth, &text);
            r.ms_total += ms;
            r.reads.fast += reads.fast;
            r.reads.main += reads.main;
            if !args.json {
                eprint!("\r{}: {}/{}", dir.display(), i + 1, items.len());
            }
            hyps.push(Hyp {
                path: it.path.clone(),
                kind: it.kind.clone(),
                truth: it.truth.clone(),
                text,
                ms,
                reads,
            });
        }
        if !args.json {
            eprintln!();
        }
        let mut all = Score::default();
        for r in per_kind.values_mut() {
            r.char_accuracy = r.score.char_accuracy();
            r.word_accuracy = r.score.word_accuracy();
            r.ms_per_item = r.ms_total / r.score.items.max(1) as f64;
            r.items_per_s = 1e3 * r.score.items as f64 / r.ms_total.max(1e-9);
            all.items += r.score.items;
            all.chars += r.score.chars;
            all.char_edits += r.score.char_edits;
            all.words += r.score.words;
            all.word_edits += r.score.word_edits;
        }
        if !args.json {
            println!(
                "{}  ({} models, {model_bytes} bytes)",
                dir.display(),
                report["models"].as_str().unwrap_or("")
            );
            println!(
                "  {:<6} {:>6} {:>10} {:>10} {:>12} {:>10}  crops read by: fast / PP-OCR rec",
                "kind", "items", "char acc", "word acc", "ms/item", "items/s"
            );
            for (k, r) in &per_kind {
                println!(
                    "  {k:<6} {:>6} {:>9.2}% {:>9.2}% {:>12.1} {:>10.2}  {} / {}",
                    r.score.items,
                    100.0 * r.char_accuracy,
                    100.0 * r.word_accuracy,
                    r.ms_per_item,
                    r.items_per_s,
                    r.reads.fast,
                    r.reads.main
                );
            }
            println!(
                "  {:<6} {:>6} {:>9.2}% {:>9.2}%",
                "all",
                all.items,
                100.0 * all.char_accuracy(),
                100.0 * all.word_accuracy()
            );
        }
        let set = serde_json::json!({
            "kinds": per_kind,
            "all": { "score": all, "char_accuracy": all.char_accuracy(), "word_accuracy": all.word_accuracy() },
            "items": hyps,
        });
        sets.insert(dir.display().to_string(), set);
    }
    report.insert("sets".into(), sets.into());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}
