//! Calibration data: a folder of images or `.npy` tensors, turned into model inputs, run
//! through the f32 model with tract while the input of every compressible layer is
//! captured. The activation quantizers (`input_scale` / `input_zero_point`, docs/FORMAT.md
//! §7) come from observers fed with those captures; `--sensitivity` reuses the captures.
//!
//! Image preprocessing (documented in README, "Calibration"): decode, resize so the shorter
//! side fits the model's input, centre-crop to it (or, with `"resize": "height"` in the
//! manifest, as OCR recognisers take text lines: scale to the input height keeping the aspect
//! ratio, left-aligned, the rest of the width zero after normalisation, longer lines cut at
//! the input width), scale pixels by `scale` (default 1/255),
//! subtract `mean` and divide by `std` per channel (default ImageNet), channel order `RGB`
//! unless the manifest says `BGR`; NCHW or NHWC from where the model's 3 (or 1) channels
//! sit. The manifest may fix `input_size: [H, W]` for models with free spatial dims.

use crate::error::{Error, Result};
use crate::quant::{EntropyObserver, MinMaxObserver, Observer, PercentileObserver, QuantParams, Scheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tract_onnx::pb;
use tract_onnx::prelude::*;

/// The calibration method of `--calib-method`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    MinMax,
    /// Clip at this percentile of |x| (99.99 by default).
    Percentile(f64),
    /// KL-divergence-optimal clipping (TensorRT's entropy calibration).
    Entropy,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::MinMax => "minmax",
            Method::Percentile(_) => "percentile",
            Method::Entropy => "entropy",
        }
    }
    fn observer(self) -> Result<Box<dyn Observer + Send + Sync>> {
        Ok(match self {
            Method::MinMax => Box::new(MinMaxObserver::new()),
            Method::Percentile(p) => Box::new(PercentileObserver::new(p)?),
            Method::Entropy => Box::new(EntropyObserver::new()),
        })
    }
}

/// Largest image side accepted, and the decoder's allocation cap.
const MAX_IMAGE_SIDE: u32 = 16_384;
const MAX_IMAGE_ALLOC: u64 = 512 << 20;
/// Largest `.npy` sample read.
const MAX_NPY_BYTES: u64 = 1 << 30;

fn calib_err(msg: impl Into<String>) -> Error {
    Error::InvalidArgument(format!("calibration: {}", msg.into()))
}

fn is_image(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref(),
        Some("jpg" | "jpeg" | "png")
    )
}

fn is_npy(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("npy"))
}

/// The first `count` samples of `dir` in name order (images `.jpg/.jpeg/.png` and `.npy`).
pub fn list_samples(dir: &Path, count: usize) -> Result<Vec<PathBuf>> {
    if count == 0 {
        return Err(calib_err("--calib-count must be at least 1"));
    }
    let entries = std::fs::read_dir(dir)
        .map_err(|e| calib_err(format!("cannot read the folder {}: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && (is_image(p) || is_npy(p)))
        .collect();
    if files.is_empty() {
        return Err(calib_err(format!(
            "{} holds no calibration samples (.jpg, .jpeg, .png or .npy files)",
            dir.display()
        )));
    }
    files.sort();
    files.truncate(count);
    Ok(files)
}

/// Where the channels of a rank-4 image input sit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Layout {
    Nchw,
    Nhwc,
}

/// How a sample becomes the model's one input.
#[derive(Debug, Clone)]
pub struct InputSpec {
    pub name: String,
    /// Concrete shape (batch 1).
    pub shape: Vec<usize>,
    pub layout: Layout,
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    pub scale: f32,
    pub bgr: bool,
    /// `"resize": "height"`: keep the aspect ratio at the input height, pad (or cut) the width.
    pub fit_height: bool,
}

impl InputSpec {
    fn channels(&self) -> usize {
        match self.layout {
            Layout::Nchw => self.shape[1],
            Layout::Nhwc => self.shape[3],
        }
    }
    fn hw(&self) -> (usize, usize) {
        match self.layout {
            Layout::Nchw => (self.shape[2], self.shape[3]),
            Layout::Nhwc => (self.shape[1], self.shape[2]),
        }
    }
}

fn floats(v: Option<&serde_json::Value>, key: &str, default: &[f32]) -> Result<Vec<f32>> {
    match v {
        None => Ok(default.to_vec()),
        Some(serde_json::Value::Number(n)) => Ok(vec![n.as_f64().unwrap_or(0.0) as f32]),
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_f64()
                    .map(|f| f as f32)
                    .ok_or_else(|| calib_err(format!("manifest {key} is not numeric")))
            })
            .collect(),
        Some(_) => Err(calib_err(format!("manifest {key} must be a number or a list of numbers"))),
    }
}

/// Reads the model's single graph input (initializers excluded) and the manifest.
pub fn input_spec(model: &pb::ModelProto, manifest: Option<&serde_json::Value>) -> Result<InputSpec> {
    let g = model.graph.as_ref().ok_or_else(|| calib_err("model has no graph"))?;
    let inputs = crate::onnx::fed_inputs(g);
    let [input] = inputs[..] else {
        return Err(calib_err(format!("the model has {} inputs; calibration supports one", inputs.len())));
    };
    let dims: Vec<Option<usize>> = crate::onnx::declared_dims(input)
        .into_iter()
        .map(|d| match d {
            crate::onnx::DeclaredDim::Fixed(v) if v > 0 => Some(v as usize),
            _ => None,
        })
        .collect();
    let get = |k: &str| manifest.and_then(|m| m.get(k));
    if dims.len() != 4 {
        return Err(calib_err(format!(
            "input {:?} has rank {}; image calibration needs N×C×H×W or N×H×W×C (use .npy samples)",
            input.name,
            dims.len()
        )));
    }
    let is_c = |d: Option<usize>| matches!(d, Some(1 | 3));
    let layout = if is_c(dims[1]) {
        Layout::Nchw
    } else if is_c(dims[3]) {
        Layout::Nhwc
    } else {
        return Err(calib_err(format!(
            "cannot tell where the channels of input {:?} are: {dims:?}",
            input.name
        )));
    };
    let size = floats(get("input_size"), "input_size", &[])?;
    let (hi, wi, ci) = if layout == Layout::Nchw { (2, 3, 1) } else { (1, 2, 3) };
    let mut shape = vec![1usize; 4];
    shape[ci] = dims[ci].unwrap_or(3);
    for (k, axis) in [hi, wi].into_iter().enumerate() {
        shape[axis] = match (size.get(k), dims[axis]) {
            (Some(&s), _) if s >= 1.0 => s as usize,
            (_, Some(d)) => d,
            _ => {
                return Err(calib_err(format!(
                    "input {:?} has no fixed height/width; give \"input_size\": [H, W] in --manifest",
                    input.name
                )))
            }
        };
    }
    let c = shape[ci];
    let (mean_d, std_d): (Vec<f32>, Vec<f32>) =
        if c == 3 { (vec![0.485, 0.456, 0.406], vec![0.229, 0.224, 0.225]) } else { (vec![0.5], vec![0.5]) };
    let mean = floats(get("mean"), "mean", &mean_d)?;
    let std = floats(get("std"), "std", &std_d)?;
    if mean.len() != c || std.len() != c || std.iter().any(|&s| s == 0.0 || !s.is_finite()) {
        return Err(calib_err(format!("manifest mean/std must have {c} entries and std must be non-zero")));
    }
    let scale = floats(get("scale"), "scale", &[1.0 / 255.0])?.first().copied().unwrap_or(1.0 / 255.0);
    let bgr = get("channel_order").and_then(|v| v.as_str()).is_some_and(|s| s.eq_ignore_ascii_case("bgr"));
    let fit_height = match get("resize").map(|v| v.as_str()) {
        None | Some(Some("cover")) => false,
        Some(Some("height")) => true,
        Some(_) => return Err(calib_err("manifest resize must be \"cover\" or \"height\"")),
    };
    Ok(InputSpec { name: input.name.clone(), shape, layout, mean, std, scale, bgr, fit_height })
}

/// One sample as the model's input tensor (row-major, `spec.shape`).
pub fn load_sample(path: &Path, spec: &InputSpec) -> Result<Vec<f32>> {
    let shown = path.display();
    let len = std::fs::metadata(path).map_err(|e| calib_err(format!("{shown}: {e}")))?.len();
    if is_npy(path) {
        if len > MAX_NPY_BYTES {
            return Err(calib_err(format!("{shown} is {len} bytes, over the 1 GiB limit")));
        }
        let bytes = std::fs::read(path).map_err(|e| calib_err(format!("{shown}: {e}")))?;
        let a = crate::npy::read(&bytes).map_err(|e| calib_err(format!("{shown}: {e}")))?;
        let squeeze = |s: &[usize]| s.iter().copied().filter(|&d| d != 1).collect::<Vec<_>>();
        if squeeze(&a.shape) != squeeze(&spec.shape) {
            return Err(calib_err(format!(
                "{shown} has shape {:?}, the model's input {:?} is {:?}",
                a.shape, spec.name, spec.shape
            )));
        }
        return Ok(a.data);
    }
    let reader = image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| calib_err(format!("{shown}: {e}")))?;
    let mut reader = reader;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_IMAGE_ALLOC);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| calib_err(format!("{shown} is not a readable image: {e}")))?;
    let (h, w) = spec.hw();
    let (iw, ih) = (img.width().max(1) as f64, img.height().max(1) as f64);
    let (cropped, filled) = if spec.fit_height {
        // Height h, aspect kept, left-aligned; cut at w.
        let rw = ((iw * h as f64 / ih).round() as u32).max(1);
        let resized = img.resize_exact(rw, h as u32, image::imageops::FilterType::Triangle);
        let kept = rw.min(w as u32);
        (resized.crop_imm(0, 0, kept, h as u32), kept as usize)
    } else {
        // Resize so the image covers h×w, then centre-crop.
        let f = (w as f64 / iw).max(h as f64 / ih);
        let (rw, rh) = (((iw * f).round() as u32).max(w as u32), ((ih * f).round() as u32).max(h as u32));
        let resized = img.resize_exact(rw, rh, image::imageops::FilterType::Triangle);
        (resized.crop_imm((rw - w as u32) / 2, (rh - h as u32) / 2, w as u32, h as u32), w)
    };
    let c = spec.channels();
    let pixels: Vec<u8> = if c == 1 { cropped.to_luma8().into_raw() } else { cropped.to_rgb8().into_raw() };
    let mut out = vec![0f32; c * h * w];
    for y in 0..h {
        for x in 0..filled {
            for ch in 0..c {
                let src = if spec.bgr && c == 3 { 2 - ch } else { ch };
                let v = f32::from(pixels[(y * filled + x) * c + src]) * spec.scale;
                let v = (v - spec.mean[ch]) / spec.std[ch];
                let at = match spec.layout {
                    Layout::Nchw => (ch * h + y) * w + x,
                    Layout::Nhwc => (y * w + x) * c + ch,
                };
                out[at] = v;
            }
        }
    }
    Ok(out)
}

fn tract_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Onnx(format!("{what}: {e:#}"))
}

/// The f32 model, runnable with tract, returning the values of chosen wires.
pub struct Capture {
    plan: Arc<TypedRunnableModel>,
    /// For each requested wire: its output index, or `None` when it is the graph input.
    slots: Vec<Option<usize>>,
    shape: Vec<usize>,
}

impl Capture {
    /// Loads `model` (plain ONNX ops only) with its input fixed to `spec.shape`, returning the
    /// values of `wires` on each run.
    pub fn new(model: &pb::ModelProto, spec: &InputSpec, wires: &[String]) -> Result<Capture> {
        let load = |e| tract_err("calibration runs the model with tract, which could not load it", e);
        let mut m = tract_onnx::onnx().model_for_proto_model(model).map_err(load)?;
        m = m.with_input_fact(0, f32::fact(&spec.shape).into()).map_err(load)?;
        let mut outlets = Vec::new();
        let mut slots = Vec::new();
        for w in wires {
            if *w == spec.name {
                slots.push(None);
                continue;
            }
            let outlet = m
                .find_outlet_label(w)
                .or_else(|| m.node_by_name(w).ok().map(|n| OutletId::new(n.id, 0)))
                .ok_or_else(|| Error::Onnx(format!("calibration: no value named {w:?} in the model")))?;
            slots.push(Some(outlets.len()));
            outlets.push(outlet);
        }
        m.select_output_outlets(&outlets).map_err(load)?;
        let plan = m.into_optimized().and_then(|m| m.into_runnable()).map_err(load)?;
        Ok(Capture { plan, slots, shape: spec.shape.clone() })
    }

    /// Runs one input; returns each wire's value and shape.
    pub fn run(&self, input: &[f32]) -> Result<Vec<(Vec<usize>, Vec<f32>)>> {
        let t = Tensor::from_shape(&self.shape, input).map_err(|e| tract_err("calibration input", e))?;
        let outs = self.plan.run(tvec![t.into()]).map_err(|e| tract_err("running the model", e))?;
        let mut res = Vec::with_capacity(self.slots.len());
        for slot in &self.slots {
            res.push(match slot {
                None => (self.shape.clone(), input.to_vec()),
                Some(i) => {
                    let v =
                        outs[*i].to_plain_array_view::<f32>().map_err(|e| tract_err("captured value", e))?;
                    (v.shape().to_vec(), v.iter().copied().collect())
                }
            });
        }
        Ok(res)
    }
}

/// Per-tensor int8 quantizers (asymmetric, zero point in −128..=127) for each wire, from
/// `method` over all samples.
pub fn calibrate_wires(
    capture: &Capture,
    samples: &[PathBuf],
    spec: &InputSpec,
    method: Method,
    wires: usize,
    mut on_sample: impl FnMut(),
) -> Result<Vec<Option<QuantParams>>> {
    let mut observers: Vec<Box<dyn Observer + Send + Sync>> =
        (0..wires).map(|_| method.observer()).collect::<Result<_>>()?;
    for s in samples {
        let x = load_sample(s, spec)?;
        for (obs, (_, v)) in observers.iter_mut().zip(capture.run(&x)?) {
            obs.observe(&v);
        }
        on_sample();
    }

    // The entropy (KL) search dominates calibration time: spread the wires over the cores.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(observers.len().max(1));
    let per = observers.len().div_ceil(threads).max(1);
    let params = std::thread::scope(|scope| {
        let jobs: Vec<_> = observers
            .chunks(per)
            .map(|chunk| {
                scope.spawn(move || chunk.iter().map(|o| o.params(Scheme::Asymmetric)).collect::<Vec<_>>())
            })
            .collect();
        jobs.into_iter().map(|j| j.join()).collect::<std::result::Result<Vec<_>, _>>()
    })
    .map_err(|_| calib_err("a calibration thread failed"))?;
    Ok(params.into_iter().flatten().collect())
}
