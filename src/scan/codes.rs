//! Barcodes and 2D codes: the rxing decoders (a Rust port of ZXing) on a luma image, several
//! codes per image, each with its format, text, raw bytes, the decoder's points and an
//! estimated outline; results from several images of one scene (the frame, the rectified page)
//! are merged without duplicates.

use crate::error::Result;
use crate::scan::geometry::{convex_hull, min_area_rect, Point};
use crate::scan::luma::Luma;
use rxing::common::HybridBinarizer;
use rxing::multi::{GenericMultipleBarcodeReader, MultipleBarcodeReader};
use rxing::{BarcodeFormat, BinaryBitmap, DecodeHints, Luma8LuminanceSource, MultiUseMultiFormatReader};
use serde::Serialize;
use std::collections::HashSet;

mod bars;
mod bullseye;

pub use bars::{bar_extent, MIN_BAR_EXTENT};

/// Longest text kept from one code (a QR code holds at most 7,089 digits; PDF417 ~2,700
/// characters): anything longer is cut and flagged.
pub const MAX_TEXT: usize = 8_192;

/// One decoded code.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Code {
    /// `qr_code`, `micro_qr_code`, `data_matrix`, `aztec`, `pdf_417`, `ean_13`, `ean_8`,
    /// `upc_a`, `upc_e`, `code_128`, `code_39`, `code_93`, `itf`, `codabar`, ...
    pub format: String,
    /// The decoded text (its declared character set applied).
    pub text: String,
    /// The raw data codewords where the format has them (QR, Data Matrix, Aztec, PDF417);
    /// empty for 1D codes.
    pub bytes: Vec<u8>,
    /// The decoder's points in image coordinates (finder pattern centres of a QR code, the
    /// ends of the scan line of a 1D code).
    pub points: Vec<Point>,
    /// An estimated outline (tl, tr, br, bl) around the code, for drawing.
    pub corners: [Point; 4],
    /// Which image of the scene it was read in: "frame" or "page".
    pub source: &'static str,
}

/// Which decoders run and how hard they try.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CodeOptions {
    /// Rotated and more densely sampled 1D scans, and the "pure" fallback: slower, finds more.
    pub try_harder: bool,
    /// Also look for further codes in the regions around each found one.
    pub multiple: bool,
}

impl Default for CodeOptions {
    fn default() -> CodeOptions {
        CodeOptions { try_harder: true, multiple: true }
    }
}

/// The formats the scanner reads (the list; MaxiCode, RSS and Telepen are left out:
/// they are not document codes and every extra reader costs time on every frame).
pub fn formats() -> HashSet<BarcodeFormat> {
    use BarcodeFormat::*;
    [
        QR_CODE,
        MICRO_QR_CODE,
        DATA_MATRIX,
        AZTEC,
        PDF_417,
        EAN_13,
        EAN_8,
        UPC_A,
        UPC_E,
        CODE_128,
        CODE_39,
        CODE_93,
        ITF,
        CODABAR,
    ]
    .into_iter()
    .collect()
}

/// The short retail codes whose one-row reads must be confirmed on a second line: on the
/// 270-scene set, rxing read 28 UPC-E and 6 EAN-8 "codes" in rows of text (one EAN-13), while a
/// second-line test on every 1D format lost real codes in small, blurred photos
/// (../shared/data/codes: 95.8 % → 81.3 %), where only some rows read.
/// On a rectified page every 1D read must be confirmed: the page is upright and sharp, so real
/// bars read again on a parallel line, and its rows of text are where the one-row misreads come
/// from (an EAN-13 "code" in a line of text/0022 of the scene set).
fn needs_second_line(format: &str, source: &str) -> bool {
    matches!(format, "upc_e" | "ean_8") || (source == "page" && !is_2d(format))
}

/// The snake_case name of a format.
pub fn format_name(f: &BarcodeFormat) -> String {
    use BarcodeFormat::*;
    match f {
        QR_CODE => "qr_code",
        MICRO_QR_CODE => "micro_qr_code",
        RECTANGULAR_MICRO_QR_CODE => "rmqr_code",
        DATA_MATRIX => "data_matrix",
        AZTEC => "aztec",
        PDF_417 => "pdf_417",
        EAN_13 => "ean_13",
        EAN_8 => "ean_8",
        UPC_A => "upc_a",
        UPC_E => "upc_e",
        CODE_128 => "code_128",
        CODE_39 => "code_39",
        CODE_93 => "code_93",
        ITF => "itf",
        CODABAR => "codabar",
        other => return format!("{other:?}").to_lowercase(),
    }
    .to_string()
}

/// Whether a format is a 2D (matrix or stacked) code.
pub fn is_2d(format: &str) -> bool {
    matches!(format, "qr_code" | "micro_qr_code" | "rmqr_code" | "data_matrix" | "aztec" | "pdf_417")
}

/// An outline around the decoder's points: for 2D codes the smallest rotated rectangle around
/// them, grown by the margin between finder centres and the code's edge; for 1D codes (two
/// points on one scan line) a band of a third of the code's length around that line.
fn outline(format: &str, points: &[Point]) -> [Point; 4] {
    let Some(rect) = min_area_rect(points) else {
        return [[0.0; 2]; 4];
    };
    if is_2d(format) && convex_hull(points).len() >= 3 {
        // QR finder centres sit 3.5 modules in from the edges; a version-2 code is 25 modules
        // wide, so the centres span 18: grow by 3.5/18 of the side on each side.
        let grow = rect.width.max(rect.height) * 3.5 / 18.0;
        return crate::scan::geometry::order_corners(rect.grown(grow).corners());
    }
    let len = rect.width.max(rect.height);
    let band = crate::scan::geometry::RotatedRect {
        height: if rect.width >= rect.height { len / 3.0 } else { rect.height },
        width: if rect.width >= rect.height { rect.width } else { len / 3.0 },
        ..rect
    };
    crate::scan::geometry::order_corners(band.corners())
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_TEXT {
        let mut cut = MAX_TEXT;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// Decodes every code rxing finds in a luma image. No code is not an error (empty list).
pub fn decode(img: &Luma, options: &CodeOptions, source: &'static str) -> Result<Vec<Code>> {
    if img.width < 8 || img.height < 8 {
        return Ok(Vec::new());
    }
    let hints = DecodeHints {
        PossibleFormats: Some(formats()),
        TryHarder: Some(options.try_harder),
        AlsoInverted: Some(false),
        ..DecodeHints::default()
    };
    let mut codes = confirmed(img, catch_decoder_panic(|| read_all(img, &hints, options.multiple))?, source)?;
    if options.try_harder {
        let light = catch_decoder_panic(|| read_inverted(img, options.multiple, source))??;
        let light: Vec<Code> = light.into_iter().filter(|c| !codes.iter().any(|k| overlaps(k, c))).collect();
        codes.extend(light);
        let curved =
            catch_decoder_panic(|| read_through_curves(img, &hints, options.multiple, &codes, source))?;
        codes.extend(curved);
        let turned = catch_decoder_panic(|| read_turned_aztecs(img, &codes, source))?;
        codes.extend(turned);
    }
    Ok(dedupe(codes))
}

/// Light codes on a dark ground (a phone's dark mode, a printed negative) for `try_harder`:
/// one quick pass over the inverted image. rxing's `AlsoInverted` instead reruns every
/// try-harder attempt that fails inverted, and with the multiple-code reader that is every
/// region around every candidate: on the rectified text pages of the browser benchmark,
/// with no code in view, it doubled the page's code time (text/0042 of the scene set,
/// native: 75 → 38 ms without it; text/0052, where a line of text gives the 1D readers a
/// candidate to search around: 184 → 131 ms).
fn read_inverted(img: &Luma, multiple: bool, source: &'static str) -> Result<Vec<Code>> {
    let inverted = toned(img, |v| 255 - v);
    let quick = DecodeHints {
        PossibleFormats: Some(formats()),
        TryHarder: Some(false),
        AlsoInverted: Some(false),
        ..DecodeHints::default()
    };
    confirmed(&inverted, read_all(&inverted, &quick, multiple), source)
}

/// Tone curves (`v' = 255·(v/255)^gamma`) for the extra 1D passes of `try_harder`. rxing's 1D
/// readers measure bars and spaces where its binarizer's threshold cuts the edges, and when the
/// bars come out a pixel fatter or thinner than the spaces (ink spread, exposure, blur at 3–4
/// pixels a module) every row misreads; ZXing-C++ measures edge to edge and reads them. A
/// curve moves where the threshold cuts: below 1 it lightens the grey edge pixels (fat bars:
/// barcode/0011 of the scene set reads at 0.35–0.7), above 1 it darkens them (thin bars:
/// upca-4/10.png and 14.png of ../shared/data/codes, read by zxing-wasm, read at 1.4–3.0).
const GAMMAS: [f64; 4] = [0.5, 0.7, 1.4, 2.2];

/// The 1D codes read through the tone curves [`GAMMAS`] and not already in `found`.
///
/// A curve also reads bars worse: one pass misreads a code another reads right (upca-4/7.png
/// is 023942431015 at 1.4 and 2.2 and 013042431015 at 1.6: two digits wrong pass the check
/// digit one time in ten). So a reading counts when two passes agree on it, or when it reads
/// again on a line beside (as [`needs_second_line`] asks of every reading it names); and a
/// reading on top of a code already read is dropped, the earlier one stands. The passes skip
/// try-harder's dense rows, turns and inverted images: two passes with them doubled a
/// capture's code time; the four without them and the bull's-eye pass together add a median
/// 8 % (frame decode of the 150 code and none scenes of the scene set, native).
fn read_through_curves(
    img: &Luma,
    hints: &DecodeHints,
    multiple: bool,
    found: &[Code],
    source: &'static str,
) -> Vec<Code> {
    let linear = DecodeHints {
        PossibleFormats: Some(formats().into_iter().filter(|f| !is_2d(&format_name(f))).collect()),
        TryHarder: Some(false),
        AlsoInverted: Some(false),
        ..hints.clone()
    };
    // One curved copy of the image at a time (a confirmation below makes its own again).
    let reads: Vec<(usize, rxing::RXingResult)> = GAMMAS
        .iter()
        .enumerate()
        .flat_map(|(i, &g)| read_all(&with_gamma(img, g), &linear, multiple).into_iter().map(move |r| (i, r)))
        .collect();
    let mut codes: Vec<Code> = Vec::new();
    for (i, r) in &reads {
        let code = to_code(r, |p| p, source);
        if !has_tall_bars(img, &code) {
            continue;
        }
        let passes: HashSet<usize> = reads
            .iter()
            .filter(|(_, o)| o.getBarcodeFormat() == r.getBarcodeFormat() && o.getText() == r.getText())
            .map(|(j, _)| *j)
            .collect();
        if (passes.len() < 2 || needs_second_line(&code.format, source))
            && !read_again_beside(
                &with_gamma(img, GAMMAS[*i]),
                r.getBarcodeFormat(),
                r.getText(),
                &code.points,
            )
        {
            continue;
        }
        if !found.iter().chain(codes.iter()).any(|k| overlaps(k, &code)) {
            codes.push(code);
        }
    }
    codes
}

/// The image through the tone curve `255·(v/255)^gamma`.
fn with_gamma(img: &Luma, gamma: f64) -> Luma {
    toned(img, |v| (255.0 * (f64::from(v) / 255.0).powf(gamma)).round() as u8)
}

/// The image with every grey level `v` replaced by `curve(v)` (through a 256-entry table).
fn toned(img: &Luma, curve: impl Fn(u8) -> u8) -> Luma {
    let lut: Vec<u8> = (0..=255).map(curve).collect();
    Luma {
        width: img.width,
        height: img.height,
        data: img.data.iter().map(|&v| lut[usize::from(v)]).collect(),
    }
}

/// One decoder pass over an image: every code the hints allow (or the first, without
/// `multiple`).
fn read_all(img: &Luma, hints: &DecodeHints, multiple: bool) -> Vec<rxing::RXingResult> {
    let Ok(source) = Luma8LuminanceSource::new(img.data.clone(), img.width as u32, img.height as u32) else {
        return Vec::new();
    };
    let mut bitmap = BinaryBitmap::new(HybridBinarizer::new(source));
    if multiple {
        let mut reader = GenericMultipleBarcodeReader::new(MultiUseMultiFormatReader::default());
        reader.decode_multiple_with_hints(&mut bitmap, hints).unwrap_or_default()
    } else {
        use rxing::Reader;
        let mut reader = MultiUseMultiFormatReader::default();
        reader.decode_with_hints(&mut bitmap, hints).map(|r| vec![r]).unwrap_or_default()
    }
}

/// The decoder's results as codes, less the 1D reads that [`needs_second_line`] and that do
/// not read again beside (in `img`, the image they were read in).
fn confirmed(img: &Luma, results: Vec<rxing::RXingResult>, source: &'static str) -> Result<Vec<Code>> {
    let mut codes = Vec::new();
    for r in results {
        let code = to_code(&r, |p| p, source);
        if !has_tall_bars(img, &code) {
            continue;
        }
        if needs_second_line(&code.format, source)
            && !catch_decoder_panic(|| {
                read_again_beside(img, r.getBarcodeFormat(), r.getText(), &code.points)
            })?
        {
            continue;
        }
        codes.push(code);
    }
    Ok(codes)
}

/// Whether a code is 2D, or a 1D read whose bars extend across its scan line as printed bars
/// do ([`bar_extent`] at least [`MIN_BAR_EXTENT`]); rows of text are what fail it.
fn has_tall_bars(img: &Luma, code: &Code) -> bool {
    if is_2d(&code.format) {
        return true;
    }
    let (Some(&a), Some(&b)) = (code.points.first(), code.points.last()) else { return false };
    bar_extent(img, a, b) >= MIN_BAR_EXTENT
}

/// Whether two codes lie on one another: either's centre inside the other's outline.
fn overlaps(a: &Code, b: &Code) -> bool {
    let centre = |c: &Code| {
        let n = c.corners.len() as f64;
        let s = c.corners.iter().fold([0.0, 0.0], |s, p| [s[0] + p[0], s[1] + p[1]]);
        [s[0] / n, s[1] / n]
    };
    crate::scan::geometry::in_convex_quad(&a.corners, centre(b))
        || crate::scan::geometry::in_convex_quad(&b.corners, centre(a))
}

/// A decoder result as a [`Code`], its points mapped by `to_image` (from the image the decoder
/// saw to the one the caller gave).
fn to_code(r: &rxing::RXingResult, to_image: impl Fn(Point) -> Point, source: &'static str) -> Code {
    let format = format_name(r.getBarcodeFormat());
    let points: Vec<Point> = r
        .getPoints()
        .iter()
        .map(|p| to_image([f64::from(p.x), f64::from(p.y)]))
        .filter(|p| p[0].is_finite() && p[1].is_finite())
        .collect();
    let corners = outline(&format, &points);
    let bytes = if is_2d(&format) { r.getRawBytes().to_vec() } else { Vec::new() };
    Code { text: truncate(r.getText().to_string()), bytes, points, corners, format, source }
}

/// Bull's-eyes looked at per image: each costs one or two Aztec passes on a small crop.
const MAX_BULLSEYES: usize = 6;

/// Aztec codes the plain pass missed because they are turned or away from the middle of the
/// image (see `bullseye`): every bull's-eye not inside a code already read is cut out,
/// turned upright and given to the Aztec reader alone, first in a crop 24 modules each way
/// (compact codes and small full ones, little else in view), then 48.
fn read_turned_aztecs(img: &Luma, found: &[Code], source: &'static str) -> Vec<Code> {
    let Ok(src) = Luma8LuminanceSource::new(img.data.clone(), img.width as u32, img.height as u32) else {
        return Vec::new();
    };
    let bitmap = BinaryBitmap::new(HybridBinarizer::new(src));
    let candidates = bullseye::find(bitmap.get_black_matrix(), MAX_BULLSEYES);
    let hints = DecodeHints {
        PossibleFormats: Some([BarcodeFormat::AZTEC].into_iter().collect()),
        TryHarder: Some(true),
        ..DecodeHints::default()
    };
    let mut codes: Vec<Code> = Vec::new();
    for b in candidates {
        let inside_read =
            |c: &Code| c.format == "aztec" && crate::scan::geometry::in_convex_quad(&c.corners, b.center);
        if found.iter().chain(codes.iter()).any(inside_read) {
            continue;
        }
        let angle = bullseye::rotation(img, &b);
        for modules in [24.0, 48.0] {
            let radius = ((modules * b.module) as usize).clamp(16, 1024);
            let (crop, to_image) = bullseye::upright_crop(img, b.center, angle, radius);
            let Ok(src) = Luma8LuminanceSource::new(crop.data, crop.width as u32, crop.height as u32) else {
                break;
            };
            let mut bitmap = BinaryBitmap::new(HybridBinarizer::new(src));
            use rxing::Reader;
            if let Ok(r) = rxing::aztec::AztecReader.decode_with_hints(&mut bitmap, &hints) {
                codes.push(to_code(&r, &to_image, source));
                break;
            }
        }
    }
    codes
}

/// Whether a 1D code reads the same again on a second line parallel to the one it was read on
/// (4, 8 or 12 % of the distance between its end points away, either side), or in a band of
/// the image beside it. The 1D readers
/// accept one lucky row (ZXing-C++ asks for two); across rows of text, stripes or a page edge
/// the EAN-8 and UPC-E readers, whose check digit is one in ten, find "codes" (35 on the
/// 270-scene set without this test, none with it); real bars are tall, and a misread does not
/// repeat on another line.
fn read_again_beside(img: &Luma, format: &BarcodeFormat, text: &str, points: &[Point]) -> bool {
    let (Some(a), Some(b)) = (points.first(), points.last()) else { return false };
    let len = (b[0] - a[0]).hypot(b[1] - a[1]);
    if len < 8.0 {
        return false;
    }
    let (ux, uy) = ((b[0] - a[0]) / len, (b[1] - a[1]) / len);
    let (nx, ny) = (-uy, ux);
    // The whole line across the image: the decoders' points are the centres of the first and
    // last characters or guards, and some readers' end points are off (rxing 0.9's Code 39
    // halves the right one), so only the direction is trusted.
    let reach = (img.width + img.height) as f64;
    let hints = DecodeHints {
        PossibleFormats: Some([*format].into_iter().collect()),
        // Also the reversed row (a code read right to left).
        TryHarder: Some(true),
        ..DecodeHints::default()
    };
    let reads_at = |o: f64| -> bool {
        // Three neighbouring lines averaged (sensor noise).
        let mut raw: Vec<f32> = Vec::new();
        let mut t = -reach;
        while t <= reach {
            let (mut sum, mut k) = (0.0f32, 0);
            for d in [-1.0, 0.0, 1.0] {
                let (x, y) = ((a[0] + ux * t + nx * (o + d)).round(), (a[1] + uy * t + ny * (o + d)).round());
                if x >= 0.0 && y >= 0.0 && (x as usize) < img.width && (y as usize) < img.height {
                    sum += f32::from(img.at(x as usize, y as usize));
                    k += 1;
                }
            }
            if k > 0 {
                raw.push(sum / k as f32);
            }
            t += 1.0;
        }
        let n = raw.len();
        if n < 16 {
            return false;
        }
        // A few identical rows: the 1D readers scan rows of an image.
        let rows = 5;
        let data: Vec<u8> = (0..rows).flat_map(|_| raw.iter().map(|v| v.round() as u8)).collect();
        reads_text(data, n, rows, &hints, text)
    };
    let offsets = [0.04, -0.04, 0.08, -0.08, 0.12, -0.12].map(|f: f64| f.signum() * (f.abs() * len).max(4.0));
    offsets.iter().any(|&o| reads_at(o)) || reads_in_band_beside(img, &hints, text, a, [ux, uy], len)
}

/// The same question on a 40-pixel band of the image next to the scan line (rows above or
/// below it, or columns beside a vertical one), starting `max(6, len / 20)` pixels away, so the
/// decoders' local thresholds apply (small, blurred photos of real codes often read on some
/// rows only). The readers scan rows: only axis-aligned lines, which is what they report.
fn reads_in_band_beside(
    img: &Luma,
    hints: &DecodeHints,
    text: &str,
    a: &Point,
    u: [f64; 2],
    len: f64,
) -> bool {
    let horizontal = u[1].abs() < 0.02;
    if !horizontal && u[0].abs() >= 0.02 {
        return false;
    }
    let gap = (0.05 * len).max(6.0) as i64;
    let band = 40i64;
    let (across, along) =
        if horizontal { (img.height as i64, img.width) } else { (img.width as i64, img.height) };
    let at = (if horizontal { a[1] } else { a[0] }).round() as i64;
    for (lo, hi) in [(at + gap, at + gap + band), (at - gap - band, at - gap)] {
        let (lo, hi) = (lo.max(0), hi.min(across));
        if hi - lo < 8 {
            continue;
        }
        let (lo, hi) = (lo as usize, hi as usize);
        let (w, h, data) = if horizontal {
            (along, hi - lo, img.data[lo * img.width..hi * img.width].to_vec())
        } else {
            let mut d = Vec::with_capacity((hi - lo) * img.height);
            for y in 0..img.height {
                d.extend_from_slice(&img.data[y * img.width + lo..y * img.width + hi]);
            }
            (hi - lo, along, d)
        };
        if reads_text(data, w, h, hints, text) {
            return true;
        }
    }
    false
}

/// Whether one decoder pass over a `w × h` grey image finds a code with exactly this text.
fn reads_text(data: Vec<u8>, w: usize, h: usize, hints: &DecodeHints, text: &str) -> bool {
    let Ok(source) = Luma8LuminanceSource::new(data, w as u32, h as u32) else { return false };
    let mut bitmap = BinaryBitmap::new(HybridBinarizer::new(source));
    use rxing::Reader;
    let mut reader = MultiUseMultiFormatReader::default();
    reader.decode_with_hints(&mut bitmap, hints).is_ok_and(|r| r.getText() == text)
}

/// Natively a panic inside the decoder (untrusted pixels reach a large ported code base)
/// becomes an error; in wasm, where panics abort, it cannot be caught.
fn catch_decoder_panic<T>(f: impl FnOnce() -> T) -> Result<T> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|_| {
            crate::error::Error::Model("the barcode decoder failed on this image (internal panic)".into())
        })
    }
    #[cfg(target_arch = "wasm32")]
    {
        Ok(f())
    }
}

/// Keeps the first of each (format, text).
pub fn dedupe(codes: Vec<Code>) -> Vec<Code> {
    let mut seen = HashSet::new();
    codes.into_iter().filter(|c| seen.insert((c.format.clone(), c.text.clone()))).collect()
}

/// Maps a code found in another image of the scene (the rectified page) into frame
/// coordinates with `to_frame`.
pub fn map_points(code: &mut Code, to_frame: impl Fn(Point) -> Point) {
    for p in code.points.iter_mut() {
        *p = to_frame(*p);
    }
    for p in code.corners.iter_mut() {
        *p = to_frame(*p);
    }
}

#[cfg(test)]
mod tests;
