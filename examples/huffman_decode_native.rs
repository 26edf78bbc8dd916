//! Native side of the interleaved Huffman speed comparison (benches/huffman_decode_wasm.mjs):
//! decodes the same 10 M-symbol stream as the wasm harness `RUNS` times (after warm-up) and
//! prints each run's milliseconds as a JSON array, so that Node can alternate native and wasm
//! rounds on a noisy machine and compare medians taken in the same time window.
//!   huffman_decode_native [RUNS=5]

use slimscan::huffman::{self, zigzag_i8, Decoder};
use slimscan::synth::quantized_laplacian_i8;
use std::time::Instant;

const SYMBOLS: usize = 10_000_000;

fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let q = quantized_laplacian_i8(SYMBOLS, 7);
    let symbols: Vec<u16> = q.iter().map(|&v| zigzag_i8(v)).collect();
    let (codebook, stream) = huffman::compress(&symbols, huffman::DEFAULT_MAX_CODE_LEN).expect("codable");
    let decoder = Decoder::new(&codebook);
    let mut out = vec![0i8; SYMBOLS];
    for _ in 0..3 {
        decoder.decode_into(&stream, &mut out, huffman::unzigzag_i8).expect("valid stream");
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        decoder.decode_into(&stream, &mut out, huffman::unzigzag_i8).expect("valid stream");
        std::hint::black_box(&out);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    assert_eq!(out, q, "decoded stream differs from the input");
    let list: Vec<String> = times.iter().map(|t| format!("{t:.3}")).collect();
    println!("[{}]", list.join(","));
}
