//! `slimscan eval scan --set DIR`: the whole scan pipeline over a labelled scene set
//! (benches/scan/make_set.py), scored per document type — text pages by character accuracy,
//! barcodes and QR codes by exact decode rate, forms by field-level exact match, every scene by
//! document type and page corners — with the compressed models or, with `--original`, the
//! original ones.

use crate::scan::{read_image, ModelArgs};
use anyhow::Result;
use clap::Args as ClapArgs;
use slimscan::scan::eval::{code_matches, count_matched, field_matches, page_error, read_manifest, Scene};
use slimscan::scan::ocr::metrics::Score;
use slimscan::scan::scanner::ScanResult;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A found page counts as right when no corner is further than this share of the page's
/// diagonal from the truth.
const PAGE_TOLERANCE: f64 = 0.03;

#[derive(ClapArgs)]
pub struct EvalScanArgs {
    /// A scene set folder with manifest.jsonl (`make scan-set`).
    #[arg(long)]
    set: PathBuf,
    #[command(flatten)]
    models: ModelArgs,
    /// Use at most this many scenes of each type.
    #[arg(long)]
    limit: Option<usize>,
    /// Print JSON (scores per type and every scene's answers).
    #[arg(long)]
    json: bool,
    /// Without the OCR models: page, type and codes only (quick; no text or field scores).
    #[arg(long)]
    no_ocr: bool,
}

/// Totals for one document type.
#[derive(serde::Serialize, Default)]
struct TypeScore {
    scenes: usize,
    type_correct: usize,
    /// Scenes with a page in the truth, and those found within the tolerance.
    pages: usize,
    pages_found: usize,
    /// Found pages on scenes without one (none scenes).
    pages_invented: usize,
    text: Score,
    codes: usize,
    codes_decoded: usize,
    /// Codes reported that are not in the truth.
    codes_invented: usize,
    fields: usize,
    fields_matched: usize,
    fields_reported: usize,
    /// Scenes of type none that got text or fields.
    invented_text: usize,
    ms: Vec<f64>,
    /// Whether OCR ran (text and fields are scored).
    #[serde(skip)]
    with_text: bool,
}

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

fn pct(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| 100.0 * a as f64 / b as f64)
}

impl TypeScore {
    fn add(&mut self, scene: &Scene, r: &ScanResult, ms: f64) {
        self.scenes += 1;
        self.ms.push(ms);
        self.type_correct += usize::from(r.doc_type == scene.doc_type);
        match (&scene.page, &r.page) {
            (Some(t), Some(f)) => {
                self.pages += 1;
                self.pages_found += usize::from(page_error(t, &f.corners) <= PAGE_TOLERANCE);
            }
            (Some(_), None) => self.pages += 1,
            (None, Some(_)) if scene.doc_type == "none" => self.pages_invented += 1,
            _ => {}
        }
        if scene.doc_type == "text" && self.with_text {
            self.text.add(&scene.text, &r.text);
        }
        self.codes += scene.codes.len();
        let decoded = count_matched(&scene.codes, &r.codes, code_matches);
        self.codes_decoded += decoded;
        self.codes_invented += r.codes.len().saturating_sub(decoded);
        if scene.doc_type == "form" && self.with_text {
            self.fields += scene.fields.len();
            self.fields_matched += count_matched(&scene.fields, &r.fields, field_matches);
            self.fields_reported += r.fields.len();
        }
        if scene.doc_type == "none" && (!r.text.is_empty() || !r.fields.is_empty()) {
            self.invented_text += 1;
        }
    }

    fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "scenes": self.scenes,
            "type_accuracy": pct(self.type_correct, self.scenes),
            "page_rate": pct(self.pages_found, self.pages),
            "pages_invented": self.pages_invented,
            "char_accuracy": (self.text.items > 0).then(|| 100.0 * self.text.char_accuracy()),
            "word_accuracy": (self.text.items > 0).then(|| 100.0 * self.text.word_accuracy()),
            "codes": self.codes,
            "decode_rate": pct(self.codes_decoded, self.codes),
            "codes_invented": self.codes_invented,
            "fields": self.fields,
            "field_match": pct(self.fields_matched, self.fields),
            "field_precision": pct(self.fields_matched, self.fields_reported),
            "invented_text": self.invented_text,
            "ms_median": median(&self.ms),
        })
    }
}

pub fn eval_scan(args: EvalScanArgs) -> Result<()> {
    let mut scenes = read_manifest(&args.set)?;
    if let Some(n) = args.limit {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        scenes.retain(|s| {
            let c = seen.entry(s.doc_type.clone()).or_default();
            *c += 1;
            *c <= n
        });
    }
    let (mut scanner, model_bytes) = args.models.load_scanner(!args.no_ocr)?;
    let mut per_type: BTreeMap<String, TypeScore> = BTreeMap::new();
    let fresh = || TypeScore { with_text: !args.no_ocr, ..TypeScore::default() };
    let mut all = fresh();
    let mut items = Vec::new();
    for (i, scene) in scenes.iter().enumerate() {
        let img = read_image(&args.set.join(&scene.path))?;
        let t = std::time::Instant::now();
        let r = scanner.scan(&img)?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        per_type.entry(scene.doc_type.clone()).or_insert_with(fresh).add(scene, &r, ms);
        all.add(scene, &r, ms);
        if !args.json {
            eprint!("\r{}: {}/{}", args.set.display(), i + 1, scenes.len());
        }
        items.push(serde_json::json!({
            "path": scene.path,
            "truth_type": scene.doc_type,
            "type": r.doc_type,
            "page": r.page.map(|p| p.corners),
            "page_error": match (&scene.page, &r.page) {
                (Some(t), Some(f)) => Some(page_error(t, &f.corners)),
                _ => None,
            },
            "codes": r.codes.iter().map(|c| serde_json::json!({"format": c.format, "text": c.text})).collect::<Vec<_>>(),
            "fields": r.fields.iter().map(|f| serde_json::json!({"label": f.label, "value": f.value, "kind": f.kind})).collect::<Vec<_>>(),
            "text": r.text,
            "ms": ms,
        }));
    }
    if !args.json {
        eprintln!();
    }
    let types: serde_json::Map<String, serde_json::Value> =
        per_type.iter().map(|(k, v)| (k.clone(), v.summary())).collect();
    let report = serde_json::json!({
        "models": args.models.kind(),
        "ocr": !args.no_ocr,
        "model_bytes": model_bytes,
        "set": args.set.display().to_string(),
        "page_tolerance": PAGE_TOLERANCE,
        "types": types,
        "all": all.summary(),
        "items": items,
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("{}  ({} models, {model_bytes} bytes)", args.set.display(), args.models.kind());
    println!(
        "  {:<8} {:>6} {:>8} {:>8} {:>10} {:>10} {:>10} {:>9}",
        "type", "scenes", "type %", "page %", "chars %", "decode %", "fields %", "ms (med)"
    );
    let f = |v: &serde_json::Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.2}"));
    for (k, v) in types.iter().chain([("all".to_string(), all.summary())].iter().map(|(a, b)| (a, b))) {
        println!(
            "  {k:<8} {:>6} {:>8} {:>8} {:>10} {:>10} {:>10} {:>9.0}",
            v["scenes"],
            f(&v["type_accuracy"]),
            f(&v["page_rate"]),
            f(&v["char_accuracy"]),
            f(&v["decode_rate"]),
            f(&v["field_match"]),
            v["ms_median"].as_f64().unwrap_or(0.0)
        );
    }
    let a = all.summary();
    println!(
        "  codes invented: {}, pages invented on none scenes: {}, none scenes with text or fields: {}",
        a["codes_invented"], a["pages_invented"], a["invented_text"]
    );
    Ok(())
}
