//! Lower weight precision per layer (`"bits"` in a plan file).

use super::super::plan::{Bits, PrunePlan};
use super::super::sample::tiny_cnn;
use super::super::*;
use super::{compress_with, decoded};

#[test]
fn plan_files_set_bits_per_layer() {
    let text = r#"{"default": 0.25, "default_bits": 6, "bits": {"pw": 4}, "layers": {"fc": 0.5}}"#;
    let bits = Bits::from_json(text).unwrap();
    assert_eq!((bits.of("pw"), bits.of("fc")), (4, 6));
    let plan = PrunePlan::from_json(text).unwrap();
    assert!(
        matches!(plan, PrunePlan::PerLayer { default, ref layers } if default == 0.25 && layers.len() == 1)
    );
    // Only bits: the pruning part is empty, not a layer named "default_bits".
    assert_eq!(
        PrunePlan::from_json(r#"{"default_bits": 6}"#).unwrap(),
        PrunePlan::PerLayer { default: 0.0, layers: Default::default() }
    );
    assert_eq!(Bits::from_json(r#"{"fc": 0.5}"#).unwrap(), Bits::default());
    for bad in [r#"{"default_bits": 9}"#, r#"{"bits": {"pw": 1}}"#, r#"{"bits": {"pw": 5.5}}"#] {
        assert!(Bits::from_json(bad).is_err(), "{bad}");
    }
}

#[test]
fn fewer_bits_bound_the_codes_and_widen_the_scale() {
    let mut layers = std::collections::BTreeMap::new();
    layers.insert("pw".to_string(), 4);
    layers.insert("head".to_string(), 6);
    let opts = Options { bits: Bits { default: 8, layers }, ..Options::default() };
    let (file, report) = compress_with(&tiny_cnn(4), &opts);
    let bits_of = |n: &str| report.layers.iter().find(|l| l.name == n).unwrap().bits;
    assert_eq!((bits_of("pw"), bits_of("head"), bits_of("fc")), (4, 6, 8));
    for (tensor, qmax) in [("pw.weight", 7), ("head.weight", 31), ("fc.weight", 127)] {
        let (dims, w, q) = decoded(&file, tensor);
        let q = q.unwrap();
        let per = w.len() / dims[0];
        let mut top = 0;
        for (c, &s) in q.scales.iter().enumerate() {
            for &v in &w[c * per..(c + 1) * per] {
                let code = (v / s).round() as i32;
                assert!((v / s - code as f32).abs() < 1e-3, "{tensor}: {v} is not a multiple of {s}");
                assert!(code.abs() <= qmax, "{tensor}: code {code} beyond ±{qmax}");
                top = top.max(code.abs());
            }
        }
        assert!(top >= qmax - 1, "{tensor}: the largest weight takes (about) the largest code, {top}");
    }
}

#[test]
fn bits_must_name_layers_and_need_symmetric_quantization() {
    let unknown = Bits { default: 8, layers: [("nope".to_string(), 5)].into_iter().collect() };
    let err = compress(&tiny_cnn(1), &Options { bits: unknown, ..Options::default() }, &mut Silent)
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope"), "{err}");
    let asym = Options {
        bits: Bits { default: 6, ..Bits::default() },
        scheme: crate::quant::Scheme::Asymmetric,
        ..Options::default()
    };
    assert!(compress(&tiny_cnn(1), &asym, &mut Silent).is_err());
}
