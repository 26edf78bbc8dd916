//! NumPy `.npy` files (format versions 1.0–3.0) holding one C-order array: read as f32
//! (from `<f4`, `<f8`, `|u1`, `|i1`), written as `<f4`. Calibration sets and
//! `slimscan run` inputs/outputs use them.
//!
//! The header is untrusted: its length, the shape and the data size are checked against the
//! bytes that are really there before anything is allocated.

use crate::error::{Error, Result};

const MAGIC: &[u8] = b"\x93NUMPY";
/// Longest header accepted (NumPy itself writes < 100 bytes; it allows up to 10 KiB).
const MAX_HEADER: usize = 64 * 1024;

/// An array of f32 in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::InvalidArgument(format!("not a usable .npy file: {}", msg.into()))
}

#[derive(Clone, Copy)]
enum Dtype {
    F32,
    F64,
    U8,
    I8,
}

impl Dtype {
    fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F64 => 8,
            Dtype::U8 | Dtype::I8 => 1,
        }
    }
}

/// Value of `'key': value` in the header dict, as raw text up to the next top-level comma.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let start = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[start..].trim_start().strip_prefix(':')?.trim_start();
    if rest.starts_with('(') {
        return rest.find(')').map(|e| &rest[..=e]);
    }
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim())
}

/// Parses a `.npy` file.
pub fn read(bytes: &[u8]) -> Result<Array> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad("missing the \\x93NUMPY magic"));
    }
    let major = bytes[6];
    let (header_len, header_start) = match major {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => {
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
        }
        _ => return Err(bad(format!("unsupported format version {major}"))),
    };
    if header_len > MAX_HEADER || header_start + header_len > bytes.len() {
        return Err(bad(format!("header of {header_len} bytes does not fit the file")));
    }
    let header = std::str::from_utf8(&bytes[header_start..header_start + header_len])
        .map_err(|_| bad("header is not text"))?;
    let descr = dict_value(header, "descr").ok_or_else(|| bad("header has no 'descr'"))?;
    let dtype = match descr.trim_matches(['\'', '"']) {
        "<f4" | "=f4" => Dtype::F32,
        "<f8" | "=f8" => Dtype::F64,
        "|u1" | "<u1" => Dtype::U8,
        "|i1" | "<i1" => Dtype::I8,
        other => {
            return Err(bad(format!(
                "dtype {other} (float32, float64, uint8 or int8 little-endian expected)"
            )))
        }
    };
    if dict_value(header, "fortran_order").is_some_and(|v| v.starts_with("True")) {
        return Err(bad("Fortran-order arrays are not supported; save with np.ascontiguousarray"));
    }
    let shape_text = dict_value(header, "shape").ok_or_else(|| bad("header has no 'shape'"))?;
    let shape: Vec<usize> = shape_text
        .trim_matches(['(', ')'])
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| bad(format!("shape {shape_text} is not a tuple of sizes"))))
        .collect::<Result<_>>()?;
    let data = &bytes[header_start + header_len..];
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n.checked_mul(dtype.size()).is_some_and(|b| b == data.len()))
        .ok_or_else(|| {
            bad(format!("shape {shape:?} of {descr} does not match the {} data bytes", data.len()))
        })?;
    let data: Vec<f32> = match dtype {
        Dtype::F32 => data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect(),
        Dtype::U8 => data.iter().map(|&b| f32::from(b)).collect(),
        Dtype::I8 => data.iter().map(|&b| f32::from(b as i8)).collect(),
    };
    debug_assert_eq!(data.len(), count);
    Ok(Array { shape, data })
}

/// Writes `<f4` version 1.0.
pub fn write(a: &Array) -> Result<Vec<u8>> {
    let n: usize = a.shape.iter().product();
    if n != a.data.len() {
        return Err(Error::InvalidArgument(format!("{} values for shape {:?}", a.data.len(), a.shape)));
    }
    let dims: Vec<String> = a.shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    // Pad so that the data starts on a 64-byte boundary, ending the header with '\n'.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 4 * n);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for x in &a.data {
        out.extend_from_slice(&x.to_le_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for shape in [vec![], vec![3], vec![1, 3, 2, 2]] {
            let n: usize = shape.iter().product();
            let a = Array { shape: shape.clone(), data: (0..n).map(|i| i as f32 * 0.5 - 1.0).collect() };
            let bytes = write(&a).unwrap();
            assert_eq!((bytes.len() - 4 * n) % 64, 0, "data is 64-byte aligned");
            assert_eq!(read(&bytes).unwrap(), a);
        }
    }

    #[test]
    fn reads_numpy_written_header() {
        // Exactly what np.save writes for np.arange(4, dtype=np.uint8).reshape(2, 2).
        let mut b =
            b"\x93NUMPY\x01\x00v\x00{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }".to_vec();
        b.resize(10 + 0x76 - 1, b' ');
        b.push(b'\n');
        b.extend_from_slice(&[0, 1, 2, 3]);
        let a = read(&b).unwrap();
        assert_eq!(a.shape, vec![2, 2]);
        assert_eq!(a.data, vec![0.0, 1.0, 2.0, 3.0]);
    }

    fn replace(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
        [&bytes[..at], to, &bytes[at + from.len()..]].concat()
    }

    #[test]
    fn rejects_bad_files_with_reasons() {
        let good = write(&Array { shape: vec![2, 2], data: vec![1.0; 4] }).unwrap();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"PK\x03\x04 not numpy".to_vec(), "magic"),
            (good[..good.len() - 3].to_vec(), "does not match"),
            (good[..20].to_vec(), "does not fit"),
            (replace(&good, b"<f4", b">f4"), "dtype"),
            (replace(&good[..good.len() - 16], b"(2, 2)", b"(9999999999999999, 9)"), "does not match"),
            (replace(&good, b"False", b"True "), "Fortran"),
        ];
        for (bytes, want) in cases {
            let e = read(&bytes).unwrap_err().to_string();
            assert!(e.contains(want), "{e:?} should mention {want:?}");
        }
    }
}
