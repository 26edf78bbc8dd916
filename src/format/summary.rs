//! What `slimscan inspect` reports about a file: per tensor its shape, encoding, sparsity,
//! bits per weight split by where they go, and the Huffman gain over fixed-width coding;
//! totals that add up to the file size, and the reduction against the original model
//! (from META `original.bytes`). The JSON form is documented in docs/INSPECT.md.

use super::{Coding, SlimFile, StreamSize, TensorData};
use serde::Serialize;

/// Bits per element, split so that the parts add up to `total`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BitsPerWeight {
    pub total: f64,
    /// Value symbols (or raw / byte-plane f32 data).
    pub values: f64,
    /// Relative-index gap symbols of sparse tensors.
    pub gaps: f64,
    /// Huffman code-length tables.
    pub codebooks: f64,
    /// Record header (name, dims, quantization block) and stream headers.
    pub header: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TensorSummary {
    pub name: String,
    pub dims: Vec<usize>,
    pub encoding: &'static str,
    pub elements: u64,
    /// Fraction of elements that are exactly zero.
    pub sparsity: f64,
    pub bytes: u64,
    pub bits_per_weight: BitsPerWeight,
    /// Fixed-width size of the Huffman-coded streams ÷ their actual size (codebooks
    /// included); `None` when nothing in the tensor is Huffman-coded.
    pub huffman_gain: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Totals {
    /// The whole file; equals header + section table + every section.
    pub file_bytes: u64,
    pub header_and_table_bytes: u64,
    pub meta_bytes: u64,
    pub graph_bytes: u64,
    /// The whole TENS section (tensor count field plus every record).
    pub tensor_section_bytes: u64,
    /// Sections this reader does not know (skipped, non-critical).
    pub other_section_bytes: u64,
    pub elements: u64,
    pub zero_elements: u64,
    /// META `original.bytes`, the size of the model this file was compressed from.
    pub original_bytes: Option<u64>,
    /// `original_bytes / file_bytes`.
    pub reduction: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub tensors: Vec<TensorSummary>,
    pub totals: Totals,
}

fn zeros(data: &TensorData, elements: u64) -> u64 {
    match data {
        TensorData::F32(v) => v.iter().filter(|&&x| x == 0.0).count() as u64,
        TensorData::Int8Dense(v) => v.iter().filter(|&&q| q == 0).count() as u64,
        TensorData::Int8Sparse(s) => elements - s.values.iter().filter(|&&q| q != 0).count() as u64,
    }
}

/// Fixed-width payload a stream would have needed: one width byte plus the packed symbols.
fn fixed_bytes(s: &StreamSize, width: u32) -> u64 {
    1 + (s.symbols * u64::from(width)).div_ceil(8)
}

/// Summarises a parsed file.
pub fn summarize(file: &SlimFile) -> Summary {
    let mut tensors = Vec::with_capacity(file.tensors.len());
    let (mut elements, mut zero_elements) = (0, 0);
    for (t, size) in file.tensors.iter().zip(&file.sizes.tensors) {
        let n = size.elements.max(1) as f64;
        let bits = |bytes: u64| bytes as f64 * 8.0 / n;
        let gap_width = match &t.data {
            TensorData::Int8Sparse(s) => s.gap_bits,
            _ => 8,
        };
        let value_streams: Vec<&StreamSize> = size.values.iter().chain(&size.planes).collect();
        let payload = |ss: &[&StreamSize]| ss.iter().map(|s| s.payload_bytes).sum::<u64>();
        let gaps: Vec<&StreamSize> = size.gaps.iter().collect();
        let all: Vec<&StreamSize> = value_streams.iter().chain(&gaps).copied().collect();
        let codebooks: u64 = all.iter().map(|s| s.codebook_bytes).sum();
        let stream_headers: u64 =
            all.iter().map(|s| s.total_bytes - s.codebook_bytes - s.payload_bytes).sum();
        let values_bytes = payload(&value_streams) + size.raw_bytes;
        let gaps_bytes = payload(&gaps);
        let header = size.header_bytes + stream_headers;
        let huffman: Vec<(&StreamSize, u32)> = value_streams
            .iter()
            .map(|s| (*s, 8))
            .chain(gaps.iter().map(|s| (*s, gap_width)))
            .filter(|(s, _)| matches!(s.coding, Coding::Huffman { .. }))
            .collect();
        let huffman_gain = (!huffman.is_empty()).then(|| {
            let fixed: u64 = huffman.iter().map(|(s, w)| fixed_bytes(s, *w)).sum();
            let actual: u64 = huffman.iter().map(|(s, _)| s.codebook_bytes + s.payload_bytes).sum();
            fixed as f64 / actual.max(1) as f64
        });
        let z = zeros(&t.data, size.elements);
        elements += size.elements;
        zero_elements += z;
        tensors.push(TensorSummary {
            name: t.name.clone(),
            dims: t.dims.clone(),
            encoding: size.encoding,
            elements: size.elements,
            sparsity: z as f64 / n,
            bytes: size.total_bytes,
            bits_per_weight: BitsPerWeight {
                total: bits(size.total_bytes),
                values: bits(values_bytes),
                gaps: bits(gaps_bytes),
                codebooks: bits(codebooks),
                header: bits(header),
            },
            huffman_gain,
        });
    }
    let s = &file.sizes;
    let section = |tag: &str| s.sections.iter().filter(|x| x.tag == tag).map(|x| x.bytes).sum::<u64>();
    let original_bytes = file.meta.get("original").and_then(|o| o.get("bytes")).and_then(|b| b.as_u64());
    Summary {
        tensors,
        totals: Totals {
            file_bytes: s.file_bytes,
            header_and_table_bytes: s.header_bytes + s.section_table_bytes,
            meta_bytes: section("META"),
            graph_bytes: section("GRPH"),
            tensor_section_bytes: section("TENS"),
            other_section_bytes: s
                .sections
                .iter()
                .filter(|x| !["META", "GRPH", "TENS"].contains(&x.tag.as_str()))
                .map(|x| x.bytes)
                .sum(),
            elements,
            zero_elements,
            original_bytes,
            reduction: original_bytes.map(|o| o as f64 / s.file_bytes.max(1) as f64),
        },
    }
}
