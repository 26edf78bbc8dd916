//! Writes each fuzz target's seed inputs to fuzz/seeds/<target>/ (run by `make fuzz`).
fn main() -> std::io::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    // Every target of the Makefile's FUZZ_TARGETS (`make fuzz` reads seeds/TARGET).
    for target in ["container_read", "engine_load", "huffman_decode", "huffman_roundtrip", "ocr_input"] {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir)?;
        for (i, seed) in slimscan::fuzz_checks::seeds(target).iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), seed)?;
        }
    }
    Ok(())
}
