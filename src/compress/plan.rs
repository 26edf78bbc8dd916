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
        let (default, layers_v) = match obj.get("layers") {
            Some(l) => (obj.get("default").map_or(Some(0.0), |d| d.as_f64()), l),
            None => (Some(0.0), &v),
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
