//! OCR with PP-OCR models: text detection (DB post-processing), perspective crops, the 180°
//! direction classifier, recognition with CTC decoding, reading order, and the accuracy
//! metrics of `slimscan eval ocr`.

pub mod ctc;
pub mod det;
pub mod layout;
pub mod manifest;
pub mod metrics;
pub mod pipeline;
pub mod rec;

pub use pipeline::{Line, LineRead, Ocr, OcrOptions, Page, ReadCounts, Recogniser, Timings};
