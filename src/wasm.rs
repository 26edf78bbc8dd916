//! `#[wasm_bindgen]` bindings only: type conversion and `Result<_, JsError>`. Everything they
//! call is plain Rust API, tested natively.

use crate::format::{self, Limits};
use crate::huffman::{self, Decoder};
use crate::synth::quantized_laplacian_i8;
use wasm_bindgen::prelude::*;

/// Installs the panic hook so a Rust panic shows its message in the console.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// The crate version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Parses a `.slim` file and returns its metadata and size report as JSON text. Throws an
/// `Error` whose message says what is wrong with a malformed file.
#[wasm_bindgen(js_name = inspectSlim)]
pub fn inspect_slim(bytes: &[u8]) -> Result<String, JsError> {
    let file = format::read(bytes, &Limits::default())?;
    let out = serde_json::json!({
        "version": [file.version.0, file.version.1],
        "meta": file.meta,
        "graph_bytes": file.graph.as_ref().map_or(0, Vec::len),
        "sizes": file.sizes,
    });
    Ok(out.to_string())
}

/// Huffman decoding benchmark fixture: a stream of quantized Laplacian weights encoded once,
/// decoded on demand (timed from JavaScript).
#[wasm_bindgen]
pub struct HuffmanBench {
    decoder: Decoder,
    stream: Vec<u8>,
    expected: Vec<i8>,
    out: Vec<i8>,
}

#[wasm_bindgen]
impl HuffmanBench {
    /// Encodes `symbols` quantized Laplacian weights drawn with `seed`.
    #[wasm_bindgen(constructor)]
    pub fn new(symbols: usize, seed: u32) -> Result<HuffmanBench, JsError> {
        let expected = quantized_laplacian_i8(symbols, u64::from(seed));
        let coded: Vec<u16> = expected.iter().map(|&v| huffman::zigzag_i8(v)).collect();
        let (codebook, stream) = huffman::compress(&coded, huffman::DEFAULT_MAX_CODE_LEN)?;
        Ok(HuffmanBench { decoder: Decoder::new(&codebook), stream, expected, out: vec![0; symbols] })
    }

    /// Decodes the whole stream once.
    pub fn decode(&mut self) -> Result<(), JsError> {
        self.decoder.decode_into(&self.stream, &mut self.out, huffman::unzigzag_i8)?;
        Ok(())
    }

    /// Did the last decode reproduce the input exactly?
    pub fn verify(&self) -> bool {
        self.out == self.expected
    }

    /// Encoded size in bytes.
    #[wasm_bindgen(js_name = streamBytes)]
    pub fn stream_bytes(&self) -> usize {
        self.stream.len()
    }
}
