//! The native CLI as a user runs it: `slimscan compress` and `slimscan inspect` on good and
//! bad files, and
//! `slimscan serve` answering with the right types and headers and refusing to leave its roots.

use slimscan::format::{Coding, SlimWriter, Tensor, TensorData};
use slimscan::quant::{QuantParams, Scheme};
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

#[test]
fn inspect_prints_a_table_and_stable_json() {
    let dir = temp_dir("inspect");
    let path = dir.join("m.slim");
    let bytes = sample_slim(&path);

    let out = run(bin().arg("inspect").arg(&path));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("layer.weight") && text.contains("int8-dense"), "{text}");

    let out = run(bin().arg("inspect").arg("--json").arg(&path));
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["sizes"]["file_bytes"], bytes.len() as u64);
    assert_eq!(json["sizes"]["tensors"][0]["name"], "layer.weight");
    assert_eq!(json["meta"]["task"], "test");
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
    let (www, pkg) = (dir.join("www"), dir.join("pkg"));
    std::fs::create_dir_all(&www).unwrap();
    std::fs::create_dir_all(&pkg).unwrap();
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

#[test]
fn compress_then_inspect_accounts_for_every_byte() {
    let dir = temp_dir("compress");
    let onnx = tiny_onnx(&dir);
    let slim = dir.join("tiny.slim");
    let out = run(bin().arg("compress").arg(&onnx).arg("-o").arg(&slim).args(["--prune", "0.5", "--json"]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let file_len = std::fs::metadata(&slim).unwrap().len();
    assert_eq!(report["slim_bytes"], file_len);
    assert_eq!(report["original_bytes"], std::fs::metadata(&onnx).unwrap().len());

    let out = run(bin().arg("inspect").arg("--json").arg(&slim));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = &j["totals"];
    assert_eq!(t["file_bytes"], file_len);
    let parts = [
        "header_and_table_bytes",
        "meta_bytes",
        "graph_bytes",
        "tensor_section_bytes",
        "other_section_bytes",
    ];
    let sum: u64 = parts.iter().map(|k| t[k].as_u64().unwrap()).sum();
    assert_eq!(sum, file_len, "totals add up to the file");
    let tensors = j["tensors"].as_array().unwrap();
    let records: u64 = tensors.iter().map(|x| x["bytes"].as_u64().unwrap()).sum();
    assert_eq!(records + 4, t["tensor_section_bytes"].as_u64().unwrap(), "records + count field = TENS");
    let original = t["original_bytes"].as_u64().unwrap();
    assert!((t["reduction"].as_f64().unwrap() - original as f64 / file_len as f64).abs() < 1e-9);
    let weights = ["conv1.weight", "dw.weight", "pw.weight", "fc.weight", "head.weight"];
    let (mut zeros, mut total) = (0.0, 0.0);
    for w in weights {
        let x = tensors.iter().find(|x| x["name"] == w).unwrap_or_else(|| panic!("{w} in {tensors:?}"));
        let n = x["elements"].as_f64().unwrap();
        zeros += x["sparsity"].as_f64().unwrap() * n;
        total += n;
    }
    assert_eq!((zeros / total * 1e6).round() / 1e6, 0.5, "--prune 0.5 zeroes half of all weights");
    let pw = tensors.iter().find(|x| x["name"] == "pw.weight").unwrap();
    assert!(pw["sparsity"].as_f64().unwrap() > 0.5, "the body layer takes more than the average");
    for x in tensors {
        let b = &x["bits_per_weight"];
        let parts: f64 =
            ["values", "gaps", "codebooks", "header"].iter().map(|k| b[k].as_f64().unwrap()).sum();
        assert!((parts - b["total"].as_f64().unwrap()).abs() < 1e-9, "{x}");
        let bytes = x["bytes"].as_f64().unwrap() * 8.0 / x["elements"].as_f64().unwrap();
        assert!((bytes - b["total"].as_f64().unwrap()).abs() < 1e-9);
    }

    let out = run(bin().arg("inspect").arg(&slim));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(&format!("total {file_len} B")), "{text}");
    assert!(text.contains("x smaller") && text.contains("pw.weight"), "{text}");
}

#[test]
fn compress_explains_bad_inputs_and_leaves_no_partial_output() {
    let dir = temp_dir("compress-bad");
    let onnx = tiny_onnx(&dir);
    let out_path = dir.join("out.slim");
    let fails = |args: &[&std::ffi::OsStr], want: &str| {
        let out = run(bin().arg("compress").args(args));
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err:?} should mention {want:?}");
    };
    let png = dir.join("photo.onnx");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    fails(&[png.as_os_str(), "-o".as_ref(), out_path.as_os_str()], "not an ONNX model");
    let bytes = std::fs::read(&onnx).unwrap();
    let cut = dir.join("cut.onnx");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    fails(&[cut.as_os_str(), "-o".as_ref(), out_path.as_os_str()], "truncated");
    let plan = dir.join("plan.json");
    std::fs::write(&plan, r#"{"default": 0.5, "layers": {"conv77": 0.9}}"#).unwrap();
    fails(
        &[onnx.as_os_str(), "-o".as_ref(), out_path.as_os_str(), "--prune-plan".as_ref(), plan.as_os_str()],
        "conv77",
    );
    fails(
        &[onnx.as_os_str(), "-o".as_ref(), out_path.as_os_str(), "--keep".as_ref(), "nosuch".as_ref()],
        "nosuch",
    );
    let nowhere = dir.join("missing-folder").join("m.slim");
    fails(&[onnx.as_os_str(), "-o".as_ref(), nowhere.as_os_str()], "not writable");
    let empty = dir.join("empty-calib");
    std::fs::create_dir_all(&empty).unwrap();
    fails(
        &[onnx.as_os_str(), "-o".as_ref(), out_path.as_os_str(), "--calib".as_ref(), empty.as_os_str()],
        "no calibration samples",
    );
    assert!(!out_path.exists(), "no output after a failure");
    let leftovers: Vec<_> =
        std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    assert!(
        leftovers.iter().all(|n| !n.to_string_lossy().contains(".slim")),
        "no temporary files left: {leftovers:?}"
    );
}
