//! Writing `.slim` files (docs/FORMAT.md). The writer validates what it is given — a file it
//! writes is always one its own reader accepts.

use super::stream::write_stream;
use super::{
    Coding, SectionSize, SizeReport, SlimFile, Tensor, TensorData, TensorSize, FLAG_CRITICAL, FLAG_DEFLATE,
    HEADER_BYTES, MAGIC, MAX_NAME_BYTES, MAX_RANK, SECTION_ENTRY_BYTES, TAG_GRAPH, TAG_META, TAG_TENSORS,
    VERSION_MAJOR, VERSION_MINOR,
};
use crate::error::{Error, Result};
use crate::huffman::zigzag_i8;
use crate::quant::Scheme;
use std::path::Path;

/// Collects META, GRPH and tensors, then serialises them in one go.
#[derive(Debug, Clone, Default)]
pub struct SlimWriter {
    pub meta: serde_json::Map<String, serde_json::Value>,
    pub graph: Option<Vec<u8>>,
    tensors: Vec<(Tensor, Coding)>,
}

impl SlimWriter {
    pub fn new() -> Self {
        SlimWriter::default()
    }

    /// Adds a tensor whose int8 streams are coded with `coding` (ignored for f32 tensors).
    pub fn add_tensor(&mut self, tensor: Tensor, coding: Coding) -> &mut Self {
        self.tensors.push((tensor, coding));
        self
    }

    /// The tensors added so far, in file order.
    pub fn tensors(&self) -> impl Iterator<Item = &Tensor> {
        self.tensors.iter().map(|(t, _)| t)
    }

    /// The whole file and where its bytes went.
    pub fn to_bytes(&self) -> Result<(Vec<u8>, SizeReport)> {
        let meta = serde_json::to_vec(&self.meta)
            .map_err(|e| Error::InvalidArgument(format!("META is not serialisable: {e}")))?;
        let (tens, tensor_sizes) = self.tensor_section()?;
        let mut sections: Vec<Section> = vec![deflated(TAG_META, meta)];
        if let Some(graph) = &self.graph {
            sections.push(deflated(TAG_GRAPH, graph.clone()));
        }
        sections.push((TAG_TENSORS, FLAG_CRITICAL, tens, None));

        let table_bytes = SECTION_ENTRY_BYTES * sections.len();
        let payload: usize = sections.iter().map(|(_, _, b, _)| b.len()).sum();
        let file_size = (HEADER_BYTES + table_bytes + payload) as u64;
        let mut table = Vec::with_capacity(table_bytes);
        let mut offset = (HEADER_BYTES + table_bytes) as u64;
        for (tag, flags, bytes, _) in &sections {
            table.extend_from_slice(tag);
            table.extend_from_slice(&flags.to_le_bytes());
            table.extend_from_slice(&offset.to_le_bytes());
            table.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            table.extend_from_slice(&crc32fast::hash(bytes).to_le_bytes());
            table.extend_from_slice(&0u32.to_le_bytes());
            offset += bytes.len() as u64;
        }
        let mut out = Vec::with_capacity(file_size as usize);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION_MAJOR.to_le_bytes());
        out.extend_from_slice(&VERSION_MINOR.to_le_bytes());
        out.extend_from_slice(&(sections.len() as u32).to_le_bytes());
        out.extend_from_slice(&file_size.to_le_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(&out);
        crc.update(&table);
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&table);
        for (_, _, bytes, _) in &sections {
            out.extend_from_slice(bytes);
        }
        debug_assert_eq!(out.len() as u64, file_size);

        let report = SizeReport {
            file_bytes: file_size,
            header_bytes: HEADER_BYTES as u64,
            section_table_bytes: table_bytes as u64,
            sections: sections
                .iter()
                .map(|(tag, _, b, inflated)| SectionSize {
                    tag: String::from_utf8_lossy(tag).into(),
                    bytes: b.len() as u64,
                    inflated_bytes: *inflated,
                })
                .collect(),
            tensor_count_bytes: 4,
            tensors: tensor_sizes,
        };
        Ok((out, report))
    }

    /// Serialises and parses back in one step (what a reader would see).
    pub fn to_slim_file(&self) -> Result<SlimFile> {
        let (bytes, _) = self.to_bytes()?;
        super::read(&bytes, &super::Limits::default())
    }

    fn tensor_section(&self) -> Result<(Vec<u8>, Vec<TensorSize>)> {
        let count = u32::try_from(self.tensors.len())
            .map_err(|_| Error::InvalidArgument("too many tensors".into()))?;
        let mut out = count.to_le_bytes().to_vec();
        let mut sizes = Vec::with_capacity(self.tensors.len());
        let mut names = std::collections::HashSet::new();
        for (tensor, coding) in &self.tensors {
            if !names.insert(tensor.name.as_str()) {
                return Err(Error::InvalidArgument(format!("duplicate tensor name {:?}", tensor.name)));
            }
            sizes.push(write_tensor(&mut out, tensor, *coding)?);
        }
        Ok((out, sizes))
    }
}

fn invalid(tensor: &Tensor, what: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!("tensor {:?}: {what}", tensor.name))
}

fn write_tensor(out: &mut Vec<u8>, t: &Tensor, coding: Coding) -> Result<TensorSize> {
    let start = out.len();
    if t.name.is_empty() || t.name.len() > MAX_NAME_BYTES {
        return Err(invalid(t, format!("name must be 1..={MAX_NAME_BYTES} bytes")));
    }
    if t.dims.len() > MAX_RANK {
        return Err(invalid(t, format!("rank {} above {MAX_RANK}", t.dims.len())));
    }
    let elements = t.element_count().ok_or_else(|| invalid(t, "element count overflows"))?;
    out.extend_from_slice(&(t.name.len() as u16).to_le_bytes());
    out.extend_from_slice(t.name.as_bytes());
    out.push(t.data.encoding_id(coding));
    out.push(t.dims.len() as u8);
    for &d in &t.dims {
        out.extend_from_slice(&(d as u64).to_le_bytes());
    }
    if !matches!(t.data, TensorData::F32(_)) {
        write_quant(out, t)?;
    } else if t.quant.is_some() {
        return Err(invalid(t, "f32 tensors carry no quantization parameters"));
    }
    let mut size = TensorSize::new(&t.name, t.data.encoding_name(coding), elements);
    match &t.data {
        TensorData::F32(v) => {
            if v.len() != elements {
                return Err(invalid(t, format!("{} values for {elements} elements", v.len())));
            }
            size.header_bytes = (out.len() - start) as u64;
            if coding == Coding::Fixed {
                for x in v {
                    out.extend_from_slice(&x.to_le_bytes());
                }
                size.raw_bytes = 4 * v.len() as u64;
            } else {
                for plane in 0..4 {
                    let symbols: Vec<u16> = v.iter().map(|x| u16::from(x.to_le_bytes()[plane])).collect();
                    size.planes.push(write_stream(out, &symbols, coding, 8)?);
                }
            }
        }
        TensorData::Int8Dense(v) => {
            if v.len() != elements {
                return Err(invalid(t, format!("{} values for {elements} elements", v.len())));
            }
            size.header_bytes = (out.len() - start) as u64;
            let symbols: Vec<u16> = v.iter().map(|&q| zigzag_i8(q)).collect();
            size.values = Some(write_stream(out, &symbols, coding, 8)?);
        }
        TensorData::Int8Sparse(r) => {
            if r.len != elements {
                return Err(invalid(t, format!("sparse length {} for {elements} elements", r.len)));
            }
            if r.values.len() != r.gaps.len() {
                return Err(invalid(t, "sparse values and gaps differ in length"));
            }
            if !(1..=16).contains(&r.gap_bits) {
                return Err(invalid(t, format!("gap_bits {} outside 1..=16", r.gap_bits)));
            }
            out.push(r.gap_bits as u8);
            out.extend_from_slice(&(r.values.len() as u64).to_le_bytes());
            size.header_bytes = (out.len() - start) as u64;
            let symbols: Vec<u16> = r.values.iter().map(|&q| zigzag_i8(q)).collect();
            size.values = Some(write_stream(out, &symbols, coding, 8)?);
            size.gaps = Some(write_stream(out, &r.gaps, coding, r.gap_bits)?);
        }
    }
    size.total_bytes = (out.len() - start) as u64;
    Ok(size)
}

fn write_quant(out: &mut Vec<u8>, t: &Tensor) -> Result<()> {
    let q = t.quant.as_ref().ok_or_else(|| invalid(t, "int8 tensor without quantization parameters"))?;
    let channels = match q.axis {
        None => 1,
        Some(a) => *t.dims.get(a).ok_or_else(|| invalid(t, format!("quantization axis {a} out of range")))?,
    };
    if q.scales.len() != channels || q.zero_points.len() != channels {
        return Err(invalid(t, format!("expected {channels} scales and zero points")));
    }
    if let Some(s) = q.scales.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        return Err(invalid(t, format!("scale {s} is not finite and positive")));
    }
    if let Some(z) = q.zero_points.iter().find(|z| !(-128..=127).contains(*z)) {
        return Err(invalid(t, format!("zero point {z} outside the int8 range")));
    }
    if q.scheme == Scheme::Symmetric && q.zero_points.iter().any(|&z| z != 0) {
        return Err(invalid(t, "symmetric quantization with a nonzero zero point"));
    }
    out.push(match q.scheme {
        Scheme::Symmetric => 0,
        Scheme::Asymmetric => 1,
    });
    out.push(q.axis.map_or(0, |a| a as u8 + 1));
    out.extend_from_slice(&(channels as u32).to_le_bytes());
    // bfloat16 when lossless: the scale's low 16 bits are zero.
    if q.scales.iter().all(|s| s.to_bits() & 0xFFFF == 0) {
        out.push(1);
        for s in &q.scales {
            out.extend_from_slice(&((s.to_bits() >> 16) as u16).to_le_bytes());
        }
    } else {
        out.push(0);
        for s in &q.scales {
            out.extend_from_slice(&s.to_le_bytes());
        }
    }
    if q.scheme == Scheme::Asymmetric {
        out.extend(q.zero_points.iter().map(|&z| z as i8 as u8));
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, flushed, then renamed over
/// the target, so a crash never leaves half a file under the final name.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::InvalidArgument(format!("{} is not a file path", path.display())))?;
    let tmp = dir.join(format!(".{}.tmp{}", file_name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::Io(std::io::Error::new(e.kind(), format!("writing {}: {e}", path.display()))));
    }
    Ok(())
}

/// A section as written: tag, flags, stored bytes, inflated size when deflated.
type Section = ([u8; 4], u32, Vec<u8>, Option<u64>);

/// Deflate level for META and GRPH: both are written once and read many times.
const DEFLATE_LEVEL: u8 = 9;

/// A critical section, deflated (docs/FORMAT.md §1.3) when that makes it smaller.
fn deflated(tag: [u8; 4], raw: Vec<u8>) -> Section {
    let packed = miniz_oxide::deflate::compress_to_vec(&raw, DEFLATE_LEVEL);
    if packed.len() + 8 < raw.len() {
        let mut body = Vec::with_capacity(8 + packed.len());
        body.extend_from_slice(&(raw.len() as u64).to_le_bytes());
        body.extend_from_slice(&packed);
        (tag, FLAG_CRITICAL | FLAG_DEFLATE, body, Some(raw.len() as u64))
    } else {
        (tag, FLAG_CRITICAL, raw, None)
    }
}
