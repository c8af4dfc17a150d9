"""Torch modules made into ONNX files once, and run on ONNX Runtime: shared by the embedder and
the reader.

    path = model_file(cache_dir, "embedder", fingerprint(model_folder, "mean-pooled"), "int8")
    export(build_module, example_inputs, path, input_names=…, output_names=…,
           dynamic_axes=…, precision="int8")      # a no-op when `path` exists
    session = open_session(path, threads=0)        # 0 = every core this process may use
    outputs = session.run(None, {"input_ids": …, "attention_mask": …})

The file's name carries a fingerprint of what it was built from (the weights' files, the
export recipe, torch's version and, for int8, ONNX Runtime's), so a changed model is exported
afresh and never served from a stale file. A file is written under a temporary name in the
same folder and renamed into place, so a reader never sees half a file; two processes that
race both export and the last rename wins (the two files are equivalent). Nothing here
downloads anything.

int8 is ONNX Runtime's dynamic quantisation: the weights of MatMul (and a fused Attention's)
stored as signed 8-bit integers per output channel, activations quantised on the fly (VNNI
kernels on CPUs that have them); those weights take a quarter of their fp32 size.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import onnxruntime
    import torch

log = logging.getLogger(__name__)

Precision = Literal["fp32", "int8"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "int8")
Optimization = Literal["disable", "basic", "extended", "all"]

# Bump when the way a module is exported or quantised changes: old files are then unused.
RECIPE_VERSION = "2"
OPSET = 17


def fingerprint(*parts: str | os.PathLike[str]) -> str:
    """16 hex digits that change when any part changes. A path part stands for its files'
    names, sizes and modification times (a folder: every file under it), not their bytes:
    cheap enough to check at every start, and a reinstalled model counts as changed."""
    digest = hashlib.sha256(RECIPE_VERSION.encode())
    for part in parts:
        if isinstance(part, str):
            digest.update(b"s\0" + part.encode("utf-8") + b"\0")
            continue
        root = Path(part)
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for file in files:
            stat = file.stat()
            name = file.relative_to(root).as_posix() if root.is_dir() else file.name
            digest.update(f"f\0{name}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()[:16]


def model_file(cache_dir: Path, name: str, key: str, precision: Precision) -> Path:
    """Where the ONNX file of `name` built from `key` (a `fingerprint`) at `precision` lives."""
    versions = _torch_version() + (f"-ort{_ort_version()}" if precision == "int8" else "")
    return cache_dir / f"{name}-{fingerprint(key, versions)}-{precision}.onnx"


def export(
    build: Callable[[], torch.nn.Module],
    example_inputs: tuple[torch.Tensor, ...],
    path: Path,
    *,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: Mapping[str, Mapping[int, str]],
    precision: Precision = "fp32",
) -> Path:
    """The ONNX file at `path`, exported from the module `build()` returns if it is not there
    yet (`build` is not called when it is). `example_inputs` are traced through the module
    in the order of `input_names`; `dynamic_axes` names the axes that vary (batch, sequence).
    With precision "int8" the file holds the dynamically quantised model."""
    if path.is_file():
        return path
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    stem = f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    traced = path.with_name(f"{stem}.fp32.tmp")
    final = path.with_name(f"{stem}.tmp")
    try:
        module = build().eval()
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's notes on tracing
            torch.onnx.export(
                module,
                example_inputs,
                str(traced),
                dynamo=False,  # the tracing exporter: no onnxscript needed, fast, well fused
                input_names=list(input_names),
                output_names=list(output_names),
                dynamic_axes={k: dict(v) for k, v in dynamic_axes.items()},
                opset_version=OPSET,
                do_constant_folding=True,
            )
        if precision == "int8":
            quantize_int8(traced, final)
        else:
            os.replace(traced, final)
        os.replace(final, path)
    finally:
        for leftover in (traced, final):
            leftover.unlink(missing_ok=True)
    log.info("exported %s", path)
    return path


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation of an fp32 ONNX file: MatMul and Attention weights as signed
    8-bit integers with a scale per output channel (per tensor, MiniLM's vectors drift to a
    cosine of 0.75-0.97 with the fp32 model's; per channel, 0.98-0.995), activations
    quantised at run time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet_logging():
        quantize_dynamic(
            source,
            target,
            op_types_to_quantize=["MatMul", "Attention"],
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=False,
        )


def open_session(
    path: Path, threads: int = 0, optimization: Optimization = "all"
) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session on the CPU over the file at `path`: `threads` intra-op threads
    (0 = one per core this process may run on) and one inter-op thread; the graph optimised
    at the given level when the session opens."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or available_cores()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[optimization]
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def available_cores() -> int:
    """The CPUs this process may run on (its affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_cache_dir(data_dir: Path) -> Path:
    """Beside the virtual environment (`<venv>/var/citebot/onnx`, shared by every archive run
    from it) when that is writable, else `DATA_DIR/onnx`."""
    beside_venv = Path(sys.prefix) / "var" / "citebot" / "onnx"
    existing = beside_venv
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if os.access(existing, os.W_OK | os.X_OK):
        return beside_venv
    return data_dir / "onnx"


def _torch_version() -> str:
    import torch

    return f"torch{torch.__version__}"


def _ort_version() -> str:
    import onnxruntime

    return str(onnxruntime.__version__)


@contextlib.contextmanager
def _quiet_logging() -> Any:
    """The quantiser logs every node it skips, and advice, on the root logger."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        root.setLevel(level)
