//! The OCR pipeline: detector → perspective crop per box → optional 180° direction
//! classifier → recogniser in batches of similar width → CTC decoding → reading order.
//! The same code runs the original ONNX models (tract f32) and the compressed `.slim` ones
//! (the engine's integer kernels): only the bytes given to [`Ocr::load`] differ.

use super::ctc::{greedy_decode, Charset, Decoded, SPACE_RESTORATION_KEY};
use super::det::{self, DetOptions, TextBox};
use super::layout::reading_order;
use super::rec;
use crate::engine::{F32Tensor, Model};
use crate::error::{Error, Result};
use crate::scan::clock::now_ms;
use crate::scan::geometry::{quad_size, Point};
use crate::scan::image::RgbImage;
use crate::scan::warp::perspective_crop;
use serde::Serialize;

/// Pipeline settings.
#[derive(Debug, Clone, Copy)]
pub struct OcrOptions {
    pub det: DetOptions,
    /// Run the direction classifier (when its model was loaded); lines it finds upside down
    /// are read both ways and the more confident reading is kept.
    pub use_cls: bool,
    /// Probability of "180°" above which a line is turned.
    pub cls_threshold: f32,
    /// The classifier first sees this many lines spread over the page (0: every line); only
    /// when it finds one of them upside down does it see the others too. See
    /// [`CLS_SAMPLE`].
    pub cls_sample: usize,
    /// Crops per recogniser (and classifier) run.
    pub batch: usize,
    /// Lines recognised with a lower confidence are dropped from page results.
    pub min_confidence: f32,
    /// With a fast recogniser loaded ([`Ocr::set_fast_recogniser`]): a line it reads with a
    /// mean character probability below this is read again by the main recogniser (0: never,
    /// 1: always).
    pub fallback_below: f32,
    /// Read with the fast recogniser first, when one is loaded (false: the main recogniser
    /// reads every line).
    pub fast_rec: bool,
    /// Detect small images inside a margin ([`detection_margin`]). The scanner turns it off
    /// for rectified pages, which have their paper around the text.
    pub det_margin: bool,
}

impl Default for OcrOptions {
    fn default() -> OcrOptions {
        OcrOptions {
            det: DetOptions::default(),
            use_cls: true,
            cls_threshold: 0.9,
            cls_sample: CLS_SAMPLE,
            batch: 6,
            min_confidence: 0.5,
            fallback_below: FALLBACK_BELOW,
            fast_rec: true,
            det_margin: true,
        }
    }
}

impl OcrOptions {
    /// Applies settings given as a JSON object (the web app's and the benchmarks' knob):
    /// `det_min_side`, `det_max_side`, `use_cls`, `cls_sample`, `min_confidence`,
    /// `fallback_below`, `fast_rec`, `batch`.
    pub fn apply_json(&mut self, json: &str) -> Result<()> {
        let bad = |m: String| Error::InvalidArgument(format!("OCR options: {m}"));
        let v: serde_json::Value = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        let obj = v.as_object().ok_or_else(|| bad("expected a JSON object".into()))?;
        let mut o = *self;
        for (k, val) in obj {
            let int = |lo: u64, hi: u64| match val.as_u64() {
                Some(n) if (lo..=hi).contains(&n) => Ok(n as usize),
                _ => Err(bad(format!("{k} must be an integer in {lo}..={hi}"))),
            };
            match k.as_str() {
                "det_min_side" => o.det.min_side = int(32, 4096)?,
                "det_max_side" => o.det.max_side = int(64, 4096)?,
                "batch" => o.batch = int(1, 64)?,
                "cls_sample" => o.cls_sample = int(0, 4096)?,
                "use_cls" | "fast_rec" => {
                    let b = val.as_bool().ok_or_else(|| bad(format!("{k} must be true or false")))?;
                    if k == "use_cls" {
                        o.use_cls = b
                    } else {
                        o.fast_rec = b
                    }
                }
                "min_confidence" | "fallback_below" => {
                    let v = match val.as_f64() {
                        Some(c) if (0.0..=1.0).contains(&c) => c as f32,
                        _ => return Err(bad(format!("{k} must be in 0..=1"))),
                    };
                    if k == "min_confidence" {
                        o.min_confidence = v
                    } else {
                        o.fallback_below = v
                    }
                }
                _ => return Err(bad(format!("unknown setting {k:?}"))),
            }
        }
        *self = o;
        Ok(())
    }
}

/// Default [`OcrOptions::cls_sample`]: one classifier batch. A page is printed one way up,
/// and with the classifier 540 of 591 upside-down scene crops are read turned (models/train's
/// scene crops, every 12th, turned; benches/ocr/turned_crops.mjs), so when 6 lines of an
/// upside-down page are sampled it misses all of them with a probability near 0.09⁶ ≈ 5·10⁻⁷;
/// otherwise every line is classified. What is
/// lost: a single upside-down line on an upright page, unless it is sampled. Classifying
/// every line cost ~50–70 ms of a full A4 scan in the browser (30 lines), the sample ~10.
/// The fast recogniser's confidence cannot stand in for the classifier: it reads 522 of those
/// 591 turned crops at ≥ 0.8 (median 0.87), as confidently as garbage can be.
pub const CLS_SAMPLE: usize = 6;

/// `n` indices spread evenly over `0..len` (all of them when `n` is 0 or ≥ `len`).
fn spread(len: usize, n: usize) -> Vec<usize> {
    if n == 0 || n >= len {
        return (0..len).collect();
    }
    (0..n).map(|i| (2 * i + 1) * len / (2 * n)).collect()
}

/// Default [`OcrOptions::fallback_below`]. The fast recogniser (models/ocr_fast) reads the
/// generated lines better than PP-OCRv4's (128 dev lines of models/calib/set: 97.71 % against
/// 96.16 %, compressed), so a line read again only pays where it reads text unlike its
/// training: the 7 scene-text words of ../shared/data/ocr get a mean of 0.57–0.74 from it
/// and are read again (its 2 scanned lines 0.94 and 0.98), while 2 of the 128 dev lines fall
/// below 0.8. A lowest-character rule re-read 22 dev lines at 0.5 and no scene word at 0.3.
/// On camera pages and forms its first version was confidently wrong more often, which no
/// threshold fixed; fine-tuned on crops cut from camera scenes it reads Table 3's forms as
/// PP-OCRv4 alone does and its text pages 0.56 points worse (models/REPORT.md, "Fast
/// recogniser").
pub const FALLBACK_BELOW: f32 = 0.8;

/// Milliseconds spent per stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Timings {
    pub det: f64,
    pub cls: f64,
    /// Both recognisers.
    pub rec: f64,
    /// The fast recogniser's share of `rec` (0 without one).
    pub rec_fast: f64,
    pub total: f64,
}

/// One recognised text line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub text: String,
    /// Mean probability of the characters read.
    pub confidence: f32,
    /// Corners in image pixels: top-left, top-right, bottom-right, bottom-left.
    pub corners: [Point; 4],
    /// The detector's mean text probability inside the box.
    pub det_score: f32,
    /// Whether the classifier turned the line by 180°.
    pub rotated: bool,
    /// Visual row and block (paragraph) in reading order.
    pub row: usize,
    pub block: usize,
}

/// Everything read from one image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page {
    pub width: usize,
    pub height: usize,
    /// Lines in reading order.
    pub lines: Vec<Line>,
    /// The text: a row's lines joined by spaces, rows by newlines, blocks by a blank line.
    pub text: String,
    /// Crops (lines, and turned copies of lines) the fast recogniser read, and those the
    /// main recogniser read again (all of them when there is no fast recogniser).
    pub reads: ReadCounts,
    pub timings_ms: Timings,
}

/// Which recogniser read how many crops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ReadCounts {
    pub fast: usize,
    pub main: usize,
}

/// One crop read as a single line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineRead {
    pub text: String,
    pub confidence: f32,
    pub rotated: bool,
    /// Which recogniser read the crop (and its turned copy, when the classifier flagged it).
    pub reads: ReadCounts,
    pub timings_ms: Timings,
}

/// What the recogniser read in one crop.
#[derive(Debug, Clone, Default)]
pub struct CropRead {
    pub text: String,
    pub confidence: f32,
    /// Read upside down (the crop turned by 180°).
    pub rotated: bool,
}

/// A recogniser model and its character set (built once the class count is known). The
/// pipeline reads batches of crops with it; [`Recogniser::read_one`] reads a single crop with
/// the recogniser alone (no direction classifier), for comparing recognisers.
pub struct Recogniser {
    model: Model,
    characters: String,
    restore_spaces: bool,
    charset: Option<Charset>,
}

impl Recogniser {
    /// Takes a PP-OCR style recogniser; `what` names it in errors. Its character list is the
    /// model's `character` metadata.
    pub fn new(model: Model, what: &str) -> Result<Recogniser> {
        let characters = model
            .metadata("character")
            .ok_or_else(|| {
                Error::Model(format!(
                    "the {what} has no `character` metadata (not a PP-OCR style rec model?)"
                ))
            })?
            .to_string();
        let restore_spaces = Charset::restores_spaces(model.metadata(SPACE_RESTORATION_KEY));
        Ok(Recogniser { model, characters, restore_spaces, charset: None })
    }

    /// Reads one crop (the whole image is the line).
    pub fn read_one(&mut self, img: &RgbImage) -> Result<Decoded> {
        let mut reads = self.read_all(&[img], 1)?;
        reads.pop().ok_or_else(|| Error::Model("the recogniser read nothing".into()))
    }

    /// Reads `crops[i]` for each `i` in `which`, batched by width; returns the reads in
    /// `which`'s order.
    fn read(&mut self, crops: &[RgbImage], which: &[usize], batch: usize) -> Result<Vec<Decoded>> {
        let subset: Vec<&RgbImage> = which.iter().map(|&i| &crops[i]).collect();
        self.read_all(&subset, batch)
    }

    /// Reads every crop of `subset`, batched by width, in its order.
    fn read_all(&mut self, subset: &[&RgbImage], batch: usize) -> Result<Vec<Decoded>> {
        let mut reads: Vec<Option<Decoded>> = vec![None; subset.len()];
        for idx in &rec::batches_for_recogniser(subset, batch) {
            let widest = idx
                .iter()
                .map(|&i| subset[i])
                .max_by(|a, b| (a.width * b.height).cmp(&(b.width * a.height)))
                .expect("non-empty batch");
            let width = rec::batch_width(widest.width, widest.height);
            let refs: Vec<&RgbImage> = idx.iter().map(|&i| subset[i]).collect();
            let x = rec::batch(&refs, width)?;
            let shape = vec![idx.len(), 3, rec::REC_HEIGHT, width];
            let out = first_output(self.model.run(vec![F32Tensor::new(shape, x)?])?, "recogniser")?;
            let classes = *out.shape.last().unwrap_or(&0);
            if out.shape.len() != 3 || out.shape[0] != idx.len() || classes == 0 {
                return Err(Error::Model(format!(
                    "recogniser output {:?} for {} crops",
                    out.shape,
                    idx.len()
                )));
            }
            if self.charset.as_ref().is_none_or(|c| c.classes() != classes) {
                self.charset = Some(
                    Charset::from_metadata(&self.characters, classes)?
                        .with_space_restoration(self.restore_spaces),
                );
            }
            let charset = self.charset.as_ref().expect("set above");
            let per = out.data.len() / idx.len();
            for (k, &i) in idx.iter().enumerate() {
                reads[i] = Some(greedy_decode(&out.data[k * per..(k + 1) * per], charset)?);
            }
        }
        Ok(reads.into_iter().map(|r| r.expect("every crop is in one batch")).collect())
    }
}

/// The three PP-OCR models, and optionally a fast recogniser tried before PP-OCR's.
pub struct Ocr {
    det: Model,
    rec: Recogniser,
    fast: Option<Recogniser>,
    cls: Option<Model>,
    pub options: OcrOptions,
}

fn first_output(mut outs: Vec<F32Tensor>, what: &str) -> Result<F32Tensor> {
    if outs.is_empty() {
        return Err(Error::Model(format!("the {what} model returned no output")));
    }
    Ok(outs.swap_remove(0))
}

impl Ocr {
    /// Loads detector, recogniser and (optionally) direction classifier from their bytes
    /// (`.slim` or ONNX each). The recogniser must carry its `character` metadata.
    pub fn load(det: &[u8], rec: &[u8], cls: Option<&[u8]>) -> Result<Ocr> {
        let det = Ocr::load_part("detector", det)?;
        let rec = Ocr::load_part("recogniser", rec)?;
        let cls = cls.map(|c| Ocr::load_part("direction classifier", c)).transpose()?;
        Ocr::from_models(det, rec, cls)
    }

    /// Loads one of the models; errors name it (`what`: "detector", "recogniser", "fast
    /// recogniser" or "direction classifier").
    pub fn load_part(what: &str, bytes: &[u8]) -> Result<Model> {
        Model::load(bytes).map_err(|e| Error::Model(format!("{what} model: {e}")))
    }

    /// The pipeline over models loaded already (see [`Ocr::load_part`]).
    pub fn from_models(det: Model, rec: Model, cls: Option<Model>) -> Result<Ocr> {
        let rec = Recogniser::new(rec, "recogniser")?;
        Ok(Ocr { det, rec, fast: None, cls, options: OcrOptions::default() })
    }

    /// Adds a fast recogniser (same input and output conventions as PP-OCR's): every line is
    /// read by it first, and only lines it is unsure of ([`OcrOptions::fallback_below`]) by
    /// the main recogniser.
    pub fn set_fast_recogniser(&mut self, model: Model) -> Result<()> {
        self.fast = Some(Recogniser::new(model, "fast recogniser")?);
        Ok(())
    }

    /// Detects and reads all text in `img`. An image of one line (a scanned line, a word, a
    /// label: see [`is_one_line`]) is read whole, as `slimscan eval ocr` reads line crops:
    /// the detector cuts such tight crops too close or into pieces. A page turned sideways
    /// (most lines are tall boxes, [`is_sideways`]) is read turned a quarter; a page upside
    /// down (most lines read better turned) is put in reading order as turned by 180°. Line
    /// corners are always in `img`'s pixels.
    pub fn scan(&mut self, img: &RgbImage) -> Result<Page> {
        let t0 = now_ms();
        let mut boxes = self.detect(img)?;
        let turned;
        let src = if is_sideways(&boxes) {
            turned = img.rotated_90_ccw();
            boxes = self.detect(&turned)?;
            &turned
        } else {
            img
        };
        let t_det = now_ms();
        let mut corners: Vec<[Point; 4]>;
        let scores: Vec<f32>;
        let (reads, mut timings, counts) = if is_one_line(src, &boxes) {
            // The line is read between the top and bottom of the detector's boxes (grown as
            // the detector grows them): a line set small in a tall margin reads badly squeezed
            // to the recogniser's 48 px with its margin.
            let quad = one_line_quad(src, &boxes);
            corners = vec![quad];
            scores = vec![boxes.iter().map(|b| b.score).fold(0.0, f32::max)];
            // One line costs one read: the main recogniser reads it (on real scanned lines it
            // is the more accurate of the two: models/REPORT.md, "Real images").
            let fast = std::mem::replace(&mut self.options.fast_rec, false);
            let read = self.read_crops(vec![perspective_crop(src, &quad)?]);
            self.options.fast_rec = fast;
            read?
        } else {
            corners = boxes.iter().map(|b| b.corners).collect();
            scores = boxes.iter().map(|b| b.score).collect();
            self.read_crops(line_crops(src, &boxes)?)?
        };
        timings.det = t_det - t0;
        let upside_down = reads.len() >= 2 && 2 * reads.iter().filter(|r| r.rotated).count() > reads.len();
        let order = if upside_down {
            let (w, h) = (src.width as f64, src.height as f64);
            let turn = |q: &[Point; 4]| [q[2], q[3], q[0], q[1]].map(|p| [w - p[0], h - p[1]]);
            reading_order(&corners.iter().map(turn).collect::<Vec<_>>())
        } else {
            reading_order(&corners)
        };
        if !std::ptr::eq(src, img) {
            // Back from the turned image: its (x, y) is (width - y, x) in `img`.
            let w = img.width as f64;
            for q in &mut corners {
                *q = q.map(|p| [w - p[1], p[0]]);
            }
        }
        let mut lines = Vec::new();
        for p in order {
            let r = &reads[p.index];
            if r.confidence < self.options.min_confidence || r.text.trim().is_empty() {
                continue;
            }
            lines.push(Line {
                text: r.text.clone(),
                confidence: r.confidence,
                corners: corners[p.index],
                det_score: scores[p.index],
                rotated: r.rotated,
                row: p.row,
                block: p.block,
            });
        }
        let text = page_text(&lines);
        timings.total = now_ms() - t0;
        Ok(Page { width: img.width, height: img.height, lines, text, reads: counts, timings_ms: timings })
    }

    /// Reads `img` as one text line (a crop): no detection.
    pub fn read_line(&mut self, img: &RgbImage) -> Result<LineRead> {
        let t0 = now_ms();
        let (mut reads, mut timings, counts) = self.read_crops(vec![img.clone()])?;
        let r = reads.pop().expect("one crop, one read");
        timings.total = now_ms() - t0;
        Ok(LineRead {
            text: r.text,
            confidence: r.confidence,
            rotated: r.rotated,
            reads: counts,
            timings_ms: timings,
        })
    }

    /// The detector's boxes for `img`. A small image is detected inside a margin of its
    /// border colour ([`detection_margin`]): screenshots and crops put text right at the edge,
    /// where the detector, trained on text with some background around it, misses it.
    pub fn detect(&mut self, img: &RgbImage) -> Result<Vec<TextBox>> {
        let m = if self.options.det_margin { detection_margin(img.width, img.height) } else { 0 };
        let padded;
        let src = if m > 0 {
            padded = img.with_margin(m);
            &padded
        } else {
            img
        };
        let (x, w, h) = det::preprocess(src, &self.options.det);
        let out = first_output(self.det.run(vec![F32Tensor::new(vec![1, 3, h, w], x)?])?, "detector")?;
        if out.data.len() != w * h {
            return Err(Error::Model(format!("detector output {:?} for a {w}x{h} input", out.shape)));
        }
        let mut boxes = det::postprocess(&out.data, w, h, src.width, src.height, &self.options.det)?;
        if m > 0 {
            let (iw, ih) = (img.width as f64, img.height as f64);
            for b in &mut boxes {
                for p in &mut b.corners {
                    *p = [(p[0] - m as f64).clamp(0.0, iw), (p[1] - m as f64).clamp(0.0, ih)];
                }
            }
        }
        Ok(boxes)
    }

    /// Classifies (optionally) and recognises crops (as [`line_crops`] cuts them); per crop:
    /// text, confidence, turned. The recogniser's batching is used, so this is much faster
    /// than [`Ocr::read_line`] per crop.
    ///
    /// A line the classifier calls upside down is read both ways and the more confident
    /// reading wins: on long lines (squeezed into the classifier's 192 px) it is often wrong,
    /// and trusting it alone cost 3 points of character accuracy on the generated lines.
    pub fn read_crops(&mut self, mut crops: Vec<RgbImage>) -> Result<(Vec<CropRead>, Timings, ReadCounts)> {
        let mut timings = Timings::default();
        let n = crops.len();
        // Indices of crops the classifier would turn; their turned copies go after the crops.
        let mut flagged = Vec::new();
        let t0 = now_ms();
        if self.options.use_cls {
            if let Some(cls) = self.cls.as_mut() {
                let (threshold, batch) = (self.options.cls_threshold, self.options.batch);
                flagged = sampled_directions(n, self.options.cls_sample, |which| {
                    classify_turned(cls, &crops, which, threshold, batch)
                })?;
            }
        }
        for &i in &flagged {
            let turned = crops[i].rotated_180();
            crops.push(turned);
        }
        let t1 = now_ms();
        timings.cls = t1 - t0;
        let all: Vec<usize> = (0..crops.len()).collect();
        let (mut reads, again) = match self.fast.as_mut().filter(|_| self.options.fast_rec) {
            Some(fast) => {
                let reads = fast.read(&crops, &all, self.options.batch)?;
                timings.rec_fast = now_ms() - t1;
                // A line counts as unsure when its better reading (of the two ways up, for a
                // line the classifier flagged) is; then both ways are read again. The way up
                // a line is not, read as garbage with a low confidence, is no reason alone: on
                // text/0006 of the scene set that re-read 8 of 34 crops instead of 2.
                let below = self.options.fallback_below;
                let mut best: Vec<f32> = reads[..n].iter().map(|d| d.confidence).collect();
                for (k, &i) in flagged.iter().enumerate() {
                    best[i] = best[i].max(reads[n + k].confidence);
                }
                let unsure = |i: usize| below >= 1.0 || best[i] < below;
                let turned = flagged.iter().enumerate().filter(|&(_, &i)| unsure(i)).map(|(k, _)| n + k);
                let again: Vec<usize> = (0..n).filter(|&i| unsure(i)).chain(turned).collect();
                (reads, again)
            }
            None => (Vec::new(), all),
        };
        let main_reads = self.rec.read(&crops, &again, self.options.batch)?;
        let counts = ReadCounts { fast: reads.len(), main: again.len() };
        if reads.is_empty() {
            reads = main_reads;
        } else {
            for (&i, d) in again.iter().zip(main_reads) {
                reads[i] = d;
            }
        }
        let mut reads: Vec<CropRead> = reads
            .into_iter()
            .map(|d| CropRead { text: d.text, confidence: d.confidence, rotated: false })
            .collect();
        for (k, &i) in flagged.iter().enumerate() {
            let turned = &reads[n + k];
            if turned.confidence > reads[i].confidence {
                reads[i] = CropRead { rotated: true, ..turned.clone() };
            }
        }
        reads.truncate(n);
        timings.rec = now_ms() - t1;
        Ok((reads, timings, counts))
    }
}

/// The lines to turn among `n`: `classify` (indices → those it finds upside down) sees a
/// spread sample of `sample` lines first and the others only when it turned one of those
/// ([`CLS_SAMPLE`]). Sorted.
fn sampled_directions(
    n: usize,
    sample: usize,
    mut classify: impl FnMut(&[usize]) -> Result<Vec<usize>>,
) -> Result<Vec<usize>> {
    let first = spread(n, sample);
    let mut flagged = classify(&first)?;
    if !flagged.is_empty() && first.len() < n {
        let rest: Vec<usize> = (0..n).filter(|i| first.binary_search(i).is_err()).collect();
        flagged.extend(classify(&rest)?);
    }
    flagged.sort_unstable();
    Ok(flagged)
}

/// Indices among `which` whose crop the direction classifier calls upside down (probability
/// of 180° above `threshold`), batched by width.
fn classify_turned(
    cls: &mut Model,
    crops: &[RgbImage],
    which: &[usize],
    threshold: f32,
    batch: usize,
) -> Result<Vec<usize>> {
    let subset: Vec<&RgbImage> = which.iter().map(|&i| &crops[i]).collect();
    let mut flagged = Vec::new();
    for idx in &rec::batches_by_width(&subset, batch) {
        let refs: Vec<&RgbImage> = idx.iter().map(|&k| subset[k]).collect();
        let x = rec::batch(&refs, rec::CLS_WIDTH)?;
        let shape = vec![idx.len(), 3, rec::REC_HEIGHT, rec::CLS_WIDTH];
        let out = first_output(cls.run(vec![F32Tensor::new(shape, x)?])?, "direction classifier")?;
        if out.data.len() != 2 * idx.len() {
            return Err(Error::Model(format!("direction classifier output {:?}", out.shape)));
        }
        for (j, &k) in idx.iter().enumerate() {
            if out.data[2 * j + 1] > threshold {
                flagged.push(which[k]);
            }
        }
    }
    Ok(flagged)
}

/// Images whose longer side is at most this get a margin before detection
/// ([`detection_margin`]); larger ones are photos and scans with their own background.
pub const MARGIN_MAX_SIDE: usize = 1600;

/// The margin a `w × h` image gets before detection: a quarter of its shorter side, 8–32 px,
/// for images up to [`MARGIN_MAX_SIDE`]; 0 for larger ones.
pub fn detection_margin(w: usize, h: usize) -> usize {
    if w.max(h) > MARGIN_MAX_SIDE {
        return 0;
    }
    (w.min(h) / 4).clamp(8, 32)
}

/// Whether the detector's boxes are those of a page turned sideways: at least three long boxes
/// (one side twice the other: lines, words) and more than two thirds of them upright.
pub fn is_sideways(boxes: &[TextBox]) -> bool {
    let mut long = 0;
    let mut upright = 0;
    for b in boxes {
        let q = &b.corners;
        let (e1, e2) = ([q[1][0] - q[0][0], q[1][1] - q[0][1]], [q[2][0] - q[1][0], q[2][1] - q[1][1]]);
        let (l1, l2) = (e1[0].hypot(e1[1]), e2[0].hypot(e2[1]));
        if l1.max(l2) < 2.0 * l1.min(l2) {
            continue;
        }
        long += 1;
        let along = if l1 >= l2 { e1 } else { e2 };
        upright += usize::from(along[1].abs() > along[0].abs());
    }
    long >= 3 && 3 * upright > 2 * long
}

/// Tallest image read whole as one line ([`is_one_line`]), in pixels.
pub const ONE_LINE_MAX_HEIGHT: usize = 160;

/// Whether `img` is one line of text: no taller than [`ONE_LINE_MAX_HEIGHT`], at least as
/// wide as tall, and the detector's boxes (if any) side by side in one row (each pair
/// overlapping vertically by half the lower one's height). Two lines of a small screenshot
/// give two rows and are read as a page.
pub fn is_one_line(img: &RgbImage, boxes: &[TextBox]) -> bool {
    if img.height > ONE_LINE_MAX_HEIGHT || img.width < img.height {
        return false;
    }
    let span = |b: &TextBox| {
        let ys = b.corners.map(|p| p[1]);
        (
            ys.iter().copied().fold(f64::INFINITY, f64::min),
            ys.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )
    };
    boxes.iter().enumerate().all(|(i, a)| {
        boxes[i + 1..].iter().all(|b| {
            let ((a0, a1), (b0, b1)) = (span(a), span(b));
            let overlap = a1.min(b1) - a0.max(b0);
            overlap >= 0.5 * (a1 - a0).min(b1 - b0)
        })
    })
}

/// The rectangle of `img` an image of one line ([`is_one_line`]) is read in: the image's width
/// (the detector may miss words of a long, low line: a 1356×36 scanned line gave it one
/// word), between the top and bottom of the detector's boxes and a quarter of their height
/// more, grown to the rows of ink that continue the line up and down; the whole image when
/// there are none.
fn one_line_quad(img: &RgbImage, boxes: &[TextBox]) -> [Point; 4] {
    let (w, h) = (img.width as f64, img.height as f64);
    let ys = boxes.iter().flat_map(|b| b.corners.map(|p| p[1]));
    let (top, bottom) = ys.fold((h, 0.0f64), |(t, b), y| (t.min(y), b.max(y)));
    if bottom - top < 4.0 {
        return [[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]];
    }
    // A quarter of the line's height more each way: at the detector's scale (a long line
    // shrunk to its 960 px) the boxes' edges are a few pixels off. The compressed detector's
    // box of a 2114×36 scanned line started 10 px down, under the ascenders, which the
    // quarter did not reach: the ink decides where the line ends.
    let pad = 0.25 * (bottom - top);
    let (ink_top, ink_bottom) = ink_extent(img, top, bottom);
    let top = (top - pad).min(ink_top - 1.0).max(0.0);
    let bottom = (bottom + pad).max(ink_bottom + 1.0).min(h);
    [[0.0, top], [w, top], [w, bottom], [0.0, bottom]]
}

/// Smallest difference from the background grey, in levels, that counts as ink.
const INK_CONTRAST: i32 = 48;

/// The rows `[top, bottom)` of a line's band grown up and down while the next row holds ink
/// (pixels [`INK_CONTRAST`] away from the image's median grey; at least one per 1000 columns
/// and two in all, so scanner speckle does not count): the ascenders and descenders of a line
/// whose detector box is too low or too short.
fn ink_extent(img: &RgbImage, top: f64, bottom: f64) -> (f64, f64) {
    let (w, h) = (img.width, img.height);
    let grey: Vec<i32> = img
        .data
        .chunks_exact(3)
        .map(|p| (77 * p[0] as i32 + 150 * p[1] as i32 + 29 * p[2] as i32) >> 8)
        .collect();
    let mut hist = [0usize; 256];
    for &g in &grey {
        hist[g.clamp(0, 255) as usize] += 1;
    }
    let mut seen = 0;
    let background = hist
        .iter()
        .position(|&n| {
            seen += n;
            2 * seen >= grey.len()
        })
        .unwrap_or(255) as i32;
    let need = (w / 1000).max(2);
    let inked = |y: usize| {
        grey[y * w..(y + 1) * w].iter().filter(|&&g| (g - background).abs() >= INK_CONTRAST).count() >= need
    };
    let (mut t, mut b) = ((top.max(0.0) as usize).min(h - 1), (bottom.ceil() as usize).clamp(1, h));
    while t > 0 && inked(t - 1) {
        t -= 1;
    }
    while b < h && inked(b) {
        b += 1;
    }
    (t as f64, b as f64)
}

/// The detector's boxes cut out of `img` as upright line images, in the boxes' order.
pub fn line_crops(img: &RgbImage, boxes: &[TextBox]) -> Result<Vec<RgbImage>> {
    boxes
        .iter()
        .map(|b| {
            let crop = perspective_crop(img, &b.corners)?;
            // Tall boxes hold vertical text: turn them so the line runs left to right.
            let (w, h) = quad_size(&b.corners);
            Ok(if h >= 1.5 * w { crop.rotated_90_ccw() } else { crop })
        })
        .collect()
}

/// Page text from lines in reading order.
pub fn page_text(lines: &[Line]) -> String {
    let mut text = String::new();
    for (i, l) in lines.iter().enumerate() {
        if i > 0 {
            let prev = &lines[i - 1];
            text.push_str(if l.block != prev.block {
                "\n\n"
            } else if l.row != prev.row {
                "\n"
            } else {
                " "
            });
        }
        text.push_str(l.text.trim());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_from_json() {
        let mut o = OcrOptions::default();
        o.apply_json(r#"{"det_max_side": 1280, "use_cls": false, "min_confidence": 0.3, "cls_sample": 0, "fast_rec": false}"#)
            .unwrap();
        assert_eq!(
            (o.det.max_side, o.use_cls, o.min_confidence, o.cls_sample, o.fast_rec),
            (1280, false, 0.3, 0, false)
        );
        for bad in [r#"{"det_max_side": 5}"#, r#"{"colour": 1}"#, "[1]", "{", r#"{"use_cls": 1}"#] {
            let before = o;
            assert!(o.apply_json(bad).is_err(), "{bad}");
            assert_eq!(o.det.max_side, before.det.max_side);
        }
    }

    fn text_box(x: f64, y: f64, w: f64, h: f64) -> TextBox {
        TextBox { corners: [[x, y], [x + w, y], [x + w, y + h], [x, y + h]], score: 0.9 }
    }

    #[test]
    fn one_line_images_are_short_and_one_row() {
        let img = |w, h| RgbImage::new(w, h, vec![255; w * h * 3]).unwrap();
        // A scanned line, with the detector's boxes side by side or none at all.
        assert!(is_one_line(
            &img(819, 88),
            &[text_box(5.0, 10.0, 400.0, 70.0), text_box(420.0, 14.0, 390.0, 66.0)]
        ));
        assert!(is_one_line(&img(184, 72), &[]));
        // Two rows of a small screenshot; a tall image; a narrow one.
        assert!(!is_one_line(
            &img(800, 150),
            &[text_box(10.0, 10.0, 500.0, 50.0), text_box(10.0, 80.0, 500.0, 50.0)]
        ));
        assert!(!is_one_line(&img(800, 400), &[]));
        assert!(!is_one_line(&img(60, 100), &[]));
    }

    #[test]
    fn a_line_is_read_down_to_its_ink_not_only_its_box() {
        // A 600×40 line: letter bodies in rows 14..28, ascenders from row 5, a descender to 33,
        // scanner speckle (one pixel) in row 1. The detector's box covers rows 14..28 only.
        let (w, h) = (600, 40);
        let mut data = vec![250u8; w * h * 3];
        let mut ink = |x: usize, y: usize| data[(y * w + x) * 3..(y * w + x) * 3 + 3].fill(20);
        for x in (10..590).step_by(7) {
            (14..28).for_each(|y| ink(x, y));
        }
        for x in (10..590).step_by(35) {
            (5..14).for_each(|y| ink(x, y));
            (28..33).for_each(|y| ink(x + 3, y));
        }
        ink(300, 1);
        let img = RgbImage::new(w, h, data).unwrap();
        let q = one_line_quad(&img, &[text_box(8.0, 14.0, 584.0, 14.0)]);
        let (top, bottom) = (q[0][1], q[2][1]);
        assert!((2.0..=4.0).contains(&top), "top {top}: the ascenders start at row 5, speckle at 1");
        assert!(bottom >= 34.0, "bottom {bottom}: the descenders end at row 33");
        assert_eq!((q[0][0], q[1][0]), (0.0, w as f64));
        // no box: the whole image
        assert_eq!(one_line_quad(&img, &[])[2], [w as f64, h as f64]);
    }

    #[test]
    fn pages_turned_sideways_have_upright_lines() {
        let lines: Vec<TextBox> =
            (0..6).map(|i| text_box(100.0 + 40.0 * i as f64, 50.0, 25.0, 600.0)).collect();
        assert!(is_sideways(&lines));
        let rows: Vec<TextBox> =
            (0..6).map(|i| text_box(50.0, 100.0 + 40.0 * i as f64, 600.0, 25.0)).collect();
        assert!(!is_sideways(&rows));
        // Two upright lines are too few to turn a page; squarish boxes do not count.
        assert!(!is_sideways(&lines[..2]));
        let blobs: Vec<TextBox> = (0..6).map(|i| text_box(40.0 * i as f64, 0.0, 30.0, 40.0)).collect();
        assert!(!is_sideways(&blobs));
    }

    #[test]
    fn small_images_get_a_margin_for_detection() {
        assert_eq!(detection_margin(617, 42), 10);
        assert_eq!(detection_margin(640, 480), 32);
        assert_eq!(detection_margin(40, 20), 8);
        assert_eq!(detection_margin(2480, 3508), 0);
    }

    #[test]
    fn spread_samples_are_distinct_sorted_and_in_range() {
        assert_eq!(spread(30, 6), vec![2, 7, 12, 17, 22, 27]);
        assert_eq!(spread(5, 6), vec![0, 1, 2, 3, 4]);
        assert_eq!(spread(7, 0), (0..7).collect::<Vec<_>>());
        assert!(spread(0, 6).is_empty());
        for len in 1..60 {
            for n in 1..len {
                let s = spread(len, n);
                assert_eq!(s.len(), n);
                assert!(s.windows(2).all(|w| w[0] < w[1]) && s[n - 1] < len, "{len} {n} {s:?}");
            }
        }
    }

    /// Runs [`sampled_directions`] with a classifier that turns the lines in `turned`;
    /// returns the lines turned and the calls' index lists.
    fn directions(n: usize, sample: usize, turned: &[usize]) -> (Vec<usize>, Vec<Vec<usize>>) {
        let mut calls = Vec::new();
        let flagged = sampled_directions(n, sample, |which| {
            calls.push(which.to_vec());
            Ok(which.iter().copied().filter(|i| turned.contains(i)).collect())
        })
        .unwrap();
        (flagged, calls)
    }

    #[test]
    fn the_classifier_sees_every_line_only_when_the_sample_has_a_turned_one() {
        // An upright page: one call, on the sample alone.
        let (flagged, calls) = directions(30, 6, &[]);
        assert!(flagged.is_empty());
        assert_eq!(calls, vec![spread(30, 6)]);
        // An upside-down page: the sample, then every other line; all of them turned.
        let all: Vec<usize> = (0..30).collect();
        let (flagged, calls) = directions(30, 6, &all);
        assert_eq!(flagged, all);
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].len() + calls[1].len(), 30);
        assert!(calls[1].iter().all(|i| !calls[0].contains(i)));
        // One turned line in the sample: the others are classified too and found.
        let (flagged, _) = directions(30, 6, &[7, 29]);
        assert_eq!(flagged, vec![7, 29]);
        // One turned line outside the sample is the documented miss...
        let (flagged, _) = directions(30, 6, &[29]);
        assert!(flagged.is_empty());
        // ...which `cls_sample: 0` (every line) does not have.
        let (flagged, calls) = directions(30, 0, &[29]);
        assert_eq!((flagged, calls.len()), (vec![29], 1));
        // Fewer lines than the sample: one call on all of them.
        let (flagged, calls) = directions(4, 6, &[3]);
        assert_eq!((flagged, calls), (vec![3], vec![vec![0, 1, 2, 3]]));
    }

    #[test]
    fn page_text_joins_rows_and_blocks() {
        let line = |text: &str, row, block| Line {
            text: text.into(),
            confidence: 1.0,
            corners: [[0.0; 2]; 4],
            det_score: 1.0,
            rotated: false,
            row,
            block,
        };
        let lines = [line("Item", 0, 0), line("Qty ", 0, 0), line("Pens", 1, 0), line("Total", 2, 1)];
        assert_eq!(page_text(&lines), "Item Qty\nPens\n\nTotal");
    }
}
