//! The native CLI as a user runs it: `slimscan compress` and `slimscan inspect` on good and
//! bad files, and
//! `slimscan serve` answering with the right types and headers and refusing to leave its roots.

use serde_json::Value;
use slimscan::format::{Coding, SlimWriter, Tensor, TensorData};
use slimscan::quant::{QuantParams, Scheme};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_slimscan"))
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("slimscan-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn sample_slim(path: &Path) -> Vec<u8> {
    let mut w = SlimWriter::new();
    w.meta.insert("task".into(), "test".into());
    w.add_tensor(
        Tensor {
            name: "layer.weight".into(),
            dims: vec![2, 8],
            data: TensorData::Int8Dense((0..16).map(|i| i as i8 - 8).collect()),
            quant: Some(QuantParams {
                scales: vec![0.5, 0.25],
                zero_points: vec![0, 0],
                axis: Some(0),
                scheme: Scheme::Symmetric,
            }),
        },
        Coding::default(),
    );
    let (bytes, _) = w.to_bytes().unwrap();
    std::fs::write(path, &bytes).unwrap();
    bytes
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run slimscan")
}

/// The keys docs/INSPECT.md documents in the table under `heading` (first column, in
/// backticks; `a.b`, `.c` expands to `a.b`, `a.c`).
fn documented_keys(heading: &str) -> BTreeSet<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/INSPECT.md")).unwrap();
    let mut lines = doc.lines().skip_while(|l| *l != heading);
    assert!(lines.next().is_some(), "docs/INSPECT.md has no heading {heading:?}");
    let rows = lines.skip_while(|l| !l.starts_with('|')).skip(2).take_while(|l| l.starts_with('|'));
    let mut keys = BTreeSet::new();
    for row in rows {
        let cell = row.split('|').nth(1).unwrap();
        let mut prefix = String::new();
        for key in cell.split('`').skip(1).step_by(2) {
            if let Some(rest) = key.strip_prefix('.') {
                keys.insert(format!("{prefix}{rest}"));
            } else {
                prefix = key.rfind('.').map_or(String::new(), |d| key[..=d].to_string());
                keys.insert(key.to_string());
            }
        }
    }
    assert!(!keys.is_empty(), "no keys under {heading:?}");
    keys
}

/// An object's keys, with nested objects' keys as `outer.inner` when `flatten`.
fn json_keys(v: &Value, flatten: bool) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for (k, x) in v.as_object().unwrap_or_else(|| panic!("not an object: {v}")) {
        match x {
            Value::Object(inner) if flatten => keys.extend(inner.keys().map(|i| format!("{k}.{i}"))),
            _ => {
                keys.insert(k.clone());
            }
        }
    }
    keys
}

/// Every key of `inspect --json` is documented in docs/INSPECT.md and every documented key
/// is present.
fn assert_schema_documented(j: &Value) {
    assert_eq!(json_keys(j, false), documented_keys("## Top level"));
    assert_eq!(json_keys(&j["totals"], true), documented_keys("## `totals`"));
    let (tensor_keys, stream_keys) =
        (documented_keys("## `tensors[]`"), documented_keys("### `tensors[].streams[]`"));
    for t in j["tensors"].as_array().unwrap() {
        assert_eq!(json_keys(t, true), tensor_keys, "{t}");
        for s in t["streams"].as_array().unwrap() {
            assert_eq!(json_keys(s, false), stream_keys, "{s}");
        }
    }
}

#[test]
fn inspect_prints_a_table_and_stable_json() {
    let dir = temp_dir("inspect");
    let path = dir.join("m.slim");
    let bytes = sample_slim(&path);

    let out = run(bin().arg("inspect").arg(&path));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("layer.weight") && text.contains("int8-dense"), "{text}");
    assert!(text.contains(&format!("total {} B = tensors ", bytes.len())), "{text}");
    assert!(text.contains("original model size unknown"), "no META original: {text}");

    let out = run(bin().arg("inspect").arg("--json").arg(&path));
    assert!(out.status.success());
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["sizes"]["file_bytes"], bytes.len() as u64);
    assert_eq!(json["sizes"]["tensors"][0]["name"], "layer.weight");
    assert_eq!(json["meta"]["task"], "test");
    assert_eq!(json["version"], "1.1");
    assert_eq!(json["graph_bytes"], 0);
    assert!(json["graph_kind"].is_null(), "a tensor archive has no graph");
    let t = &json["totals"];
    assert_eq!(t["file_bytes"], bytes.len() as u64);
    assert!(t["original_bytes"].is_null() && t["reduction"].is_null(), "{t}");
    let x = &json["tensors"][0];
    assert_eq!((x["elements"].as_u64(), x["zero_elements"].as_u64()), (Some(16), Some(1)), "{x}");
    assert_eq!(x["sparsity"], 1.0 / 16.0);
    assert!(x["gap_bits"].is_null());
    assert_schema_documented(&json);
}

#[test]
fn inspect_reports_bad_input_clearly() {
    let dir = temp_dir("bad");
    let garbage = dir.join("garbage.slim");
    std::fs::write(&garbage, b"definitely not a slim file, but long enough to have a header").unwrap();
    let out = run(bin().arg("inspect").arg(&garbage));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad magic") && err.contains("garbage.slim"), "{err}");

    let out = run(bin().arg("inspect").arg(dir.join("missing.slim")));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));

    let truncated = dir.join("truncated.slim");
    let bytes = sample_slim(&truncated);
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let out = run(bin().arg("inspect").arg(&truncated));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"));
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(port: u16, request: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn serve_sends_types_and_security_headers_and_stays_in_its_roots() {
    let dir = temp_dir("serve");
    let (www, pkg, models) = (dir.join("www"), dir.join("pkg"), dir.join("models"));
    std::fs::create_dir_all(&www).unwrap();
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::create_dir_all(models.join("calib")).unwrap();
    std::fs::write(models.join("m.slim"), b"SLIM").unwrap();
    std::fs::write(models.join("calib/notes.txt"), "calibration").unwrap();
    std::fs::write(www.join("index.html"), "<!doctype html><title>t</title>").unwrap();
    std::fs::write(pkg.join("m_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(dir.join("secret.txt"), "secret").unwrap();

    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = bin()
        .args(["serve", "--port", &port.to_string(), "--isolate"])
        .arg("--www")
        .arg(&www)
        .arg("--pkg")
        .arg(&pkg)
        .arg("--models")
        .arg(&models)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Server(child);
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    let index = get(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(index.starts_with("HTTP/1.1 200"), "{index}");
    assert!(index.contains("Content-Type: text/html"));
    assert!(index.contains("Content-Security-Policy: default-src 'self'"));
    assert!(index.contains("Cross-Origin-Embedder-Policy: require-corp"));
    assert!(index.ends_with("<!doctype html><title>t</title>"));

    let wasm = get(port, "GET /pkg/m_bg.wasm HTTP/1.1\r\n\r\n");
    assert!(wasm.starts_with("HTTP/1.1 200") && wasm.contains("Content-Type: application/wasm"), "{wasm}");

    let model = get(port, "GET /models/m.slim HTTP/1.1\r\n\r\n");
    assert!(model.starts_with("HTTP/1.1 200") && model.ends_with("SLIM"), "{model}");
    let etag = model.lines().find_map(|l| l.strip_prefix("ETag: ")).expect("an ETag").to_string();
    let again = get(port, &format!("GET /models/m.slim HTTP/1.1\r\nIf-None-Match: {etag}\r\n\r\n"));
    assert!(
        again.starts_with("HTTP/1.1 304") && !again.ends_with("SLIM") && !again.contains("\r\nContent-Type:"),
        "{again}"
    );
    let other = get(port, "GET /models/m.slim HTTP/1.1\r\nif-none-match: \"0-0\"\r\n\r\n");
    assert!(other.starts_with("HTTP/1.1 200"), "{other}");
    // The models folder serves model files only.
    assert!(get(port, "GET /models/calib/notes.txt HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));

    let head = get(port, "HEAD /index.html HTTP/1.1\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200") && !head.contains("<title>"));

    for escape in
        ["/../secret.txt", "/%2e%2e/secret.txt", "/pkg/../../secret.txt", "/..%2fsecret.txt", "/missing"]
    {
        let r = get(port, &format!("GET {escape} HTTP/1.1\r\n\r\n"));
        assert!(r.starts_with("HTTP/1.1 404") && !r.contains("secret\n"), "{escape}: {r}");
    }
    assert!(get(port, "POST / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
    assert!(get(port, "garbage\r\n\r\n").starts_with("HTTP/1.1 405"));
}

#[test]
fn serve_explains_a_missing_web_folder() {
    let out = run(bin().args(["serve", "--port", "0", "--www", "/nonexistent/www"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/www"));
}

fn tiny_onnx(dir: &Path) -> PathBuf {
    let p = dir.join("tiny.onnx");
    std::fs::write(&p, slimscan::compress::sample::tiny_cnn(11)).unwrap();
    p
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn inspect_json(slim: &Path) -> Value {
    let out = run(bin().arg("inspect").arg("--json").arg(slim));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Zeros of each tensor, decoded by the library independently of `inspect`.
fn decoded_zeros(slim: &Path) -> Vec<(String, u64)> {
    use slimscan::format::{read, Limits};
    let file = read(&std::fs::read(slim).unwrap(), &Limits::default()).unwrap();
    file.tensors
        .iter()
        .map(|t| {
            let zeros = match &t.data {
                TensorData::F32(v) => v.iter().filter(|x| **x == 0.0).count(),
                TensorData::Int8Dense(v) => v.iter().filter(|x| **x == 0).count(),
                TensorData::Int8Sparse(r) => {
                    slimscan::sparse::decode_relative(r).unwrap().iter().filter(|x| **x == 0).count()
                }
            };
            (t.name.clone(), zeros as u64)
        })
        .collect()
}

/// The invariants of docs/INSPECT.md for one `inspect --json` result of the file `slim`.
fn assert_inspect_accounts_for(j: &Value, slim: &Path) {
    let file_len = std::fs::metadata(slim).unwrap().len();
    let t = &j["totals"];
    assert_eq!(u(&t["file_bytes"]), file_len, "totals.file_bytes is the file size");
    assert_eq!(u(&j["sizes"]["file_bytes"]), file_len);
    let sum = |keys: &[&str]| keys.iter().map(|k| u(&t[k])).sum::<u64>();
    assert_eq!(sum(&["tensor_bytes", "meta_bytes", "graph_bytes", "overhead_bytes"]), file_len);
    assert_eq!(
        sum(&[
            "header_and_table_bytes",
            "meta_bytes",
            "graph_bytes",
            "tensor_section_bytes",
            "other_section_bytes"
        ]),
        file_len
    );
    assert_eq!(
        sum(&["header_and_table_bytes", "tensor_count_bytes", "other_section_bytes"]),
        u(&t["overhead_bytes"])
    );
    assert_eq!(sum(&["tensor_count_bytes", "tensor_bytes"]), u(&t["tensor_section_bytes"]));
    let sections = j["sizes"]["sections"].as_array().unwrap();
    for (tag, key) in [("META", "meta_bytes"), ("GRPH", "graph_bytes"), ("TENS", "tensor_section_bytes")] {
        let stored = sections.iter().find(|s| s["tag"] == tag).map_or(0, |s| u(&s["bytes"]));
        assert_eq!(stored, u(&t[key]), "{tag}");
    }

    let tensors = j["tensors"].as_array().unwrap();
    assert_eq!(u(&t["tensor_count"]), tensors.len() as u64);
    assert_eq!(tensors.iter().map(|x| u(&x["bytes"])).sum::<u64>(), u(&t["tensor_bytes"]));
    assert_eq!(tensors.iter().map(|x| u(&x["elements"])).sum::<u64>(), u(&t["elements"]));
    assert_eq!(tensors.iter().map(|x| u(&x["zero_elements"])).sum::<u64>(), u(&t["zero_elements"]));
    let zeros = decoded_zeros(slim);
    let (mut fixed_all, mut actual_all) = (0, 0);
    for (i, x) in tensors.iter().enumerate() {
        let raw = &j["sizes"]["tensors"][i];
        assert_eq!(x["name"], raw["name"]);
        assert_eq!(u(&x["bytes"]), u(&raw["total_bytes"]), "{x}");
        assert_eq!(
            (x["name"].as_str().unwrap().to_string(), u(&x["zero_elements"])),
            zeros[i],
            "decoded zeros"
        );
        let n = u(&x["elements"]);
        assert_eq!(n, x["dims"].as_array().unwrap().iter().map(u).product::<u64>());
        assert!(close(f(&x["sparsity"]), u(&x["zero_elements"]) as f64 / n as f64), "{x}");

        let b = &x["bits_per_weight"];
        let parts: f64 = ["values", "gaps", "codebooks", "header"].iter().map(|k| f(&b[k])).sum();
        assert!(close(parts, f(&b["total"])), "{x}");
        assert!(close(u(&x["bytes"]) as f64 * 8.0 / n as f64, f(&b["total"])), "{x}");

        let streams = x["streams"].as_array().unwrap();
        let stream_bytes: u64 = streams.iter().map(|s| u(&s["bytes"])).sum();
        assert_eq!(stream_bytes + u(&raw["header_bytes"]) + u(&raw["raw_bytes"]), u(&x["bytes"]), "{x}");
        let (mut fixed, mut actual) = (0, 0);
        for s in streams {
            let width = if s["stream"] == "gaps" { u(&x["gap_bits"]) } else { 8 };
            assert_eq!(u(&s["fixed_bits"]), width, "{x}");
            assert_eq!(u(&s["fixed_width_bytes"]), 1 + (u(&s["symbols"]) * width).div_ceil(8), "{s}");
            let a = u(&s["codebook_bytes"]) + u(&s["payload_bytes"]);
            assert_eq!(u(&s["bytes"]), 9 + a, "{s}");
            assert!(close(f(&s["huffman_gain"]), u(&s["fixed_width_bytes"]) as f64 / a as f64), "{s}");
            if s["coding"] == "fixed" {
                assert_eq!(f(&s["huffman_gain"]), 1.0, "{s}");
            } else {
                assert!(f(&s["huffman_gain"]) > 1.0, "Huffman is used only when it pays: {s}");
            }
            fixed += u(&s["fixed_width_bytes"]);
            actual += a;
        }
        if streams.is_empty() {
            assert!(x["huffman_gain"].is_null() && x["encoding"] == "f32", "{x}");
        } else {
            assert!(close(f(&x["huffman_gain"]), fixed as f64 / actual as f64), "{x}");
        }
        fixed_all += fixed;
        actual_all += actual;
    }
    if actual_all > 0 {
        assert!(close(f(&t["huffman_gain"]), fixed_all as f64 / actual_all as f64));
    }
    let original = u(&t["original_bytes"]);
    assert!(close(f(&t["reduction"]), original as f64 / file_len as f64));
    assert_schema_documented(j);
}

#[test]
fn compress_then_inspect_accounts_for_every_byte() {
    let dir = temp_dir("compress");
    let onnx = tiny_onnx(&dir);
    let onnx_len = std::fs::metadata(&onnx).unwrap().len();
    let slim = dir.join("tiny.slim");
    let out = run(bin().arg("compress").arg(&onnx).arg("-o").arg(&slim).args(["--prune", "0.5", "--json"]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let file_len = std::fs::metadata(&slim).unwrap().len();
    assert_eq!(report["slim_bytes"], file_len);
    assert_eq!(report["original_bytes"], onnx_len);

    let j = inspect_json(&slim);
    assert_inspect_accounts_for(&j, &slim);
    let t = &j["totals"];
    assert_eq!(u(&t["original_bytes"]), onnx_len, "META original.bytes is the ONNX size");
    assert!(f(&t["reduction"]) > 1.0);
    let tensors = j["tensors"].as_array().unwrap();
    let weights = ["conv1.weight", "dw.weight", "pw.weight", "fc.weight", "head.weight"];
    let (mut zeros, mut total) = (0, 0);
    for w in weights {
        let x = tensors.iter().find(|x| x["name"] == w).unwrap_or_else(|| panic!("{w} in {tensors:?}"));
        assert!(f(&x["sparsity"]) > 0.2, "every pruned layer loses weights: {x}");
        zeros += u(&x["zero_elements"]);
        total += u(&x["elements"]);
    }
    let sparsity = zeros as f64 / total as f64;
    assert!((sparsity - 0.5).abs() < 0.01, "--prune 0.5 zeroes half of all weights, got {sparsity}");
    let pw = tensors.iter().find(|x| x["name"] == "pw.weight").unwrap();
    assert!(f(&pw["sparsity"]) > 0.5, "the body layer takes more than the average");
    assert!(tensors.iter().any(|x| x["encoding"] == "int8-sparse"), "half-pruned layers are stored sparse");

    let out = run(bin().arg("inspect").arg(&slim));
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let totals_line = format!(
        "total {file_len} B = tensors {} + META {} + GRPH {} + overhead {}",
        t["tensor_bytes"], t["meta_bytes"], t["graph_bytes"], t["overhead_bytes"]
    );
    assert!(text.contains(&totals_line), "{totals_line:?} in\n{text}");
    assert!(text.contains(&format!("original model {onnx_len} B → {file_len} B")), "{text}");
    assert!(
        text.contains("x smaller") && text.contains("pw.weight") && text.contains("all 5 tensors"),
        "{text}"
    );
    assert!(text.contains("graph: op list, ") && text.contains(" 5 compressed layers"), "{text}");

    // Fixed-width coding everywhere: every gain is exactly 1, raw f32 has none.
    let plain = dir.join("plain.slim");
    let out = run(bin().arg("compress").arg(&onnx).arg("-o").arg(&plain).args(["--no-huffman", "--json"]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j = inspect_json(&plain);
    assert_inspect_accounts_for(&j, &plain);
    for x in j["tensors"].as_array().unwrap() {
        if x["encoding"] == "f32" {
            assert!(x["huffman_gain"].is_null(), "{x}");
        } else {
            assert_eq!(f(&x["huffman_gain"]), 1.0, "{x}");
        }
    }
    assert_eq!(f(&j["totals"]["huffman_gain"]), 1.0);
}

#[test]
fn compress_explains_bad_inputs_and_leaves_no_partial_output() {
    let dir = temp_dir("compress-bad");
    let onnx = tiny_onnx(&dir);
    let out_path = dir.join("out.slim");
    let fails = |args: &[&std::ffi::OsStr], wants: &[&str]| {
        let out = run(bin().arg("compress").args(args));
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout after a failure");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("slimscan: error: "), "{err:?}");
        for want in wants {
            assert!(err.contains(want), "{args:?}: {err:?} should mention {want:?}");
        }
    };
    let png = dir.join("photo.onnx");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    fails(&[png.as_os_str(), "-o".as_ref(), out_path.as_os_str()], &["photo.onnx", "not an ONNX model"]);
    let bytes = std::fs::read(&onnx).unwrap();
    let cut = dir.join("cut.onnx");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    fails(&[cut.as_os_str(), "-o".as_ref(), out_path.as_os_str()], &["cut.onnx", "truncated"]);
    let plan = dir.join("plan.json");
    std::fs::write(&plan, r#"{"default": 0.5, "layers": {"conv77": 0.9}}"#).unwrap();
    fails(
        &[onnx.as_os_str(), "-o".as_ref(), out_path.as_os_str(), "--prune-plan".as_ref(), plan.as_os_str()],
        &["unknown", "conv77"],
    );
    fails(
        &[onnx.as_os_str(), "-o".as_ref(), out_path.as_os_str(), "--keep".as_ref(), "nosuch".as_ref()],
        &["nosuch"],
    );
    let nowhere = dir.join("missing-folder").join("m.slim");
    fails(&[onnx.as_os_str(), "-o".as_ref(), nowhere.as_os_str()], &["missing-folder", "not writable"]);
    assert!(!nowhere.parent().unwrap().exists(), "the missing folder is not created");
    let empty = dir.join("empty-calib");
    std::fs::create_dir_all(&empty).unwrap();
    fails(
        &[onnx.as_os_str(), "-o".as_ref(), out_path.as_os_str(), "--calib".as_ref(), empty.as_os_str()],
        &["no calibration samples"],
    );
    assert!(!out_path.exists(), "no output after a failure");
    let leftovers: Vec<_> =
        std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    assert!(
        leftovers.iter().all(|n| !n.to_string_lossy().contains(".slim")),
        "no temporary files left: {leftovers:?}"
    );
}

#[test]
fn sensitivity_prints_a_table_per_layer_and_calibration_needs_samples() {
    let dir = temp_dir("sensitivity");
    let onnx = tiny_onnx(&dir);
    let calib = dir.join("calib");
    std::fs::create_dir_all(&calib).unwrap();
    let mut rng = slimscan::synth::SplitMix64::new(5);
    for i in 0..3 {
        let a = slimscan::npy::Array { shape: vec![1, 3, 16, 16], data: rng.uniform_vec(768, 2.0) };
        std::fs::write(calib.join(format!("{i}.npy")), slimscan::npy::write(&a).unwrap()).unwrap();
    }
    let out = run(bin().arg("compress").arg(&onnx).arg("--calib").arg(&calib).arg("--sensitivity"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    for layer in ["conv1", "dw", "pw", "fc", "head"] {
        assert!(text.lines().any(|l| l.starts_with(layer)), "{layer} row in {text}");
    }
    assert!(text.contains("95%") && text.contains("--prune-plan"), "{text}");

    let out = run(bin().arg("compress").arg(&onnx).arg("--sensitivity"));
    assert_eq!(out.status.code(), Some(2), "clap refuses --sensitivity without --calib");
}

#[test]
fn scan_explains_bad_images_and_missing_models() {
    let dir = temp_dir("scan");
    let text = dir.join("notes.png");
    std::fs::write(&text, "<html>not an image</html>").unwrap();
    let wide = dir.join("wide.png");
    image::GrayImage::new(50_000, 1).save(&wide).unwrap();
    let empty = dir.join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    let ok = dir.join("ok.png");
    image::RgbImage::new(40, 20).save(&ok).unwrap();
    for (file, want) in [
        (&text, "not a PNG or JPEG"),
        (&wide, "longest side accepted is 16384"),
        (&empty, "empty"),
        (&dir.join("missing.png"), "reading"),
        (&ok, "run `make models` first"),
    ] {
        let out = run(bin().arg("scan").arg(file).arg("--models").arg(dir.join("nomodels")));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{}", file.display());
        assert!(err.contains(want), "{}: {err}", file.display());
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn scan_json_reports_the_page_type_and_code_of_a_photo() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = run(bin()
        .arg("scan")
        .arg(format!("{root}/tests/fixtures/scan_qr.jpg"))
        .arg("--json")
        .arg("--no-ocr")
        .arg("--classifier")
        .arg(format!("{root}/models/classifier/mobilenet_v2_dc.slim")));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["codes"][0]["format"], "qr_code");
    assert_eq!(v["codes"][0]["text"], "geo:-58.14136,-95.13397");
    assert_eq!(v["codes"].as_array().unwrap().len(), 1);
    assert!(v["page"]["corners"].as_array().is_some_and(|c| c.len() == 4), "{v}");
    assert!(["text", "form", "barcode", "qr", "none"].contains(&v["type"].as_str().unwrap()));
    assert!(v["text"] == "" && v["fields"].as_array().unwrap().is_empty());
    assert!(v["timings_ms"]["codes"].as_f64().unwrap() > 0.0);
    let out = run(bin()
        .arg("scan")
        .arg(format!("{root}/tests/fixtures/scan_qr.jpg"))
        .arg("--no-ocr")
        .arg("--classifier")
        .arg(format!("{root}/tests/fixtures/input.npy")));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("document type model"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
