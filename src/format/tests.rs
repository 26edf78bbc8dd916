use super::*;
use crate::error::{Error, FormatErrorKind};
use crate::quant::{QuantParams, Scheme};
use crate::sparse::RelativeIndexed;

fn per_tensor(scale: f32) -> Option<QuantParams> {
    Some(QuantParams { scales: vec![scale], zero_points: vec![0], axis: None, scheme: Scheme::Symmetric })
}

use crate::fuzz_checks::sample_writer;

fn read_default(bytes: &[u8]) -> crate::Result<SlimFile> {
    read(bytes, &Limits::default())
}

fn format_kind(e: Error) -> FormatErrorKind {
    match e {
        Error::Format(f) => f.kind,
        other => panic!("expected a format error, got {other}"),
    }
}

/// Recomputes every section CRC and the header CRC, so that a test can change a field and
/// reach the check behind the checksums.
fn reseal(bytes: &mut [u8]) {
    let count = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    for i in 0..count {
        let e = HEADER_BYTES + i * SECTION_ENTRY_BYTES;
        if e + SECTION_ENTRY_BYTES > bytes.len() {
            break;
        }
        let off = u64::from_le_bytes(bytes[e + 8..e + 16].try_into().unwrap()) as usize;
        let len = u64::from_le_bytes(bytes[e + 16..e + 24].try_into().unwrap()) as usize;
        if off.checked_add(len).is_some_and(|end| end <= bytes.len()) {
            let crc = crc32fast::hash(&bytes[off..off + len]);
            bytes[e + 24..e + 28].copy_from_slice(&crc.to_le_bytes());
        }
    }
    let table_end = (HEADER_BYTES + count * SECTION_ENTRY_BYTES).min(bytes.len());
    let mut h = crc32fast::Hasher::new();
    h.update(&bytes[..24]);
    h.update(&bytes[HEADER_BYTES..table_end]);
    let crc = h.finalize();
    bytes[24..28].copy_from_slice(&crc.to_le_bytes());
}

/// Offset of the TENS section payload.
fn tens_offset(bytes: &[u8]) -> usize {
    let count = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    (0..count)
        .map(|i| HEADER_BYTES + i * SECTION_ENTRY_BYTES)
        .find(|&e| bytes[e..e + 4] == TAG_TENSORS)
        .map(|e| u64::from_le_bytes(bytes[e + 8..e + 16].try_into().unwrap()) as usize)
        .unwrap()
}

#[test]
fn round_trip_every_encoding_and_coding() {
    let w = sample_writer();
    let (bytes, report) = w.to_bytes().unwrap();
    let file = read_default(&bytes).unwrap();
    assert_eq!(file.version, (VERSION_MAJOR, VERSION_MINOR));
    assert_eq!(file.meta, w.meta);
    assert_eq!(file.graph, w.graph);
    let written: Vec<&Tensor> = w.tensors().collect();
    assert_eq!(file.tensors.iter().collect::<Vec<_>>(), written);
    assert_eq!(file.sizes, report, "reader and writer account the same bytes");
}

#[test]
fn size_report_adds_up_to_the_file() {
    let (bytes, report) = sample_writer().to_bytes().unwrap();
    assert_eq!(report.file_bytes, bytes.len() as u64);
    assert_eq!(report.accounted_bytes(), bytes.len() as u64);
    let tens = report.sections.iter().find(|s| s.tag == "TENS").unwrap().bytes;
    let tensors: u64 = report.tensors.iter().map(|t| t.total_bytes).sum();
    assert_eq!(report.tensor_count_bytes + tensors, tens);
    for t in &report.tensors {
        let all = || t.values.iter().chain(t.gaps.iter()).chain(t.planes.iter());
        let streams: u64 = all().map(|s| s.total_bytes).sum();
        assert_eq!(t.header_bytes + t.raw_bytes + streams, t.total_bytes, "{}", t.name);
        for s in all() {
            assert_eq!(9 + s.codebook_bytes + s.payload_bytes, s.total_bytes, "{}", t.name);
        }
    }
}

#[test]
fn every_truncation_is_an_error() {
    let (bytes, _) = sample_writer().to_bytes().unwrap();
    for len in 0..bytes.len() {
        let err = read_default(&bytes[..len]).expect_err("truncated file accepted");
        assert!(matches!(err, Error::Format(_)), "{err}");
    }
}

#[test]
fn every_flipped_byte_is_an_error() {
    let (bytes, _) = sample_writer().to_bytes().unwrap();
    for i in 0..bytes.len() {
        for mask in [0x01u8, 0x80, 0xFF] {
            let mut b = bytes.clone();
            b[i] ^= mask;
            assert!(read_default(&b).is_err(), "flip {mask:#x} at byte {i} accepted");
        }
    }
}

#[test]
fn typed_errors_for_magic_version_and_checksum() {
    let (bytes, _) = sample_writer().to_bytes().unwrap();
    let mut b = bytes.clone();
    b[0] = b'P';
    assert_eq!(format_kind(read_default(&b).unwrap_err()), FormatErrorKind::BadMagic);

    let mut b = bytes.clone();
    b[8] = 2;
    reseal(&mut b);
    assert!(matches!(
        format_kind(read_default(&b).unwrap_err()),
        FormatErrorKind::UnsupportedVersion { major: 2, .. }
    ));

    let mut b = bytes.clone();
    let last = b.len() - 1;
    b[last] ^= 1;
    let err = read_default(&b).unwrap_err();
    let msg = err.to_string();
    match err {
        Error::Format(f) => {
            assert_eq!(f.section, "TENS");
            assert!(matches!(f.kind, FormatErrorKind::ChecksumMismatch { .. }));
        }
        other => panic!("{other}"),
    }
    assert!(msg.contains("TENS") && msg.contains("checksum"), "{msg}");

    assert!(matches!(format_kind(read_default(b"").unwrap_err()), FormatErrorKind::Truncated { .. }));
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(read_default(&longer).is_err());
}

#[test]
fn minor_versions_are_accepted() {
    let (mut b, _) = sample_writer().to_bytes().unwrap();
    b[10] = 7;
    reseal(&mut b);
    assert_eq!(read_default(&b).unwrap().version, (1, 7));
}

#[test]
fn huge_declared_sizes_hit_limits_not_the_allocator() {
    let (bytes, _) = sample_writer().to_bytes().unwrap();
    let tens = tens_offset(&bytes);

    // Tensor count far above the cap.
    let mut b = bytes.clone();
    b[tens..tens + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    reseal(&mut b);
    let kind = format_kind(read_default(&b).unwrap_err());
    assert!(matches!(kind, FormatErrorKind::LimitExceeded { .. }), "{kind:?}");

    // Tensor count under the cap but more than the bytes could hold.
    let mut b = bytes.clone();
    b[tens..tens + 4].copy_from_slice(&90_000u32.to_le_bytes());
    reseal(&mut b);
    assert!(read_default(&b).is_err());

    // First tensor ("bias", f32 [3]): its dimension set to 2^40.
    let dim_at = tens + 4 + 2 + 4 + 1 + 1;
    let mut b = bytes.clone();
    b[dim_at..dim_at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    reseal(&mut b);
    let err = read_default(&b).unwrap_err();
    assert!(err.to_string().contains("\"bias\""), "error names the tensor: {err}");
    assert!(matches!(format_kind(err), FormatErrorKind::LimitExceeded { .. }));

    // Dimension product overflowing u64.
    let mut b = bytes.clone();
    b[dim_at..dim_at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    reseal(&mut b);
    assert!(matches!(format_kind(read_default(&b).unwrap_err()), FormatErrorKind::LimitExceeded { .. }));

    // A dimension under the cap, but whose f32 payload is not in the file.
    let mut b = bytes.clone();
    b[dim_at..dim_at + 8].copy_from_slice(&(1u64 << 20).to_le_bytes());
    reseal(&mut b);
    assert!(matches!(format_kind(read_default(&b).unwrap_err()), FormatErrorKind::Truncated { .. }));

    // Name length at its maximum with no name bytes behind it.
    let mut b = bytes.clone();
    b[tens + 4..tens + 6].copy_from_slice(&1024u16.to_le_bytes());
    reseal(&mut b);
    assert!(read_default(&b).is_err());

    // Section length reaching past the end of the file.
    let mut b = bytes.clone();
    let e = HEADER_BYTES; // first entry: META
    b[e + 16..e + 24].copy_from_slice(&(u64::MAX - 5).to_le_bytes());
    reseal(&mut b);
    assert!(matches!(format_kind(read_default(&b).unwrap_err()), FormatErrorKind::Truncated { .. }));

    // Section count above the cap.
    let mut b = bytes.clone();
    b[12..16].copy_from_slice(&1_000_000u32.to_le_bytes());
    assert!(read_default(&b).is_err());

    // Declared file size larger than the file.
    let mut b = bytes.clone();
    b[16..24].copy_from_slice(&(1u64 << 50).to_le_bytes());
    reseal(&mut b);
    assert!(matches!(format_kind(read_default(&b).unwrap_err()), FormatErrorKind::Truncated { .. }));
}

#[test]
fn caller_limits_are_enforced() {
    let (bytes, _) = sample_writer().to_bytes().unwrap();
    let tight = |f: fn(&mut Limits)| {
        let mut l = Limits::default();
        f(&mut l);
        format_kind(read(&bytes, &l).unwrap_err())
    };
    for kind in [
        tight(|l| l.max_file_bytes = 10),
        tight(|l| l.max_meta_bytes = 3),
        tight(|l| l.max_graph_bytes = 3),
        tight(|l| l.max_tensors = 2),
        tight(|l| l.max_tensor_elements = 39),
        tight(|l| l.max_total_elements = 100),
    ] {
        assert!(matches!(kind, FormatErrorKind::LimitExceeded { .. }), "{kind:?}");
    }
}

#[test]
fn sparse_entries_outside_the_tensor_are_rejected() {
    let mut w = SlimWriter::new();
    let r = RelativeIndexed { values: vec![1, 2], gaps: vec![3, 3], gap_bits: 2, len: 8 };
    w.add_tensor(
        Tensor { name: "s".into(), dims: vec![8], data: TensorData::Int8Sparse(r), quant: per_tensor(1.0) },
        Coding::Fixed,
    );
    let (mut bytes, _) = w.to_bytes().unwrap();
    assert!(read_default(&bytes).is_ok());
    // dims [8] -> [7]: the second entry (position 7) now lands past the end.
    let dim_at = tens_offset(&bytes) + 4 + 2 + 1 + 1 + 1;
    bytes[dim_at] = 7;
    reseal(&mut bytes);
    let err = read_default(&bytes).unwrap_err();
    assert!(err.to_string().contains("past the 7 elements"), "{err}");
}

#[test]
fn writer_rejects_inconsistent_tensors() {
    let bad = [
        Tensor { name: "".into(), dims: vec![1], data: TensorData::F32(vec![0.0]), quant: None },
        Tensor { name: "n".into(), dims: vec![2], data: TensorData::F32(vec![0.0]), quant: None },
        Tensor { name: "n".into(), dims: vec![1], data: TensorData::Int8Dense(vec![0]), quant: None },
        Tensor { name: "n".into(), dims: vec![1], data: TensorData::F32(vec![0.0]), quant: per_tensor(1.0) },
        Tensor {
            name: "n".into(),
            dims: vec![1],
            data: TensorData::Int8Dense(vec![0]),
            quant: per_tensor(0.0),
        },
        Tensor {
            name: "n".into(),
            dims: vec![2],
            data: TensorData::Int8Dense(vec![0, 0]),
            quant: Some(QuantParams {
                scales: vec![1.0],
                zero_points: vec![0],
                axis: Some(0),
                scheme: Scheme::Symmetric,
            }),
        },
        Tensor { name: "n".into(), dims: vec![1; 9], data: TensorData::F32(vec![0.0]), quant: None },
    ];
    for t in bad {
        let mut w = SlimWriter::new();
        w.add_tensor(t.clone(), Coding::default());
        assert!(w.to_bytes().is_err(), "{t:?} accepted");
    }
    let mut w = SlimWriter::new();
    let t = Tensor { name: "dup".into(), dims: vec![], data: TensorData::F32(vec![1.0]), quant: None };
    w.add_tensor(t.clone(), Coding::default()).add_tensor(t, Coding::default());
    assert!(w.to_bytes().is_err());
}

#[test]
fn files_without_graph_or_tensors() {
    let w = SlimWriter::new();
    let file = w.to_slim_file().unwrap();
    assert!(file.graph.is_none());
    assert!(file.tensors.is_empty());
}

#[test]
fn atomic_write_replaces_the_file_whole() {
    let dir = std::env::temp_dir().join(format!("slimscan-atomic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.slim");
    write_atomic(&path, b"first").unwrap();
    write_atomic(&path, b"second").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"second");
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind");
    let missing_dir = dir.join("no/such/dir/m.slim");
    let err = write_atomic(&missing_dir, b"x").unwrap_err();
    assert!(err.to_string().contains("no/such/dir"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Largest single allocation made by the current thread while `f` runs, through a counting
/// global allocator (other test threads are not counted).
mod alloc_probe {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    struct Probe;

    thread_local! {
        static ACTIVE: Cell<bool> = const { Cell::new(false) };
        static LARGEST: Cell<usize> = const { Cell::new(0) };
    }

    fn note(size: usize) {
        let _ = ACTIVE.try_with(|a| {
            if a.get() {
                let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
            }
        });
    }

    unsafe impl GlobalAlloc for Probe {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            note(layout.size());
            unsafe { System.alloc(layout) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            note(layout.size());
            unsafe { System.alloc_zeroed(layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            note(new_size);
            unsafe { System.realloc(ptr, layout, new_size) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static GLOBAL: Probe = Probe;

    pub fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
        LARGEST.with(|l| l.set(0));
        ACTIVE.with(|a| a.set(true));
        let r = f();
        ACTIVE.with(|a| a.set(false));
        (r, LARGEST.with(|l| l.get()))
    }
}

#[test]
fn hostile_sizes_never_allocate_beyond_a_small_multiple_of_the_file() {
    let (bytes, _) = sample_writer().to_bytes().unwrap();
    let tens = tens_offset(&bytes);
    let bias_dim = tens + 4 + 2 + 4 + 1 + 1;
    // "conv.w" record: after "bias" (28 bytes); its last dim (of 4) set so that the element
    // count is 2^28, the cap, while its Huffman stream still holds a few dozen bytes.
    let conv = tens + 4 + 28;
    let conv_last_dim = conv + 2 + 6 + 1 + 1 + 3 * 8;
    type Mutation = Box<dyn Fn(&mut Vec<u8>)>;
    let variants: Vec<(&str, Mutation)> = vec![
        ("tensor count", Box::new(move |b| b[tens..tens + 4].copy_from_slice(&99_999u32.to_le_bytes()))),
        (
            "f32 dims",
            Box::new(move |b| b[bias_dim..bias_dim + 8].copy_from_slice(&(1u64 << 27).to_le_bytes())),
        ),
        (
            "huffman count",
            Box::new(move |b| {
                b[conv_last_dim..conv_last_dim + 8].copy_from_slice(&(1u64 << 24).to_le_bytes())
            }),
        ),
        (
            "section length",
            Box::new(|b| {
                b[HEADER_BYTES + 16..HEADER_BYTES + 24].copy_from_slice(&(1u64 << 40).to_le_bytes())
            }),
        ),
        ("section count", Box::new(|b| b[12..16].copy_from_slice(&64u32.to_le_bytes()))),
    ];
    for (what, mutate) in variants {
        let mut b = bytes.clone();
        mutate(&mut b);
        reseal(&mut b);
        let (result, largest) = alloc_probe::largest_allocation(|| read_default(&b));
        let err = result.expect_err("hostile file accepted");
        eprintln!("{what}: {err}");
        let bound = 16 * b.len() + (64 << 10);
        assert!(largest <= bound, "{what}: allocated {largest} bytes for a {}-byte file", b.len());
    }
    // Sanity check of the probe itself: a legitimate read allocates something.
    let (_, largest) = alloc_probe::largest_allocation(|| read_default(&bytes).unwrap());
    assert!(largest > 0);
}

/// Offset of a section's table entry.
fn entry_of(bytes: &[u8], tag: [u8; 4]) -> usize {
    let count = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    (0..count).map(|i| HEADER_BYTES + i * SECTION_ENTRY_BYTES).find(|&e| bytes[e..e + 4] == tag).unwrap()
}

#[test]
fn deflated_sections_round_trip_and_hostile_ones_are_refused() {
    let w = sample_writer();
    let (bytes, report) = w.to_bytes().unwrap();
    let graph = report.sections.iter().find(|s| s.tag == "GRPH").unwrap();
    assert_eq!(graph.inflated_bytes, Some(w.graph.as_ref().unwrap().len() as u64));
    assert!(graph.bytes < w.graph.as_ref().unwrap().len() as u64, "deflate made GRPH smaller");
    assert_eq!(read_default(&bytes).unwrap().graph, w.graph);

    let e = entry_of(&bytes, TAG_GRAPH);
    let at = u64::from_le_bytes(bytes[e + 8..e + 16].try_into().unwrap()) as usize;
    // Declared inflated size over the GRPH cap: refused before inflating.
    let mut b = bytes.clone();
    b[at..at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    reseal(&mut b);
    assert!(matches!(format_kind(read_default(&b).unwrap_err()), FormatErrorKind::LimitExceeded { .. }));
    // Declared size under the cap but beyond what deflate can expand to: refused unread.
    let mut b = bytes.clone();
    b[at..at + 8].copy_from_slice(&(1u64 << 24).to_le_bytes());
    reseal(&mut b);
    assert!(read_default(&b).unwrap_err().to_string().contains("cannot inflate"));
    // Declared size smaller than the stream inflates to.
    let mut b = bytes.clone();
    b[at..at + 8].copy_from_slice(&10u64.to_le_bytes());
    reseal(&mut b);
    assert!(read_default(&b).unwrap_err().to_string().contains("deflate"));
    // Corrupt deflate stream.
    let mut b = bytes.clone();
    b[at + 8] ^= 0xFF;
    b[at + 9] ^= 0xFF;
    reseal(&mut b);
    assert!(read_default(&b).is_err());
    // TENS never deflated.
    let mut b = bytes.clone();
    let t = entry_of(&b, TAG_TENSORS);
    b[t + 4] |= FLAG_DEFLATE as u8;
    reseal(&mut b);
    assert!(read_default(&b).unwrap_err().to_string().contains("TENS must not be deflated"));
}
