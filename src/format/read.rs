//! Reading `.slim` files from untrusted bytes (docs/FORMAT.md). Nothing here panics or
//! allocates from a declared size before checking it against the bytes present and the
//! [`Limits`]; every error says which section, tensor and byte offset is at fault.

use super::cursor::Cursor;
use super::stream::read_stream;
use super::{
    element_count, encoding_name, Limits, SectionSize, SizeReport, SlimFile, Tensor, TensorData, TensorSize,
    ENCODING_F32, ENCODING_F32_PLANES, ENCODING_INT8_DENSE, ENCODING_INT8_SPARSE, FLAG_CRITICAL,
    FLAG_DEFLATE, HEADER_BYTES, MAGIC, MAX_NAME_BYTES, MAX_RANK, MAX_SECTIONS, SECTION_ENTRY_BYTES,
    TAG_GRAPH, TAG_META, TAG_TENSORS, VERSION_MAJOR,
};
use crate::error::{FormatError, FormatErrorKind, Result};
use crate::huffman::unzigzag_i8;
use crate::quant::{QuantParams, Scheme};
use crate::sparse::RelativeIndexed;

/// Fuzz builds skip checksum verification, as libpng's do: otherwise random mutations never
/// get past the CRCs to the parsers behind them.
const VERIFY_CHECKSUMS: bool = !cfg!(fuzzing);

/// Smallest possible tensor record (name of one byte, rank 0, f32): bounds the tensor count
/// by the section size before anything is allocated for it.
const MIN_RECORD_BYTES: usize = 2 + 1 + 1 + 1 + 4;

fn limit(cur: &Cursor<'_>, what: &str, value: u64, cap: u64) -> FormatError {
    cur.error(FormatErrorKind::LimitExceeded { what: what.into(), value, cap })
}

/// Parses and decodes a whole `.slim` file.
pub fn read(bytes: &[u8], limits: &Limits) -> Result<SlimFile> {
    let mut cur = Cursor::new(bytes, 0, "header");
    let file_len = bytes.len() as u64;
    if file_len > limits.max_file_bytes {
        return Err(limit(&cur, "file size", file_len, limits.max_file_bytes).into());
    }
    let magic = cur.take(8)?;
    if magic != MAGIC {
        return Err(cur.error_at(0, FormatErrorKind::BadMagic).into());
    }
    let major = cur.u16()?;
    let minor = cur.u16()?;
    if major != VERSION_MAJOR {
        return Err(cur
            .error_at(8, FormatErrorKind::UnsupportedVersion { major, minor, supported: VERSION_MAJOR })
            .into());
    }
    let section_count = cur.u32()?;
    if section_count == 0 || section_count > MAX_SECTIONS {
        return Err(cur
            .error_at(
                12,
                FormatErrorKind::Malformed(format!(
                    "section count {section_count} outside 1..={MAX_SECTIONS}"
                )),
            )
            .into());
    }
    let declared_size = cur.u64()?;
    if declared_size > file_len {
        return Err(cur
            .error_at(16, FormatErrorKind::Truncated { needed: declared_size, available: file_len })
            .into());
    }
    if declared_size < file_len {
        return Err(cur
            .error_at(
                16,
                FormatErrorKind::Malformed(format!(
                    "{} bytes after the declared end of file",
                    file_len - declared_size
                )),
            )
            .into());
    }
    let stored_crc = cur.u32()?;
    if cur.u32()? != 0 {
        return Err(cur
            .error_at(28, FormatErrorKind::Malformed("reserved header field is not 0".into()))
            .into());
    }
    let table_len = section_count as usize * SECTION_ENTRY_BYTES;
    let table = cur.take(table_len as u64)?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&bytes[..24]);
    crc.update(table);
    let computed = crc.finalize();
    if computed != stored_crc && VERIFY_CHECKSUMS {
        return Err(cur
            .error_at(24, FormatErrorKind::ChecksumMismatch { stored: stored_crc, computed })
            .into());
    }

    let mut meta = None;
    let mut graph = None;
    let mut tensors = None;
    let mut sections = Vec::with_capacity(section_count as usize);
    let mut expected_offset = (HEADER_BYTES + table_len) as u64;
    let mut table_cur = Cursor::new(table, HEADER_BYTES as u64, "section table");
    for _ in 0..section_count {
        let entry_at = table_cur.pos();
        let tag: [u8; 4] = table_cur.take(4)?.try_into().unwrap_or_default();
        let flags = table_cur.u32()?;
        let offset = table_cur.u64()?;
        let length = table_cur.u64()?;
        let section_crc = table_cur.u32()?;
        let reserved = table_cur.u32()?;
        let bad = |what: String| -> crate::error::Error {
            table_cur.error_at(entry_at, FormatErrorKind::Malformed(what)).into()
        };
        if !tag.iter().all(|b| b.is_ascii_graphic()) {
            return Err(bad(format!("section tag {tag:02x?} is not ASCII")));
        }
        let tag_str = String::from_utf8_lossy(&tag).into_owned();
        if flags & !(FLAG_CRITICAL | FLAG_DEFLATE) != 0 || reserved != 0 {
            return Err(bad(format!("section {tag_str} has unknown flags or reserved bits set")));
        }
        if sections.iter().any(|s: &SectionSize| s.tag == tag_str) {
            return Err(bad(format!("section {tag_str} appears twice")));
        }
        if offset != expected_offset {
            return Err(bad(format!("section {tag_str} starts at {offset}, expected {expected_offset}")));
        }
        let end = offset.checked_add(length).filter(|&e| e <= file_len).ok_or_else(|| {
            table_cur.error_at(
                entry_at,
                FormatErrorKind::Truncated { needed: offset.saturating_add(length), available: file_len },
            )
        })?;
        let data = &bytes[offset as usize..end as usize];
        let section = Cursor::new(data, offset, section_name(&tag));
        let computed = crc32fast::hash(data);
        if computed != section_crc && VERIFY_CHECKSUMS {
            return Err(section
                .error_at(0, FormatErrorKind::ChecksumMismatch { stored: section_crc, computed })
                .into());
        }
        let deflate = flags & FLAG_DEFLATE != 0;
        if deflate && tag == TAG_TENSORS {
            return Err(bad("section TENS must not be deflated".into()));
        }
        let cap = match tag {
            TAG_META => limits.max_meta_bytes,
            TAG_GRAPH => limits.max_graph_bytes,
            _ => length,
        };
        let inflated;
        let data: &[u8] = if deflate {
            inflated = inflate(&section, data, cap)?;
            &inflated
        } else {
            data
        };
        let inflated_bytes = deflate.then_some(data.len() as u64);
        let length = data.len() as u64;
        match tag {
            TAG_META => {
                if length > limits.max_meta_bytes {
                    return Err(limit(&section, "META size", length, limits.max_meta_bytes).into());
                }
                let value: serde_json::Value = serde_json::from_slice(data)
                    .map_err(|e| section.malformed(format!("META is not valid JSON: {e}")))?;
                match value {
                    serde_json::Value::Object(map) => meta = Some(map),
                    _ => return Err(section.malformed("META is not a JSON object").into()),
                }
            }
            TAG_GRAPH => {
                if length > limits.max_graph_bytes {
                    return Err(limit(&section, "GRPH size", length, limits.max_graph_bytes).into());
                }
                graph = Some(data.to_vec());
            }
            TAG_TENSORS => tensors = Some(read_tensors(section, limits)?),
            _ if flags & FLAG_CRITICAL != 0 => {
                return Err(bad(format!("unknown critical section {tag_str}")));
            }
            _ => {}
        }
        sections.push(SectionSize { tag: tag_str, bytes: end - offset, inflated_bytes });
        expected_offset = end;
    }
    if expected_offset != file_len {
        return Err(cur
            .error_at(
                expected_offset as usize,
                FormatErrorKind::Malformed(format!(
                    "{} bytes after the last section",
                    file_len - expected_offset
                )),
            )
            .into());
    }
    let missing = |what: &str| cur.error_at(0, FormatErrorKind::Malformed(format!("no {what} section")));
    let meta = meta.ok_or_else(|| missing("META"))?;
    let (tensors, tensor_sizes) = tensors.ok_or_else(|| missing("TENS"))?;
    Ok(SlimFile {
        version: (major, minor),
        meta,
        graph,
        tensors,
        sizes: SizeReport {
            file_bytes: file_len,
            header_bytes: HEADER_BYTES as u64,
            section_table_bytes: table_len as u64,
            sections,
            tensor_count_bytes: 4,
            tensors: tensor_sizes,
        },
    })
}

/// Largest expansion a valid deflate stream can reach.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// Inflates a deflated section: `u64 inflated length` + raw deflate. The declared length is
/// checked against `cap` before anything is allocated, and inflation stops at it.
fn inflate(section: &Cursor<'_>, data: &[u8], cap: u64) -> Result<Vec<u8>> {
    let (len, body) = match data.split_first_chunk::<8>() {
        Some((len, body)) => (u64::from_le_bytes(*len), body),
        None => return Err(section.malformed("deflated section shorter than its 8-byte length").into()),
    };
    if len > cap {
        return Err(limit(section, "inflated section size", len, cap).into());
    }
    // Deflate cannot expand more than 1032:1 (258-byte matches in ~2-bit codes), so a larger
    // declared size is a lie, refused before any allocation.
    if len > (body.len() as u64).saturating_mul(MAX_DEFLATE_RATIO) + 64 {
        return Err(section
            .malformed(format!("deflated section of {} bytes cannot inflate to {len}", body.len()))
            .into());
    }
    let out = miniz_oxide::inflate::decompress_to_vec_with_limit(body, len as usize)
        .map_err(|e| section.malformed(format!("deflate stream is corrupt or longer than declared: {e}")))?;
    if out.len() as u64 != len {
        return Err(section
            .malformed(format!("deflate stream inflates to {} bytes, declared {len}", out.len()))
            .into());
    }
    Ok(out)
}

fn section_name(tag: &[u8; 4]) -> &'static str {
    match *tag {
        TAG_META => "META",
        TAG_GRAPH => "GRPH",
        TAG_TENSORS => "TENS",
        _ => "unknown",
    }
}

fn read_tensors(mut cur: Cursor<'_>, limits: &Limits) -> Result<(Vec<Tensor>, Vec<TensorSize>)> {
    let count = cur.u32()?;
    if count > limits.max_tensors {
        return Err(limit(&cur, "tensor count", u64::from(count), u64::from(limits.max_tensors)).into());
    }
    if count as usize > cur.remaining() / MIN_RECORD_BYTES {
        return Err(cur.malformed(format!("{count} tensors cannot fit in {} bytes", cur.remaining())).into());
    }
    let mut tensors = Vec::with_capacity(count as usize);
    let mut sizes = Vec::with_capacity(count as usize);
    let mut names = std::collections::HashSet::new();
    let mut total_elements = 0u64;
    for _ in 0..count {
        cur.set_tensor(None);
        let (tensor, size) = read_tensor(&mut cur, limits, &mut total_elements)?;
        if !names.insert(tensor.name.clone()) {
            return Err(cur.malformed("duplicate tensor name").into());
        }
        tensors.push(tensor);
        sizes.push(size);
    }
    cur.set_tensor(None);
    if cur.remaining() != 0 {
        return Err(cur.malformed(format!("{} bytes after the last tensor", cur.remaining())).into());
    }
    Ok((tensors, sizes))
}

fn read_tensor(
    cur: &mut Cursor<'_>,
    limits: &Limits,
    total_elements: &mut u64,
) -> Result<(Tensor, TensorSize)> {
    let start = cur.pos();
    let name_len = cur.u16()? as usize;
    if name_len == 0 || name_len > MAX_NAME_BYTES {
        return Err(cur
            .malformed(format!("tensor name length {name_len} outside 1..={MAX_NAME_BYTES}"))
            .into());
    }
    let name_at = cur.pos();
    let name = std::str::from_utf8(cur.take(name_len as u64)?)
        .map_err(|_| cur.error_at(name_at, FormatErrorKind::Malformed("tensor name is not UTF-8".into())))?
        .to_string();
    cur.set_tensor(Some(name.clone()));
    let encoding = cur.u8()?;
    if encoding > ENCODING_F32_PLANES {
        return Err(cur.malformed(format!("unknown tensor encoding {encoding}")).into());
    }
    let rank = cur.u8()? as usize;
    if rank > MAX_RANK {
        return Err(cur.malformed(format!("rank {rank} above {MAX_RANK}")).into());
    }
    let mut dims = Vec::with_capacity(rank);
    for _ in 0..rank {
        let d = cur.u64()?;
        let d = usize::try_from(d).map_err(|_| limit(cur, "dimension", d, usize::MAX as u64))?;
        dims.push(d);
    }
    let elements = element_count(&dims)
        .map(|e| e as u64)
        .ok_or_else(|| limit(cur, "element count", u64::MAX, limits.max_tensor_elements))?;
    if elements > limits.max_tensor_elements {
        return Err(limit(cur, "element count", elements, limits.max_tensor_elements).into());
    }
    *total_elements += elements;
    if *total_elements > limits.max_total_elements {
        return Err(limit(cur, "total element count", *total_elements, limits.max_total_elements).into());
    }
    let elements = elements as usize;
    let quant = match encoding {
        ENCODING_INT8_DENSE | ENCODING_INT8_SPARSE => Some(read_quant(cur, &dims)?),
        _ => None,
    };

    let mut size = TensorSize::new(&name, "", elements);
    let data = match encoding {
        ENCODING_F32_PLANES => {
            size.header_bytes = (cur.pos() - start) as u64;
            // Each plane is read (and its declared count checked against the bytes that are
            // really there) before anything the size of the tensor is allocated for it.
            let mut words: Vec<u32> = Vec::new();
            for plane in 0..4 {
                let (bytes, ps) = read_stream(cur, elements, 8, |s| s as u8)?;
                if plane == 0 {
                    words = bytes.into_iter().map(u32::from).collect();
                } else {
                    for (w, b) in words.iter_mut().zip(bytes) {
                        *w |= u32::from(b) << (8 * plane);
                    }
                }
                size.planes.push(ps);
            }
            TensorData::F32(words.into_iter().map(f32::from_bits).collect())
        }
        ENCODING_F32 => {
            size.header_bytes = (cur.pos() - start) as u64;
            let raw = cur.take(elements as u64 * 4)?;
            size.raw_bytes = raw.len() as u64;
            TensorData::F32(
                raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
            )
        }
        ENCODING_INT8_DENSE => {
            size.header_bytes = (cur.pos() - start) as u64;
            let (values, vs) = read_stream(cur, elements, 8, unzigzag_i8)?;
            size.values = Some(vs);
            TensorData::Int8Dense(values)
        }
        _ => {
            let gap_bits = u32::from(cur.u8()?);
            if !(1..=16).contains(&gap_bits) {
                return Err(cur.malformed(format!("gap_bits {gap_bits} outside 1..=16")).into());
            }
            let entries = cur.u64()?;
            if entries > elements as u64 {
                return Err(cur
                    .malformed(format!("{entries} sparse entries for {elements} elements"))
                    .into());
            }
            size.header_bytes = (cur.pos() - start) as u64;
            let (values, vs) = read_stream(cur, entries as usize, 8, unzigzag_i8)?;
            let gaps_at = cur.pos();
            let (gaps, gs) = read_stream(cur, entries as usize, gap_bits, |s| s as u16)?;
            check_positions(&gaps, gap_bits, elements)
                .map_err(|what| cur.error_at(gaps_at, FormatErrorKind::Malformed(what)))?;
            size.values = Some(vs);
            size.gaps = Some(gs);
            TensorData::Int8Sparse(RelativeIndexed { values, gaps, gap_bits, len: elements })
        }
    };
    size.encoding = encoding_name(encoding);
    size.total_bytes = (cur.pos() - start) as u64;
    Ok((Tensor { name, dims, data, quant }, size))
}

/// Every gap fits in `gap_bits` and every entry lands inside the tensor.
fn check_positions(gaps: &[u16], gap_bits: u32, len: usize) -> Result<(), String> {
    let max_gap = (1u32 << gap_bits) - 1;
    let mut cursor = 0u64;
    for (k, &g) in gaps.iter().enumerate() {
        if u32::from(g) > max_gap {
            return Err(format!("gap {g} of entry {k} exceeds {max_gap}"));
        }
        cursor += u64::from(g);
        if cursor >= len as u64 {
            return Err(format!("sparse entry {k} lands at position {cursor}, past the {len} elements"));
        }
        cursor += 1;
    }
    Ok(())
}

fn read_quant(cur: &mut Cursor<'_>, dims: &[usize]) -> Result<QuantParams> {
    let at = cur.pos();
    let scheme = match cur.u8()? {
        0 => Scheme::Symmetric,
        1 => Scheme::Asymmetric,
        other => {
            return Err(cur
                .error_at(at, FormatErrorKind::Malformed(format!("unknown quantization scheme {other}")))
                .into())
        }
    };
    let axis_plus_one = cur.u8()? as usize;
    let channels = cur.u32()? as usize;
    let axis = match axis_plus_one {
        0 => None,
        a if a <= dims.len() => Some(a - 1),
        a => {
            return Err(cur
                .error_at(
                    at,
                    FormatErrorKind::Malformed(format!(
                        "quantization axis {} out of range for rank {}",
                        a - 1,
                        dims.len()
                    )),
                )
                .into())
        }
    };
    let expected = axis.map_or(1, |a| dims[a]);
    if channels != expected {
        return Err(cur
            .error_at(
                at,
                FormatErrorKind::Malformed(format!("{channels} quantization channels, expected {expected}")),
            )
            .into());
    }
    // The arrays must be present before allocating for them.
    let scale_width = match cur.u8()? {
        0 => 4,
        1 => 2,
        other => return Err(cur.malformed(format!("unknown scale format {other}")).into()),
    };
    let zp_bytes = if scheme == Scheme::Asymmetric { channels as u64 } else { 0 };
    let bytes = cur.take(channels as u64 * scale_width as u64 + zp_bytes)?;
    let (scale_bytes, zp_bytes) = bytes.split_at(channels * scale_width);
    let scales: Vec<f32> = if scale_width == 4 {
        scale_bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    } else {
        scale_bytes
            .chunks_exact(2)
            .map(|c| f32::from_bits(u32::from(u16::from_le_bytes([c[0], c[1]])) << 16))
            .collect()
    };
    let zero_points: Vec<i32> = match scheme {
        Scheme::Asymmetric => zp_bytes.iter().map(|&b| i32::from(b as i8)).collect(),
        Scheme::Symmetric => vec![0; channels],
    };
    if let Some(s) = scales.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        return Err(cur
            .error_at(at, FormatErrorKind::Malformed(format!("scale {s} is not finite and positive")))
            .into());
    }
    Ok(QuantParams { scales, zero_points, axis, scheme })
}
