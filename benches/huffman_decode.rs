//! Huffman decoding throughput on 10 M symbols of quantized Laplacian weights (the
//! `make bench-huffman` number recorded in docs/BENCHMARKS.md).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use slimscan::huffman::{self, zigzag_i8, Decoder};
use slimscan::synth::quantized_laplacian_i8;

const SYMBOLS: usize = 10_000_000;

fn decode(c: &mut Criterion) {
    let q = quantized_laplacian_i8(SYMBOLS, 7);
    let symbols: Vec<u16> = q.iter().map(|&v| zigzag_i8(v)).collect();
    let (codebook, stream) = huffman::compress(&symbols, huffman::DEFAULT_MAX_CODE_LEN).unwrap();
    let decoder = Decoder::new(&codebook);
    let mut out = vec![0i8; SYMBOLS];
    let bits = stream.len() as f64 * 8.0 / SYMBOLS as f64;
    eprintln!("stream: {SYMBOLS} symbols, {} bytes, {bits:.3} bits/symbol", stream.len());

    let mut group = c.benchmark_group("huffman");
    group.throughput(Throughput::Elements(SYMBOLS as u64));
    group.sample_size(20);
    group.bench_function("decode_laplacian_i8_10M", |b| {
        b.iter(|| {
            decoder.decode_into(&stream, &mut out, huffman::unzigzag_i8).unwrap();
            std::hint::black_box(&out);
        })
    });
    group.finish();
    assert_eq!(out, q, "decoded stream differs from the input");
}

criterion_group!(benches, decode);
criterion_main!(benches);
