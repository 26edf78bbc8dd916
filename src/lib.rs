//! # slimscan
//!
//! Compressed neural networks for an in-browser document scanner. The crate implements the
//! "Deep Compression" recipe — magnitude pruning, int8 quantization and Huffman coding — and
//! the `.slim` container that stores a model compressed (spec: `docs/FORMAT.md`).
//!
//! Module order (one-way dependencies):
//! `huffman`, `quant`, `sparse` → `format` → `compress` | `kernels` → `engine` → `scan`
//! → `wasm` | `bin`.
//!
//! - [`huffman`]: canonical, length-limited Huffman codes with a table-driven decoder.
//! - [`quant`]: affine int8 quantization and activation calibration observers.
//! - [`sparse`]: magnitude pruning, relative-index (gap) coding, CSR packing.
//! - [`format`]: the `.slim` container writer and untrusting reader.
//! - [`kernels`]: integer kernels (scalar references and wasm simd128 versions).
//! - [`engine`]: loads a `.slim` (or, with the `tract` feature, a plain ONNX) model and runs
//!   it: format 1.1 op lists on [`exec`], ONNX graphs in tract with the compressed layers as
//!   custom ops.
//! - [`exec`]: the op-list executor (the browser's small runtime: no ONNX parser).
//! - [`scan`]: images in, OCR (PP-OCR detection, direction, recognition) out.

#[cfg(feature = "compress")]
pub mod compress;
#[cfg(feature = "engine")]
pub mod engine;
pub mod error;
#[cfg(feature = "engine")]
pub mod exec;
pub mod format;
#[doc(hidden)]
pub mod fuzz_checks;
pub mod huffman;
pub mod kernels;
pub mod npy;
#[cfg(feature = "tract")]
pub mod onnx;
pub mod quant;
#[cfg(feature = "scan")]
pub mod scan;
pub mod sparse;
pub mod synth;

#[cfg(target_arch = "wasm32")]
pub mod wasm;
#[cfg(target_arch = "wasm32")]
mod wasm_heap;

pub use error::{Error, FormatError, FormatErrorKind, HuffmanError, Result};
