//! `slimscan serve`: a small static file server for the web app, with what a wasm PWA needs
//! and nothing more: correct MIME types (`application/wasm`), a strict Content-Security-Policy
//! (no inline script, no eval beyond wasm compilation), revalidating cache headers, optional
//! COOP/COEP, and no path ever resolving outside the served folders.
//!
//! Routes: `/pkg/…` → the wasm package folder, `/models/…` → the models folder (model files
//! only: `.slim`, `.onnx`), everything else → the `www` folder, a path ending in `/` → its
//! `index.html`. GET and HEAD only; one request per connection. Every file has an ETag (size and
//! modification time), so a revalidation of an unchanged model costs a 304, not its bytes.

use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub struct Options {
    pub port: u16,
    pub bind: String,
    pub www: PathBuf,
    pub pkg: PathBuf,
    pub models: PathBuf,
    pub isolate: bool,
}

const MAX_REQUEST_HEAD: usize = 16 << 10;
const MAX_CONNECTIONS: usize = 64;
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
img-src 'self' blob: data:; media-src 'self' blob: mediastream:; connect-src 'self'; worker-src 'self'; \
manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

struct Roots {
    www: PathBuf,
    pkg: Option<PathBuf>,
    models: Option<PathBuf>,
    isolate: bool,
}

/// The only file types served from the models folder (it also holds calibration images,
/// plans and scripts, which the app never needs).
const MODEL_EXTENSIONS: [&str; 2] = ["slim", "onnx"];

pub fn run(o: &Options) -> Result<()> {
    let www = o
        .www
        .canonicalize()
        .with_context(|| format!("the web app folder {} does not exist", o.www.display()))?;
    let pkg = o.pkg.canonicalize().ok();
    if pkg.is_none() {
        eprintln!("slimscan serve: warning: {} not found; run `make wasm` first", o.pkg.display());
    }
    let models = o.models.canonicalize().ok();
    if models.is_none() {
        eprintln!("slimscan serve: warning: {} not found; run `make models` first", o.models.display());
    }
    let listener = TcpListener::bind((o.bind.as_str(), o.port))
        .with_context(|| format!("cannot listen on {}:{} (port in use?)", o.bind, o.port))?;
    // The bound port, not the requested one: `--port 0` picks a free port (tests).
    let port = listener.local_addr()?.port();
    let roots = Arc::new(Roots { www, pkg, models, isolate: o.isolate });
    let active = Arc::new(AtomicUsize::new(0));
    println!("slimscan: serving {} on http://localhost:{port}/ (Ctrl-C to stop)", roots.www.display());
    std::io::stdout().flush()?;
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            let _ = respond(&mut stream, 503, "text/plain", b"busy\n", false, &roots);
            continue;
        }
        let roots = Arc::clone(&roots);
        let active = Arc::clone(&active);
        std::thread::spawn(move || {
            let _ = handle(stream, &roots);
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
    Ok(())
}

fn handle(mut stream: TcpStream, roots: &Roots) -> Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let head = match read_head(&mut stream) {
        Ok(h) => h,
        Err(_) => return respond(&mut stream, 400, "text/plain", b"bad request\n", false, roots),
    };
    let mut parts = head.lines().next().unwrap_or("").split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return respond(&mut stream, 405, "text/plain", b"method not allowed\n", false, roots),
    };
    let Some(path) = resolve(target, roots) else {
        return respond(&mut stream, 404, "text/plain", b"not found\n", head_only, roots);
    };
    let tag = etag(&path);
    if tag.is_some() && header(&head, "if-none-match") == tag.as_deref() {
        return respond_with(&mut stream, 304, "", b"", true, tag.as_deref(), roots);
    }
    match std::fs::read(&path) {
        Ok(body) => respond_with(&mut stream, 200, mime(&path), &body, head_only, tag.as_deref(), roots),
        Err(_) => respond(&mut stream, 404, "text/plain", b"not found\n", head_only, roots),
    }
}

/// A weak validator from the file's size and modification time.
fn etag(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(format!("\"{:x}-{:x}\"", meta.len(), mtime.as_nanos()))
}

/// The value of a request header (case-insensitive name), trimmed.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Reads the request line and headers (bounded); the body, if any, is ignored.
fn read_head(stream: &mut TcpStream) -> Result<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > MAX_REQUEST_HEAD {
            bail!("request head too large");
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            bail!("connection closed mid-request");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Maps a request target to a file inside one of the roots, or None.
fn resolve(target: &str, roots: &Roots) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next()?;
    let decoded = percent_decode(path)?;
    if !decoded.starts_with('/') || decoded.contains('\0') || decoded.contains('\\') {
        return None;
    }
    let (root, rest) = if let Some(rest) = decoded.strip_prefix("/pkg/") {
        (roots.pkg.as_ref()?, rest)
    } else if let Some(rest) = decoded.strip_prefix("/models/") {
        let ext = Path::new(rest).extension().and_then(|e| e.to_str()).unwrap_or("");
        if !MODEL_EXTENSIONS.contains(&ext) {
            return None;
        }
        (roots.models.as_ref()?, rest)
    } else {
        (&roots.www, &decoded[1..])
    };
    let mut rel = PathBuf::new();
    for c in Path::new(rest).components() {
        match c {
            Component::Normal(p) => rel.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    let mut full = root.join(rel);
    if decoded.ends_with('/') || full.is_dir() {
        full.push("index.html");
    }
    // Symlinks must not lead outside the root either.
    let real = full.canonicalize().ok()?;
    (real.starts_with(root) && real.is_file()).then_some(real)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn mime(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "slim" | "onnx" => "application/octet-stream",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "ico" => "image/x-icon",
        "txt" | "md" => "text/plain; charset=utf-8",
        "ts" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn respond(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
    head_only: bool,
    roots: &Roots,
) -> Result<()> {
    respond_with(stream, status, content_type, body, head_only, None, roots)
}

fn respond_with(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
    head_only: bool,
    etag: Option<&str>,
    roots: &Roots,
) -> Result<()> {
    let reason = match status {
        200 => "OK",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\n{}Content-Length: {}\r\n\
         Cache-Control: no-cache\r\nContent-Security-Policy: {CSP}\r\nX-Content-Type-Options: nosniff\r\n\
         Referrer-Policy: no-referrer\r\nCross-Origin-Resource-Policy: same-origin\r\nConnection: close\r\n",
        if content_type.is_empty() { String::new() } else { format!("Content-Type: {content_type}\r\n") },
        body.len()
    );
    if let Some(tag) = etag {
        head.push_str(&format!("ETag: {tag}\r\n"));
    }
    if roots.isolate {
        head.push_str(
            "Cross-Origin-Opener-Policy: same-origin\r\nCross-Origin-Embedder-Policy: require-corp\r\n",
        );
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if !head_only {
        stream.write_all(body)?;
    }
    stream.flush()?;
    Ok(())
}
