//! Document type: the trained scene classifier (models/train: MobileNetV2 or ResNet-50, the
//! compressed .slim or the original ONNX) on the whole frame, squashed to its square input
//! as in training (area-averaged down to about twice the input, then bilinear), ImageNet
//! normalisation, softmax over the five classes.

use crate::engine::{F32Tensor, Model};
use crate::error::{Error, Result};
use crate::scan::image::RgbImage;
use serde::Serialize;

/// The classes, in the order of the network's outputs (models/train/train.py `CLASSES`).
pub const CLASSES: [&str; 5] = ["text", "form", "barcode", "qr", "none"];
const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The classifier's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocType {
    /// The most probable class.
    pub label: &'static str,
    pub confidence: f32,
    /// Probability per class, in [`CLASSES`] order.
    pub probabilities: [f32; 5],
}

impl DocType {
    /// The answer for given class probabilities.
    pub fn from_probabilities(p: [f32; 5]) -> DocType {
        let (i, &c) = p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap_or((4, &0.0));
        DocType { label: CLASSES[i], confidence: c, probabilities: p }
    }
}

pub struct Classifier {
    model: Model,
    size: usize,
}

impl Classifier {
    /// Loads a classifier (.slim or ONNX) whose input is `[1, 3, S, S]` and output 5 logits.
    pub fn load(bytes: &[u8]) -> Result<Classifier> {
        Classifier::from_model(
            Model::load(bytes).map_err(|e| Error::Model(format!("document type model: {e}")))?,
        )
    }

    /// The classifier over a model loaded already; checks its input and output shapes.
    pub fn from_model(model: Model) -> Result<Classifier> {
        let shapes = model.fixed_input_shapes().unwrap_or_default();
        let size = match shapes.as_slice() {
            [s] if s.len() == 4 && s[1] == 3 && s[2] == s[3] && (16..=512).contains(&s[2]) => s[2],
            _ => {
                return Err(Error::Model(format!(
                    "document type model: expected one [1, 3, S, S] input, got {shapes:?}"
                )))
            }
        };
        Ok(Classifier { model, size })
    }

    /// The input side in pixels.
    pub fn size(&self) -> usize {
        self.size
    }

    pub fn classify(&mut self, frame: &RgbImage) -> Result<DocType> {
        let x = input(frame, self.size);
        let out = self.model.run(vec![F32Tensor::new(vec![1, 3, self.size, self.size], x)?])?;
        let logits = out.first().map(|t| t.data.as_slice()).unwrap_or_default();
        if logits.len() != CLASSES.len() || logits.iter().any(|v| !v.is_finite()) {
            return Err(Error::Model(format!(
                "document type model: expected {} finite outputs, got {}",
                CLASSES.len(),
                logits.len()
            )));
        }
        let max = logits.iter().copied().fold(f32::MIN, f32::max);
        let e: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
        let sum: f32 = e.iter().sum();
        Ok(DocType::from_probabilities(std::array::from_fn(|i| e[i] / sum)))
    }
}

/// Area average of `f × f` blocks of an RGB image.
fn shrink_rgb(img: &RgbImage, f: usize) -> RgbImage {
    if f <= 1 {
        return img.clone();
    }
    let (w, h) = ((img.width / f).max(1), (img.height / f).max(1));
    let mut data = vec![0u8; w * h * 3];
    for by in 0..h {
        for bx in 0..w {
            let mut acc = [0u32; 3];
            let mut n = 0u32;
            for y in by * f..((by + 1) * f).min(img.height) {
                for x in bx * f..((bx + 1) * f).min(img.width) {
                    let p = img.pixel(x, y);
                    for k in 0..3 {
                        acc[k] += u32::from(p[k]);
                    }
                    n += 1;
                }
            }
            for k in 0..3 {
                data[(by * w + bx) * 3 + k] = ((acc[k] + n / 2) / n.max(1)) as u8;
            }
        }
    }
    RgbImage { width: w, height: h, data }
}

/// The normalised `[3, size, size]` RGB planes of the whole frame.
pub fn input(frame: &RgbImage, size: usize) -> Vec<f32> {
    let f = (frame.width.min(frame.height) / (2 * size)).max(1);
    let img = shrink_rgb(frame, f);
    let (w, h) = (img.width, img.height);
    let mut x = vec![0f32; 3 * size * size];
    let axis = |d: usize, n: usize| {
        let s = ((d as f64 + 0.5) * n as f64 / size as f64 - 0.5).max(0.0);
        let i0 = (s.floor() as usize).min(n - 1);
        (i0, (i0 + 1).min(n - 1), (s - i0 as f64).min(1.0) as f32)
    };
    for yy in 0..size {
        let (y0, y1, fy) = axis(yy, h);
        for xx in 0..size {
            let (x0, x1, fx) = axis(xx, w);
            let (a, b, c, d) = (img.pixel(x0, y0), img.pixel(x1, y0), img.pixel(x0, y1), img.pixel(x1, y1));
            for k in 0..3 {
                let top = f32::from(a[k]) + (f32::from(b[k]) - f32::from(a[k])) * fx;
                let bottom = f32::from(c[k]) + (f32::from(d[k]) - f32::from(c[k])) * fx;
                let v = top + (bottom - top) * fy;
                x[k * size * size + yy * size + xx] = (v / 255.0 - MEAN[k]) / STD[k];
            }
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_is_normalised_rgb_planes() {
        let img = RgbImage::new(4, 2, [255u8, 0, 0].repeat(8)).unwrap();
        let x = input(&img, 2);
        assert_eq!(x.len(), 12);
        assert!((x[0] - (1.0 - 0.485) / 0.229).abs() < 1e-5);
        assert!((x[4] - (0.0 - 0.456) / 0.224).abs() < 1e-5);
    }

    #[test]
    fn shrinking_averages_and_argmax_picks_the_label() {
        let img = RgbImage::new(2, 2, vec![0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255]).unwrap();
        assert_eq!(shrink_rgb(&img, 2).data, vec![128, 128, 128]);
        let t = DocType::from_probabilities([0.1, 0.1, 0.6, 0.1, 0.1]);
        assert_eq!((t.label, t.confidence), ("barcode", 0.6));
    }

    #[test]
    fn the_committed_classifier_loads_and_answers() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/models/classifier/mobilenet_v2_dc.slim");
        let mut c = Classifier::load(&std::fs::read(path).unwrap()).unwrap();
        assert_eq!(c.size(), 112);
        let t = c.classify(&crate::scan::test_scenes::background(320, 240, 3)).unwrap();
        assert!((t.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        let err = Classifier::load(b"not a model").err().expect("an error");
        assert!(err.to_string().contains("document type model"), "{err}");
    }
}
