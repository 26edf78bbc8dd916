//! `slimscan compress`: ONNX → .slim with progress bars and a per-layer summary.

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use slimscan::compress::{
    self,
    calib::Method,
    layers, onnx,
    plan::{Bits, PrunePlan},
    Calibration, Options, Progress,
};
use slimscan::quant::Scheme;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// The ONNX model to compress.
    input: PathBuf,
    /// Where to write the .slim file (written atomically).
    #[arg(short, long, required_unless_present_any = ["list_layers", "sensitivity"])]
    output: Option<PathBuf>,
    /// Global magnitude pruning to this sparsity (0..1) over the prunable weights,
    /// sensitivity-aware: first layer, depthwise convs and classifier get half.
    #[arg(long, default_value_t = 0.0, conflicts_with = "prune_plan")]
    prune: f64,
    /// Per-layer sparsities from a JSON file: {"default": 0.5, "layers": {"name": 0.9}}, and
    /// optionally lower weight precision: "default_bits": 8, "bits": {"name": 6} (2..=8).
    #[arg(long)]
    prune_plan: Option<PathBuf>,
    /// Weight quantization.
    #[arg(long, value_enum, default_value_t = Quant::Int8)]
    quant: Quant,
    /// One scale per output channel (default).
    #[arg(long, conflicts_with = "per_tensor")]
    per_channel: bool,
    /// One scale per tensor.
    #[arg(long)]
    per_tensor: bool,
    /// Symmetric int8, zero point 0 (default).
    #[arg(long, conflicts_with = "asymmetric")]
    symmetric: bool,
    /// Asymmetric int8 with a zero point.
    #[arg(long)]
    asymmetric: bool,
    /// Store fixed-width streams instead of Huffman-coded ones.
    #[arg(long)]
    no_huffman: bool,
    /// Longest Huffman code word, in bits.
    #[arg(long, default_value_t = slimscan::huffman::DEFAULT_MAX_CODE_LEN)]
    max_code_len: u32,
    /// Bits per relative index (gap) in sparse tensors.
    #[arg(long, default_value_t = slimscan::sparse::DEFAULT_GAP_BITS)]
    gap_bits: u32,
    /// CTC recognisers (PP-OCR `character` metadata): keep only the output classes of the
    /// characters in this UTF-8 file (every character except line breaks; one per line or all
    /// on one line), plus the CTC blank and the space. Unknown characters are an error.
    #[arg(long, value_name = "FILE")]
    vocab: Option<PathBuf>,
    /// Leave these layers (node names) uncompressed.
    #[arg(long, num_args = 1..)]
    keep: Vec<String>,
    /// JSON manifest (input size, mean/std, channel order, labels) stored in META.
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Calibrate int8 activation quantizers on a folder of images (.jpg/.png, preprocessed
    /// per --manifest: input_size, mean, std, scale, channel_order) or .npy input tensors.
    #[arg(long, value_name = "DIR")]
    calib: Option<PathBuf>,
    /// How activation ranges are chosen from the calibration data. Percentile by default:
    /// entropy (KL) clips ReLU6 outputs to about a fifth of their range and left a W8A8
    /// MobileNetV2 at 20 % top-1 where percentile kept 93.40 % (models/REPORT.md).
    #[arg(long, value_enum, default_value_t = CalibMethod::Percentile)]
    calib_method: CalibMethod,
    /// Percentile of |x| kept by --calib-method percentile.
    #[arg(long, default_value_t = 99.99)]
    calib_percentile: f64,
    /// Use at most this many calibration samples (the first in name order).
    #[arg(long, default_value_t = 100)]
    calib_count: usize,
    /// Data-aware weight rounding (GPTQ) on a folder of calibration samples (as --calib:
    /// images per --manifest, or .npy input tensors): each layer's rounding errors are
    /// compensated by its other weights, on the inputs the layer sees. No retraining.
    #[arg(long, value_name = "DIR")]
    gptq: Option<PathBuf>,
    /// Keep the graph as ONNX with Slim custom nodes (format 1.0's layout) instead of the op
    /// list the browser's small runtime needs; the CLI runs both.
    #[arg(long)]
    onnx_graph: bool,
    /// Use at most this many GPTQ samples (the first in name order).
    #[arg(long, default_value_t = 128)]
    gptq_count: usize,
    /// GPTQ damping, relative to the mean input second moment.
    #[arg(long, default_value_t = compress::gptq::DEFAULT_DAMP)]
    gptq_damp: f64,
    /// Print each layer's output error at several sparsities on the calibration data
    /// (needs --calib; uses the first --sensitivity-count samples), then exit.
    #[arg(long, requires = "calib")]
    sensitivity: bool,
    /// Samples used by --sensitivity.
    #[arg(long, default_value_t = 8)]
    sensitivity_count: usize,
    /// List the compressible layers and their roles, then exit.
    #[arg(long)]
    list_layers: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CalibMethod {
    Minmax,
    Percentile,
    Entropy,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Quant {
    Int8,
    None,
}

struct Bars {
    bar: Option<ProgressBar>,
}

impl Progress for Bars {
    fn stage(&mut self, name: &str, total: u64) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        let bar = if total > 0 { ProgressBar::new(total) } else { ProgressBar::new_spinner() };
        bar.set_style(
            ProgressStyle::with_template("{msg:>18} [{bar:40}] {percent:>3}% {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(name.to_string());
        self.bar = Some(bar);
    }
    fn advance(&mut self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }
    fn warn(&mut self, msg: &str) {
        match &self.bar {
            Some(b) => b.println(format!("warning: {msg}")),
            None => eprintln!("warning: {msg}"),
        }
    }
}

/// Fails early, before minutes of work, when the output cannot be written.
fn check_writable(path: &Path) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let probe = dir.join(format!(".slimscan-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").with_context(|| {
        format!("cannot write the output {}: folder {} is not writable", path.display(), dir.display())
    })?;
    let _ = std::fs::remove_file(probe);
    if path.is_dir() {
        bail!("the output {} is a folder", path.display());
    }
    Ok(())
}

pub fn run(a: Args) -> Result<()> {
    let bytes = std::fs::read(&a.input).with_context(|| format!("cannot read {}", a.input.display()))?;
    if a.list_layers {
        let mut model = onnx::decode_model(&bytes).with_context(|| a.input.display().to_string())?;
        let graph = model.graph.as_mut().context("model has no graph")?;
        compress::graph::promote_constants(graph);
        compress::graph::fold_batch_norms(graph)?;
        let (found, warnings) = layers::find_layers(graph)?;
        for l in &found {
            println!(
                "{:<48} {:<7} {:<11} {:?}",
                l.name,
                format!("{:?}", l.op),
                format!("{:?}", l.role),
                l.dims
            );
        }
        for w in warnings {
            eprintln!("warning: {w}");
        }
        return Ok(());
    }
    if !a.sensitivity {
        check_writable(a.output.as_deref().context("--output is required")?)?;
    }
    let (prune, bits) = match &a.prune_plan {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read the prune plan {}", p.display()))?;
            (PrunePlan::from_json(&text)?, Bits::from_json(&text)?)
        }
        None => (PrunePlan::global(a.prune)?, Bits::default()),
    };
    let manifest = match &a.manifest {
        Some(p) => Some(
            serde_json::from_str(
                &std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read the manifest {}", p.display()))?,
            )
            .with_context(|| format!("the manifest {} is not valid JSON", p.display()))?,
        ),
        None => None,
    };
    let vocab = match &a.vocab {
        Some(p) => Some(compress::vocab::parse(
            &std::fs::read_to_string(p)
                .with_context(|| format!("cannot read the vocabulary {} (UTF-8 text)", p.display()))?,
        )?),
        None => None,
    };
    let opts = Options {
        prune,
        bits,
        quantize: matches!(a.quant, Quant::Int8),
        per_channel: !a.per_tensor,
        scheme: if a.asymmetric { Scheme::Asymmetric } else { Scheme::Symmetric },
        huffman: !a.no_huffman,
        max_code_len: a.max_code_len,
        gap_bits: a.gap_bits,
        keep: a.keep.clone(),
        manifest,
        calib: a.calib.as_ref().map(|dir| Calibration {
            dir: dir.clone(),
            method: match a.calib_method {
                CalibMethod::Minmax => Method::MinMax,
                CalibMethod::Percentile => Method::Percentile(a.calib_percentile),
                CalibMethod::Entropy => Method::Entropy,
            },
            count: if a.sensitivity { a.sensitivity_count } else { a.calib_count },
        }),
        vocab,
        gptq: a.gptq.as_ref().map(|dir| compress::gptq::Settings {
            dir: dir.clone(),
            count: a.gptq_count,
            damp: a.gptq_damp,
        }),
        op_list: !a.onnx_graph,
    };
    let _ = (a.per_channel, a.symmetric);
    let mut bars = Bars { bar: None };
    if a.sensitivity {
        let calib = opts.calib.as_ref().context("--sensitivity needs --calib")?;
        let rows = compress::sensitivity(&bytes, &opts, calib, &mut bars)
            .with_context(|| format!("measuring {}", a.input.display()))?;
        if let Some(b) = bars.bar.take() {
            b.finish_and_clear();
        }
        if a.json {
            println!("{}", serde_json::to_string_pretty(&rows)?);
            return Ok(());
        }
        print_sensitivity(&rows);
        return Ok(());
    }
    let output = a.output.clone().context("--output is required")?;
    let (slim, report) = compress::compress(&bytes, &opts, &mut bars)
        .with_context(|| format!("compressing {}", a.input.display()))?;
    if let Some(b) = bars.bar.take() {
        b.finish_and_clear();
    }
    slimscan::format::write_atomic(&output, &slim)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    if let Some(v) = &report.vocab {
        println!(
            "vocabulary: {} of {} output classes kept (classifier {})",
            v.classes_after, v.classes_before, v.classifier
        );
    }
    println!(
        "{} → {}: {} → {} bytes ({:.1}x smaller), {} layers compressed, overall sparsity {:.1} %{}",
        a.input.display(),
        output.display(),
        report.original_bytes,
        report.slim_bytes,
        report.reduction,
        report.layers.len(),
        report.overall_sparsity * 100.0,
        if report.folded_batch_norms > 0 {
            format!(", {} BatchNorms folded", report.folded_batch_norms)
        } else {
            String::new()
        }
    );
    Ok(())
}

fn print_sensitivity(rows: &[compress::sensitivity::Row]) {
    let Some(first) = rows.first() else {
        println!("no compressible layers");
        return;
    };
    print!("{:<40} {:<10} {:>9}", "layer", "role", "weights");
    for s in &first.sparsities {
        print!(" {:>8}", format!("{:.0}%", s * 100.0));
    }
    for b in &first.bits {
        print!(" {:>8}", format!("{b} bit"));
    }
    println!();
    for r in rows {
        print!("{:<40} {:<10} {:>9}", r.name, format!("{:?}", r.role).to_lowercase(), r.weights);
        for e in r.errors.iter().chain(&r.bit_errors) {
            print!(" {:>8}", format!("{:.2}%", e * 100.0));
        }
        println!();
    }
    println!(
        "\nrelative output error ‖y − y_f32‖/‖y_f32‖ of each layer alone, pruned to the column's sparsity \
         and quantized as `compress` would (8-bit; the bit columns: unpruned, fewer bits); write a \
         --prune-plan from it: {{\"default\": 0.8, \"layers\": {{\"name\": 0.5}}, \"bits\": {{\"name\": 6}}}}"
    );
}

/// `slimscan lower`: a format 1.0 `.slim` rewritten with its graph as an op list.
pub fn lower(input: &std::path::Path, output: &std::path::Path, input_shape: Option<&str>) -> Result<()> {
    let bytes = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let hint = match input_shape {
        Some(s) => Some(vec![s
            .split('x')
            .map(|d| {
                d.trim().parse::<usize>().with_context(|| format!("--input-shape {s:?}: not like 1x3x48x320"))
            })
            .collect::<Result<Vec<_>>>()?]),
        None => None,
    };
    let (slim, check) = slimscan::compress::lower_graph(&bytes, None, hint.as_deref())
        .with_context(|| format!("lowering {}", input.display()))?;
    slimscan::format::write_atomic(output, &slim)?;
    eprintln!(
        "{}: {} -> {} bytes, op list checked against tract on inputs {:?}: max relative difference {:.1e}",
        output.display(),
        bytes.len(),
        slim.len(),
        check.shapes,
        check.max_relative_error
    );
    Ok(())
}
