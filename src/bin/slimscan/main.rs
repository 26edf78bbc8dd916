//! `slimscan`: the native command-line tool.
//!
//! - `slimscan compress IN.onnx -o OUT.slim [--prune F | --prune-plan P] ...`: ONNX → .slim.
//! - `slimscan inspect M.slim [--json]`: where every byte of a `.slim` file goes.
//! - `slimscan run M.slim|M.onnx --input X.npy -o Y.npy`: one inference.
//! - `slimscan bench M.slim|M.onnx [--shape 1,3,224,224]`: load time and median run time.
//! - `slimscan scan IMAGE [--json] [--original]`: the text of a page or photo (OCR).
//! - `slimscan eval ocr --set DIR [--original]`: character and word accuracy over a set.
//! - `slimscan serve [--port 8080] [--www www] [--pkg pkg] [--models models]`: serves the web app.

mod compress;
mod eval_scan;
mod inspect;
mod run;
mod scan;
mod serve;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "slimscan",
    version,
    about = "Compressed neural networks for an in-browser document scanner"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compress an ONNX model into a .slim file: prune, quantize to int8, Huffman-code.
    Compress(compress::Args),
    /// Show the contents of a .slim file: sections, tensors, encodings, bits per weight.
    Inspect {
        /// The .slim file.
        file: PathBuf,
        /// Print JSON (stable; schema: docs/INSPECT.md) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Rewrite a .slim written before format 1.1 (its graph stored as ONNX) with the graph as
    /// an op list, which the browser's small runtime needs; the weights are not touched.
    Lower {
        /// The .slim file to read.
        input: PathBuf,
        /// Where to write the result.
        #[arg(short, long)]
        output: PathBuf,
        /// A typical input shape (e.g. 1x3x48x320), for dimensions the graph cannot leave
        /// open, such as a text recogniser's line height.
        #[arg(long)]
        input_shape: Option<String>,
    },
    /// Run a model (.slim or .onnx) on .npy inputs and write its outputs as .npy.
    Run(run::RunArgs),
    /// Time a model natively: load, one warm-up run, then the median of --runs runs.
    Bench(run::BenchArgs),
    /// Scan a photo (PNG/JPEG): page, document type, barcodes and QR codes, text, form fields.
    Scan(scan::ScanArgs),
    /// Measure accuracy and speed on a labelled set.
    #[command(subcommand)]
    Eval(Eval),
    /// Serve the web app (www/ at /, the wasm package at /pkg/, models at /models/) on localhost.
    Serve {
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Address to bind; loopback by default.
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        #[arg(long, default_value = "www")]
        www: PathBuf,
        #[arg(long, default_value = "pkg")]
        pkg: PathBuf,
        /// The models folder, served at /models/ (.slim and .onnx files only).
        #[arg(long, default_value = "models")]
        models: PathBuf,
        /// Send Cross-Origin-Opener/Embedder-Policy headers (needed for wasm threads).
        #[arg(long)]
        isolate: bool,
    },
}

#[derive(Subcommand)]
enum Eval {
    /// OCR: character accuracy (1 − CER), word accuracy and lines/s over manifest.tsv sets.
    Ocr(scan::EvalOcrArgs),
    /// The scan pipeline on a scene set: type, page, text, codes and form fields per type.
    Scan(eval_scan::EvalScanArgs),
}

/// `slimscan inspect m.slim | head` should stop quietly when `head` exits, as Unix tools do,
/// instead of panicking on the failed write: restore the default SIGPIPE action that the
/// Rust runtime replaces with "ignore".
fn die_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    die_quietly_on_closed_pipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Compress(args) => compress::run(args),
        Command::Inspect { file, json } => inspect::run(&file, json),
        Command::Lower { input, output, input_shape } => {
            compress::lower(&input, &output, input_shape.as_deref())
        }
        Command::Run(args) => run::run(args),
        Command::Bench(args) => run::bench(args),
        Command::Scan(args) => scan::scan(args),
        Command::Eval(Eval::Ocr(args)) => scan::eval_ocr(args),
        Command::Eval(Eval::Scan(args)) => eval_scan::eval_scan(args),
        Command::Serve { port, bind, www, pkg, models, isolate } => {
            serve::run(&serve::Options { port, bind, www, pkg, models, isolate })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("slimscan: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
