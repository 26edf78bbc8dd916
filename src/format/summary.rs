//! What `slimscan inspect` reports about a file: per tensor its shape, encoding, sparsity,
//! bits per weight split by where they go, and the Huffman gain over fixed-width coding;
//! totals that add up to the file size, and the reduction against the original model
//! (from META `original.bytes`). The JSON form is documented in docs/INSPECT.md.

use super::{Coding, SlimFile, StreamSize, TensorData, TensorSize, TAG_GRAPH, TAG_META, TAG_TENSORS};
use serde::Serialize;

/// Bits per element, split so that the parts add up to `total`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BitsPerWeight {
    pub total: f64,
    /// Value symbols (or raw / byte-plane f32 data), fixed-width width bytes and Huffman
    /// lane headers included.
    pub values: f64,
    /// Relative-index gap symbols of sparse tensors (same inclusions as `values`).
    pub gaps: f64,
    /// Huffman code-length tables of all the tensor's streams.
    pub codebooks: f64,
    /// Record header (name, dims, quantization block, sparse counts) and the 9-byte stream
    /// headers.
    pub header: f64,
}

impl BitsPerWeight {
    fn from_bytes(b: &ByteSplit, elements: u64) -> Self {
        let n = elements.max(1) as f64;
        let bits = |bytes: u64| bytes as f64 * 8.0 / n;
        BitsPerWeight {
            total: bits(b.total()),
            values: bits(b.values),
            gaps: bits(b.gaps),
            codebooks: bits(b.codebooks),
            header: bits(b.header),
        }
    }
}

/// One symbol stream of a tensor record, with what fixed-width coding would have cost.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StreamSummary {
    /// `values`, `gaps`, or `plane0` … `plane3` (byte planes of `f32-planes`, least
    /// significant first).
    pub stream: &'static str,
    /// `fixed` or `huffman`.
    pub coding: &'static str,
    /// Longest code word used (Huffman streams only).
    pub max_code_len: Option<u32>,
    pub symbols: u64,
    /// Width of one symbol in fixed-width coding: 8 for value and plane symbols,
    /// `gap_bits` for gap symbols.
    pub fixed_bits: u32,
    /// The whole stream: 9-byte stream header, codebook and payload.
    pub bytes: u64,
    pub codebook_bytes: u64,
    pub payload_bytes: u64,
    /// What the stream's body would take fixed-width: 1 width byte + ⌈symbols × fixed_bits / 8⌉.
    pub fixed_width_bytes: u64,
    /// `fixed_width_bytes / (codebook_bytes + payload_bytes)`; exactly 1 for fixed-width streams.
    pub huffman_gain: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TensorSummary {
    pub name: String,
    pub dims: Vec<usize>,
    pub encoding: &'static str,
    pub elements: u64,
    /// Elements that are exactly zero once decoded (for `int8-sparse`: elements − nonzero
    /// entries).
    pub zero_elements: u64,
    /// `zero_elements / elements` (0 for an empty tensor).
    pub sparsity: f64,
    /// Gap width of an `int8-sparse` tensor.
    pub gap_bits: Option<u32>,
    /// The whole tensor record.
    pub bytes: u64,
    pub bits_per_weight: BitsPerWeight,
    /// Fixed-width size of all the tensor's streams ÷ their actual size (codebooks and
    /// payloads): 1 when every stream is fixed-width; `None` for raw `f32` (no streams).
    pub huffman_gain: Option<f64>,
    /// The tensor's streams in file order.
    pub streams: Vec<StreamSummary>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Totals {
    /// The whole file; equals `tensor_bytes + meta_bytes + graph_bytes + overhead_bytes`,
    /// and also header + section table + every section.
    pub file_bytes: u64,
    /// Sum of all tensor records.
    pub tensor_bytes: u64,
    /// Stored (possibly deflated) size of META.
    pub meta_bytes: u64,
    /// Stored (possibly deflated) size of GRPH.
    pub graph_bytes: u64,
    /// Everything else: header, section table, the TENS tensor-count field, unknown sections.
    pub overhead_bytes: u64,
    pub header_and_table_bytes: u64,
    /// The whole TENS section (tensor count field plus every record).
    pub tensor_section_bytes: u64,
    /// The tensor-count field at the start of TENS.
    pub tensor_count_bytes: u64,
    /// Sections this reader does not know (skipped, non-critical).
    pub other_section_bytes: u64,
    pub tensor_count: u64,
    pub elements: u64,
    pub zero_elements: u64,
    /// `zero_elements / elements` (0 without elements).
    pub sparsity: f64,
    /// Bits per element over all tensor records, split as per tensor.
    pub tensor_bits_per_weight: BitsPerWeight,
    /// `file_bytes × 8 / elements`: the whole file per weight.
    pub file_bits_per_weight: f64,
    /// Fixed-width size ÷ actual size over every stream of the file (`None` without streams).
    pub huffman_gain: Option<f64>,
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

/// Byte counts of one record (or of all records) by where they go.
#[derive(Debug, Clone, Copy, Default)]
struct ByteSplit {
    values: u64,
    gaps: u64,
    codebooks: u64,
    header: u64,
}

impl ByteSplit {
    fn total(&self) -> u64 {
        self.values + self.gaps + self.codebooks + self.header
    }

    fn add(&mut self, o: &ByteSplit) {
        self.values += o.values;
        self.gaps += o.gaps;
        self.codebooks += o.codebooks;
        self.header += o.header;
    }
}

/// Elements of a decoded tensor that are exactly zero (`-0.0` counts as zero).
pub fn zero_count(data: &TensorData, elements: u64) -> u64 {
    match data {
        TensorData::F32(v) => v.iter().filter(|&&x| x == 0.0).count() as u64,
        TensorData::Int8Dense(v) => v.iter().filter(|&&q| q == 0).count() as u64,
        TensorData::Int8Sparse(s) => {
            elements.saturating_sub(s.values.iter().filter(|&&q| q != 0).count() as u64)
        }
    }
}

/// Fixed-width body a stream of `symbols` would need: one width byte plus the packed symbols
/// (docs/FORMAT.md §4).
pub fn fixed_width_bytes(symbols: u64, bits: u32) -> u64 {
    1 + symbols.saturating_mul(u64::from(bits)).div_ceil(8)
}

fn stream_summary(stream: &'static str, s: &StreamSize, fixed_bits: u32) -> StreamSummary {
    let fixed = fixed_width_bytes(s.symbols, fixed_bits);
    let actual = s.codebook_bytes + s.payload_bytes;
    let (coding, max_code_len) = match s.coding {
        Coding::Fixed => ("fixed", None),
        Coding::Huffman { max_len } => ("huffman", Some(max_len)),
    };
    StreamSummary {
        stream,
        coding,
        max_code_len,
        symbols: s.symbols,
        fixed_bits,
        bytes: s.total_bytes,
        codebook_bytes: s.codebook_bytes,
        payload_bytes: s.payload_bytes,
        fixed_width_bytes: fixed,
        huffman_gain: fixed as f64 / actual.max(1) as f64,
    }
}

/// Fixed-width bytes ÷ actual bytes over `streams`; `None` when there are none.
fn gain(streams: &[StreamSummary]) -> Option<f64> {
    (!streams.is_empty()).then(|| {
        let fixed: u64 = streams.iter().map(|s| s.fixed_width_bytes).sum();
        let actual: u64 = streams.iter().map(|s| s.codebook_bytes + s.payload_bytes).sum();
        fixed as f64 / actual.max(1) as f64
    })
}

/// Where the bytes of one record go, and its streams.
fn split_record(size: &TensorSize, gap_bits: u32) -> (ByteSplit, Vec<StreamSummary>) {
    const PLANES: [&str; 4] = ["plane0", "plane1", "plane2", "plane3"];
    let mut streams = Vec::new();
    let mut split = ByteSplit { values: size.raw_bytes, header: size.header_bytes, ..ByteSplit::default() };
    let named = size
        .values
        .iter()
        .map(|s| ("values", s, 8))
        .chain(size.gaps.iter().map(|s| ("gaps", s, gap_bits)))
        .chain(
            size.planes.iter().enumerate().map(|(i, s)| (PLANES.get(i).copied().unwrap_or("plane"), s, 8)),
        );
    for (name, s, bits) in named {
        split.codebooks += s.codebook_bytes;
        split.header += s.total_bytes.saturating_sub(s.codebook_bytes + s.payload_bytes);
        if name == "gaps" {
            split.gaps += s.payload_bytes;
        } else {
            split.values += s.payload_bytes;
        }
        streams.push(stream_summary(name, s, bits));
    }
    (split, streams)
}

/// Summarises a parsed file.
pub fn summarize(file: &SlimFile) -> Summary {
    let s = &file.sizes;
    let mut tensors = Vec::with_capacity(file.tensors.len());
    let mut all_streams = Vec::new();
    let mut all = ByteSplit::default();
    let (mut elements, mut zero_elements, mut tensor_bytes) = (0, 0, 0);
    for (t, size) in file.tensors.iter().zip(&s.tensors) {
        let gap_bits = match &t.data {
            TensorData::Int8Sparse(r) => Some(r.gap_bits),
            _ => None,
        };
        let (split, streams) = split_record(size, gap_bits.unwrap_or(8));
        let zeros = zero_count(&t.data, size.elements);
        elements += size.elements;
        zero_elements += zeros;
        tensor_bytes += size.total_bytes;
        all.add(&split);
        tensors.push(TensorSummary {
            name: t.name.clone(),
            dims: t.dims.clone(),
            encoding: size.encoding,
            elements: size.elements,
            zero_elements: zeros,
            sparsity: ratio(zeros, size.elements),
            gap_bits,
            bytes: size.total_bytes,
            bits_per_weight: BitsPerWeight::from_bytes(&split, size.elements),
            huffman_gain: gain(&streams),
            streams: streams.clone(),
        });
        all_streams.extend(streams);
    }
    let section = |tag: [u8; 4]| {
        let tag = String::from_utf8_lossy(&tag).into_owned();
        s.sections.iter().filter(|x| x.tag == tag).map(|x| x.bytes).sum::<u64>()
    };
    let (meta_bytes, graph_bytes, tensor_section_bytes) =
        (section(TAG_META), section(TAG_GRAPH), section(TAG_TENSORS));
    let other_section_bytes = s
        .sections
        .iter()
        .filter(|x| ![TAG_META, TAG_GRAPH, TAG_TENSORS].iter().any(|t| x.tag.as_bytes() == t))
        .map(|x| x.bytes)
        .sum();
    let header_and_table_bytes = s.header_bytes + s.section_table_bytes;
    let original_bytes = file.meta.get("original").and_then(|o| o.get("bytes")).and_then(|b| b.as_u64());
    Summary {
        tensors,
        totals: Totals {
            file_bytes: s.file_bytes,
            tensor_bytes,
            meta_bytes,
            graph_bytes,
            overhead_bytes: s.file_bytes.saturating_sub(tensor_bytes + meta_bytes + graph_bytes),
            header_and_table_bytes,
            tensor_section_bytes,
            tensor_count_bytes: s.tensor_count_bytes,
            other_section_bytes,
            tensor_count: s.tensors.len() as u64,
            elements,
            zero_elements,
            sparsity: ratio(zero_elements, elements),
            tensor_bits_per_weight: BitsPerWeight::from_bytes(&all, elements),
            file_bits_per_weight: s.file_bytes as f64 * 8.0 / elements.max(1) as f64,
            huffman_gain: gain(&all_streams),
            original_bytes,
            reduction: original_bytes.map(|o| o as f64 / s.file_bytes.max(1) as f64),
        },
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{read, Limits, SlimWriter, Tensor};
    use crate::quant::{QuantParams, Scheme};
    use crate::sparse::encode_relative;

    fn quant() -> Option<QuantParams> {
        Some(QuantParams { scales: vec![0.5], zero_points: vec![0], axis: None, scheme: Scheme::Symmetric })
    }

    /// A sparse tensor (gap_bits 3), a dense one, an f32 bias; Huffman or fixed-width.
    fn file(coding: Coding, original: Option<u64>) -> SlimFile {
        let dense: Vec<i8> =
            (0..4000).map(|i: i32| if i % 5 == 0 { ((i / 5) % 7 - 3) as i8 } else { 0 }).collect();
        let mut w = SlimWriter::new();
        if let Some(o) = original {
            w.meta.insert("original".into(), serde_json::json!({ "bytes": o, "sha256": "00" }));
        }
        w.add_tensor(
            Tensor {
                name: "s".into(),
                dims: vec![40, 100],
                data: TensorData::Int8Sparse(encode_relative(&dense, 3).unwrap()),
                quant: quant(),
            },
            coding,
        );
        w.add_tensor(
            Tensor {
                name: "d".into(),
                dims: vec![1000],
                data: TensorData::Int8Dense((0..1000).map(|i: i32| ((i * 7) % 5 - 2) as i8).collect()),
                quant: quant(),
            },
            coding,
        );
        w.add_tensor(
            Tensor {
                name: "b".into(),
                dims: vec![64],
                data: TensorData::F32((0..64).map(|i| if i < 4 { 0.0 } else { 0.01 * i as f32 }).collect()),
                quant: None,
            },
            coding,
        );
        let (bytes, _) = w.to_bytes().unwrap();
        let f = read(&bytes, &Limits::default()).unwrap();
        assert_eq!(f.sizes.file_bytes, bytes.len() as u64);
        f
    }

    #[test]
    fn parts_add_up_and_sparsity_counts_decoded_zeros() {
        for coding in [Coding::default(), Coding::Fixed] {
            let f = file(coding, Some(1_000_000));
            let sum = summarize(&f);
            let t = &sum.totals;
            assert_eq!(t.tensor_bytes + t.meta_bytes + t.graph_bytes + t.overhead_bytes, t.file_bytes);
            assert_eq!(
                t.header_and_table_bytes + t.meta_bytes + t.graph_bytes + t.tensor_section_bytes,
                t.file_bytes
            );
            assert_eq!(t.overhead_bytes, t.header_and_table_bytes + t.tensor_count_bytes);
            assert_eq!(t.reduction, Some(1_000_000.0 / t.file_bytes as f64));
            let s = &sum.tensors[0];
            assert_eq!(s.gap_bits, Some(3));
            assert_eq!(s.zero_elements, 4000 - 800 + 114, "114 of the 800 entries hold a zero value");
            assert_eq!(sum.tensors[2].zero_elements, 4);
            for x in &sum.tensors {
                let b = &x.bits_per_weight;
                assert!((b.values + b.gaps + b.codebooks + b.header - b.total).abs() < 1e-9);
                assert!((b.total - x.bytes as f64 * 8.0 / x.elements as f64).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn gain_uses_gap_bits_for_gaps_and_is_one_for_fixed_width() {
        let f = file(Coding::default(), None);
        let sum = summarize(&f);
        assert_eq!(sum.totals.original_bytes, None);
        assert_eq!(sum.totals.reduction, None);
        let s = &sum.tensors[0];
        let entries = match &f.tensors[0].data {
            TensorData::Int8Sparse(r) => r.values.len() as u64,
            _ => unreachable!(),
        };
        let gaps = s.streams.iter().find(|x| x.stream == "gaps").unwrap();
        assert_eq!((gaps.symbols, gaps.fixed_bits), (entries, 3));
        assert_eq!(gaps.fixed_width_bytes, 1 + (entries * 3).div_ceil(8));
        let values = s.streams.iter().find(|x| x.stream == "values").unwrap();
        assert_eq!(values.coding, "huffman");
        assert_eq!(values.fixed_width_bytes, 1 + entries);
        let fixed: u64 = s.streams.iter().map(|x| x.fixed_width_bytes).sum();
        let actual: u64 = s.streams.iter().map(|x| x.codebook_bytes + x.payload_bytes).sum();
        assert_eq!(s.huffman_gain, Some(fixed as f64 / actual as f64));
        assert!(s.huffman_gain.unwrap() > 1.0);
        assert_eq!(sum.tensors[2].encoding, "f32-planes");
        assert_eq!(sum.tensors[2].streams.len(), 4);

        let f = file(Coding::Fixed, None);
        let sum = summarize(&f);
        for x in &sum.tensors[..2] {
            assert_eq!(x.huffman_gain, Some(1.0), "{}", x.name);
            assert!(x.streams.iter().all(|s| s.coding == "fixed" && s.huffman_gain == 1.0));
        }
        assert_eq!(sum.tensors[2].encoding, "f32");
        assert_eq!(sum.tensors[2].huffman_gain, None, "raw f32 has no streams");
        assert_eq!(sum.totals.huffman_gain, Some(1.0));
    }
}
