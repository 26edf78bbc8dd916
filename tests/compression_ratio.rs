//! The foundation's headline numbers, asserted: a 1 M-weight Laplacian layer pruned to 90 %
//! and quantized to int8 per output channel stores in ≤ 1.3 bits per original weight
//! (whole `.slim` file, ≥ 24x smaller than f32), and each Huffman stream (codebook included)
//! is within 5 % of the empirical entropy of the symbols it codes.

use slimscan::format::{Coding, SlimWriter, Tensor, TensorData};
use slimscan::huffman::{entropy_bits, histogram, zigzag_i8};
use slimscan::quant::{quantize, QuantParams, Scheme};
use slimscan::sparse::{encode_relative, prune_magnitude, DEFAULT_GAP_BITS};
use slimscan::synth::laplacian_weights;

#[test]
fn pruned_quantized_huffman_layer_meets_the_bit_budget() {
    let (rows, cols) = (1024usize, 1024usize);
    let shape = [rows, cols];
    let mut w = laplacian_weights(rows * cols, 0.02, 2024);
    let zeroed = prune_magnitude(&mut w, 0.9).unwrap();
    assert_eq!(zeroed, rows * cols * 9 / 10);
    let params = QuantParams::per_channel(&w, &shape, 0, Scheme::Symmetric).unwrap();
    let q = quantize(&w, &shape, &params).unwrap();
    let sparse = encode_relative(&q, DEFAULT_GAP_BITS).unwrap();

    let mut writer = SlimWriter::new();
    writer.meta.insert("task".into(), "test".into());
    writer.add_tensor(
        Tensor {
            name: "fc.weight".into(),
            dims: shape.to_vec(),
            data: TensorData::Int8Sparse(sparse.clone()),
            quant: Some(params),
        },
        Coding::default(),
    );
    let (bytes, report) = writer.to_bytes().unwrap();

    let weights = (rows * cols) as f64;
    let bits_per_weight = bytes.len() as f64 * 8.0 / weights;
    let reduction = weights * 4.0 / bytes.len() as f64;
    eprintln!(
        "{} entries for {} nonzeros; file {} bytes = {bits_per_weight:.3} bits/weight, {reduction:.1}x smaller than f32",
        sparse.values.len(),
        q.iter().filter(|&&v| v != 0).count(),
        bytes.len()
    );
    assert!(bits_per_weight <= 1.3, "{bits_per_weight:.3} bits per weight");
    assert!(reduction >= 24.0, "{reduction:.1}x");

    let t = &report.tensors[0];
    let value_symbols: Vec<u16> = sparse.values.iter().map(|&v| zigzag_i8(v)).collect();
    for (name, stream, symbols) in
        [("values", t.values.unwrap(), value_symbols), ("gaps", t.gaps.unwrap(), sparse.gaps.clone())]
    {
        let entropy = entropy_bits(&histogram(&symbols));
        let coded = stream.total_bytes as f64 * 8.0;
        let overhead = coded / entropy - 1.0;
        eprintln!(
            "{name}: {} symbols, entropy {:.3} bits/symbol, stream {:.3} bits/symbol (+{:.2} %)",
            symbols.len(),
            entropy / symbols.len() as f64,
            coded / symbols.len() as f64,
            overhead * 100.0
        );
        assert!(overhead <= 0.05, "{name} stream {:.2} % above entropy", overhead * 100.0);
    }
}
