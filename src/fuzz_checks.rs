//! The properties the fuzz targets check, as plain functions, so that `fuzz/` and the
//! regression test (`tests/fuzz_regressions.rs`, which replays every crash ever found) run
//! exactly the same code. Each function panics when a property is violated.

use crate::format::{read, Coding, Limits, SlimWriter, Tensor, TensorData};
use crate::huffman::{compress, decompress, zigzag_i8, Codebook};
use crate::quant::{quantize, QuantParams, Scheme};
use crate::sparse::{encode_relative, prune_magnitude, RelativeIndexed};
use crate::synth::laplacian_weights;

fn per_tensor(scale: f32) -> Option<QuantParams> {
    Some(QuantParams { scales: vec![scale], zero_points: vec![0], axis: None, scheme: Scheme::Symmetric })
}

/// Any bytes into the `.slim` reader: an error or a file, never a panic; an accepted file
/// accounts for every byte.
pub fn container_read(data: &[u8]) {
    if let Ok(file) = read(data, &Limits::default()) {
        assert_eq!(file.sizes.accounted_bytes(), data.len() as u64);
    }
}

/// Any bytes into the engine's loader (a `.slim` or an ONNX model): an error or a model,
/// never a panic; a model with a small fixed input shape also runs once on zeros.
#[cfg(feature = "engine")]
pub fn engine_load(data: &[u8]) {
    use crate::engine::{F32Tensor, Model};
    let Ok(mut model) = Model::load(data) else { return };
    let Some(shapes) = model.fixed_input_shapes() else { return };
    let sizes: Vec<usize> = shapes.iter().map(|s| s.iter().product()).collect();
    if sizes.iter().sum::<usize>() > 1 << 16 {
        return;
    }
    let inputs = shapes
        .into_iter()
        .zip(sizes)
        .filter_map(|(shape, n)| F32Tensor::new(shape, vec![0.0; n]).ok())
        .collect();
    let _ = model.run(inputs);
}

/// Any bytes as an image file (PNG/JPEG decoding with its bounds), and a small decoded image's
/// brightness as a text-probability map through the OCR post-processing (DB boxes,
/// perspective crops, reading order): errors allowed, panics not. Returns the boxes found.
#[cfg(feature = "scan")]
pub fn ocr_input(data: &[u8]) -> usize {
    use crate::scan::image::RgbImage;
    use crate::scan::ocr::{det, layout};
    use crate::scan::warp::perspective_crop;
    let Ok(img) = RgbImage::decode(data) else { return 0 };
    if img.width * img.height > 1 << 16 {
        return 0;
    }
    let prob: Vec<f32> = img.data.chunks_exact(3).map(|p| f32::from(p[1]) / 255.0).collect();
    let opts = det::DetOptions { box_threshold: 0.1, ..det::DetOptions::default() };
    let Ok(boxes) = det::postprocess(&prob, img.width, img.height, img.width, img.height, &opts) else {
        return 0;
    };
    for b in &boxes {
        if let Ok(crop) = perspective_crop(&img, &b.corners) {
            assert!(crop.width >= 1 && crop.height >= 1);
        }
    }
    let corners: Vec<_> = boxes.iter().map(|b| b.corners).collect();
    assert_eq!(layout::reading_order(&corners).len(), boxes.len());
    boxes.len()
}

/// Arbitrary code lengths and stream bytes into the Huffman decoder. Input: one byte that
/// scales the requested symbol count, a serialized codebook, then the stream.
pub fn huffman_decode(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else { return };
    if let Ok((codebook, used)) = Codebook::read_from(rest) {
        let _ = decompress(&codebook, &rest[used..], usize::from(n) * 37);
    }
}

/// Any symbol sequence and length limit: encoding then decoding gives the symbols back, and
/// the only refusal is an alphabet too large for the limit.
pub fn huffman_roundtrip(data: &[u8]) {
    let Some((&limit, rest)) = data.split_first() else { return };
    let max_len = 1 + u32::from(limit) % 16;
    // A pair with the high bit set is one 16-bit symbol; other bytes are small symbols.
    let symbols: Vec<u16> = rest
        .chunks(2)
        .map(|c| match c {
            [a, b] if a & 0x80 != 0 => u16::from_le_bytes([*a, *b]),
            [a, ..] => u16::from(*a & 0x3f),
            [] => 0,
        })
        .collect();
    match compress(&symbols, max_len) {
        Ok((codebook, stream)) => {
            assert!(codebook.max_len() <= max_len);
            let back = decompress(&codebook, &stream, symbols.len()).expect("own stream decodes");
            assert_eq!(back, symbols);
        }
        Err(_) => {
            let mut distinct = symbols.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert!(distinct.len() > 1usize << max_len, "refused a codable input");
        }
    }
}

/// A small file with every encoding, both codings, a graph and metadata.
pub fn sample_writer() -> SlimWriter {
    let mut w = SlimWriter::new();
    w.meta.insert("task".into(), "classify".into());
    w.meta.insert("labels".into(), serde_json::json!(["text", "qr"]));
    // Repetitive enough that the writer deflates it, so every reader test covers inflation.
    w.graph = Some(b"not really onnx, but bytes; ".repeat(8));
    w.add_tensor(
        Tensor {
            name: "bias".into(),
            dims: vec![3],
            data: TensorData::F32(vec![0.5, -1.0, 2.25]),
            quant: None,
        },
        Coding::Fixed,
    );
    let dense: Vec<i8> = (0..64).map(|i| ((i * 37) % 255 - 127) as i8).collect();
    w.add_tensor(
        Tensor {
            name: "conv.w".into(),
            dims: vec![4, 2, 2, 4],
            data: TensorData::Int8Dense(dense.clone()),
            quant: Some(QuantParams {
                scales: vec![0.1, 0.2, 0.3, 0.4],
                zero_points: vec![0, 1, -2, 3],
                axis: Some(0),
                scheme: Scheme::Asymmetric,
            }),
        },
        Coding::default(),
    );
    w.add_tensor(
        Tensor {
            name: "fc.w.fixed".into(),
            dims: vec![8, 8],
            data: TensorData::Int8Dense(dense),
            quant: per_tensor(0.01),
        },
        Coding::Fixed,
    );
    let sparse = RelativeIndexed {
        // position 0, 3, 3+1+15=19 (filler: gap 15, value 0), 19+1+2=22
        values: vec![5, -7, 0, 9],
        gaps: vec![0, 2, 15, 2],
        gap_bits: 4,
        len: 40,
    };
    w.add_tensor(
        Tensor {
            name: "sparse.huff".into(),
            dims: vec![5, 8],
            data: TensorData::Int8Sparse(sparse.clone()),
            quant: per_tensor(0.5),
        },
        Coding::default(),
    );
    w.add_tensor(
        Tensor {
            name: "sparse.fixed".into(),
            dims: vec![5, 8],
            data: TensorData::Int8Sparse(sparse),
            quant: per_tensor(0.5),
        },
        Coding::Fixed,
    );
    w.add_tensor(
        Tensor {
            name: "bias.planes".into(),
            dims: vec![2, 3],
            data: TensorData::F32(vec![0.5, -1.0, 2.25, 1e-3, -0.0, 7.5]),
            quant: None,
        },
        Coding::default(),
    );
    w
}

/// Starting inputs for each fuzz target (`make fuzz` writes them to fuzz/seeds/): valid files
/// and streams, so mutations start deep inside the parsers.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    match target {
        "container_read" => {
            let mut out = vec![sample_writer().to_bytes().expect("sample").0];
            for coding in [Coding::default(), Coding::Fixed] {
                let shape = [16usize, 64];
                let mut w = laplacian_weights(16 * 64, 0.1, 5);
                let _ = prune_magnitude(&mut w, 0.8);
                let params = QuantParams::per_channel(&w, &shape, 0, Scheme::Symmetric).expect("params");
                let q = quantize(&w, &shape, &params).expect("quantize");
                let mut writer = SlimWriter::new();
                writer.add_tensor(
                    Tensor {
                        name: "w".into(),
                        dims: shape.to_vec(),
                        data: TensorData::Int8Sparse(encode_relative(&q, 4).expect("encode")),
                        quant: Some(params),
                    },
                    coding,
                );
                out.push(writer.to_bytes().expect("seed").0);
            }
            out.push(SlimWriter::new().to_bytes().expect("empty").0);
            out
        }
        "huffman_decode" => [(0u32, 40usize), (3, 2000), (8, 300)]
            .iter()
            .map(|&(seed, n)| {
                let values = laplacian_weights(n, 1.0, u64::from(seed));
                let symbols: Vec<u16> =
                    values.iter().map(|v| zigzag_i8((v * 8.0).clamp(-127.0, 127.0) as i8)).collect();
                let (codebook, stream) = compress(&symbols, 12).expect("seed stream");
                let mut bytes = vec![(n / 37).min(255) as u8];
                codebook.write_to(&mut bytes);
                bytes.extend_from_slice(&stream);
                bytes
            })
            .collect(),
        "engine_load" => vec![
            include_bytes!("../tests/fixtures/tiny_cnn.slim").to_vec(),
            include_bytes!("../tests/fixtures/tiny_cnn_p90.slim").to_vec(),
            include_bytes!("../tests/fixtures/tiny_cnn.onnx").to_vec(),
        ],
        #[cfg(feature = "scan")]
        "ocr_input" => ocr_seeds(),
        "huffman_roundtrip" => vec![vec![11, 1, 2, 3, 1, 1, 0x85, 0x42, 9], vec![15; 64], vec![0, 7, 7, 7]],
        _ => Vec::new(),
    }
}

/// A small PNG and JPEG with bright bars (text-like regions) for the `ocr_input` target.
#[cfg(feature = "scan")]
fn ocr_seeds() -> Vec<Vec<u8>> {
    let img = image::RgbImage::from_fn(64, 40, |x, y| {
        let bar =
            (5..12).contains(&y) && (4..50).contains(&x) || (22..30).contains(&y) && (10..60).contains(&x);
        image::Rgb(if bar { [200, 230, 90] } else { [20, 10, 30] })
    });
    [image::ImageFormat::Png, image::ImageFormat::Jpeg]
        .iter()
        .map(|&f| {
            let mut out = Vec::new();
            img.write_to(&mut std::io::Cursor::new(&mut out), f).expect("encode seed");
            out
        })
        .collect()
}
