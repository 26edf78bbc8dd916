//! Small committed models and their native outputs (tests/fixtures/), shared with the wasm
//! tests (tests/wasm/engine.test.mjs), which check that the wasm build computes the same bits.
//!
//! The fixtures are made from the in-code sample model; this test rebuilds them and fails if
//! the committed files differ. After an intended change, regenerate them with
//! `SLIMSCAN_BLESS=1 cargo test --features cli --test engine_fixtures`.

use slimscan::compress::plan::PrunePlan;
use slimscan::compress::sample::{tiny_cnn, TINY_INPUT};
use slimscan::compress::{compress, Options, Silent};
use slimscan::engine::{F32Tensor, Model};
use slimscan::npy;
use slimscan::synth::SplitMix64;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn input() -> npy::Array {
    let mut r = SplitMix64::new(2024);
    let n: usize = TINY_INPUT.iter().product();
    npy::Array { shape: TINY_INPUT.to_vec(), data: (0..n).map(|_| r.next_signed() * 2.0).collect() }
}

fn run(model: &[u8], x: &npy::Array) -> npy::Array {
    let mut m = Model::load(model).unwrap();
    let out = m.run(vec![F32Tensor::new(x.shape.clone(), x.data.clone()).unwrap()]).unwrap();
    npy::Array { shape: out[0].shape.clone(), data: out[0].data.clone() }
}

#[test]
fn fixtures_are_current() {
    let onnx = tiny_cnn(7);
    let dense = compress(&onnx, &Options::default(), &mut Silent).unwrap().0;
    let sparse =
        compress(&onnx, &Options { prune: PrunePlan::Global(0.9), ..Options::default() }, &mut Silent)
            .unwrap()
            .0;
    let x = input();
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("tiny_cnn.onnx", onnx.clone()),
        ("tiny_cnn.slim", dense.clone()),
        ("tiny_cnn_p90.slim", sparse.clone()),
        ("input.npy", npy::write(&x).unwrap()),
        ("tiny_cnn.slim.out.npy", npy::write(&run(&dense, &x)).unwrap()),
        ("tiny_cnn_p90.slim.out.npy", npy::write(&run(&sparse, &x)).unwrap()),
    ];
    let bless = std::env::var_os("SLIMSCAN_BLESS").is_some();
    let mut stale = Vec::new();
    for (name, bytes) in files {
        let path = dir().join(name);
        if bless {
            std::fs::create_dir_all(dir()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        } else {
            let committed = std::fs::read(&path).unwrap_or_default();
            if name.ends_with(".out.npy") {
                // Outputs: f32 parts of the graph run on tract's kernels for this CPU, which
                // may round differently from the machine that wrote them; the wasm test
                // checks its own outputs against these bit for bit.
                let (want, got) = (npy::read(&committed), npy::read(&bytes).unwrap());
                let close = want.is_ok_and(|w| {
                    w.shape == got.shape
                        && w.data.iter().zip(&got.data).all(|(a, b)| (a - b).abs() <= 1e-5 * (1.0 + a.abs()))
                });
                if !close {
                    stale.push(name);
                }
            } else if committed != bytes {
                stale.push(name);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "fixtures differ from what the code produces now: {stale:?}; if the change is intended, run \
         SLIMSCAN_BLESS=1 cargo test --features cli --test engine_fixtures"
    );
}
