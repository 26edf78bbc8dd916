//! The OCR pipeline: detector → perspective crop per box → optional 180° direction
//! classifier → recogniser in batches of similar width → CTC decoding → reading order.
//! The same code runs the original ONNX models (tract f32) and the compressed `.slim` ones
//! (the engine's integer kernels): only the bytes given to [`Ocr::load`] differ.

use super::ctc::{greedy_decode, Charset};
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
    /// Crops per recogniser (and classifier) run.
    pub batch: usize,
    /// Lines recognised with a lower confidence are dropped from page results.
    pub min_confidence: f32,
}

impl Default for OcrOptions {
    fn default() -> OcrOptions {
        OcrOptions {
            det: DetOptions::default(),
            use_cls: true,
            cls_threshold: 0.9,
            batch: 6,
            min_confidence: 0.5,
        }
    }
}

impl OcrOptions {
    /// Applies settings given as a JSON object (the web app's and the benchmarks' knob):
    /// `det_min_side`, `det_max_side`, `use_cls`, `min_confidence`, `batch`.
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
                "use_cls" => {
                    o.use_cls = val.as_bool().ok_or_else(|| bad("use_cls must be true or false".into()))?
                }
                "min_confidence" => {
                    o.min_confidence = match val.as_f64() {
                        Some(c) if (0.0..=1.0).contains(&c) => c as f32,
                        _ => return Err(bad("min_confidence must be in 0..=1".into())),
                    }
                }
                _ => return Err(bad(format!("unknown setting {k:?}"))),
            }
        }
        *self = o;
        Ok(())
    }
}

/// Milliseconds spent per stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Timings {
    pub det: f64,
    pub cls: f64,
    pub rec: f64,
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
    pub timings_ms: Timings,
}

/// One crop read as a single line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineRead {
    pub text: String,
    pub confidence: f32,
    pub rotated: bool,
    pub timings_ms: Timings,
}

/// What the recogniser read in one crop.
#[derive(Debug, Clone, Default)]
struct CropRead {
    text: String,
    confidence: f32,
    rotated: bool,
}

/// The three PP-OCR models and the recogniser's character set.
pub struct Ocr {
    det: Model,
    rec: Model,
    cls: Option<Model>,
    characters: String,
    charset: Option<Charset>,
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

    /// Loads one of the three models; errors name it (`what`: "detector", "recogniser" or
    /// "direction classifier").
    pub fn load_part(what: &str, bytes: &[u8]) -> Result<Model> {
        Model::load(bytes).map_err(|e| Error::Model(format!("{what} model: {e}")))
    }

    /// The pipeline over models loaded already (see [`Ocr::load_part`]).
    pub fn from_models(det: Model, rec: Model, cls: Option<Model>) -> Result<Ocr> {
        let characters = rec
            .metadata("character")
            .ok_or_else(|| {
                Error::Model("the recogniser has no `character` metadata (not a PP-OCR rec model?)".into())
            })?
            .to_string();
        Ok(Ocr { det, rec, cls, characters, charset: None, options: OcrOptions::default() })
    }

    /// Detects and reads all text in `img`.
    pub fn scan(&mut self, img: &RgbImage) -> Result<Page> {
        let t0 = now_ms();
        let boxes = self.detect(img)?;
        let t_det = now_ms();
        let mut crops = Vec::with_capacity(boxes.len());
        for b in &boxes {
            let crop = perspective_crop(img, &b.corners)?;
            // Tall boxes hold vertical text: turn them so the line runs left to right.
            let (w, h) = quad_size(&b.corners);
            crops.push(if h >= 1.5 * w { crop.rotated_90_ccw() } else { crop });
        }
        let (reads, mut timings) = self.read_crops(crops)?;
        timings.det = t_det - t0;
        let corners: Vec<[Point; 4]> = boxes.iter().map(|b| b.corners).collect();
        let mut lines = Vec::new();
        for p in reading_order(&corners) {
            let r = &reads[p.index];
            if r.confidence < self.options.min_confidence || r.text.trim().is_empty() {
                continue;
            }
            lines.push(Line {
                text: r.text.clone(),
                confidence: r.confidence,
                corners: corners[p.index],
                det_score: boxes[p.index].score,
                rotated: r.rotated,
                row: p.row,
                block: p.block,
            });
        }
        let text = page_text(&lines);
        timings.total = now_ms() - t0;
        Ok(Page { width: img.width, height: img.height, lines, text, timings_ms: timings })
    }

    /// Reads `img` as one text line (a crop): no detection.
    pub fn read_line(&mut self, img: &RgbImage) -> Result<LineRead> {
        let t0 = now_ms();
        let (mut reads, mut timings) = self.read_crops(vec![img.clone()])?;
        let r = reads.pop().expect("one crop, one read");
        timings.total = now_ms() - t0;
        Ok(LineRead { text: r.text, confidence: r.confidence, rotated: r.rotated, timings_ms: timings })
    }

    /// The detector's text boxes for `img`.
    pub fn detect(&mut self, img: &RgbImage) -> Result<Vec<TextBox>> {
        let (x, w, h) = det::preprocess(img, &self.options.det);
        let out = first_output(self.det.run(vec![F32Tensor::new(vec![1, 3, h, w], x)?])?, "detector")?;
        if out.data.len() != w * h {
            return Err(Error::Model(format!("detector output {:?} for a {w}x{h} input", out.shape)));
        }
        det::postprocess(&out.data, w, h, img.width, img.height, &self.options.det)
    }

    /// Classifies (optionally) and recognises crops; per crop: text, confidence, turned.
    ///
    /// A line the classifier calls upside down is read both ways and the more confident
    /// reading wins: on long lines (squeezed into the classifier's 192 px) it is often wrong,
    /// and trusting it alone cost 3 points of character accuracy on the generated lines.
    fn read_crops(&mut self, mut crops: Vec<RgbImage>) -> Result<(Vec<CropRead>, Timings)> {
        let mut timings = Timings::default();
        let n = crops.len();
        // Indices of crops the classifier would turn; their turned copies go after the crops.
        let mut flagged = Vec::new();
        let t0 = now_ms();
        if self.options.use_cls {
            if let Some(cls) = self.cls.as_mut() {
                for idx in &rec::batches_by_width(&crops, self.options.batch) {
                    let refs: Vec<&RgbImage> = idx.iter().map(|&i| &crops[i]).collect();
                    let x = rec::batch(&refs, rec::CLS_WIDTH)?;
                    let shape = vec![idx.len(), 3, rec::REC_HEIGHT, rec::CLS_WIDTH];
                    let out =
                        first_output(cls.run(vec![F32Tensor::new(shape, x)?])?, "direction classifier")?;
                    if out.data.len() != 2 * idx.len() {
                        return Err(Error::Model(format!("direction classifier output {:?}", out.shape)));
                    }
                    for (k, &i) in idx.iter().enumerate() {
                        if out.data[2 * k + 1] > self.options.cls_threshold {
                            flagged.push(i);
                        }
                    }
                }
            }
        }
        for &i in &flagged {
            let turned = crops[i].rotated_180();
            crops.push(turned);
        }
        let batches = rec::batches_for_recogniser(&crops, self.options.batch);
        let t1 = now_ms();
        timings.cls = t1 - t0;
        let mut reads = vec![CropRead::default(); crops.len()];
        for idx in &batches {
            let widest = idx
                .iter()
                .map(|&i| &crops[i])
                .max_by(|a, b| (a.width * b.height).cmp(&(b.width * a.height)))
                .expect("non-empty batch");
            let width = rec::batch_width(widest.width, widest.height);
            let refs: Vec<&RgbImage> = idx.iter().map(|&i| &crops[i]).collect();
            let x = rec::batch(&refs, width)?;
            let shape = vec![idx.len(), 3, rec::REC_HEIGHT, width];
            let out = first_output(self.rec.run(vec![F32Tensor::new(shape, x)?])?, "recogniser")?;
            let classes = *out.shape.last().unwrap_or(&0);
            if out.shape.len() != 3 || out.shape[0] != idx.len() || classes == 0 {
                return Err(Error::Model(format!(
                    "recogniser output {:?} for {} crops",
                    out.shape,
                    idx.len()
                )));
            }
            if self.charset.as_ref().is_none_or(|c| c.classes() != classes) {
                self.charset = Some(Charset::from_metadata(&self.characters, classes)?);
            }
            let charset = self.charset.as_ref().expect("set above");
            let per = out.data.len() / idx.len();
            for (k, &i) in idx.iter().enumerate() {
                let d = greedy_decode(&out.data[k * per..(k + 1) * per], charset)?;
                reads[i] = CropRead { text: d.text, confidence: d.confidence, rotated: false };
            }
        }
        for (k, &i) in flagged.iter().enumerate() {
            let turned = &reads[n + k];
            if turned.confidence > reads[i].confidence {
                reads[i] = CropRead { rotated: true, ..turned.clone() };
            }
        }
        reads.truncate(n);
        timings.rec = now_ms() - t1;
        Ok((reads, timings))
    }
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
        o.apply_json(r#"{"det_max_side": 1280, "use_cls": false, "min_confidence": 0.3}"#).unwrap();
        assert_eq!((o.det.max_side, o.use_cls, o.min_confidence), (1280, false, 0.3));
        for bad in [r#"{"det_max_side": 5}"#, r#"{"colour": 1}"#, "[1]", "{", r#"{"use_cls": 1}"#] {
            let before = o;
            assert!(o.apply_json(bad).is_err(), "{bad}");
            assert_eq!(o.det.max_side, before.det.max_side);
        }
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
