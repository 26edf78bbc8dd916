//! Fuzz target: see `slimscan::fuzz_checks::ocr_input` for the property checked.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    slimscan::fuzz_checks::ocr_input(data);
});
