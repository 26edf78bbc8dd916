//! Canonical, length-limited Huffman coding with a table-driven decoder.
//!
//! Why this shape: weights are decoded on every model load, in the browser, so decoding must
//! be fast (one table lookup per symbol, a branch-free 64-bit refill) and must never trust the
//! bytes it is given. Encoding happens once, offline, and only has to be correct.
//!
//! - **Code lengths** come from the package-merge algorithm (Larmore & Hirschberg), which gives
//!   the optimal prefix code whose longest code word is at most `max_len` bits. The codebook is
//!   stored as code lengths only; code words are assigned canonically (shorter codes first,
//!   then by symbol value), as in DEFLATE.
//! - **Bit order**: MSB-first. The first code word occupies the most significant bits of the
//!   first byte; the last byte is padded with zero bits.
//! - **Lanes**: a stream of `count` symbols is split into [`LANES`] contiguous chunks of
//!   `ceil(count / LANES)` symbols (the last chunks may be shorter or empty), each coded as an
//!   independent bit stream. The decoder advances all lanes in one loop, so the four
//!   table-lookup dependency chains run in parallel on an out-of-order core — the trick zstd's
//!   Huffman decoder uses. Stream layout: `u32 LE` byte length of lanes 0, 1 and 2, then the
//!   four lanes' bytes back to back (lane 3 takes the rest).
//! - **Decode table**: `2^12` entries of `u32` when every code has at most 12 bits (`2^16`
//!   otherwise), entry =
//!   `symbol | len << 16`, bit 31 set where no code word starts with that bit pattern. Invalid
//!   entries are accumulated with a bitwise OR and checked once per block, keeping the hot
//!   loop free of branches.
//!
//! Measured numbers are in `docs/BENCHMARKS.md` (`make bench-huffman`).

use crate::error::{HuffmanError, Result};

/// Longest code word the default configuration produces.
pub const DEFAULT_MAX_CODE_LEN: u32 = 12;
/// Longest code word the coder supports at all.
pub const MAX_CODE_LEN: u32 = 16;
/// Largest alphabet (number of distinct symbol values).
pub const MAX_ALPHABET: usize = 1 << 16;
/// Number of independent bit streams a symbol stream is split into.
pub const LANES: usize = 4;
/// Bytes of the lane header in front of the lanes.
pub const LANE_HEADER_BYTES: usize = 4 * (LANES - 1);

const INVALID: u32 = 1 << 31;
const SMALL_TABLE_BITS: u32 = 12;
const SMALL_TABLE: usize = 1 << SMALL_TABLE_BITS;
const LARGE_TABLE: usize = 1 << MAX_CODE_LEN;
const LEN_SHIFT: u32 = 16;

/// A canonical prefix code, defined entirely by one code length per symbol (0 = unused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codebook {
    lengths: Vec<u8>,
    codes: Vec<u16>,
    max_len: u32,
}

impl Codebook {
    /// Builds the optimal code with no word longer than `max_len` bits for the given symbol
    /// frequencies (`freqs[s]` = occurrences of symbol `s`). Symbols with frequency 0 get no
    /// code. A single used symbol gets a 1-bit code.
    pub fn from_frequencies(freqs: &[u64], max_len: u32) -> Result<Codebook> {
        if freqs.len() > MAX_ALPHABET {
            return Err(HuffmanError::AlphabetTooLarge(freqs.len()).into());
        }
        if !(1..=MAX_CODE_LEN).contains(&max_len) {
            return Err(HuffmanError::BadMaxLength(max_len).into());
        }
        let lengths = package_merge(freqs, max_len)?;
        Codebook::from_lengths(lengths)
    }

    /// Counts symbol frequencies and builds the code in one step.
    pub fn for_symbols(symbols: &[u16], max_len: u32) -> Result<Codebook> {
        Codebook::from_frequencies(&histogram(symbols), max_len)
    }

    /// Rebuilds a codebook from stored code lengths. Rejects lengths above 16 and sets of
    /// lengths that over-subscribe the code space (Kraft sum above 1); an incomplete code
    /// (Kraft sum below 1) is accepted, its unused bit patterns are decode errors.
    pub fn from_lengths(mut lengths: Vec<u8>) -> Result<Codebook> {
        if lengths.len() > MAX_ALPHABET {
            return Err(HuffmanError::AlphabetTooLarge(lengths.len()).into());
        }
        let mut per_len = [0u32; MAX_CODE_LEN as usize + 1];
        for (symbol, &len) in lengths.iter().enumerate() {
            if u32::from(len) > MAX_CODE_LEN {
                return Err(HuffmanError::LengthTooLong { symbol, len }.into());
            }
            per_len[len as usize] += 1;
        }
        let kraft: u64 =
            (1..=MAX_CODE_LEN as usize).map(|l| u64::from(per_len[l]) << (MAX_CODE_LEN as usize - l)).sum();
        if kraft > 1u64 << MAX_CODE_LEN {
            return Err(HuffmanError::OverSubscribed.into());
        }
        // Trailing unused symbols carry no information; dropping them makes the stored form
        // canonical.
        while lengths.last() == Some(&0) {
            lengths.pop();
        }
        let max_len = (1..=MAX_CODE_LEN).rev().find(|&l| per_len[l as usize] > 0).unwrap_or(0);
        let mut next = [0u32; MAX_CODE_LEN as usize + 2];
        let mut code = 0u32;
        for len in 1..=MAX_CODE_LEN as usize {
            code = (code + per_len[len - 1] * u32::from(len > 1)) << 1;
            next[len] = code;
        }
        let codes = lengths
            .iter()
            .map(|&len| {
                if len == 0 {
                    return 0;
                }
                let c = next[len as usize];
                next[len as usize] += 1;
                c as u16
            })
            .collect();
        Ok(Codebook { lengths, codes, max_len })
    }

    /// Code length per symbol (0 = symbol unused); trailing unused symbols are trimmed.
    pub fn lengths(&self) -> &[u8] {
        &self.lengths
    }

    /// Longest code word in use (0 for an empty codebook).
    pub fn max_len(&self) -> u32 {
        self.max_len
    }

    /// Number of symbols that have a code word.
    pub fn used_symbols(&self) -> usize {
        self.lengths.iter().filter(|&&l| l > 0).count()
    }

    /// Exact number of payload bits `symbols` would take (lane padding excluded).
    pub fn encoded_bits(&self, freqs: &[u64]) -> Result<u64> {
        let mut bits = 0u64;
        for (s, &f) in freqs.iter().enumerate() {
            if f == 0 {
                continue;
            }
            match self.lengths.get(s) {
                Some(&l) if l > 0 => bits += f * u64::from(l),
                _ => return Err(HuffmanError::UnknownSymbol(s as u32).into()),
            }
        }
        Ok(bits)
    }

    /// Serialises the code lengths (see docs/FORMAT.md, "Codebook"): `u32 LE` alphabet size
    /// `n`, `u8` packing (4 = two lengths per byte, high nibble first, used when every length
    /// is ≤ 15; 8 = one byte per length), then the lengths.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let n = self.lengths.len();
        out.extend_from_slice(&(n as u32).to_le_bytes());
        if self.max_len <= 15 {
            out.push(4);
            for pair in self.lengths.chunks(2) {
                let hi = pair[0];
                let lo = pair.get(1).copied().unwrap_or(0);
                out.push(hi << 4 | lo);
            }
        } else {
            out.push(8);
            out.extend_from_slice(&self.lengths);
        }
    }

    /// Size in bytes of [`Codebook::write_to`]'s output.
    pub fn serialized_len(&self) -> usize {
        let n = self.lengths.len();
        5 + if self.max_len <= 15 { n.div_ceil(2) } else { n }
    }

    /// Parses a codebook written by [`Codebook::write_to`] from the front of `bytes`;
    /// returns it and the number of bytes consumed. Never reads past `bytes`.
    pub fn read_from(bytes: &[u8]) -> Result<(Codebook, usize)> {
        let malformed = |m: String| HuffmanError::Malformed(m);
        let head: [u8; 4] = bytes
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| malformed("codebook header truncated".into()))?;
        let n = u32::from_le_bytes(head) as usize;
        if n > MAX_ALPHABET {
            return Err(HuffmanError::AlphabetTooLarge(n).into());
        }
        let packing = *bytes.get(4).ok_or_else(|| malformed("codebook header truncated".into()))?;
        let body_len = match packing {
            4 => n.div_ceil(2),
            8 => n,
            p => return Err(malformed(format!("unknown codebook packing {p}")).into()),
        };
        let body = bytes
            .get(5..5 + body_len)
            .ok_or_else(|| malformed(format!("codebook of {n} lengths truncated")))?;
        let lengths = if packing == 4 {
            let mut l = Vec::with_capacity(n);
            for &b in body {
                l.push(b >> 4);
                l.push(b & 15);
            }
            l.truncate(n);
            l
        } else {
            body.to_vec()
        };
        Ok((Codebook::from_lengths(lengths)?, 5 + body_len))
    }

    /// Encodes `symbols` into a lane-split stream (layout in the module docs).
    pub fn encode(&self, symbols: &[u16]) -> Result<Vec<u8>> {
        let chunk = lane_chunk(symbols.len());
        let mut lanes: Vec<Vec<u8>> = Vec::with_capacity(LANES);
        for lane in 0..LANES {
            let start = (lane * chunk).min(symbols.len());
            let end = ((lane + 1) * chunk).min(symbols.len());
            lanes.push(self.encode_lane(&symbols[start..end])?);
        }
        let total: usize = lanes.iter().map(Vec::len).sum();
        let mut out = Vec::with_capacity(LANE_HEADER_BYTES + total);
        for lane in &lanes[..LANES - 1] {
            let len = u32::try_from(lane.len())
                .map_err(|_| HuffmanError::Malformed("lane longer than 4 GiB".into()))?;
            out.extend_from_slice(&len.to_le_bytes());
        }
        for lane in &lanes {
            out.extend_from_slice(lane);
        }
        Ok(out)
    }

    fn encode_lane(&self, symbols: &[u16]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(symbols.len() * self.max_len as usize / 8 + 8);
        let mut acc: u64 = 0;
        let mut nbits: u32 = 0;
        for &s in symbols {
            let len = match self.lengths.get(s as usize) {
                Some(&l) if l > 0 => u32::from(l),
                _ => return Err(HuffmanError::UnknownSymbol(u32::from(s)).into()),
            };
            acc = (acc << len) | u64::from(self.codes[s as usize]);
            nbits += len;
            if nbits >= 32 {
                nbits -= 32;
                out.extend_from_slice(&((acc >> nbits) as u32).to_be_bytes());
            }
        }
        while nbits >= 8 {
            nbits -= 8;
            out.push((acc >> nbits) as u8);
        }
        if nbits > 0 {
            out.push((acc << (8 - nbits)) as u8);
        }
        Ok(out)
    }
}

/// Counts how often each symbol occurs (`result[s]` = count of `s`); the result is as long as
/// the largest symbol + 1.
pub fn histogram(symbols: &[u16]) -> Vec<u64> {
    let mut freqs = vec![0u64; MAX_ALPHABET];
    for &s in symbols {
        freqs[s as usize] += 1;
    }
    let used = freqs.iter().rposition(|&f| f > 0).map_or(0, |p| p + 1);
    freqs.truncate(used);
    freqs
}

/// Empirical (order-0) entropy of a frequency table, in bits for the whole sequence: the lower
/// bound any symbol-by-symbol code can reach.
pub fn entropy_bits(freqs: &[u64]) -> f64 {
    let total: u64 = freqs.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let t = total as f64;
    freqs
        .iter()
        .filter(|&&f| f > 0)
        .map(|&f| {
            let f = f as f64;
            -f * (f / t).log2()
        })
        .sum()
}

/// Symbols per lane for a stream of `count` symbols.
pub fn lane_chunk(count: usize) -> usize {
    count.div_ceil(LANES)
}

/// Optimal length-limited code lengths by package-merge. `lengths[s]` = 0 for unused symbols.
fn package_merge(freqs: &[u64], max_len: u32) -> Result<Vec<u8>> {
    let mut lengths = vec![0u8; freqs.len()];
    let mut used: Vec<usize> = (0..freqs.len()).filter(|&s| freqs[s] > 0).collect();
    let m = used.len();
    match m {
        0 => return Ok(lengths),
        1 => {
            lengths[used[0]] = 1;
            return Ok(lengths);
        }
        _ => {}
    }
    if m > 1usize << max_len {
        return Err(HuffmanError::LengthLimitTooSmall { symbols: m, max_len }.into());
    }
    used.sort_by_key(|&s| (freqs[s], s));
    let leaves: Vec<u64> = used.iter().map(|&s| freqs[s]).collect();

    // levels[j][k]: is item k of the list at level j a leaf (else a package of two items of
    // level j - 1)? Level 0 holds the leaves alone (denomination 2^-max_len).
    let mut levels: Vec<Vec<bool>> = Vec::with_capacity(max_len as usize);
    levels.push(vec![true; m]);
    let mut weights = leaves.clone();
    for _ in 1..max_len {
        let packages: Vec<u64> = weights.chunks_exact(2).map(|p| p[0].saturating_add(p[1])).collect();
        let mut merged = Vec::with_capacity(m + packages.len());
        let mut is_leaf = Vec::with_capacity(m + packages.len());
        let (mut i, mut j) = (0, 0);
        while i < m || j < packages.len() {
            if j >= packages.len() || (i < m && leaves[i] <= packages[j]) {
                merged.push(leaves[i]);
                is_leaf.push(true);
                i += 1;
            } else {
                merged.push(packages[j]);
                is_leaf.push(false);
                j += 1;
            }
        }
        weights = merged;
        levels.push(is_leaf);
    }

    // Select the 2m - 2 cheapest items of the top list; every time a leaf is selected (at any
    // level, through the packages that contain it) its code gets one bit longer.
    let mut take = 2 * m - 2;
    for is_leaf in levels.iter().rev() {
        let mut leaf = 0;
        let mut packages = 0;
        for &l in &is_leaf[..take] {
            if l {
                lengths[used[leaf]] += 1;
                leaf += 1;
            } else {
                packages += 1;
            }
        }
        take = 2 * packages;
    }
    Ok(lengths)
}

/// Table-driven decoder for one codebook. Build once, decode many streams.
#[derive(Debug, Clone)]
pub struct Decoder {
    table: Vec<u32>,
    table_bits: u32,
}

/// Forward MSB-first bit reader over one lane.
struct BitReader<'a> {
    data: &'a [u8],
    /// Next byte not yet counted in `nbits` (may run past `data.len()` in the slow path,
    /// which then feeds zero bits).
    pos: usize,
    /// Valid bits, left-aligned.
    buf: u64,
    nbits: u32,
}

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0, buf: 0, nbits: 0 }
    }

    /// Positions the reader `bits` bits into its lane (where the fast loop stopped).
    fn seek_bits(&mut self, bits: u64) {
        self.pos = (bits / 8) as usize;
        self.buf = 0;
        self.nbits = 0;
        self.refill_slow();
        let skip = (bits % 8) as u32;
        self.buf <<= skip;
        self.nbits -= skip;
    }

    /// Tops the buffer up byte by byte, feeding zeros past the end of the lane.
    #[inline]
    fn refill_slow(&mut self) {
        while self.nbits <= 56 {
            let byte = self.data.get(self.pos).copied().unwrap_or(0);
            self.buf |= u64::from(byte) << (56 - self.nbits);
            self.pos += 1;
            self.nbits += 8;
        }
    }

    #[inline(always)]
    fn decode(&mut self, table: &[u32], shift: u32) -> u32 {
        let entry = table[(self.buf >> shift) as usize];
        self.consume(entry)
    }

    #[inline(always)]
    fn consume(&mut self, entry: u32) -> u32 {
        let len = (entry >> LEN_SHIFT) & 31;
        self.buf <<= len;
        self.nbits -= len;
        entry
    }

    /// Bits consumed so far.
    fn consumed_bits(&self) -> u64 {
        self.pos as u64 * 8 - u64::from(self.nbits)
    }
}

impl Decoder {
    /// Builds the lookup table: 2^12 entries (16 KiB, fits L1) for codes of up to 12 bits,
    /// 2^16 otherwise. Fixed sizes let the compiler drop bounds checks in the hot loop.
    pub fn new(codebook: &Codebook) -> Decoder {
        let table_bits = if codebook.max_len <= SMALL_TABLE_BITS { SMALL_TABLE_BITS } else { MAX_CODE_LEN };
        let mut table = vec![INVALID | 1 << LEN_SHIFT; 1usize << table_bits];
        for (symbol, (&len, &code)) in codebook.lengths.iter().zip(&codebook.codes).enumerate() {
            if len == 0 {
                continue;
            }
            let span = table_bits - u32::from(len);
            let first = (code as usize) << span;
            let entry = symbol as u32 | u32::from(len) << LEN_SHIFT;
            table[first..first + (1 << span)].fill(entry);
        }
        Decoder { table, table_bits }
    }

    /// Decodes exactly `out.len()` symbols from `stream` (layout in the module docs), mapping
    /// each symbol through `map`. Fails — without panicking or reading outside `stream` — on a
    /// malformed lane header, a bit pattern that is no code word, a lane that ends early, or a
    /// lane with bytes left over after its last symbol.
    pub fn decode_into<T, F>(&self, stream: &[u8], out: &mut [T], map: F) -> Result<()>
    where
        F: Fn(u32) -> T + Copy,
    {
        let lanes = split_lanes(stream)?;
        let chunk = lane_chunk(out.len());
        let mut outs: [&mut [T]; LANES] = Default::default();
        let mut rest = out;
        for slot in outs.iter_mut() {
            let take = chunk.min(rest.len());
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(take);
            *slot = head;
            rest = tail;
        }
        let mut readers = lanes.map(BitReader::new);
        // A refill guarantees 56 bits: four 12-bit codes or three 16-bit ones.
        let done = if let Ok(small) = <&[u32; SMALL_TABLE]>::try_from(&self.table[..]) {
            decode_fast::<T, F, 4, SMALL_TABLE>(small, &mut readers, &mut outs, map)?
        } else if let Ok(large) = <&[u32; LARGE_TABLE]>::try_from(&self.table[..]) {
            decode_fast::<T, F, 3, LARGE_TABLE>(large, &mut readers, &mut outs, map)?
        } else {
            0
        };
        let shift = 64 - self.table_bits;
        for (lane, (r, o)) in readers.iter_mut().zip(outs.iter_mut()).enumerate() {
            for (index, slot) in o.iter_mut().enumerate().skip(done) {
                r.refill_slow();
                let e = r.decode(&self.table, shift);
                if e & INVALID != 0 {
                    return Err(HuffmanError::InvalidCode { lane, index }.into());
                }
                *slot = map(e & 0xFFFF);
            }
            let available = r.data.len() as u64 * 8;
            let consumed = r.consumed_bits();
            if consumed > available {
                return Err(HuffmanError::Truncated { lane, expected: o.len() }.into());
            }
            if consumed.div_ceil(8) < r.data.len() as u64 {
                return Err(HuffmanError::Malformed(format!(
                    "lane {lane} has {} bytes after its last symbol",
                    r.data.len() as u64 - consumed.div_ceil(8)
                ))
                .into());
            }
        }
        Ok(())
    }
}

/// The hot loop: all lanes advance together, `N` symbols per lane per refill. Returns how
/// many symbols of each lane it decoded (the same for every lane).
///
/// Each lane's state is only a bit buffer and a bit position, kept in locals so that all
/// four lanes stay in registers: a refill loads the 8 bytes at `bitpos / 8` and shifts out
/// the `bitpos % 8` bits already consumed (≥ 57 valid bits, enough for N codes), so refills
/// never depend on the previous buffer.
#[inline(always)]
fn decode_fast<T, F, const N: usize, const SIZE: usize>(
    table: &[u32; SIZE],
    readers: &mut [BitReader<'_>; LANES],
    outs: &mut [&mut [T]; LANES],
    map: F,
) -> Result<usize>
where
    F: Fn(u32) -> T + Copy,
{
    const { assert!(N * 16 <= 57 || (N * 12 <= 57 && SIZE <= 1 << 12)) };
    let shift = 64 - SIZE.trailing_zeros();
    let data: [&[u8]; LANES] = readers.each_ref().map(|r| r.data);
    let mut bitpos = readers.each_ref().map(|r| r.consumed_bits());
    let min_len = outs.iter().map(|o| o.len()).min().unwrap_or(0);
    let mut done = 0;
    let mut bad = 0u32;
    while done + N <= min_len && (0..LANES).all(|l| (bitpos[l] / 8) as usize + 8 <= data[l].len()) {
        let start = bitpos;
        let mut buf = [0u64; LANES];
        for l in 0..LANES {
            let at = (bitpos[l] / 8) as usize;
            let word: [u8; 8] = data[l][at..at + 8].try_into().unwrap_or([0; 8]);
            buf[l] = u64::from_be_bytes(word) << (bitpos[l] % 8);
        }
        let dst = outs.each_mut().map(|o| &mut o[done..done + N]);
        // Symbol-major over lanes: the four lanes' table lookups are independent.
        #[allow(clippy::needless_range_loop)]
        for k in 0..N {
            for l in 0..LANES {
                let e = table[(buf[l] >> shift) as usize];
                let len = (e >> LEN_SHIFT) & 31;
                buf[l] <<= len;
                bitpos[l] += u64::from(len);
                bad |= e;
                dst[l][k] = map(e & 0xFFFF);
            }
        }
        if bad & INVALID != 0 {
            // Not counted as done: the caller's tail loop decodes this block again from its
            // start and reports the exact lane and index of the bad code.
            bitpos = start;
            break;
        }
        done += N;
    }
    for (r, &b) in readers.iter_mut().zip(&bitpos) {
        r.seek_bits(b);
    }
    Ok(done)
}

/// Splits a lane-split stream into its lanes, checking the header against the stream length.
pub fn split_lanes(stream: &[u8]) -> Result<[&[u8]; LANES]> {
    let header = stream.get(..LANE_HEADER_BYTES).ok_or_else(|| {
        HuffmanError::Malformed(format!(
            "stream of {} bytes is shorter than its {LANE_HEADER_BYTES}-byte lane header",
            stream.len()
        ))
    })?;
    let mut lanes: [&[u8]; LANES] = [&[]; LANES];
    let mut rest = &stream[LANE_HEADER_BYTES..];
    for (i, lane) in lanes.iter_mut().take(LANES - 1).enumerate() {
        let len = u32::from_le_bytes([header[4 * i], header[4 * i + 1], header[4 * i + 2], header[4 * i + 3]])
            as usize;
        if len > rest.len() {
            return Err(HuffmanError::Malformed(format!(
                "lane {i} declares {len} bytes but only {} remain",
                rest.len()
            ))
            .into());
        }
        let (head, tail) = rest.split_at(len);
        *lane = head;
        rest = tail;
    }
    lanes[LANES - 1] = rest;
    Ok(lanes)
}

/// Convenience: builds a code for `symbols` and encodes them.
pub fn compress(symbols: &[u16], max_len: u32) -> Result<(Codebook, Vec<u8>)> {
    let cb = Codebook::for_symbols(symbols, max_len)?;
    let bytes = cb.encode(symbols)?;
    Ok((cb, bytes))
}

/// Convenience: decodes `count` symbols (the caller bounds `count`).
pub fn decompress(codebook: &Codebook, stream: &[u8], count: usize) -> Result<Vec<u16>> {
    let mut out = vec![0u16; count];
    Decoder::new(codebook).decode_into(stream, &mut out, |s| s as u16)?;
    Ok(out)
}

/// Maps an int8 value to a Huffman symbol so that small magnitudes get small symbol numbers
/// (0, -1, 1, -2, 2, ... → 0, 1, 2, 3, 4, ...), which keeps stored codebooks short.
#[inline(always)]
pub fn zigzag_i8(v: i8) -> u16 {
    (((v as i16) << 1) ^ ((v as i16) >> 15)) as u16 & 0xFF
}

/// Inverse of [`zigzag_i8`] (only the low 8 bits of `s` are used).
#[inline(always)]
pub fn unzigzag_i8(s: u32) -> i8 {
    let s = s as u8;
    ((s >> 1) as i8) ^ -((s & 1) as i8)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
