//! OCR with PP-OCR models: so far the recogniser's CTC decoding and its character set.

pub mod ctc;
