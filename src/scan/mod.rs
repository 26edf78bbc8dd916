//! The scan pipeline: what a camera frame goes through between the pixels and the answer.
//! Images in ([`image`], [`luma`]), resizing into network inputs ([`resize`]), geometry and
//! perspective crops ([`geometry`], [`warp`]), the page ([`page`], [`paper`]), barcodes and QR codes
//! ([`codes`]), OCR ([`ocr`]), and the whole per-frame pipeline ([`scanner`]).

pub mod clock;
pub mod codes;
pub mod doctype;
pub mod eval;
pub mod forms;
pub mod geometry;
pub mod image;
pub mod luma;
pub mod ocr;
pub mod page;
pub mod paper;
pub mod resize;
pub mod scanner;
#[cfg(test)]
pub(crate) mod test_scenes;
pub mod warp;
