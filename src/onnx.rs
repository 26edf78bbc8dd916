//! Reading and editing ONNX models through tract-onnx's protobuf types: decoding with errors a
//! user can act on, tensor payload conversion, attribute access, and small constructors.

use crate::error::{Error, Result};
use prost::Message;
use tract_onnx::pb::{self, attribute_proto::AttributeType, tensor_proto::DataType};

/// Custom operator domain of the nodes the compressor writes.
pub const SLIM_DOMAIN: &str = "ai.slimscan";
/// Version of that domain's operator set.
pub const SLIM_DOMAIN_VERSION: i64 = 1;

fn onnx_err(msg: impl Into<String>) -> Error {
    Error::Onnx(msg.into())
}

/// Decodes an ONNX `ModelProto`, telling apart "not ONNX at all", "truncated" and "no graph".
pub fn decode_model(bytes: &[u8]) -> Result<pb::ModelProto> {
    if bytes.is_empty() {
        return Err(onnx_err("the file is empty, not an ONNX model"));
    }
    let model = pb::ModelProto::decode(bytes).map_err(|e| {
        let msg = e.to_string();
        // A cut-off file fails as an underflow, or as a varint running into the end; 0x08
        // (field 1, ir_version) is how every ONNX file starts.
        let cut = msg.contains("buffer underflow")
            || msg.contains("unexpected end")
            || msg.contains("invalid varint");
        if cut && bytes[0] == 0x08 {
            onnx_err(format!("truncated ONNX protobuf ({} bytes): {msg}", bytes.len()))
        } else {
            onnx_err(format!("not an ONNX model (protobuf decoding failed: {msg})"))
        }
    })?;
    if model.graph.is_none() || model.opset_import.is_empty() {
        return Err(onnx_err(
            "not an ONNX model: no graph or no opset_import (is this an ONNX file, or was it truncated?)",
        ));
    }
    Ok(model)
}

/// The default-domain opset the model imports.
pub fn default_opset(model: &pb::ModelProto) -> Option<i64> {
    model.opset_import.iter().find(|o| o.domain.is_empty() || o.domain == "ai.onnx").map(|o| o.version)
}

/// Tensor dims as usize, rejecting negative or symbolic (negative) dims.
pub fn dims(t: &pb::TensorProto) -> Result<Vec<usize>> {
    t.dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| onnx_err(format!("tensor {:?} has dimension {d}", t.name))))
        .collect()
}

fn element_count(t: &pb::TensorProto) -> Result<usize> {
    dims(t)?
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| onnx_err(format!("tensor {:?} is too large", t.name)))
}

fn check_external(t: &pb::TensorProto) -> Result<()> {
    if !t.external_data.is_empty() || t.data_location == Some(1) {
        return Err(onnx_err(format!(
            "tensor {:?} keeps its data in an external file; save the model with its weights embedded",
            t.name
        )));
    }
    Ok(())
}

fn from_raw<const N: usize, T>(t: &pb::TensorProto, n: usize, conv: fn([u8; N]) -> T) -> Result<Vec<T>> {
    if t.raw_data.len() != n * N {
        return Err(onnx_err(format!(
            "tensor {:?}: raw data holds {} bytes, {} expected",
            t.name,
            t.raw_data.len(),
            n * N
        )));
    }
    Ok(t.raw_data
        .chunks_exact(N)
        .map(|c| {
            let mut a = [0u8; N];
            a.copy_from_slice(c);
            conv(a)
        })
        .collect())
}

/// The elements of an f32 tensor.
pub fn tensor_f32(t: &pb::TensorProto) -> Result<Vec<f32>> {
    check_external(t)?;
    if t.data_type != DataType::Float as i32 {
        return Err(onnx_err(format!("tensor {:?} is not float32 (data type {})", t.name, t.data_type)));
    }
    let n = element_count(t)?;
    if !t.raw_data.is_empty() {
        return from_raw(t, n, f32::from_le_bytes);
    }
    if t.float_data.len() != n {
        return Err(onnx_err(format!("tensor {:?}: {} floats for {n} elements", t.name, t.float_data.len())));
    }
    Ok(t.float_data.clone())
}

/// The elements of an int8, uint8, int32 or int64 tensor, widened to i64.
pub fn tensor_ints(t: &pb::TensorProto) -> Result<Vec<i64>> {
    check_external(t)?;
    let n = element_count(t)?;
    let dt = t.data_type;
    let raw = !t.raw_data.is_empty();
    let v: Vec<i64> = if dt == DataType::Int8 as i32 {
        if raw {
            from_raw(t, n, |[b]: [u8; 1]| i64::from(b as i8))?
        } else {
            t.int32_data.iter().map(|&x| i64::from(x)).collect()
        }
    } else if dt == DataType::Uint8 as i32 {
        if raw {
            from_raw(t, n, |[b]: [u8; 1]| i64::from(b))?
        } else {
            t.int32_data.iter().map(|&x| i64::from(x)).collect()
        }
    } else if dt == DataType::Int32 as i32 {
        if raw {
            from_raw(t, n, |b| i64::from(i32::from_le_bytes(b)))?
        } else {
            t.int32_data.iter().map(|&x| i64::from(x)).collect()
        }
    } else if dt == DataType::Int64 as i32 {
        if raw {
            from_raw(t, n, i64::from_le_bytes)?
        } else {
            t.int64_data.clone()
        }
    } else {
        return Err(onnx_err(format!(
            "tensor {:?} has data type {dt}, an integer type was expected",
            t.name
        )));
    };
    if v.len() != n {
        return Err(onnx_err(format!("tensor {:?}: {} values for {n} elements", t.name, v.len())));
    }
    Ok(v)
}

/// A row-major `rows × cols` matrix transposed to `cols × rows` (weights between ONNX's
/// `[K, N]` MatMul layout and the `.slim` output-major `[N, K]`).
pub fn transpose_f32(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..rows * cols).map(|i| data[(i % rows) * cols + i / rows]).collect()
}

/// An f32 initializer with raw little-endian data.
pub fn f32_tensor(name: &str, dims: &[usize], data: &[f32]) -> pb::TensorProto {
    pb::TensorProto {
        name: name.to_string(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: DataType::Float as i32,
        raw_data: data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ..Default::default()
    }
}

/// Value of the `location` key of initializers whose data lives in the `.slim` TENS section.
pub const TENS_LOCATION: &str = "slim:TENS";

/// An initializer placeholder whose data lives in TENS under the same name (ONNX external
/// data with location [`TENS_LOCATION`]).
pub fn external_stub(t: &pb::TensorProto) -> pb::TensorProto {
    pb::TensorProto {
        name: t.name.clone(),
        dims: t.dims.clone(),
        data_type: t.data_type,
        data_location: Some(pb::tensor_proto::DataLocation::External as i32),
        external_data: vec![pb::StringStringEntryProto {
            key: "location".into(),
            value: TENS_LOCATION.into(),
        }],
        ..Default::default()
    }
}

/// Attribute lookup.
pub fn attr<'a>(node: &'a pb::NodeProto, name: &str) -> Option<&'a pb::AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

pub fn attr_int(node: &pb::NodeProto, name: &str, default: i64) -> i64 {
    attr(node, name).map_or(default, |a| a.i)
}

pub fn attr_float(node: &pb::NodeProto, name: &str, default: f32) -> f32 {
    attr(node, name).map_or(default, |a| a.f)
}

pub fn attr_ints(node: &pb::NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(node, name).map(|a| a.ints.clone())
}

pub fn int_attr(name: &str, value: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: value,
        ..Default::default()
    }
}

pub fn float_attr(name: &str, value: f32) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Float as i32,
        f: value,
        ..Default::default()
    }
}

pub fn string_attr(name: &str, value: &str) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::String as i32,
        s: value.as_bytes().to_vec(),
        ..Default::default()
    }
}

pub fn ints_attr(name: &str, values: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: values.to_vec(),
        ..Default::default()
    }
}

/// One dimension of a graph input or output as the model declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeclaredDim {
    Fixed(i64),
    Named(String),
    Unknown,
}

/// The declared dimensions of a tensor-typed value (empty when it has no shape).
pub fn declared_dims(vi: &pb::ValueInfoProto) -> Vec<DeclaredDim> {
    use pb::tensor_shape_proto::dimension::Value;
    match vi.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(pb::type_proto::Value::TensorType(t)) => t
            .shape
            .as_ref()
            .map(|s| {
                s.dim
                    .iter()
                    .map(|d| match &d.value {
                        Some(Value::DimValue(v)) => DeclaredDim::Fixed(*v),
                        Some(Value::DimParam(p)) => DeclaredDim::Named(p.clone()),
                        None => DeclaredDim::Unknown,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// The graph inputs that are not initializers (the values a caller must feed).
pub fn fed_inputs(g: &pb::GraphProto) -> Vec<&pb::ValueInfoProto> {
    let inits: std::collections::HashSet<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
    g.input.iter().filter(|i| !inits.contains(i.name.as_str())).collect()
}
