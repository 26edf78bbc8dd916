//! The scan pipeline: what a camera frame goes through between the pixels and the answer.
//! Images in ([`image`]), resizing into network inputs ([`resize`]), geometry and
//! perspective crops ([`geometry`], [`warp`]), and OCR ([`ocr`]).

pub mod clock;
pub mod geometry;
pub mod image;
pub mod ocr;
pub mod resize;
pub mod warp;
