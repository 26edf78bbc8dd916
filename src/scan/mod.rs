//! The scan pipeline: what a camera frame goes through between the pixels and the answer.
//! So far: the OCR recogniser's output decoding ([`ocr`]).

pub mod ocr;
