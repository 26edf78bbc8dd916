//! Replays every input under fuzz/regressions/<target>/ (crashes the fuzzers found, kept
//! forever once fixed, plus hand-made edge cases) through the same checks the fuzz targets run.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions").join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{target}: {} fails again", path.display());
        n += 1;
    }
    n
}

#[test]
fn container_read_regressions() {
    assert!(replay("container_read", slimscan::fuzz_checks::container_read) > 0);
}

#[test]
fn huffman_decode_regressions() {
    assert!(replay("huffman_decode", slimscan::fuzz_checks::huffman_decode) > 0);
}

#[test]
fn huffman_roundtrip_regressions() {
    assert!(replay("huffman_roundtrip", slimscan::fuzz_checks::huffman_roundtrip) > 0);
}

#[test]
fn engine_load_regressions() {
    assert!(replay("engine_load", slimscan::fuzz_checks::engine_load) > 0);
}

#[test]
fn ocr_input_regressions() {
    assert!(
        replay("ocr_input", |d| {
            let _ = slimscan::fuzz_checks::ocr_input(d);
        }) > 0
    );
}

/// The seeds themselves find boxes (the check exercises the post-processing, not only the
/// decoder's error paths).
#[test]
fn ocr_input_seeds_reach_the_post_processing() {
    let seeds = slimscan::fuzz_checks::seeds("ocr_input");
    assert_eq!(seeds.len(), 2);
    for seed in seeds {
        assert_eq!(slimscan::fuzz_checks::ocr_input(&seed), 2);
    }
}
