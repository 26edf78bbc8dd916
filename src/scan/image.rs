//! Images entering the scanner: untrusted PNG/JPEG bytes (a file, an upload) or RGBA pixels
//! (a camera frame from a canvas), turned into one owned RGB buffer. Decoding is bounded
//! before any pixel is allocated, and a JPEG's EXIF orientation is applied so a phone photo
//! is upright.

use crate::error::{Error, Result};
use image::ImageDecoder;
use std::io::Cursor;

/// Longest side accepted, in pixels.
pub const MAX_SIDE: u32 = 16_384;
/// Most pixels accepted (width × height): a 48-megapixel phone photo fits.
pub const MAX_PIXELS: u64 = 50_000_000;

fn invalid(msg: String) -> Error {
    Error::InvalidArgument(msg)
}

/// An interleaved 8-bit RGB image, row-major, `height × width × 3` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

fn check_size(width: u64, height: u64) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(invalid(format!("the image is {width}x{height} pixels (empty)")));
    }
    if width > u64::from(MAX_SIDE) || height > u64::from(MAX_SIDE) {
        return Err(invalid(format!(
            "the image is {width}x{height} pixels; the longest side accepted is {MAX_SIDE}"
        )));
    }
    if width * height > MAX_PIXELS {
        return Err(invalid(format!(
            "the image has {} pixels ({width}x{height}); at most {MAX_PIXELS} are accepted",
            width * height
        )));
    }
    Ok(())
}

impl RgbImage {
    /// Wraps RGB bytes, checking the size.
    pub fn new(width: usize, height: usize, data: Vec<u8>) -> Result<RgbImage> {
        check_size(width as u64, height as u64)?;
        if data.len() != width * height * 3 {
            return Err(invalid(format!("{} bytes for a {width}x{height} RGB image", data.len())));
        }
        Ok(RgbImage { width, height, data })
    }

    /// From RGBA pixels (a canvas `ImageData`), alpha dropped.
    pub fn from_rgba(width: usize, height: usize, rgba: &[u8]) -> Result<RgbImage> {
        check_size(width as u64, height as u64)?;
        if rgba.len() != width * height * 4 {
            return Err(invalid(format!("{} bytes for a {width}x{height} RGBA image", rgba.len())));
        }
        let data = rgba.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
        Ok(RgbImage { width, height, data })
    }

    /// Decodes PNG or JPEG bytes. Anything else, a corrupt file, or a size beyond
    /// [`MAX_SIDE`] / [`MAX_PIXELS`] is an error saying which.
    pub fn decode(bytes: &[u8]) -> Result<RgbImage> {
        if bytes.is_empty() {
            return Err(invalid("the image file is empty".into()));
        }
        let reader = image::ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| invalid(format!("reading the image: {e}")))?;
        if reader.format().is_none() {
            return Err(invalid("not a PNG or JPEG image (unrecognised file signature)".into()));
        }
        let mut decoder = reader.into_decoder().map_err(|e| invalid(format!("not a readable image: {e}")))?;
        let (w, h) = decoder.dimensions();
        check_size(u64::from(w), u64::from(h))?;
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(MAX_SIDE);
        limits.max_image_height = Some(MAX_SIDE);
        // Decoded RGBA16 at the pixel limit plus the codec's own buffers.
        limits.max_alloc = Some(MAX_PIXELS * 8 + (64 << 20));
        decoder.set_limits(limits).map_err(|e| invalid(format!("image limits: {e}")))?;
        let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
        let mut img = image::DynamicImage::from_decoder(decoder)
            .map_err(|e| invalid(format!("decoding the image: {e}")))?;
        img.apply_orientation(orientation);
        let rgb = img.into_rgb8();
        let (width, height) = (rgb.width() as usize, rgb.height() as usize);
        RgbImage::new(width, height, rgb.into_raw())
    }

    /// The pixel at `(x, y)`.
    #[inline]
    pub fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    /// The image turned by 180°.
    pub fn rotated_180(&self) -> RgbImage {
        let data = self.data.chunks_exact(3).rev().flat_map(|p| [p[0], p[1], p[2]]).collect();
        RgbImage { width: self.width, height: self.height, data }
    }

    /// The image inside a margin of `m` pixels on every side, filled with the median colour
    /// of its border pixels (the paper or screen background of a tight crop).
    pub fn with_margin(&self, m: usize) -> RgbImage {
        let (w, h) = (self.width + 2 * m, self.height + 2 * m);
        let mut fill = [0u8; 3];
        for (c, f) in fill.iter_mut().enumerate() {
            let mut border: Vec<u8> = Vec::with_capacity(2 * (self.width + self.height));
            for x in 0..self.width {
                border.push(self.pixel(x, 0)[c]);
                border.push(self.pixel(x, self.height - 1)[c]);
            }
            for y in 0..self.height {
                border.push(self.pixel(0, y)[c]);
                border.push(self.pixel(self.width - 1, y)[c]);
            }
            let mid = border.len() / 2;
            *f = *border.select_nth_unstable(mid).1;
        }
        let mut data = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            if y < m || y >= m + self.height {
                (0..w).for_each(|_| data.extend_from_slice(&fill));
                continue;
            }
            (0..m).for_each(|_| data.extend_from_slice(&fill));
            let row = (y - m) * self.width * 3;
            data.extend_from_slice(&self.data[row..row + self.width * 3]);
            (0..m).for_each(|_| data.extend_from_slice(&fill));
        }
        RgbImage { width: w, height: h, data }
    }

    /// The image turned 90° counter-clockwise (a vertical text line read bottom to top
    /// becomes horizontal).
    pub fn rotated_90_ccw(&self) -> RgbImage {
        let (w, h) = (self.height, self.width);
        let mut data = Vec::with_capacity(self.data.len());
        for y in 0..h {
            for x in 0..w {
                data.extend_from_slice(&self.pixel(self.width - 1 - y, x));
            }
        }
        RgbImage { width: w, height: h, data }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
        out
    }

    #[test]
    fn decodes_png_pixels() {
        let img = RgbImage::decode(&png(5, 3)).unwrap();
        assert_eq!((img.width, img.height), (5, 3));
        assert_eq!(img.pixel(4, 2), [4, 2, 7]);
    }

    #[test]
    fn rejects_bad_images_with_reasons() {
        let msg = |b: &[u8]| RgbImage::decode(b).unwrap_err().to_string();
        assert!(msg(b"").contains("empty"));
        assert!(msg(b"<html>hello</html>").contains("not a PNG or JPEG"));
        let mut truncated = png(40, 40);
        truncated.truncate(truncated.len() / 2);
        assert!(msg(&truncated).contains("image"), "{}", msg(&truncated));
        // A 50 000 px wide PNG: refused from its header, before any pixel is allocated.
        let wide = image::GrayImage::new(50_000, 1);
        let mut bytes = Vec::new();
        wide.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap();
        assert!(msg(&bytes).contains("longest side"), "{}", msg(&bytes));
    }

    #[test]
    fn size_checks() {
        assert!(RgbImage::new(0, 5, vec![]).is_err());
        assert!(RgbImage::new(2, 2, vec![0; 11]).is_err());
        assert!(RgbImage::from_rgba(10_000, 10_000, &[]).unwrap_err().to_string().contains("at most"));
        let img = RgbImage::from_rgba(2, 1, &[1, 2, 3, 255, 4, 5, 6, 0]).unwrap();
        assert_eq!(img.data, vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn margins_take_the_border_colour() {
        // A white 4x3 image with one dark pixel inside and one on the border.
        let mut img = RgbImage::new(4, 3, vec![250; 36]).unwrap();
        img.data[(4 + 1) * 3] = 0;
        img.data[0] = 0;
        let p = img.with_margin(2);
        assert_eq!((p.width, p.height), (8, 7));
        assert_eq!(p.pixel(0, 0), [250, 250, 250]);
        assert_eq!(p.pixel(7, 6), [250, 250, 250]);
        assert_eq!(p.pixel(3, 3), img.pixel(1, 1));
        assert_eq!(p.pixel(2, 2), img.pixel(0, 0));
        assert_eq!(img.with_margin(0), img);
    }

    #[test]
    fn rotations() {
        let img = RgbImage::new(3, 2, (0..18).collect()).unwrap();
        let r = img.rotated_180();
        assert_eq!(r.pixel(0, 0), img.pixel(2, 1));
        let q = img.rotated_90_ccw();
        assert_eq!((q.width, q.height), (2, 3));
        // The top-right pixel ends up top-left.
        assert_eq!(q.pixel(0, 0), img.pixel(2, 0));
        assert_eq!(q.pixel(1, 2), img.pixel(0, 1));
    }
}
