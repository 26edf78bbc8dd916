use super::*;
use crate::error::Error;
use proptest::prelude::*;

fn roundtrip(symbols: &[u16], max_len: u32) -> (Codebook, Vec<u8>) {
    let (cb, bytes) = compress(symbols, max_len).expect("encode");
    let back = decompress(&cb, &bytes, symbols.len()).expect("decode");
    assert_eq!(back, symbols);
    (cb, bytes)
}

fn kraft_ok(lengths: &[u8]) -> bool {
    let sum: u64 = lengths.iter().filter(|&&l| l > 0).map(|&l| 1u64 << (16 - l)).sum();
    sum <= 1 << 16
}

/// Plain (unlimited) Huffman code lengths by repeatedly merging the two lightest trees:
/// the reference the length-limited code must match whenever the limit does not bind.
fn unlimited_cost(freqs: &[u64]) -> u64 {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut heap: BinaryHeap<Reverse<u64>> = freqs.iter().filter(|&&f| f > 0).map(|&f| Reverse(f)).collect();
    if heap.len() == 1 {
        return heap.pop().map(|Reverse(f)| f).unwrap_or(0);
    }
    let mut cost = 0;
    while heap.len() > 1 {
        let Reverse(a) = heap.pop().unwrap();
        let Reverse(b) = heap.pop().unwrap();
        cost += a + b;
        heap.push(Reverse(a + b));
    }
    cost
}

/// Optimal cost of a length-limited code by brute force over all length vectors (tiny
/// alphabets only).
fn brute_force_limited_cost(freqs: &[u64], max_len: u32) -> u64 {
    fn rec(freqs: &[u64], max_len: u32, i: usize, kraft: u64, cost: u64, best: &mut u64) {
        if kraft > 1 << max_len || cost >= *best {
            return;
        }
        if i == freqs.len() {
            *best = cost;
            return;
        }
        for l in 1..=max_len {
            rec(freqs, max_len, i + 1, kraft + (1 << (max_len - l)), cost + freqs[i] * l as u64, best);
        }
    }
    let mut best = u64::MAX;
    rec(freqs, max_len, 0, 0, 0, &mut best);
    best
}

#[test]
fn empty_input() {
    let (cb, bytes) = roundtrip(&[], DEFAULT_MAX_CODE_LEN);
    assert_eq!(cb.used_symbols(), 0);
    assert_eq!(bytes.len(), LANE_HEADER_BYTES);
    // An empty codebook cannot decode a symbol.
    assert!(decompress(&cb, &bytes, 1).is_err());
}

#[test]
fn one_distinct_symbol() {
    let symbols = vec![42u16; 1000];
    let (cb, bytes) = roundtrip(&symbols, DEFAULT_MAX_CODE_LEN);
    assert_eq!(cb.lengths()[42], 1);
    assert_eq!(cb.used_symbols(), 1);
    assert_eq!(bytes.len(), LANE_HEADER_BYTES + 4 * 250usize.div_ceil(8));
}

#[test]
fn all_byte_values_uniform_get_eight_bits() {
    let symbols: Vec<u16> = (0..256 * 20).map(|i| (i % 256) as u16).collect();
    let (cb, _) = roundtrip(&symbols, DEFAULT_MAX_CODE_LEN);
    assert!(cb.lengths().iter().all(|&l| l == 8));
}

#[test]
fn skewed_distribution_hits_the_length_limit() {
    // Fibonacci frequencies make an unlimited Huffman code as deep as the alphabet is long.
    let mut freqs = vec![1u64, 1];
    while freqs.len() < 30 {
        let n = freqs[freqs.len() - 1] + freqs[freqs.len() - 2];
        freqs.push(n);
    }
    for max_len in [5u32, 8, 12, 16] {
        let cb = Codebook::from_frequencies(&freqs, max_len).unwrap();
        assert_eq!(cb.max_len(), max_len, "limit {max_len} must bind");
        assert!(kraft_ok(cb.lengths()));
        let symbols: Vec<u16> = freqs
            .iter()
            .enumerate()
            .flat_map(|(s, &f)| std::iter::repeat_n(s as u16, (f % 97 + 1) as usize))
            .collect();
        let bytes = cb.encode(&symbols).unwrap();
        assert_eq!(decompress(&cb, &bytes, symbols.len()).unwrap(), symbols);
    }
}

#[test]
fn full_sixteen_bit_alphabet() {
    let symbols: Vec<u16> = (0..=u16::MAX).chain(0..1000).collect();
    let (cb, _) = roundtrip(&symbols, MAX_CODE_LEN);
    assert_eq!(cb.used_symbols(), 1 << 16);
    assert!(kraft_ok(cb.lengths()));
    // 65536 symbols cannot fit into 15-bit codes.
    assert!(matches!(
        Codebook::for_symbols(&symbols, 15),
        Err(Error::Huffman(HuffmanError::LengthLimitTooSmall { .. }))
    ));
}

#[test]
fn matches_brute_force_optimum_on_small_alphabets() {
    let cases: [&[u64]; 5] = [
        &[1, 1, 2, 4, 8, 16],
        &[5, 9, 12, 13, 16, 45],
        &[1, 2, 3],
        &[100, 1, 1, 1, 1, 1, 1],
        &[3, 3, 3, 3, 3],
    ];
    for freqs in cases {
        let need = (usize::BITS - (freqs.len() - 1).leading_zeros()).max(1);
        for max_len in need..=6 {
            let cb = Codebook::from_frequencies(freqs, max_len).unwrap();
            let cost = cb.encoded_bits(freqs).unwrap();
            assert_eq!(cost, brute_force_limited_cost(freqs, max_len), "{freqs:?} limit {max_len}");
        }
    }
}

#[test]
fn rejects_bad_parameters() {
    assert!(matches!(
        Codebook::from_frequencies(&[1, 2], 0),
        Err(Error::Huffman(HuffmanError::BadMaxLength(0)))
    ));
    assert!(matches!(
        Codebook::from_frequencies(&[1, 2], 17),
        Err(Error::Huffman(HuffmanError::BadMaxLength(17)))
    ));
    assert!(matches!(
        Codebook::from_frequencies(&vec![1; MAX_ALPHABET + 1], 16),
        Err(Error::Huffman(HuffmanError::AlphabetTooLarge(_)))
    ));
    assert!(matches!(
        Codebook::from_frequencies(&[1, 1, 1, 1, 1], 2),
        Err(Error::Huffman(HuffmanError::LengthLimitTooSmall { symbols: 5, max_len: 2 }))
    ));
    assert!(matches!(
        Codebook::from_lengths(vec![1, 1, 1]),
        Err(Error::Huffman(HuffmanError::OverSubscribed))
    ));
    assert!(matches!(
        Codebook::from_lengths(vec![17]),
        Err(Error::Huffman(HuffmanError::LengthTooLong { symbol: 0, len: 17 }))
    ));
    let cb = Codebook::for_symbols(&[1, 2, 3], 12).unwrap();
    assert!(matches!(cb.encode(&[4]), Err(Error::Huffman(HuffmanError::UnknownSymbol(4)))));
}

#[test]
fn truncated_and_padded_streams_are_errors() {
    let symbols: Vec<u16> = (0..5000).map(|i| (i * 7 % 13) as u16).collect();
    let (cb, bytes) = compress(&symbols, 12).unwrap();
    for cut in [1, 2, 7, 100, bytes.len() - LANE_HEADER_BYTES] {
        let short = &bytes[..bytes.len() - cut];
        assert!(decompress(&cb, short, symbols.len()).is_err(), "cut {cut}");
    }
    let mut long = bytes.clone();
    long.push(0);
    assert!(decompress(&cb, &long, symbols.len()).is_err());
    // Asking for more symbols than were coded runs past the end.
    assert!(decompress(&cb, &bytes, symbols.len() + 64).is_err());
}

#[test]
fn incomplete_code_rejects_unused_patterns() {
    // Lengths {1, 2}: code words 0 and 10; pattern 11 is no code word.
    let cb = Codebook::from_lengths(vec![1, 2]).unwrap();
    let mut stream = vec![0u8; LANE_HEADER_BYTES];
    stream.extend_from_slice(&[0xFF; 64]);
    stream[0] = 64; // lane 0 holds everything
    let err = decompress(&cb, &stream, 200).unwrap_err();
    assert!(matches!(err, Error::Huffman(HuffmanError::InvalidCode { lane: 0, .. })), "{err}");
}

#[test]
fn lane_header_beyond_stream_is_an_error() {
    let cb = Codebook::for_symbols(&[0, 1], 12).unwrap();
    let mut stream = vec![0xFFu8; LANE_HEADER_BYTES];
    stream.extend_from_slice(&[0; 4]);
    assert!(matches!(decompress(&cb, &stream, 3), Err(Error::Huffman(HuffmanError::Malformed(_)))));
    assert!(decompress(&cb, &[1, 2, 3], 0).is_err());
}

#[test]
fn codebook_serialization_round_trips_in_both_packings() {
    for max_len in [12u32, 16] {
        let mut freqs: Vec<u64> = (0..300).map(|i| 1u64 << (i % 20)).collect();
        freqs[299] = 0;
        let cb = Codebook::from_frequencies(&freqs, max_len).unwrap();
        let mut buf = vec![];
        cb.write_to(&mut buf);
        assert_eq!(buf.len(), cb.serialized_len());
        buf.extend_from_slice(b"trailing");
        let (back, used) = Codebook::read_from(&buf).unwrap();
        assert_eq!(back, cb);
        assert_eq!(used, cb.serialized_len());
    }
}

#[test]
fn zigzag_is_a_bijection_on_i8() {
    let mut seen = [false; 256];
    for v in i8::MIN..=i8::MAX {
        let s = zigzag_i8(v);
        assert!(s < 256);
        assert!(!seen[s as usize]);
        seen[s as usize] = true;
        assert_eq!(unzigzag_i8(u32::from(s)), v);
    }
    assert_eq!(zigzag_i8(0), 0);
    assert_eq!(zigzag_i8(-1), 1);
    assert_eq!(zigzag_i8(1), 2);
}

#[test]
fn entropy_of_uniform_bytes_is_eight_bits_each() {
    let freqs = vec![10u64; 256];
    assert!((entropy_bits(&freqs) - 8.0 * 2560.0).abs() < 1e-6);
    assert_eq!(entropy_bits(&[]), 0.0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn round_trip_random(
        alphabet in 1usize..600,
        len in 0usize..3000,
        max_len in 10u32..=16,
        seed in any::<u64>(),
    ) {
        // Geometric-ish symbol distribution so code lengths vary.
        let mut x = seed | 1;
        let symbols: Vec<u16> = (0..len).map(|_| {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            let r = (x % alphabet as u64) as u16;
            r >> (x >> 60)
        }).collect();
        let (cb, bytes) = compress(&symbols, max_len).unwrap();
        prop_assert!(kraft_ok(cb.lengths()));
        prop_assert!(cb.max_len() <= max_len);
        prop_assert_eq!(decompress(&cb, &bytes, symbols.len()).unwrap(), symbols.clone());
        let freqs = histogram(&symbols);
        if max_len == 16 && !symbols.is_empty() && freqs.iter().filter(|&&f| f > 0).count() > 1 {
            // With a generous limit the code is an ordinary optimal Huffman code.
            // Fewer than Fib(19) = 4181 symbols cannot make a Huffman tree deeper than 16, so
            // the limit cannot bind and the cost must equal plain Huffman's.
            prop_assert_eq!(cb.encoded_bits(&freqs).unwrap(), unlimited_cost(&freqs));
        }
    }

    #[test]
    fn limited_code_is_never_worse_than_needed(freqs in proptest::collection::vec(0u64..1000, 2..40), max_len in 6u32..=16) {
        let cb = Codebook::from_frequencies(&freqs, max_len).unwrap();
        prop_assert!(kraft_ok(cb.lengths()));
        let used = freqs.iter().filter(|&&f| f > 0).count();
        if used > 1 {
            let cost = cb.encoded_bits(&freqs).unwrap();
            prop_assert!(cost >= unlimited_cost(&freqs));
        }
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(
        lengths in proptest::collection::vec(0u8..=16, 0..300),
        stream in proptest::collection::vec(any::<u8>(), 0..400),
        count in 0usize..2000,
    ) {
        if let Ok(cb) = Codebook::from_lengths(lengths) {
            let _ = decompress(&cb, &stream, count);
        }
        let _ = Codebook::read_from(&stream);
    }
}
