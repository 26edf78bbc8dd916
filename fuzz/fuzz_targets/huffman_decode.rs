//! Fuzz target: see `slimscan::fuzz_checks::huffman_decode` for the property checked.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| slimscan::fuzz_checks::huffman_decode(data));
