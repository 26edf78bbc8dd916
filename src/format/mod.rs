//! The `.slim` container: one file per model holding META (JSON), GRPH (the ONNX graph) and
//! TENS (compressed tensors). The normative spec is `docs/FORMAT.md`; this module follows it
//! section by section.
//!
//! The writer ([`SlimWriter`]) is used by `slimscan compress`; the reader ([`read`]) runs
//! natively and in the browser and treats its input as hostile: every length and count is
//! checked against the bytes present and against [`Limits`] before anything is allocated, and
//! every error names the section, tensor and byte offset.

mod cursor;
mod read;
mod stream;
pub mod summary;
mod write;

pub use read::read;
pub use write::{write_atomic, SlimWriter};

use crate::quant::QuantParams;
use crate::sparse::RelativeIndexed;
use serde::Serialize;

/// First eight bytes of every `.slim` file.
pub const MAGIC: [u8; 8] = *b"\x89SLIM\r\n\x1a";
/// Major version this code writes and reads.
pub const VERSION_MAJOR: u16 = 1;
/// Minor version this code writes.
pub const VERSION_MINOR: u16 = 1;
/// Bytes of the fixed header.
pub const HEADER_BYTES: usize = 32;
/// Bytes of one section table entry.
pub const SECTION_ENTRY_BYTES: usize = 32;
/// Most sections a file may declare.
pub const MAX_SECTIONS: u32 = 64;
/// Longest tensor name, in bytes.
pub const MAX_NAME_BYTES: usize = 1024;
/// Highest tensor rank.
pub const MAX_RANK: usize = 8;
/// Section flag: readers that do not know the tag must reject the file.
pub const FLAG_CRITICAL: u32 = 1;
/// Section flag: the payload is `u64 inflated length` + a raw deflate stream (RFC 1951).
pub const FLAG_DEFLATE: u32 = 2;

/// Section tags defined by version 1.
pub const TAG_META: [u8; 4] = *b"META";
pub const TAG_GRAPH: [u8; 4] = *b"GRPH";
pub const TAG_TENSORS: [u8; 4] = *b"TENS";

/// How a symbol stream is coded on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "coding", rename_all = "snake_case")]
pub enum Coding {
    /// Fixed-width symbols (8 bits for values, `gap_bits` for gaps): `--no-huffman`.
    Fixed,
    /// Canonical Huffman. Given to the writer, `max_len` is the limit on code-word length;
    /// in a size report it is the longest code word actually used.
    Huffman { max_len: u32 },
}

impl Default for Coding {
    fn default() -> Self {
        Coding::Huffman { max_len: crate::huffman::DEFAULT_MAX_CODE_LEN }
    }
}

/// A tensor's elements in their stored form.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    /// Uncompressed f32, row-major.
    F32(Vec<f32>),
    /// int8, every element stored.
    Int8Dense(Vec<i8>),
    /// int8, nonzeros stored with relative indices.
    Int8Sparse(RelativeIndexed),
}

impl TensorData {
    /// Encoding byte of docs/FORMAT.md §3.1 when stored with `coding`: f32 tensors are raw
    /// with fixed-width coding and byte-plane Huffman (3) otherwise.
    pub fn encoding_id(&self, coding: Coding) -> u8 {
        match (self, coding) {
            (TensorData::F32(_), Coding::Fixed) => ENCODING_F32,
            (TensorData::F32(_), Coding::Huffman { .. }) => ENCODING_F32_PLANES,
            (TensorData::Int8Dense(_), _) => ENCODING_INT8_DENSE,
            (TensorData::Int8Sparse(_), _) => ENCODING_INT8_SPARSE,
        }
    }

    /// Encoding name as shown by tools.
    pub fn encoding_name(&self, coding: Coding) -> &'static str {
        encoding_name(self.encoding_id(coding))
    }
}

pub const ENCODING_F32: u8 = 0;
pub const ENCODING_INT8_DENSE: u8 = 1;
pub const ENCODING_INT8_SPARSE: u8 = 2;
pub const ENCODING_F32_PLANES: u8 = 3;

/// Name of an encoding byte.
pub fn encoding_name(id: u8) -> &'static str {
    match id {
        ENCODING_F32 => "f32",
        ENCODING_INT8_DENSE => "int8-dense",
        ENCODING_INT8_SPARSE => "int8-sparse",
        ENCODING_F32_PLANES => "f32-planes",
        _ => "unknown",
    }
}

/// One named tensor of a `.slim` file.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub dims: Vec<usize>,
    pub data: TensorData,
    /// Required for int8 encodings, absent for f32.
    pub quant: Option<QuantParams>,
}

impl Tensor {
    /// Number of elements the dims describe (None on overflow).
    pub fn element_count(&self) -> Option<usize> {
        element_count(&self.dims)
    }
}

pub(crate) fn element_count(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// What a reader accepts. Defaults are the caps of docs/FORMAT.md.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_file_bytes: u64,
    pub max_meta_bytes: u64,
    pub max_graph_bytes: u64,
    pub max_tensors: u32,
    pub max_tensor_elements: u64,
    pub max_total_elements: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 1 << 30,
            max_meta_bytes: 16 << 20,
            max_graph_bytes: 512 << 20,
            max_tensors: 100_000,
            max_tensor_elements: 1 << 28,
            max_total_elements: 1 << 30,
        }
    }
}

/// Bytes of one symbol stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StreamSize {
    #[serde(flatten)]
    pub coding: Coding,
    pub symbols: u64,
    /// Whole stream: coding byte, length, codebook and payload.
    pub total_bytes: u64,
    pub codebook_bytes: u64,
    /// Coded symbols (for Huffman including the lane header; for fixed width including the
    /// width byte).
    pub payload_bytes: u64,
}

/// Bytes of one tensor record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TensorSize {
    pub name: String,
    pub encoding: &'static str,
    pub elements: u64,
    /// Whole record.
    pub total_bytes: u64,
    /// Name, encoding, dims, quantization block and sparse counts.
    pub header_bytes: u64,
    /// Raw f32 payload bytes (f32 tensors only).
    pub raw_bytes: u64,
    pub values: Option<StreamSize>,
    pub gaps: Option<StreamSize>,
    /// The four byte-plane streams of an `f32-planes` tensor (least significant first).
    pub planes: Vec<StreamSize>,
}

impl TensorSize {
    /// An empty report for a record whose byte counts are filled in as it is written or read.
    pub(crate) fn new(name: &str, encoding: &'static str, elements: usize) -> Self {
        TensorSize {
            name: name.to_string(),
            encoding,
            elements: elements as u64,
            total_bytes: 0,
            header_bytes: 0,
            raw_bytes: 0,
            values: None,
            gaps: None,
            planes: Vec::new(),
        }
    }
}

/// Bytes of one section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SectionSize {
    pub tag: String,
    /// Bytes stored in the file.
    pub bytes: u64,
    /// For a deflated section (META, GRPH), its size once inflated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inflated_bytes: Option<u64>,
}

/// Where every byte of a file went; the parts add up to `file_bytes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SizeReport {
    pub file_bytes: u64,
    pub header_bytes: u64,
    pub section_table_bytes: u64,
    pub sections: Vec<SectionSize>,
    /// The tensor-count field at the start of TENS.
    pub tensor_count_bytes: u64,
    pub tensors: Vec<TensorSize>,
}

impl SizeReport {
    /// Sum of header, table and sections: equals `file_bytes` for a consistent report.
    pub fn accounted_bytes(&self) -> u64 {
        self.header_bytes + self.section_table_bytes + self.sections.iter().map(|s| s.bytes).sum::<u64>()
    }
}

/// A parsed `.slim` file.
#[derive(Debug, Clone, PartialEq)]
pub struct SlimFile {
    pub version: (u16, u16),
    pub meta: serde_json::Map<String, serde_json::Value>,
    pub graph: Option<Vec<u8>>,
    pub tensors: Vec<Tensor>,
    pub sizes: SizeReport,
}

#[cfg(test)]
mod tests;
