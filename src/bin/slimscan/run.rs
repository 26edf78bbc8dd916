//! `slimscan run` (one inference from .npy to .npy) and `slimscan bench` (native timing of a
//! model: load time, then the median of repeated runs).

use anyhow::{bail, Context, Result};
use clap::Args as ClapArgs;
use slimscan::engine::{F32Tensor, Model};
use slimscan::npy;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(ClapArgs)]
pub struct RunArgs {
    /// The model: a .slim file (compressed layers on the int8 kernels) or an .onnx file
    /// (tract f32).
    model: PathBuf,
    /// Input tensor as .npy (f32, f64, u8 or i8; read as f32). Repeat for several inputs.
    #[arg(long, required = true)]
    input: Vec<PathBuf>,
    /// Where to write the first output (.npy, f32); with several outputs, the others go to
    /// OUT.1.npy, OUT.2.npy, ...
    #[arg(short, long)]
    output: Option<PathBuf>,
}

#[derive(ClapArgs)]
pub struct BenchArgs {
    /// The model (.slim or .onnx).
    model: PathBuf,
    /// Input shape, e.g. 1,3,224,224 (default: the model's own fixed shape).
    #[arg(long, value_delimiter = ',')]
    shape: Option<Vec<usize>>,
    /// Timed runs after one warm-up run.
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn load(path: &Path) -> Result<(Model, f64)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let t = Instant::now();
    let model = Model::load(&bytes).with_context(|| format!("loading {}", path.display()))?;
    Ok((model, t.elapsed().as_secs_f64() * 1e3))
}

pub fn run(args: RunArgs) -> Result<()> {
    let (mut model, _) = load(&args.model)?;
    let inputs = args
        .input
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            let a = npy::read(&bytes).with_context(|| format!("reading {}", p.display()))?;
            Ok(F32Tensor::new(a.shape, a.data)?)
        })
        .collect::<Result<Vec<_>>>()?;
    let outputs = model.run(inputs)?;
    for (i, o) in outputs.iter().enumerate() {
        let (min, max) =
            o.data.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        let argmax = o.data.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i);
        let name = model.info().outputs.get(i).map_or("?", |p| p.name.as_str());
        println!("output {i} ({name}): shape {:?}, min {min:.6}, max {max:.6}, argmax {argmax}", o.shape);
        if let Some(out) = &args.output {
            let path = if i == 0 { out.clone() } else { out.with_extension(format!("{i}.npy")) };
            let bytes = npy::write(&npy::Array { shape: o.shape.clone(), data: o.data.clone() })?;
            std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(())
}

pub fn bench(args: BenchArgs) -> Result<()> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let (mut model, load_ms) = load(&args.model)?;
    let shape = match args.shape {
        Some(s) => s,
        None => model
            .fixed_input_shapes()
            .and_then(|s| s.into_iter().next())
            .context("the model's input shape is not fixed; pass --shape, e.g. --shape 1,3,640,640")?,
    };
    let n: usize = shape.iter().product();
    // A deterministic, image-like input: values in about ±2 (normalised pixels).
    let data: Vec<f32> = (0..n).map(|i| ((i * 2654435761) % 1000) as f32 / 250.0 - 2.0).collect();
    let input = || F32Tensor::new(shape.clone(), data.clone());
    let t = Instant::now();
    model.run(vec![input()?])?;
    let first_ms = t.elapsed().as_secs_f64() * 1e3;
    let mut times = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        let x = input()?;
        let t = Instant::now();
        model.run(vec![x])?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let info = model.info();
    if args.json {
        let v = serde_json::json!({
            "model": args.model.display().to_string(),
            "shape": shape,
            "load_ms": load_ms,
            "first_run_ms": first_ms,
            "median_ms": median,
            "min_ms": times[0],
            "runs": args.runs,
            "info": info,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("model      {} ({:?}, {} bytes)", args.model.display(), info.kind, info.file_bytes);
        println!(
            "layers     {} Slim ({} sparse), sparsity {:.1} %, packed weights {} bytes, f32 constants {} bytes",
            info.slim_layers,
            info.sparse_layers,
            info.sparsity * 100.0,
            info.packed_weight_bytes,
            info.f32_constant_bytes
        );
        println!("input      {shape:?}");
        println!("load       {load_ms:.1} ms (decode + pack + graph + plan)");
        println!("first run  {first_ms:.1} ms");
        println!("median     {median:.2} ms over {} runs (min {:.2} ms)", args.runs, times[0]);
    }
    Ok(())
}
