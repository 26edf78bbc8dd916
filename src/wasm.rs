//! `#[wasm_bindgen]` bindings only: type conversion and `Result<_, JsError>`. Everything they
//! call is plain Rust API, tested natively.

#[cfg(feature = "engine")]
use crate::engine::{self, F32Tensor};
use crate::format::{self, Limits};
use crate::huffman::{self, Decoder};
use crate::synth::quantized_laplacian_i8;
use wasm_bindgen::prelude::*;

/// Installs the panic hook so a Rust panic shows its message in the console.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// The crate version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Current size of the wasm linear memory in bytes. Memory only grows, so after a run this
/// is the peak.
#[wasm_bindgen(js_name = wasmMemoryBytes)]
pub fn wasm_memory_bytes() -> usize {
    core::arch::wasm32::memory_size(0) * 65536
}

/// A model ready to run: a `.slim` file (compressed layers on the int8 kernels) or a plain
/// ONNX model (tract f32).
#[cfg(feature = "engine")]
#[wasm_bindgen]
pub struct Model {
    inner: engine::Model,
    output_shape: Vec<u32>,
}

#[cfg(feature = "engine")]
#[wasm_bindgen]
impl Model {
    /// Loads a model from its bytes. Throws an `Error` saying what is wrong with a corrupt,
    /// truncated or unsupported file.
    pub fn load(bytes: &[u8]) -> Result<Model, JsError> {
        Ok(Model { inner: engine::Model::load(bytes)?, output_shape: Vec::new() })
    }

    /// Sizes and structure as JSON text (`JSON.parse` it): kind, file_bytes, original_bytes,
    /// inputs, outputs, slim_layers, sparse_layers, sparsity, packed_weight_bytes,
    /// f32_constant_bytes, fused_activations.
    pub fn info(&self) -> Result<String, JsError> {
        Ok(serde_json::to_string(self.inner.info())?)
    }

    /// Runs the model on one f32 input of the given shape and returns its first output
    /// (its shape: `outputShape()`).
    pub fn run(&mut self, data: Vec<f32>, shape: Vec<u32>) -> Result<Vec<f32>, JsError> {
        let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        let mut outs = self.inner.run(vec![F32Tensor::new(shape, data)?])?;
        if outs.is_empty() {
            return Err(JsError::new("the model has no outputs"));
        }
        let first = outs.swap_remove(0);
        self.output_shape = first.shape.iter().map(|&d| d as u32).collect();
        Ok(first.data)
    }

    /// Runs the model once and returns the time per operator as JSON text: `[[name, ms,
    /// calls], ...]`, slowest first; per node (`"Op node_name"`) when `byNode` is true.
    pub fn profile(&mut self, data: Vec<f32>, shape: Vec<u32>, by_node: bool) -> Result<String, JsError> {
        let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        let rows = self.inner.profile(vec![F32Tensor::new(shape, data)?], by_node)?;
        Ok(serde_json::to_string(&rows)?)
    }

    /// Shape of the output the last `run` returned.
    #[wasm_bindgen(js_name = outputShape)]
    pub fn output_shape(&self) -> Vec<u32> {
        self.output_shape.clone()
    }
}

/// The OCR pipeline (PP-OCR detector, direction classifier, recogniser) on `.slim` or ONNX
/// models; results are JSON text.
#[cfg(feature = "scan")]
#[wasm_bindgen]
pub struct Ocr {
    inner: crate::scan::ocr::Ocr,
}

/// Decodes a PNG/JPEG image and says how long that took (ms).
#[cfg(feature = "scan")]
fn decode_timed(bytes: &[u8]) -> Result<(crate::scan::image::RgbImage, f64), JsError> {
    let t0 = crate::scan::clock::now_ms();
    let img = crate::scan::image::RgbImage::decode(bytes)?;
    Ok((img, crate::scan::clock::now_ms() - t0))
}

#[cfg(feature = "scan")]
fn with_decode_ms(mut v: serde_json::Value, decode_ms: f64) -> String {
    v["timings_ms"]["decode"] = decode_ms.into();
    v["timings_ms"]["total"] = (v["timings_ms"]["total"].as_f64().unwrap_or(0.0) + decode_ms).into();
    v.to_string()
}

#[cfg(feature = "scan")]
#[wasm_bindgen]
impl Ocr {
    /// Loads the models from their bytes; `cls` and `fast` (a fast recogniser tried before
    /// `rec`) may be omitted. Throws an `Error` naming the model that is wrong.
    pub fn load(det: &[u8], rec: &[u8], cls: Option<Vec<u8>>, fast: Option<Vec<u8>>) -> Result<Ocr, JsError> {
        let mut inner = crate::scan::ocr::Ocr::load(det, rec, cls.as_deref())?;
        if let Some(f) = fast {
            inner.set_fast_recogniser(crate::scan::ocr::Ocr::load_part("fast recogniser", &f)?)?;
        }
        Ok(Ocr { inner })
    }

    /// Changes settings from JSON, any of: `{"det_min_side": 736, "det_max_side": 2000,
    /// "use_cls": true, "cls_sample": 6, "min_confidence": 0.5, "fallback_below": 0.5, "batch": 6}`. Unknown
    /// keys are an error.
    #[wasm_bindgen(js_name = setOptions)]
    pub fn set_options(&mut self, json: &str) -> Result<(), JsError> {
        self.inner.options.apply_json(json)?;
        Ok(())
    }

    /// Detects and reads all text in a PNG/JPEG image: JSON `{width, height, lines: [{text,
    /// confidence, corners, det_score, rotated, row, block}], text, reads: {fast, main},
    /// timings_ms: {decode, det, cls, rec, rec_fast, total}}`.
    #[wasm_bindgen(js_name = scanImage)]
    pub fn scan_image(&mut self, bytes: &[u8]) -> Result<String, JsError> {
        let (img, decode_ms) = decode_timed(bytes)?;
        Ok(with_decode_ms(serde_json::to_value(self.inner.scan(&img)?)?, decode_ms))
    }

    /// The same for RGBA pixels (a canvas `ImageData`).
    #[wasm_bindgen(js_name = scanRgba)]
    pub fn scan_rgba(&mut self, width: usize, height: usize, rgba: &[u8]) -> Result<String, JsError> {
        let img = crate::scan::image::RgbImage::from_rgba(width, height, rgba)?;
        Ok(serde_json::to_string(&self.inner.scan(&img)?)?)
    }

    /// Reads a PNG/JPEG image that is one text line or word (no detection): JSON `{text,
    /// confidence, rotated, reads, timings_ms}`.
    #[wasm_bindgen(js_name = readLine)]
    pub fn read_line(&mut self, bytes: &[u8]) -> Result<String, JsError> {
        let (img, decode_ms) = decode_timed(bytes)?;
        Ok(with_decode_ms(serde_json::to_value(self.inner.read_line(&img)?)?, decode_ms))
    }
}

/// The whole scan pipeline (page, document type, codes, OCR, form fields) with a video mode:
/// `push` for every preview frame (page, steadiness, codes), `capture` for the full scan.
/// Every model is optional: without OCR there is no text, without the classifier the type
/// is "unknown". Results are JSON text.
#[cfg(feature = "scan")]
#[wasm_bindgen]
pub struct Scanner {
    session: crate::scan::scanner::ScanSession,
    /// Heap bytes each model held right after loading (detector, recogniser, direction
    /// classifier, document type, fast recogniser), 0 when absent.
    held: [usize; 5],
    /// The result of `captureVisual`, waiting for `captureText`.
    pending: Option<crate::scan::scanner::ScanResult>,
}

/// Heap bytes currently allocated by the Rust side (not the linear memory's size, which only
/// grows): what the app reports as memory in use.
#[wasm_bindgen(js_name = wasmHeapBytes)]
pub fn wasm_heap_bytes() -> usize {
    crate::wasm_heap::live_bytes()
}

#[cfg(feature = "scan")]
#[wasm_bindgen]
impl Scanner {
    /// Loads the models from their bytes (each may be omitted; `fast_rec`, a fast recogniser
    /// tried before `rec`, only counts with OCR). Throws an `Error` naming the model that is
    /// wrong.
    pub fn load(
        det: Option<Vec<u8>>,
        rec: Option<Vec<u8>>,
        cls: Option<Vec<u8>>,
        classifier: Option<Vec<u8>>,
        fast_rec: Option<Vec<u8>>,
    ) -> Result<Scanner, JsError> {
        use crate::scan::{doctype::Classifier, ocr::Ocr as Pipeline};
        use crate::wasm_heap::held_by;
        let mut held = [0usize; 5];
        let ocr = match (det, rec) {
            (Some(d), Some(r)) => {
                let (det, h0) = held_by(|| Pipeline::load_part("detector", &d));
                let det = det?;
                drop(d);
                let (rec, h1) = held_by(|| Pipeline::load_part("recogniser", &r));
                let rec = rec?;
                drop(r);
                let (cls, h2) =
                    held_by(|| cls.map(|c| Pipeline::load_part("direction classifier", &c)).transpose());
                let (fast, h4) =
                    held_by(|| fast_rec.map(|f| Pipeline::load_part("fast recogniser", &f)).transpose());
                held[..3].copy_from_slice(&[h0, h1, h2]);
                held[4] = h4;
                let mut pipeline = Pipeline::from_models(det, rec, cls?)?;
                if let Some(f) = fast? {
                    pipeline.set_fast_recogniser(f)?;
                }
                Some(pipeline)
            }
            (None, None) => None,
            _ => return Err(JsError::new("OCR needs both the detector and the recogniser")),
        };
        let (classifier, h3) = held_by(|| classifier.map(|c| Classifier::load(&c)).transpose());
        let classifier = classifier?;
        held[3] = h3;
        let scanner = crate::scan::scanner::Scanner::new(ocr, classifier);
        Ok(Scanner { session: crate::scan::scanner::ScanSession::new(scanner), held, pending: None })
    }

    /// Heap bytes each model held right after loading: JSON `{"detector", "recogniser",
    /// "direction", "classifier", "fast_recogniser"}` (0 for a model not loaded).
    #[wasm_bindgen(js_name = modelMemory)]
    pub fn model_memory(&self) -> String {
        let [d, r, c, k, f] = self.held;
        format!(
            r#"{{"detector":{d},"recogniser":{r},"direction":{c},"classifier":{k},"fast_recogniser":{f}}}"#
        )
    }

    /// The document-type classifier alone on a PNG/JPEG image (no evidence rules): JSON
    /// `{label, confidence, probabilities}`. Throws when no classifier is loaded.
    #[wasm_bindgen(js_name = classifyImage)]
    pub fn classify_image(&mut self, bytes: &[u8]) -> Result<String, JsError> {
        let (img, _) = decode_timed(bytes)?;
        self.classify_rgb(&img)
    }

    /// The document-type classifier alone on RGBA pixels (a video frame): JSON `{label,
    /// confidence, probabilities}`. Throws when no classifier is loaded.
    pub fn classify(&mut self, width: usize, height: usize, rgba: &[u8]) -> Result<String, JsError> {
        self.classify_rgb(&crate::scan::image::RgbImage::from_rgba(width, height, rgba)?)
    }

    fn classify_rgb(&mut self, img: &crate::scan::image::RgbImage) -> Result<String, JsError> {
        let c = self
            .session
            .scanner
            .classifier_mut()
            .ok_or_else(|| JsError::new("no document type model loaded"))?;
        Ok(serde_json::to_string(&c.classify(img)?)?)
    }

    /// Reads a PNG/JPEG image of one text line (no detection): JSON `{text, confidence,
    /// rotated, reads, timings_ms}`. Throws when no OCR models are loaded.
    #[wasm_bindgen(js_name = readLine)]
    pub fn read_line(&mut self, bytes: &[u8]) -> Result<String, JsError> {
        let (img, _) = decode_timed(bytes)?;
        let o = self.session.scanner.ocr_mut().ok_or_else(|| JsError::new("no OCR models loaded"))?;
        Ok(serde_json::to_string(&o.read_line(&img)?)?)
    }

    /// Changes settings from JSON, any of `{"codes_try_harder": true, "codes_multiple": true,
    /// "preview_try_harder": false, "preview_multiple": true, "codes_on_page": true,
    /// "quick_frame_codes_with_page": true, "classify_in_preview": true, "fast_rec_without_page": false,
    /// "page_max_side": 320}`. Unknown keys are
    /// an error.
    #[wasm_bindgen(js_name = setOptions)]
    pub fn set_options(&mut self, json: &str) -> Result<(), JsError> {
        self.session.scanner.options.apply_json(json)?;
        Ok(())
    }

    /// One live-preview frame (RGBA pixels): JSON `{frame, page: {corners, support,
    /// area_fraction} | null, steady, still_frames, codes: [{format, text, bytes, points,
    /// corners, source, frames, last_frame}], doc_type, timings_ms}`.
    pub fn push(&mut self, width: usize, height: usize, rgba: &[u8]) -> Result<String, JsError> {
        let img = crate::scan::image::RgbImage::from_rgba(width, height, rgba)?;
        Ok(serde_json::to_string(&self.session.push(&img)?)?)
    }

    /// Page detection and codes only, without the session's memory (benchmarks, one-off
    /// frames): JSON `{width, height, page, doc_type, codes, timings_ms}`.
    pub fn preview(&mut self, width: usize, height: usize, rgba: &[u8]) -> Result<String, JsError> {
        let img = crate::scan::image::RgbImage::from_rgba(width, height, rgba)?;
        Ok(serde_json::to_string(&self.session.scanner.preview(&img)?)?)
    }

    /// The full scan of RGBA pixels: JSON `{width, height, type, type_confidence,
    /// type_probabilities, page, codes, text, lines, fields, timings_ms}`.
    pub fn capture(&mut self, width: usize, height: usize, rgba: &[u8]) -> Result<String, JsError> {
        let img = crate::scan::image::RgbImage::from_rgba(width, height, rgba)?;
        Ok(serde_json::to_string(&self.session.capture(&img)?)?)
    }

    /// The first part of `capture`: page, rectified page, type and codes, without the text
    /// (`text` "", `lines` and `fields` empty), so an app can show them while the text is read.
    /// Finish with `captureText` on the same pixels.
    #[wasm_bindgen(js_name = captureVisual)]
    pub fn capture_visual(&mut self, width: usize, height: usize, rgba: &[u8]) -> Result<String, JsError> {
        let img = crate::scan::image::RgbImage::from_rgba(width, height, rgba)?;
        let r = self.session.capture_visual(&img)?;
        let json = serde_json::to_string(&r)?;
        self.pending = Some(r);
        Ok(json)
    }

    /// The second part of `capture`: reads the text and form fields of the pixels given to the
    /// last `captureVisual` and returns the whole result. Throws when there is none pending.
    #[wasm_bindgen(js_name = captureText)]
    pub fn capture_text(&mut self, width: usize, height: usize, rgba: &[u8]) -> Result<String, JsError> {
        let mut r =
            self.pending.take().ok_or_else(|| JsError::new("captureText needs a captureVisual first"))?;
        if (r.width, r.height) != (width, height) {
            return Err(JsError::new("captureText needs the same pixels as the captureVisual before it"));
        }
        let img = crate::scan::image::RgbImage::from_rgba(width, height, rgba)?;
        self.session.scanner.read_text(&img, &mut r)?;
        Ok(serde_json::to_string(&r)?)
    }

    /// The full scan of a PNG/JPEG file (no session smoothing).
    #[wasm_bindgen(js_name = scanImage)]
    pub fn scan_image(&mut self, bytes: &[u8]) -> Result<String, JsError> {
        let (img, decode_ms) = decode_timed(bytes)?;
        Ok(with_decode_ms(serde_json::to_value(self.session.scanner.scan(&img)?)?, decode_ms))
    }

    /// Preview (page and codes) of a PNG/JPEG file.
    #[wasm_bindgen(js_name = previewImage)]
    pub fn preview_image(&mut self, bytes: &[u8]) -> Result<String, JsError> {
        let (img, decode_ms) = decode_timed(bytes)?;
        Ok(with_decode_ms(serde_json::to_value(self.session.scanner.preview(&img)?)?, decode_ms))
    }

    /// Width of the rectified page of the last full scan (0 when none).
    #[wasm_bindgen(js_name = pageWidth)]
    pub fn page_width(&self) -> usize {
        self.session.scanner.rectified().map_or(0, |p| p.width)
    }

    /// Height of the rectified page of the last full scan (0 when none).
    #[wasm_bindgen(js_name = pageHeight)]
    pub fn page_height(&self) -> usize {
        self.session.scanner.rectified().map_or(0, |p| p.height)
    }

    /// The rectified page of the last full scan as RGBA pixels (empty when none).
    #[wasm_bindgen(js_name = pageRgba)]
    pub fn page_rgba(&self) -> Vec<u8> {
        self.session
            .scanner
            .rectified()
            .map(|p| p.data.chunks_exact(3).flat_map(|c| [c[0], c[1], c[2], 255]).collect())
            .unwrap_or_default()
    }
}

/// Parses a `.slim` file and returns its metadata and size report as JSON text. Throws an
/// `Error` whose message says what is wrong with a malformed file.
#[wasm_bindgen(js_name = inspectSlim)]
pub fn inspect_slim(bytes: &[u8]) -> Result<String, JsError> {
    let file = format::read(bytes, &Limits::default())?;
    let out = serde_json::json!({
        "version": [file.version.0, file.version.1],
        "meta": file.meta,
        "graph_bytes": file.graph.as_ref().map_or(0, Vec::len),
        "sizes": file.sizes,
    });
    Ok(out.to_string())
}

/// Huffman decoding benchmark fixture: a stream of quantized Laplacian weights encoded once,
/// decoded on demand (timed from JavaScript).
#[wasm_bindgen]
pub struct HuffmanBench {
    decoder: Decoder,
    stream: Vec<u8>,
    expected: Vec<i8>,
    out: Vec<i8>,
}

#[wasm_bindgen]
impl HuffmanBench {
    /// Encodes `symbols` quantized Laplacian weights drawn with `seed`.
    #[wasm_bindgen(constructor)]
    pub fn new(symbols: usize, seed: u32) -> Result<HuffmanBench, JsError> {
        let expected = quantized_laplacian_i8(symbols, u64::from(seed));
        let coded: Vec<u16> = expected.iter().map(|&v| huffman::zigzag_i8(v)).collect();
        let (codebook, stream) = huffman::compress(&coded, huffman::DEFAULT_MAX_CODE_LEN)?;
        Ok(HuffmanBench { decoder: Decoder::new(&codebook), stream, expected, out: vec![0; symbols] })
    }

    /// Decodes the whole stream once.
    pub fn decode(&mut self) -> Result<(), JsError> {
        self.decoder.decode_into(&self.stream, &mut self.out, huffman::unzigzag_i8)?;
        Ok(())
    }

    /// Did the last decode reproduce the input exactly?
    pub fn verify(&self) -> bool {
        self.out == self.expected
    }

    /// Encoded size in bytes.
    #[wasm_bindgen(js_name = streamBytes)]
    pub fn stream_bytes(&self) -> usize {
        self.stream.len()
    }
}
