//! The crate's one error type. Every fallible function in the library returns
//! [`Result`]; the CLI wraps it in `anyhow` for context, the wasm bindings turn it into
//! a `JsError` carrying the same message.

use std::fmt;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in slimscan's library code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A caller passed a value outside what the function accepts.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// Building, encoding or decoding a Huffman code failed.
    #[error("huffman: {0}")]
    Huffman(#[from] HuffmanError),

    /// A `.slim` container is malformed; says where.
    #[error("{0}")]
    Format(#[from] FormatError),

    /// An ONNX model could not be read or is not one the compressor understands.
    #[error("ONNX: {0}")]
    Onnx(String),

    /// A model could not be loaded or run by the engine.
    #[error("model: {0}")]
    Model(String),

    /// Reading or writing a file failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Why a Huffman operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HuffmanError {
    #[error("alphabet of {0} symbols exceeds the maximum of 65536")]
    AlphabetTooLarge(usize),
    #[error("maximum code length {0} is outside 1..=16")]
    BadMaxLength(u32),
    #[error("{symbols} distinct symbols cannot be coded with codes of at most {max_len} bits")]
    LengthLimitTooSmall { symbols: usize, max_len: u32 },
    #[error("code lengths over-subscribe the code space (Kraft sum > 1)")]
    OverSubscribed,
    #[error("code length {len} of symbol {symbol} exceeds 16")]
    LengthTooLong { symbol: usize, len: u8 },
    #[error("symbol {0} is not in the codebook")]
    UnknownSymbol(u32),
    #[error("the stream holds a bit pattern that is no code word (lane {lane}, symbol {index})")]
    InvalidCode { lane: usize, index: usize },
    #[error("the stream ends before its {expected} declared symbols were decoded (lane {lane})")]
    Truncated { lane: usize, expected: usize },
    #[error("{0}")]
    Malformed(String),
}

/// A malformed `.slim` container: the section (and tensor, when known) and the byte offset
/// in the file where the problem was found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct FormatError {
    /// Section tag (`"header"`, `"META"`, `"TENS"`, ...).
    pub section: String,
    /// Tensor name, when the problem is inside a tensor record.
    pub tensor: Option<String>,
    /// Byte offset from the start of the file.
    pub offset: u64,
    /// What is wrong.
    pub kind: FormatErrorKind,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid .slim file at byte {} ({}", self.offset, self.section)?;
        if let Some(t) = &self.tensor {
            write!(f, ", tensor {t:?}")?;
        }
        write!(f, "): {}", self.kind)
    }
}

/// The kinds of container problems a reader reports.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FormatErrorKind {
    #[error("not a .slim file (bad magic bytes)")]
    BadMagic,
    #[error("unsupported format version {major}.{minor} (this reader supports {supported}.x)")]
    UnsupportedVersion { major: u16, minor: u16, supported: u16 },
    #[error("file is truncated: needed {needed} bytes, {available} available")]
    Truncated { needed: u64, available: u64 },
    #[error("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch { stored: u32, computed: u32 },
    #[error("{what} is {value}, above the limit of {cap}")]
    LimitExceeded { what: String, value: u64, cap: u64 },
    #[error("bad stream: {0}")]
    Stream(HuffmanError),
    #[error("{0}")]
    Malformed(String),
}
