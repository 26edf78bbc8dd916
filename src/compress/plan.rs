//! How much each layer is pruned.
//!
//! - `--prune S` ([`PrunePlan::Global`]): the sensitivity-aware default. Deep Compression
//!   prunes `|w| < θ_l` with a per-layer threshold `θ_l = q × std_l`; we choose the one
//!   quality factor `q` that zeroes exactly `round(S × total)` of all prunable weights. Layers
//!   whose role is First, Depthwise or Classifier use `θ_l = q × std_l / 2`
//!   ([`SENSITIVE_FACTOR`]), so they lose far fewer weights, and the body makes up the
//!   difference. Normalising by each layer's std keeps layers with small weights (large
//!   fan-in) from being wiped out, as a raw global magnitude threshold would.
//! - `--prune-plan PLAN.json` ([`PrunePlan::PerLayer`]): explicit per-layer sparsities,
//!   `{"default": 0.5, "layers": {"node_name": 0.9, ...}}` (or just the `layers` object);
//!   names that match no compressible layer are an error.
//!
//! A plan file may also lower the weight precision of chosen layers ([`Bits`]):
//! `"default_bits": 8, "bits": {"node_name": 6}` quantizes those layers symmetrically to
//! `±(2^(b−1) − 1)` (b = 2..=8) with the scale `max |w| / (2^(b−1) − 1)`. The codes are still
//! stored as int8 — the container and the kernels do not change — but fewer distinct values
//! make the Huffman-coded stream shorter (about one bit per weight per bit dropped).

use super::layers::{Layer, Role};
use crate::error::{Error, Result};
use crate::sparse::{prune_global, prune_magnitude};
use std::collections::BTreeMap;

/// How much more a sensitive layer's weights count than a body layer's of the same relative size.
pub const SENSITIVE_FACTOR: f32 = 2.0;

/// Standard deviation of a layer's weights around zero (their RMS).
fn layer_std(w: &[f32]) -> f32 {
    if w.is_empty() {
        return 0.0;
    }
    let ss: f64 = w.iter().filter(|x| x.is_finite()).map(|&x| f64::from(x) * f64::from(x)).sum();
    (ss / w.len() as f64).sqrt() as f32
}

#[derive(Debug, Clone, PartialEq)]
pub enum PrunePlan {
    None,
    Global(f64),
    PerLayer { default: f64, layers: BTreeMap<String, f64> },
}

fn check_fraction(what: &str, s: f64) -> Result<f64> {
    if (0.0..=1.0).contains(&s) {
        Ok(s)
    } else {
        Err(Error::InvalidArgument(format!("{what}: sparsity {s} is outside 0..=1")))
    }
}

impl PrunePlan {
    /// `--prune S`; 0 means no pruning.
    pub fn global(s: f64) -> Result<PrunePlan> {
        Ok(if check_fraction("--prune", s)? == 0.0 { PrunePlan::None } else { PrunePlan::Global(s) })
    }

    /// Parses a plan file.
    pub fn from_json(text: &str) -> Result<PrunePlan> {
        let bad = |e: String| Error::InvalidArgument(format!("prune plan: {e}"));
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let obj = v.as_object().ok_or_else(|| bad("expected a JSON object".into()))?;
        // The structured form has any of these keys; otherwise the object is the layer map.
        let structured = ["layers", "default", "bits", "default_bits"].iter().any(|k| obj.contains_key(*k));
        let empty = serde_json::Value::Object(serde_json::Map::new());
        let (default, layers_v) = if structured {
            (obj.get("default").map_or(Some(0.0), |d| d.as_f64()), obj.get("layers").unwrap_or(&empty))
        } else {
            (Some(0.0), &v)
        };
        let default =
            check_fraction("default", default.ok_or_else(|| bad("\"default\" is not a number".into()))?)?;
        let mut layers = BTreeMap::new();
        for (name, s) in layers_v.as_object().ok_or_else(|| bad("\"layers\" is not an object".into()))? {
            let s = s.as_f64().ok_or_else(|| bad(format!("sparsity of {name:?} is not a number")))?;
            layers.insert(name.clone(), check_fraction(name, s)?);
        }
        Ok(PrunePlan::PerLayer { default, layers })
    }

    /// For META.
    pub fn describe(&self) -> serde_json::Value {
        match self {
            PrunePlan::None => serde_json::json!({ "mode": "none" }),
            PrunePlan::Global(s) => serde_json::json!({ "mode": "global-sensitivity-aware", "sparsity": s }),
            PrunePlan::PerLayer { default, layers } => {
                serde_json::json!({ "mode": "plan", "default": default, "layers": layers })
            }
        }
    }
}

/// Weight precision per layer (symmetric quantization only): `default` bits unless `layers`
/// names the layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Bits {
    pub default: u32,
    pub layers: BTreeMap<String, u32>,
}

impl Default for Bits {
    fn default() -> Self {
        Bits { default: 8, layers: BTreeMap::new() }
    }
}

fn check_bits(what: &str, b: Option<u64>) -> Result<u32> {
    match b {
        Some(b @ 2..=8) => Ok(b as u32),
        _ => Err(Error::InvalidArgument(format!("prune plan: {what}: bits must be an integer in 2..=8"))),
    }
}

impl Bits {
    /// The `default_bits` and `bits` entries of a plan file (8 bits when absent).
    pub fn from_json(text: &str) -> Result<Bits> {
        let bad = |e: String| Error::InvalidArgument(format!("prune plan: {e}"));
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let default = match v.get("default_bits") {
            Some(d) => check_bits("default_bits", d.as_u64())?,
            None => 8,
        };
        let mut layers = BTreeMap::new();
        if let Some(b) = v.get("bits") {
            for (name, b) in b.as_object().ok_or_else(|| bad("\"bits\" is not an object".into()))? {
                layers.insert(name.clone(), check_bits(name, b.as_u64())?);
            }
        }
        Ok(Bits { default, layers })
    }

    /// Bits of the layer `name`.
    pub fn of(&self, name: &str) -> u32 {
        self.layers.get(name).copied().unwrap_or(self.default)
    }

    /// Largest code magnitude at `bits`.
    pub fn qmax(bits: u32) -> i32 {
        (1i32 << (bits.clamp(2, 8) - 1)) - 1
    }

    /// Errors on names that are not compressible layers.
    pub fn check(&self, layers: &[Layer]) -> Result<()> {
        let unknown: Vec<&String> =
            self.layers.keys().filter(|n| !layers.iter().any(|l| &l.name == *n)).collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "prune plan: \"bits\" names unknown layers {unknown:?} (`slimscan compress --list-layers` lists them)"
            )))
        }
    }

    /// For META.
    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({ "default": self.default, "layers": self.layers })
    }
}

/// Prunes the layers' weights in place according to `plan`.
pub fn apply(plan: &PrunePlan, layers: &mut [Layer]) -> Result<()> {
    match plan {
        PrunePlan::None => Ok(()),
        PrunePlan::PerLayer { default, layers: named } => {
            let unknown: Vec<&String> =
                named.keys().filter(|n| !layers.iter().any(|l| &l.name == *n)).collect();
            if !unknown.is_empty() {
                let known: Vec<&str> = layers.iter().take(8).map(|l| l.name.as_str()).collect();
                return Err(Error::InvalidArgument(format!(
                    "prune plan names unknown layers {unknown:?}; compressible layers are e.g. {known:?} \
                     (`slimscan compress --list-layers` lists all)"
                )));
            }
            for l in layers.iter_mut() {
                prune_magnitude(&mut l.weights, named.get(&l.name).copied().unwrap_or(*default))?;
            }
            Ok(())
        }
        PrunePlan::Global(s) => {
            // Score = |w| / θ-unit of its layer (std, or std / 2 for sensitive layers, whose
            // scores therefore double); one global threshold on the scores zeroes exactly
            // round(s × total) weights.
            let mut scores: Vec<Vec<f32>> = layers
                .iter()
                .map(|l| {
                    let scale =
                        layer_std(&l.weights) / if l.role == Role::Body { 1.0 } else { SENSITIVE_FACTOR };
                    l.weights.iter().map(|w| if scale > 0.0 { w.abs() / scale } else { w.abs() }).collect()
                })
                .collect();
            let mut views: Vec<&mut [f32]> = scores.iter_mut().map(|v| v.as_mut_slice()).collect();
            prune_global(&mut views, *s)?;
            for (l, sc) in layers.iter_mut().zip(&scores) {
                for (w, &k) in l.weights.iter_mut().zip(sc) {
                    if k == 0.0 {
                        *w = 0.0;
                    }
                }
            }
            Ok(())
        }
    }
}
