//! `slimscan inspect`: a readable table (or JSON, docs/INSPECT.md) of a `.slim` file — per
//! tensor shape, encoding, sparsity, bits per weight and Huffman gain; totals that add up to
//! the file size, against the original model's size.

use anyhow::{Context, Result};
use slimscan::format::summary::{self, BitsPerWeight, Summary, TensorSummary};
use slimscan::format::{self, Limits, SlimFile};
use std::fmt::Write as _;
use std::path::Path;

pub fn run(path: &Path, json: bool) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file = format::read(&bytes, &Limits::default()).with_context(|| format!("{}", path.display()))?;
    let sum = summary::summarize(&file);
    if json {
        // Keys of the first version stay as they were; later ones are only added (docs/INSPECT.md).
        let out = serde_json::json!({
            "file": path.display().to_string(),
            "version": format!("{}.{}", file.version.0, file.version.1),
            "meta": file.meta,
            "graph_bytes": file.graph.as_ref().map_or(0, Vec::len),
            "graph_kind": graph_kind(&file).0,
            "sizes": file.sizes,
            "tensors": sum.tensors,
            "totals": sum.totals,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", table(path, &file, &sum));
    }
    Ok(())
}

/// What GRPH holds: `("op_list", description)`, `("onnx", …)` or `(null, …)` without a graph.
fn graph_kind(file: &SlimFile) -> (serde_json::Value, String) {
    use slimscan::exec::program::{Op, Program};
    match &file.graph {
        None => (serde_json::Value::Null, "no graph (a tensor archive)".into()),
        Some(g) if Program::is_program(g) => match Program::decode(g) {
            Ok(p) => {
                let slim = p.nodes.iter().filter(|n| matches!(n.op, Op::Slim(_))).count();
                let open = if p.symbols.is_empty() {
                    String::new()
                } else {
                    format!(", {} open input sizes", p.symbols.len())
                };
                (
                    "op_list".into(),
                    format!("op list, {} nodes, {slim} compressed layers{open}", p.nodes.len()),
                )
            }
            Err(e) => ("op_list".into(), format!("op list that does not load: {e}")),
        },
        Some(_) => (
            "onnx".into(),
            "ONNX (format 1.0 layout: the CLI runs it; `slimscan lower` rewrites it for the browser)".into(),
        ),
    }
}

/// Stream codings of a tensor, one letter per stream in file order (values, gaps or the four
/// byte planes): `H` Huffman, `F` fixed width; `-` for raw f32.
fn stream_letters(t: &TensorSummary) -> String {
    if t.streams.is_empty() {
        return "-".into();
    }
    t.streams.iter().map(|s| if s.coding == "huffman" { 'H' } else { 'F' }).collect()
}

fn gain(g: Option<f64>) -> String {
    g.map_or("-".to_string(), |g| format!("{g:.2}x"))
}

fn bits(b: &BitsPerWeight) -> String {
    format!("{:>7.3} = {:>6.3} {:>6.3} {:>6.3} {:>6.3}", b.total, b.values, b.gaps, b.codebooks, b.header)
}

fn table(path: &Path, file: &SlimFile, sum: &Summary) -> String {
    let mut o = String::new();
    let s = &file.sizes;
    let tot = &sum.totals;
    let _ = writeln!(
        o,
        "{}  (.slim {}.{}, {} bytes)",
        path.display(),
        file.version.0,
        file.version.1,
        s.file_bytes
    );
    for sec in &s.sections {
        let inflated = sec.inflated_bytes.map_or(String::new(), |b| format!("  (deflated from {b} B)"));
        let _ = writeln!(o, "  section {:<4} {:>12} B{inflated}", sec.tag, sec.bytes);
    }
    let _ = writeln!(o, "  graph: {}", graph_kind(file).1);
    let _ = writeln!(o);

    let shapes: Vec<String> = sum.tensors.iter().map(|t| format!("{:?}", t.dims)).collect();
    let name_w = sum.tensors.iter().map(|t| t.name.chars().count()).max().unwrap_or(0).clamp(13, 40);
    let shape_w = shapes.iter().map(|d| d.chars().count()).max().unwrap_or(0).clamp(5, 24);
    let _ = writeln!(
        o,
        "  {:<name_w$} {:<shape_w$} {:<11} {:>6} {:>10}  {:>7}   {:>6} {:>6} {:>6} {:>6}  {:<7} {:>6}",
        "tensor",
        "shape",
        "encoding",
        "zeros",
        "bytes",
        "bits/w",
        "values",
        "gaps",
        "cbooks",
        "header",
        "streams",
        "gain"
    );
    for (t, shape) in sum.tensors.iter().zip(&shapes) {
        let _ = writeln!(
            o,
            "  {:<name_w$} {:<shape_w$} {:<11} {:>5.1}% {:>10}  {}  {:<7} {:>6}",
            truncate(&t.name, name_w),
            truncate(shape, shape_w),
            t.encoding,
            t.sparsity * 100.0,
            t.bytes,
            bits(&t.bits_per_weight),
            stream_letters(t),
            gain(t.huffman_gain)
        );
    }
    let all = format!("all {} tensors", tot.tensor_count);
    let _ = writeln!(
        o,
        "  {:<name_w$} {:<shape_w$} {:<11} {:>5.1}% {:>10}  {}  {:<7} {:>6}",
        truncate(&all, name_w),
        "",
        "",
        tot.sparsity * 100.0,
        tot.tensor_bytes,
        bits(&tot.tensor_bits_per_weight),
        "",
        gain(tot.huffman_gain)
    );
    let _ = writeln!(o, "  bits/w: per element, = values + gaps + codebooks + record and stream headers");
    let _ = writeln!(
        o,
        "  streams: values[+gaps] or the 4 byte planes; H Huffman, F fixed width, - raw f32; \
         gain: fixed-width bytes / actual bytes"
    );
    let _ = writeln!(o);

    let mut overhead =
        format!("header+table {}, tensor count {}", tot.header_and_table_bytes, tot.tensor_count_bytes);
    if tot.other_section_bytes > 0 {
        let _ = write!(overhead, ", other sections {}", tot.other_section_bytes);
    }
    let _ = writeln!(
        o,
        "  total {} B = tensors {} + META {} + GRPH {} + overhead {} ({overhead})",
        tot.file_bytes, tot.tensor_bytes, tot.meta_bytes, tot.graph_bytes, tot.overhead_bytes
    );
    let _ = writeln!(
        o,
        "  {} weights in {} tensors, {:.1} % zero, {:.3} bits per weight over the whole file",
        tot.elements,
        tot.tensor_count,
        tot.sparsity * 100.0,
        tot.file_bits_per_weight
    );
    match (tot.original_bytes, tot.reduction) {
        (Some(orig), Some(r)) => {
            let _ = writeln!(o, "  original model {orig} B → {} B: {r:.2}x smaller", tot.file_bytes);
        }
        _ => {
            let _ = writeln!(o, "  original model size unknown (no META original.bytes)");
        }
    }
    o
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let head: String = s.chars().take(n.saturating_sub(1)).collect();
        format!("{head}…")
    }
}
