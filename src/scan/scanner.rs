//! The whole per-frame pipeline, used identically by the CLI and the browser:
//! page quadrilateral → perspective warp → document type → codes (frame and page) → OCR of
//! the page (or of the frame when there is no page) → form fields, with per-stage timings.
//! [`ScanSession`] is the video mode: a fast per-frame preview (page and codes), the
//! steadiness of the page for auto-capture, and results smoothed across frames.

use crate::error::Result;
use crate::scan::clock::now_ms;
use crate::scan::codes::{self, Code, CodeOptions};
use crate::scan::doctype::{Classifier, DocType};
use crate::scan::forms::{self, Field};
use crate::scan::geometry::{project, quad_size, rect_to_quad, Point};
use crate::scan::image::RgbImage;
use crate::scan::luma::Luma;
use crate::scan::ocr::pipeline::page_text;
use crate::scan::ocr::{Line, Ocr, ReadCounts};
use crate::scan::page::{find_page, PageOptions, PageQuad};
use crate::scan::paper::lies_on_larger_paper;
use crate::scan::warp::perspective_warp;
use serde::Serialize;
use std::collections::VecDeque;

/// Longest side of the rectified page (a phone photo of an A4 page seldom has more detail).
pub const MAX_PAGE_SIDE: usize = 2200;

/// Shortest side, in frame pixels, of a page worth rectifying (see [`Scanner::scan_visual`]):
/// the word and line crops of benches/real, 39–88 px high, gave the page finder "pages" around
/// their ink that cut letters off when rectified.
pub const MIN_PAGE_SIDE: f64 = 120.0;

/// The smallest page, as a fraction of the frame, for which the frame gets only the quick code
/// pass (`ScanOptions::quick_frame_codes_with_page`). A smaller "page" is often a label or a
/// box beside the code, and then the frame's full pass is what reads it: with every page,
/// 5 photos of ../shared/data/codes (pages of 0.09–0.17 of the frame) lost their code. The
/// pages and forms of the scene set cover 0.11–0.80 of their frames (70 of 120 at least
/// 0.25); the browser benchmark's 5 text pages with the most lines 0.32–0.47.
pub const QUICK_FRAME_MIN_PAGE_AREA: f64 = 0.25;

/// Pipeline settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScanOptions {
    pub page: PageOptions,
    /// Codes in the full scan.
    pub codes: CodeOptions,
    /// Codes in the live preview (every frame): by default without "try harder", which costs
    /// several times more on a 1280x720 frame; a missed code is read in the next frames or
    /// at capture.
    pub preview_codes: CodeOptions,
    /// Read codes on the rectified page too (a straightened, larger view helps small or
    /// skewed 1D codes).
    pub codes_on_page: bool,
    /// When a page covering at least [`QUICK_FRAME_MIN_PAGE_AREA`] of the frame is found (and
    /// `codes_on_page`), the frame gets only the quick code pass (`preview_codes`) and the
    /// page the full one. "Try harder" on both was most of a text page's scan time before
    /// OCR: on the 270 scenes of the scene set (native, no OCR) the median text scene took
    /// 422 ms with it and 235 ms without, and barcodes and QR codes still decoded 100 %.
    pub quick_frame_codes_with_page: bool,
    /// Run the document-type classifier in the preview too (a few ms with the compressed
    /// MobileNetV2), so video mode can smooth the type across frames.
    pub classify_in_preview: bool,
    /// Let the fast recogniser read images without a page outline too (a flat scan, a
    /// screenshot, a crop). Off by default: it was trained on rendered lines and crops of
    /// camera pages, and on those images PP-OCRv4's recogniser reads far better (benches/real:
    /// a 300-dpi manual page 94.3 → 97.8 %, a terminal screenshot 75.8 → 96.2 % of
    /// characters), at the main recogniser's cost per line.
    pub fast_rec_without_page: bool,
}

impl ScanOptions {
    /// Applies settings given as a JSON object (the web app's knob): `codes_try_harder`,
    /// `codes_multiple`, `preview_try_harder`, `preview_multiple`, `codes_on_page`,
    /// `quick_frame_codes_with_page`, `classify_in_preview`, `fast_rec_without_page` (booleans),
    /// `page_max_side` (64..=1024).
    pub fn apply_json(&mut self, json: &str) -> Result<()> {
        let bad = |m: String| crate::error::Error::InvalidArgument(format!("scan options: {m}"));
        let v: serde_json::Value = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        let obj = v.as_object().ok_or_else(|| bad("expected a JSON object".into()))?;
        let mut o = *self;
        for (k, val) in obj {
            let flag = || val.as_bool().ok_or_else(|| bad(format!("{k} must be true or false")));
            match k.as_str() {
                "codes_try_harder" => o.codes.try_harder = flag()?,
                "codes_multiple" => o.codes.multiple = flag()?,
                "preview_try_harder" => o.preview_codes.try_harder = flag()?,
                "preview_multiple" => o.preview_codes.multiple = flag()?,
                "codes_on_page" => o.codes_on_page = flag()?,
                "quick_frame_codes_with_page" => o.quick_frame_codes_with_page = flag()?,
                "classify_in_preview" => o.classify_in_preview = flag()?,
                "fast_rec_without_page" => o.fast_rec_without_page = flag()?,
                "page_max_side" => {
                    o.page.max_side = match val.as_u64() {
                        Some(n) if (64..=1024).contains(&n) => n as usize,
                        _ => return Err(bad("page_max_side must be an integer in 64..=1024".into())),
                    }
                }
                _ => return Err(bad(format!("unknown setting {k:?}"))),
            }
        }
        *self = o;
        Ok(())
    }
}

impl Default for ScanOptions {
    fn default() -> ScanOptions {
        ScanOptions {
            page: PageOptions::default(),
            codes: CodeOptions::default(),
            preview_codes: CodeOptions { try_harder: false, multiple: true },
            codes_on_page: true,
            quick_frame_codes_with_page: true,
            classify_in_preview: true,
            fast_rec_without_page: false,
        }
    }
}

/// Milliseconds per stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ScanTimings {
    pub page: f64,
    pub rectify: f64,
    pub classify: f64,
    pub codes: f64,
    pub ocr_det: f64,
    pub ocr_cls: f64,
    /// Both recognisers.
    pub ocr_rec: f64,
    /// The fast recogniser's share of `ocr_rec`.
    pub ocr_rec_fast: f64,
    pub forms: f64,
    pub total: f64,
}

/// The page found in the frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PageResult {
    /// Corners in the frame: tl, tr, br, bl.
    pub corners: [Point; 4],
    pub support: f64,
    pub area_fraction: f64,
    /// Size of the rectified page.
    pub width: usize,
    pub height: usize,
}

/// Everything found in one frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanResult {
    pub width: usize,
    pub height: usize,
    /// "text", "form", "barcode", "qr" or "none"; "unknown" without a classifier.
    #[serde(rename = "type")]
    pub doc_type: String,
    /// Where the type comes from: "classifier"; "codes" (the classifier said none, barcode or
    /// qr, and the codes read say otherwise); "fields" (the classifier said text or form, and
    /// the fields found say otherwise); "text found" (the classifier said none, or barcode or
    /// qr with no code read, and text was read); "nothing found" (no page, code or text, so none
    /// whatever the classifier said); "none" (no classifier: type "unknown").
    pub type_source: &'static str,
    /// The classifier's confidence in its own answer.
    pub type_confidence: f32,
    pub type_probabilities: Option<[f32; 5]>,
    pub page: Option<PageResult>,
    pub codes: Vec<Code>,
    /// The text, in reading order ("" when nothing was read).
    pub text: String,
    /// OCR lines, in the coordinates of the image read (the rectified page when there is one).
    pub lines: Vec<Line>,
    pub fields: Vec<Field>,
    /// How many crops each recogniser read (both 0 when OCR did not run).
    pub ocr_reads: ReadCounts,
    pub timings_ms: ScanTimings,
}

/// The fast per-frame answer of the live preview.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preview {
    pub width: usize,
    pub height: usize,
    pub page: Option<PageQuad>,
    /// The document type, when the classifier is loaded and `classify_in_preview` is set.
    pub doc_type: Option<DocType>,
    pub codes: Vec<Code>,
    pub timings_ms: ScanTimings,
}

pub struct Scanner {
    ocr: Option<Ocr>,
    classifier: Option<Classifier>,
    pub options: ScanOptions,
    rectified: Option<RgbImage>,
    /// The grey image the last [`Scanner::scan_visual`] read codes in and
    /// [`Scanner::read_text`] finds form fields in: the rectified page, or the frame.
    grey: Option<Luma>,
}

impl Scanner {
    /// A scanner with the models given (each optional: without OCR no text or fields, without
    /// the classifier the type is "unknown").
    pub fn new(ocr: Option<Ocr>, classifier: Option<Classifier>) -> Scanner {
        Scanner { ocr, classifier, options: ScanOptions::default(), rectified: None, grey: None }
    }

    pub fn ocr_mut(&mut self) -> Option<&mut Ocr> {
        self.ocr.as_mut()
    }

    pub fn classifier_mut(&mut self) -> Option<&mut Classifier> {
        self.classifier.as_mut()
    }

    /// The rectified page of the last [`Scanner::scan`] (None when no page was found).
    pub fn rectified(&self) -> Option<&RgbImage> {
        self.rectified.as_ref()
    }

    /// Page and codes only: what a live preview needs on every frame.
    pub fn preview(&mut self, frame: &RgbImage) -> Result<Preview> {
        let t0 = now_ms();
        let luma = Luma::from_rgb(frame);
        let page = find_page(&luma, &self.options.page);
        let t1 = now_ms();
        let codes = codes::decode(&luma, &self.options.preview_codes, "frame")?;
        let t2 = now_ms();
        let doc_type = match self.classifier.as_mut() {
            Some(c) if self.options.classify_in_preview => Some(c.classify(frame)?),
            _ => None,
        };
        let t3 = now_ms();
        let timings_ms = ScanTimings {
            page: t1 - t0,
            codes: t2 - t1,
            classify: t3 - t2,
            total: t3 - t0,
            ..Default::default()
        };
        Ok(Preview { width: frame.width, height: frame.height, page, doc_type, codes, timings_ms })
    }

    /// The full pipeline on one frame.
    pub fn scan(&mut self, frame: &RgbImage) -> Result<ScanResult> {
        let mut r = self.scan_visual(frame)?;
        self.read_text(frame, &mut r)?;
        Ok(r)
    }

    /// The first part of [`Scanner::scan`]: page, rectification, document type and codes —
    /// what an app can show at once while the text is read. `text`, `lines` and `fields` are
    /// empty until [`Scanner::read_text`] runs on the same frame.
    pub fn scan_visual(&mut self, frame: &RgbImage) -> Result<ScanResult> {
        let mut t = ScanTimings::default();
        let t0 = now_ms();
        let luma = Luma::from_rgb(frame);
        let page = find_page(&luma, &self.options.page);
        let t1 = now_ms();
        t.page = t1 - t0;
        self.rectified = None;
        self.grey = None;
        let mut page_result = None;
        let mut to_frame = None;
        // A "page" too small to hold a line of text is the outline of a word or a line (a tight
        // crop, a label) or of a box in the frame: reading it rectified would cut the text.
        // And a quad with the same paper past two of its sides is a box, a frame or a fold on
        // a larger sheet (a flat scan, a close photo): the whole frame is read instead.
        let page = page.filter(|p| {
            let (qw, qh) = quad_size(&p.corners);
            qw.min(qh) >= MIN_PAGE_SIDE && !lies_on_larger_paper(&luma, &p.corners)
        });
        if let Some(p) = page {
            let (qw, qh) = quad_size(&p.corners);
            let s = (MAX_PAGE_SIDE as f64 / qw.max(qh)).min(1.0);
            let (w, h) = (((qw * s).round() as usize).max(1), ((qh * s).round() as usize).max(1));
            self.rectified = Some(perspective_warp(frame, &p.corners, w, h)?);
            to_frame = rect_to_quad(w as f64, h as f64, &p.corners);
            page_result = Some(PageResult {
                corners: p.corners,
                support: p.support,
                area_fraction: p.area_fraction,
                width: w,
                height: h,
            });
        }
        let t2 = now_ms();
        t.rectify = t2 - t1;
        let doc_type = match self.classifier.as_mut() {
            Some(c) => Some(c.classify(frame)?),
            None => None,
        };
        let t3 = now_ms();
        t.classify = t3 - t2;
        // The grey page serves the page's codes and the form fields; the frame's grey image
        // stands in when there is no page.
        let page_luma = self.rectified.as_ref().map(Luma::from_rgb);
        // The page's grey image and its map back to the frame, when its codes are read.
        let page_codes = match (self.options.codes_on_page, page_luma.as_ref(), to_frame) {
            (true, Some(grey), Some(m)) => Some((grey, m)),
            _ => None,
        };
        let big_page = page_result.as_ref().is_some_and(|p| p.area_fraction >= QUICK_FRAME_MIN_PAGE_AREA);
        let frame_codes = if page_codes.is_some() && big_page && self.options.quick_frame_codes_with_page {
            &self.options.preview_codes
        } else {
            &self.options.codes
        };
        let mut found = codes::decode(&luma, frame_codes, "frame")?;
        if let Some((grey, m)) = page_codes {
            for mut c in codes::decode(grey, &self.options.codes, "page")? {
                codes::map_points(&mut c, |p| project(&m, p));
                found.push(c);
            }
        }
        self.grey = Some(page_luma.unwrap_or(luma));
        let found = codes::dedupe(found);
        let t4 = now_ms();
        t.codes = t4 - t3;
        let mut label = doc_type.as_ref().map_or("unknown", |d| d.label);
        let mut type_source = if doc_type.is_some() { "classifier" } else { "none" };
        if let Some(by_codes) = type_from_codes(label, &found) {
            (label, type_source) = (by_codes, "codes");
        }
        t.total = now_ms() - t0;
        Ok(ScanResult {
            width: frame.width,
            height: frame.height,
            doc_type: label.to_string(),
            type_source,
            type_confidence: doc_type.as_ref().map_or(0.0, |d| d.confidence),
            type_probabilities: doc_type.map(|d| d.probabilities),
            page: page_result,
            codes: found,
            text: String::new(),
            lines: Vec::new(),
            fields: Vec::new(),
            ocr_reads: ReadCounts::default(),
            timings_ms: t,
        })
    }

    /// The second part of [`Scanner::scan`]: the text and form fields of `frame` (its
    /// rectified page when [`Scanner::scan_visual`] found one; pass the same frame), added to
    /// `r`, whose type then falls to "none" when nothing at all was found.
    ///
    /// The type is a label, never a gate: every capture is read, whatever the classifier or
    /// the codes made of it (a screenshot, a scanned line or a label beside a barcode is text
    /// the classifier never saw in training). What keeps clutter, textures and empty photos
    /// from getting invented text is evidence in the lines read ([`credible_lines`]).
    pub fn read_text(&mut self, frame: &RgbImage, r: &mut ScanResult) -> Result<()> {
        let t0 = now_ms();
        if let Some(ocr) = self.ocr.as_mut() {
            let mut img = self.rectified.as_ref().unwrap_or(frame);
            let fast_without_page = self.options.fast_rec_without_page;
            let mut lines = read_credible(ocr, img, self.rectified.is_some(), fast_without_page, r)?;
            // A page that reads as nothing may be a screen, a label or a box around the text
            // rather than the text's page (light text on a dark watch face): read the frame.
            if lines.is_empty() && self.rectified.is_some() {
                img = frame;
                lines = read_credible(ocr, img, false, fast_without_page, r)?;
                if !lines.is_empty() {
                    // The text is the frame's: so are the lines' coordinates.
                    self.rectified = None;
                    self.grey = None;
                    r.page = None;
                }
            }
            if !lines.is_empty() {
                if r.type_source != "none" && type_from_text(&r.doc_type, &r.codes) {
                    r.doc_type = "text".into();
                    r.type_source = "text found";
                }
                let t5 = now_ms();
                let grey = match self.grey.take() {
                    Some(g) if g.width == img.width && g.height == img.height => g,
                    _ => Luma::from_rgb(img),
                };
                r.fields = forms::extract(&lines, &grey);
                self.grey = Some(grey);
                r.timings_ms.forms = now_ms() - t5;
                r.text = page_text(&lines);
                r.lines = lines;
                if let Some(by_fields) = type_from_fields(&r.doc_type, r.fields.len(), r.lines.len()) {
                    r.doc_type = by_fields.into();
                    r.type_source = "fields";
                }
            }
        }
        // Nothing found at all (no page, no code, no text): whatever the classifier thought,
        // there is no document here.
        if r.page.is_none()
            && r.codes.is_empty()
            && r.text.is_empty()
            && r.doc_type != "unknown"
            && r.doc_type != "none"
        {
            r.doc_type = "none".into();
            r.type_source = "nothing found";
        }
        r.timings_ms.total += now_ms() - t0;
        Ok(())
    }
}

/// The decoded codes overrule the whole-frame classifier where it said "none", "barcode" or
/// "qr": a decoder that read a format is surer than a look at the frame, and on the scene set
/// the classifier mixed up the two code types in 28 of 120 code scenes. Codes of both kinds
/// keep "barcode" or "qr" as the classifier said (and turn "none" into the first code's kind).
/// A code on a text page or form leaves that type alone.
fn type_from_codes(label: &str, found: &[Code]) -> Option<&'static str> {
    if !matches!(label, "none" | "barcode" | "qr") {
        return None;
    }
    let kind = |c: &Code| if codes::is_2d(&c.format) { "qr" } else { "barcode" };
    let first = kind(found.first()?);
    let by_codes =
        if label == "none" || found.iter().all(|c| kind(c) == first) { first } else { return None };
    (by_codes != label).then_some(by_codes)
}

/// Lowest mean character probability of a returned line.
const LINE_MIN_CONFIDENCE: f32 = 0.5;
/// What a read must contain for any of its lines to be returned: one line of this many
/// letters and digits ...
const ANCHOR_MIN_ALNUM: usize = 3;
/// ... read with this mean character probability.
const ANCHOR_MIN_CONFIDENCE: f32 = 0.8;
/// A crop that is one line of text (a page number, a price, a symbol cut from a page) has
/// fewer than three letters and digits to offer: it anchors the read by itself when the image
/// is at most this many pixels tall ...
const CROP_MAX_HEIGHT: usize = 96;
/// ... its line's box spans at least this share of the image's height ...
const CROP_MIN_LINE_SHARE: f64 = 0.6;
/// ... and the line is read with this mean character probability. Measured: the five page
/// numbers and "&" among the 202 real scanned lines (`../shared/data/ocr`, 30–50 px tall) read
/// at 1.000; what the no_page photos of benches/real give ("O", "D", "(", "#") is 0.52–0.66,
/// in boxes of a fifth of a 300–500 px photo or more.
const CROP_MIN_CONFIDENCE: f32 = 0.9;

/// Reads `img` and keeps its credible lines ([`credible_lines`]), adding the OCR's timings and
/// read counts to `r`. A rectified `page` is read as before this scanner read flat images too:
/// the fast recogniser first, no detection margin; an image without a page (a scan, a
/// screenshot, a crop) gets the margin, and the fast recogniser only with `fast_without_page`.
fn read_credible(
    ocr: &mut Ocr,
    img: &RgbImage,
    page: bool,
    fast_without_page: bool,
    r: &mut ScanResult,
) -> Result<Vec<Line>> {
    let before = ocr.options;
    ocr.options.fast_rec = before.fast_rec && (page || fast_without_page);
    ocr.options.det_margin = before.det_margin && !page;
    let page = ocr.scan(img);
    ocr.options = before;
    let page = page?;
    r.timings_ms.ocr_det += page.timings_ms.det;
    r.timings_ms.ocr_cls += page.timings_ms.cls;
    r.timings_ms.ocr_rec += page.timings_ms.rec;
    r.timings_ms.ocr_rec_fast += page.timings_ms.rec_fast;
    r.ocr_reads.fast += page.reads.fast;
    r.ocr_reads.main += page.reads.main;
    Ok(credible_lines(page.lines, img.height))
}

/// The lines of a read that are text rather than a pattern the detector and recogniser made
/// something of. On photos without text (the no_page images of benches/real: textures, cells,
/// a cup, a stone wall) what gets read is one or two characters in a box as tall as a
/// hand ("O", "E", "ee", "8"), while every image with text has at least one line of three or
/// more letters or digits read at 0.8 or better. So a read counts only when it has such an
/// anchor line, and then every line above the OCR's confidence floor with a letter or digit
/// is kept (a page number, a "No." beside a field). A small image that is one line high is
/// its own evidence when that line is read surely ([`CROP_MAX_HEIGHT`]): a crop of a page
/// number, not a photo.
fn credible_lines(lines: Vec<Line>, image_height: usize) -> Vec<Line> {
    let alnum = |l: &Line| l.text.chars().filter(|c| c.is_alphanumeric()).count();
    let fills_crop = |l: &Line| {
        image_height <= CROP_MAX_HEIGHT
            && quad_size(&l.corners).1 >= CROP_MIN_LINE_SHARE * image_height as f64
            && l.confidence >= CROP_MIN_CONFIDENCE
    };
    let anchored = lines.iter().any(|l| {
        (alnum(l) >= ANCHOR_MIN_ALNUM && l.confidence >= ANCHOR_MIN_CONFIDENCE)
            || (alnum(l) >= 1 && fills_crop(l))
    });
    if !anchored {
        return Vec::new();
    }
    lines.into_iter().filter(|l| l.confidence >= LINE_MIN_CONFIDENCE && alnum(l) >= 1).collect()
}

/// Whether text that was read makes the capture "text": the classifier saw nothing there, or
/// it saw a code that no reader found (a single scanned line squashed to the classifier's
/// square input is a row of tall strokes, and it called 13 of the 13 lines and 12 of the 15
/// word crops of benches/real "barcode").
fn type_from_text(label: &str, codes: &[Code]) -> bool {
    matches!(label, "none" | "unknown") || (matches!(label, "barcode" | "qr") && codes.is_empty())
}

/// Fewest fields a form has, and the smallest share of OCR lines that are (part of) a field.
const FORM_MIN_FIELDS: usize = 3;
const FORM_MIN_FIELDS_PER_LINE: f64 = 1.0 / 3.0;

/// Between "text" and "form" the fields found decide: a page where a third or more of the
/// lines are fields (and at least three) is a form, and one without that many is text. The
/// whole-frame classifier sees a form's labels and boxes at 112 pixels across a cluttered
/// frame and mostly calls it text (6 of 60 forms right on the scene set), while the field
/// extractor reads the page: its generated forms have 0.36–1 fields per line, and its text
/// pages at most 0.25 (stray "Label: value" looks in prose).
fn type_from_fields(label: &str, fields: usize, lines: usize) -> Option<&'static str> {
    if !matches!(label, "text" | "form") {
        return None;
    }
    let form = fields >= FORM_MIN_FIELDS && fields as f64 >= FORM_MIN_FIELDS_PER_LINE * lines as f64;
    let by_fields = if form { "form" } else { "text" };
    (by_fields != label).then_some(by_fields)
}

/// Video-mode settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionOptions {
    /// Frames the page must hold still before it is "steady".
    pub steady_frames: usize,
    /// Largest corner movement between frames that counts as still, as a fraction of the
    /// frame diagonal.
    pub steady_motion: f64,
    /// Frames a code stays listed after it was last read.
    pub code_memory: usize,
    /// Frames the document type is averaged over.
    pub type_frames: usize,
}

impl Default for SessionOptions {
    fn default() -> SessionOptions {
        SessionOptions { steady_frames: 5, steady_motion: 0.01, code_memory: 15, type_frames: 8 }
    }
}

/// One frame's answer in video mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionFrame {
    pub frame: u64,
    pub page: Option<PageQuad>,
    /// The page has held still long enough to capture.
    pub steady: bool,
    /// Consecutive frames the page has held still.
    pub still_frames: usize,
    /// Codes read in this frame or recently (deduplicated), each with how many frames read it.
    pub codes: Vec<SeenCode>,
    /// The document type averaged over the last frames.
    pub doc_type: Option<DocType>,
    pub timings_ms: ScanTimings,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeenCode {
    #[serde(flatten)]
    pub code: Code,
    pub frames: u32,
    pub last_frame: u64,
}

/// The stateful video mode.
pub struct ScanSession {
    pub scanner: Scanner,
    pub options: SessionOptions,
    frame: u64,
    last_quad: Option<[Point; 4]>,
    still: usize,
    codes: Vec<SeenCode>,
    types: VecDeque<[f32; 5]>,
}

impl ScanSession {
    pub fn new(scanner: Scanner) -> ScanSession {
        ScanSession {
            scanner,
            options: SessionOptions::default(),
            frame: 0,
            last_quad: None,
            still: 0,
            codes: Vec::new(),
            types: VecDeque::new(),
        }
    }

    /// The live preview of the next frame.
    pub fn push(&mut self, frame: &RgbImage) -> Result<SessionFrame> {
        let p = self.scanner.preview(frame)?;
        self.frame += 1;
        let diag = (frame.width as f64).hypot(frame.height as f64);
        match (p.page, self.last_quad) {
            (Some(q), Some(last)) => {
                let moved = q
                    .corners
                    .iter()
                    .zip(&last)
                    .map(|(a, b)| (a[0] - b[0]).hypot(a[1] - b[1]))
                    .fold(0.0, f64::max);
                self.still = if moved <= self.options.steady_motion * diag { self.still + 1 } else { 0 };
            }
            _ => self.still = 0,
        }
        self.last_quad = p.page.map(|q| q.corners);
        for c in p.codes {
            match self.codes.iter_mut().find(|s| s.code.format == c.format && s.code.text == c.text) {
                Some(s) => {
                    s.code = c;
                    s.frames += 1;
                    s.last_frame = self.frame;
                }
                None => self.codes.push(SeenCode { code: c, frames: 1, last_frame: self.frame }),
            }
        }
        if let Some(d) = &p.doc_type {
            self.types.push_back(d.probabilities);
            if self.types.len() > self.options.type_frames.max(1) {
                self.types.pop_front();
            }
        }
        let keep = self.options.code_memory as u64;
        let now = self.frame;
        self.codes.retain(|s| now - s.last_frame < keep);
        Ok(SessionFrame {
            frame: self.frame,
            page: p.page,
            steady: p.page.is_some() && self.still + 1 >= self.options.steady_frames,
            still_frames: if p.page.is_some() { self.still + 1 } else { 0 },
            codes: self.codes.clone(),
            doc_type: self.smoothed_type(),
            timings_ms: p.timings_ms,
        })
    }

    fn smoothed_type(&self) -> Option<DocType> {
        let n = self.types.len();
        (n > 0).then(|| {
            DocType::from_probabilities(std::array::from_fn(|i| {
                self.types.iter().map(|t| t[i]).sum::<f32>() / n as f32
            }))
        })
    }

    /// The full scan of a frame (the captured one): its own document type averaged with the
    /// recent frames', and the codes read in recent frames added.
    pub fn capture(&mut self, frame: &RgbImage) -> Result<ScanResult> {
        let mut r = self.capture_visual(frame)?;
        self.scanner.read_text(frame, &mut r)?;
        Ok(r)
    }

    /// The first part of [`ScanSession::capture`] (see [`Scanner::scan_visual`]): page, type
    /// smoothed over the session, codes including those the preview remembers. Finish with
    /// [`Scanner::read_text`] on the same frame.
    pub fn capture_visual(&mut self, frame: &RgbImage) -> Result<ScanResult> {
        let mut r = self.scanner.scan_visual(frame)?;
        if let Some(p) = r.type_probabilities {
            self.types.push_back(p);
            if self.types.len() > self.options.type_frames.max(1) {
                self.types.pop_front();
            }
            if let Some(d) = self.smoothed_type().filter(|_| r.type_source == "classifier") {
                r.doc_type = d.label.to_string();
                r.type_confidence = d.confidence;
                r.type_probabilities = Some(d.probabilities);
            }
        }
        for s in &self.codes {
            if !r.codes.iter().any(|c| c.format == s.code.format && c.text == s.code.text) {
                r.codes.push(s.code.clone());
            }
        }
        if r.type_source == "classifier" {
            if let Some(by_codes) = type_from_codes(&r.doc_type, &r.codes) {
                r.doc_type = by_codes.into();
                r.type_source = "codes";
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests;
