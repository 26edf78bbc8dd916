//! `slimscan inspect`: a readable table (or JSON, docs/INSPECT.md) of a `.slim` file — per
//! tensor shape, encoding, sparsity, bits per weight and Huffman gain; totals that add up to
//! the file size, against the original model's size.

use anyhow::{Context, Result};
use slimscan::format::{self, summary, Limits};
use std::path::Path;

pub fn run(path: &Path, json: bool) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file = format::read(&bytes, &Limits::default()).with_context(|| format!("{}", path.display()))?;
    let sum = summary::summarize(&file);
    if json {
        let out = serde_json::json!({
            "file": path.display().to_string(),
            "version": format!("{}.{}", file.version.0, file.version.1),
            "meta": file.meta,
            "graph_bytes": file.graph.as_ref().map_or(0, Vec::len),
            "sizes": file.sizes,
            "tensors": sum.tensors,
            "totals": sum.totals,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let s = &file.sizes;
    println!("{}  (.slim {}.{}, {} bytes)", path.display(), file.version.0, file.version.1, s.file_bytes);
    for sec in &s.sections {
        let inflated = sec.inflated_bytes.map_or(String::new(), |b| format!("  (deflated from {b} B)"));
        println!("  section {:<4} {:>12} B{inflated}", sec.tag, sec.bytes);
    }
    println!();
    println!(
        "  {:<36} {:<16} {:<11} {:>7} {:>10} {:>7}  {:>23}  {:>5}",
        "tensor", "shape", "encoding", "sparse", "bytes", "bits/w", "values+gaps+cb+hdr", "gain"
    );
    for t in &sum.tensors {
        let b = &t.bits_per_weight;
        println!(
            "  {:<36} {:<16} {:<11} {:>6.1}% {:>10} {:>7.3}  {:>5.2}+{:>5.2}+{:>4.2}+{:>5.2}  {:>5}",
            truncate(&t.name, 36),
            truncate(&format!("{:?}", t.dims), 16),
            t.encoding,
            t.sparsity * 100.0,
            t.bytes,
            b.total,
            b.values,
            b.gaps,
            b.codebooks,
            b.header,
            t.huffman_gain.map_or("-".to_string(), |g| format!("{g:.2}x"))
        );
    }
    let tot = &sum.totals;
    println!();
    println!(
        "  total {} B = header+table {} + META {} + GRPH {} + TENS {}{}",
        tot.file_bytes,
        tot.header_and_table_bytes,
        tot.meta_bytes,
        tot.graph_bytes,
        tot.tensor_section_bytes,
        if tot.other_section_bytes > 0 {
            format!(" + other {}", tot.other_section_bytes)
        } else {
            String::new()
        }
    );
    println!(
        "  {} elements in {} tensors, {:.1} % zero, {:.3} bits per element over the whole file",
        tot.elements,
        sum.tensors.len(),
        tot.zero_elements as f64 * 100.0 / tot.elements.max(1) as f64,
        tot.file_bytes as f64 * 8.0 / tot.elements.max(1) as f64
    );
    if let (Some(o), Some(r)) = (tot.original_bytes, tot.reduction) {
        println!("  original model {o} B → {} B: {r:.2}x smaller", tot.file_bytes);
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let head: String = s.chars().take(n - 1).collect();
        format!("{head}…")
    }
}
