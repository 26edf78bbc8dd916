//! OCR with PP-OCR models: so far the recogniser's input preparation, its CTC decoding and
//! its character set.

pub mod ctc;
pub mod rec;
