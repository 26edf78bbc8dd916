//! Where a model's time goes: runs it on an input of the given shape (a fixed pseudo-random
//! pattern) and prints the time per operator kind, median of the runs, plus plan building.
//!
//! ```text
//! cargo run --release --features cli --example profile -- models/ppocr_rec.slim 1x3x48x960 [RUNS]
//! ```

use anyhow::{bail, Context, Result};
use slimscan::engine::{F32Tensor, Model};
use std::time::Instant;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, shape, runs) = match &args[..] {
        [p, s] => (p, s, 5),
        [p, s, r] => (p, s, r.parse().context("RUNS")?),
        _ => bail!("usage: profile MODEL SHAPE(e.g. 1x3x48x960) [RUNS]"),
    };
    let shape: Vec<usize> = shape.split('x').map(str::parse).collect::<Result<_, _>>().context("SHAPE")?;
    let n: usize = shape.iter().product();
    let data: Vec<f32> = (0..n).map(|i| ((i * 2654435761usize) % 1000) as f32 / 500.0 - 1.0).collect();
    let input = || F32Tensor::new(shape.clone(), data.clone());
    let t = Instant::now();
    let mut model = Model::load(&std::fs::read(path).context("reading the model")?)?;
    println!("load {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    let t = Instant::now();
    model.run(vec![input()?])?;
    println!("first run (plan + run) {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    // A second shape (last dimension 32 wider): planning again, unless one plan serves all.
    let mut other = shape.clone();
    if let Some(last) = other.last_mut() {
        *last += 32;
    }
    let n2: usize = other.iter().product();
    let t = Instant::now();
    model.run(vec![F32Tensor::new(other.clone(), vec![0.5; n2])?])?;
    println!("first run of {other:?} {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    let mut totals = Vec::new();
    let mut per: std::collections::BTreeMap<String, (Vec<f64>, usize)> = Default::default();
    for _ in 0..runs {
        let t = Instant::now();
        model.run(vec![input()?])?;
        totals.push(t.elapsed().as_secs_f64() * 1e3);
        for (k, ms, nodes) in model.profile(vec![input()?], std::env::var_os("BY_NODE").is_some())? {
            let e = per.entry(k).or_default();
            e.0.push(ms);
            e.1 = nodes;
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!("run median {:.1} ms over {runs}", median(&mut totals));
    let mut rows: Vec<(String, f64, usize)> =
        per.into_iter().map(|(k, (mut v, n))| (k, median(&mut v), n)).collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    let sum: f64 = rows.iter().map(|r| r.1).sum();
    for (k, ms, n) in rows {
        println!("{ms:8.2} ms {:5.1} %  {n:4} × {k}", 100.0 * ms / sum);
    }
    Ok(())
}
