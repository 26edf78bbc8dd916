//! `slimscan inspect`: a readable table (or JSON) of a `.slim` file's size report.

use anyhow::{Context, Result};
use slimscan::format::{self, Coding, Limits, StreamSize};
use std::path::Path;

pub fn run(path: &Path, json: bool) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file = format::read(&bytes, &Limits::default()).with_context(|| format!("{}", path.display()))?;
    if json {
        let out = serde_json::json!({
            "file": path.display().to_string(),
            "version": format!("{}.{}", file.version.0, file.version.1),
            "meta": file.meta,
            "graph_bytes": file.graph.as_ref().map_or(0, Vec::len),
            "sizes": file.sizes,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let s = &file.sizes;
    println!("{}  (.slim {}.{}, {} bytes)", path.display(), file.version.0, file.version.1, s.file_bytes);
    println!("  header {} B, section table {} B", s.header_bytes, s.section_table_bytes);
    for sec in &s.sections {
        println!("  section {:<4} {:>12} B", sec.tag, sec.bytes);
    }
    println!();
    println!(
        "  {:<40} {:<12} {:>10} {:>10} {:>8} {:>10}",
        "tensor", "encoding", "elements", "bytes", "bits/w", "coding"
    );
    for t in &s.tensors {
        let bits = if t.elements > 0 { t.total_bytes as f64 * 8.0 / t.elements as f64 } else { 0.0 };
        println!(
            "  {:<40} {:<12} {:>10} {:>10} {:>8.3} {:>10}",
            truncate(&t.name, 40),
            t.encoding,
            t.elements,
            t.total_bytes,
            bits,
            t.values.as_ref().map_or("raw".to_string(), coding_label)
        );
        for (label, stream) in [("values", &t.values), ("gaps", &t.gaps)] {
            if let Some(st) = stream {
                println!(
                    "      {label:<6} {} symbols, {} B ({} codebook), {:.3} bits/symbol",
                    st.symbols,
                    st.total_bytes,
                    st.codebook_bytes,
                    if st.symbols > 0 { st.total_bytes as f64 * 8.0 / st.symbols as f64 } else { 0.0 }
                );
            }
        }
    }
    Ok(())
}

fn coding_label(s: &StreamSize) -> String {
    match s.coding {
        Coding::Fixed => "fixed".into(),
        Coding::Huffman { max_len } => format!("huff≤{max_len}"),
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let head: String = s.chars().take(n - 1).collect();
        format!("{head}…")
    }
}
