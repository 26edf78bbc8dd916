//! Symbol streams inside tensor records (docs/FORMAT.md §4): a coding byte, a body length,
//! then either fixed-width packed symbols or a Huffman codebook plus lane stream.
//!
//! The reader checks every declared count against the bytes actually present before it
//! allocates: a fixed-width body must be exactly `ceil(count × bits / 8)` bytes, and a Huffman
//! body must hold at least one bit per symbol.

use super::cursor::Cursor;
use super::{Coding, StreamSize};
use crate::error::{Error, FormatErrorKind, Result};
use crate::huffman::{self, Codebook, Decoder};

const CODING_FIXED: u8 = 0;
const CODING_HUFFMAN: u8 = 1;
/// Coding byte + body length.
const STREAM_HEADER_BYTES: usize = 9;

/// Appends one stream coding `symbols`; `fixed_bits` is the width used by [`Coding::Fixed`]
/// (every symbol must fit in it).
pub(crate) fn write_stream(
    out: &mut Vec<u8>,
    symbols: &[u16],
    coding: Coding,
    fixed_bits: u32,
) -> Result<StreamSize> {
    let start = out.len();
    let (coding, codebook_bytes, body) = match coding {
        Coding::Fixed => {
            if let Some(&s) = symbols.iter().find(|&&s| u32::from(s) >> fixed_bits != 0) {
                return Err(Error::InvalidArgument(format!("symbol {s} does not fit in {fixed_bits} bits")));
            }
            let mut body = vec![fixed_bits as u8];
            pack_fixed(symbols, fixed_bits, &mut body);
            (coding, 0, body)
        }
        Coding::Huffman { max_len } => {
            let (codebook, lanes) = huffman::compress(symbols, max_len)?;
            let mut body = Vec::with_capacity(codebook.serialized_len() + lanes.len());
            codebook.write_to(&mut body);
            let codebook_bytes = body.len() as u64;
            body.extend_from_slice(&lanes);
            // Short streams whose codebook costs more than the code saves stay fixed width.
            let fixed_len = 1 + (symbols.len() as u64 * u64::from(fixed_bits)).div_ceil(8);
            let fits = symbols.iter().all(|&s| u32::from(s) >> fixed_bits == 0);
            if fits && fixed_len <= body.len() as u64 {
                return write_stream(out, symbols, Coding::Fixed, fixed_bits);
            }
            // Report the longest code actually used, as a reader will.
            (Coding::Huffman { max_len: codebook.max_len() }, codebook_bytes, body)
        }
    };
    out.push(match coding {
        Coding::Fixed => CODING_FIXED,
        Coding::Huffman { .. } => CODING_HUFFMAN,
    });
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&body);
    let total = (out.len() - start) as u64;
    Ok(StreamSize {
        coding,
        symbols: symbols.len() as u64,
        total_bytes: total,
        codebook_bytes,
        payload_bytes: total - STREAM_HEADER_BYTES as u64 - codebook_bytes,
    })
}

/// Reads one stream of `count` symbols, mapping each through `map`. `fixed_bits` is the width a
/// fixed-width stream must declare.
pub(crate) fn read_stream<T, F>(
    cur: &mut Cursor<'_>,
    count: usize,
    fixed_bits: u32,
    map: F,
) -> Result<(Vec<T>, StreamSize)>
where
    T: Copy + Default,
    F: Fn(u32) -> T + Copy,
{
    let stream_start = cur.pos();
    let coding = cur.u8()?;
    let body_len = cur.u64()?;
    let body_at = cur.pos();
    let body = cur.take(body_len)?;
    let located = |kind: FormatErrorKind| -> Error { cur.error_at(body_at, kind).into() };
    match coding {
        CODING_FIXED => {
            let bits = u32::from(*body.first().ok_or_else(|| located(truncated(1, 0)))?);
            if bits != fixed_bits {
                return Err(located(FormatErrorKind::Malformed(format!(
                    "fixed-width stream declares {bits} bits per symbol, expected {fixed_bits}"
                ))));
            }
            let need = (count as u64).checked_mul(u64::from(bits)).map(|b| b.div_ceil(8) + 1);
            if need != Some(body_len) {
                return Err(located(FormatErrorKind::Malformed(format!(
                    "fixed-width stream of {count} symbols × {bits} bits has {body_len} bytes"
                ))));
            }
            let out = unpack_fixed(&body[1..], bits, count, map);
            let size = StreamSize {
                coding: Coding::Fixed,
                symbols: count as u64,
                total_bytes: (cur.pos() - stream_start) as u64,
                codebook_bytes: 0,
                payload_bytes: body_len,
            };
            Ok((out, size))
        }
        CODING_HUFFMAN => {
            let (codebook, cb_len) = Codebook::read_from(body).map_err(|e| stream_error(&located, e))?;
            let lanes = &body[cb_len..];
            let lane_bytes = lanes.len().saturating_sub(huffman::LANE_HEADER_BYTES) as u64;
            if count as u64 > lane_bytes.saturating_mul(8) {
                return Err(located(FormatErrorKind::Malformed(format!(
                    "Huffman stream declares {count} symbols but holds only {lane_bytes} bytes"
                ))));
            }
            let mut out = vec![T::default(); count];
            Decoder::new(&codebook)
                .decode_into(lanes, &mut out, map)
                .map_err(|e| stream_error(&located, e))?;
            let size = StreamSize {
                coding: Coding::Huffman { max_len: codebook.max_len() },
                symbols: count as u64,
                total_bytes: (cur.pos() - stream_start) as u64,
                codebook_bytes: cb_len as u64,
                payload_bytes: lanes.len() as u64,
            };
            Ok((out, size))
        }
        other => Err(cur
            .error_at(stream_start, FormatErrorKind::Malformed(format!("unknown stream coding {other}")))
            .into()),
    }
}

fn truncated(needed: u64, available: u64) -> FormatErrorKind {
    FormatErrorKind::Truncated { needed, available }
}

fn stream_error(located: &impl Fn(FormatErrorKind) -> Error, e: Error) -> Error {
    match e {
        Error::Huffman(h) => located(FormatErrorKind::Stream(h)),
        other => other,
    }
}

/// Packs `symbols` MSB-first at `bits` each, zero-padding the last byte.
fn pack_fixed(symbols: &[u16], bits: u32, out: &mut Vec<u8>) {
    let mut acc: u64 = 0;
    let mut nbits = 0u32;
    for &s in symbols {
        acc = (acc << bits) | u64::from(s);
        nbits += bits;
        while nbits >= 8 {
            nbits -= 8;
            out.push((acc >> nbits) as u8);
        }
    }
    if nbits > 0 {
        out.push((acc << (8 - nbits)) as u8);
    }
}

/// Inverse of [`pack_fixed`]; `data` holds exactly `ceil(count × bits / 8)` bytes.
fn unpack_fixed<T: Copy + Default, F: Fn(u32) -> T>(data: &[u8], bits: u32, count: usize, map: F) -> Vec<T> {
    let mut out = Vec::with_capacity(count);
    let mut acc: u64 = 0;
    let mut nbits = 0u32;
    let mut bytes = data.iter();
    let mask = (1u64 << bits) - 1;
    for _ in 0..count {
        while nbits < bits {
            acc = (acc << 8) | u64::from(bytes.next().copied().unwrap_or(0));
            nbits += 8;
        }
        nbits -= bits;
        out.push(map(((acc >> nbits) & mask) as u32));
    }
    out
}
