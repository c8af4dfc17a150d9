"""The reader: for a question and candidate sentences (each with its document's title), the
probability that each sentence answers the question and where the answer stands in it.

A cross-encoder trained here (`training/train_reader.py`, model card in `reader.md`):
low-rank adapters over the bundled all-MiniLM-L6-v2, shipped as `reader.safetensors` beside
this file. A question's candidates are read in one batch.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from retrieval.answer.reader_inputs import MAX_ANSWER_TOKENS, Encoded, encode
from retrieval.errors import ReaderUnavailable

WEIGHTS = Path(__file__).with_name("reader.safetensors")
TRAINING_COMMAND = ".venv/bin/python training/train_reader.py"
FORMAT = "citebot-reader/1"

GROUP = 8  # sentences run together (grouped by length)

Backend = Literal["onnx", "torch"]
Precision = Literal["int8", "fp32"]


@dataclass(frozen=True)
class Reading:
    """What the reader found in one sentence."""

    probability: float  # that the sentence answers the question
    span: tuple[int, int] | None  # the answer's characters in the sentence


class Reader:
    """Reads candidate sentences against a question (thread-safe; loaded on first use)."""

    def __init__(
        self,
        weights: Path = WEIGHTS,
        *,
        backend: Backend = "onnx",
        precision: Precision = "int8",
        cache_dir: Path | None = None,
        threads: int = 0,
        base_path: str = "",
    ) -> None:
        """`backend` onnx runs the reader exported once (at `precision`) into `cache_dir` on
        ONNX Runtime; torch runs it in torch (fp32). `threads` 0: every core."""
        self.weights = weights
        self.backend = backend
        self.precision = precision
        self._cache_dir = cache_dir
        self._base_path = base_path
        self._threads = threads
        self._run: Any = None
        self._lock = threading.Lock()

    @property
    def base_path(self) -> str:
        if not self._base_path:
            from retrieval.index.embedding import bundled_model_path

            self._base_path = bundled_model_path()
        return self._base_path

    def verify(self) -> None:
        """Check the weights file without loading the model (its header only): ReaderUnavailable,
        naming the file and the training command, if it is missing, damaged or made for
        another base model."""
        if not self.weights.is_file():
            raise ReaderUnavailable(
                f"The reader's weights file {self.weights} is missing. Reinstall citebot, or"
                f" rebuild it with `{TRAINING_COMMAND}`."
            )
        try:
            check_metadata(self.base_path, self.weights)
        except Exception as exc:  # a damaged or foreign file: safetensors' error or ours
            raise _unusable(self.weights, exc) from exc

    def _runner(self) -> Any:
        with self._lock:
            if self._run is None:
                self.verify()
                try:
                    self._run = self._load()
                except ReaderUnavailable:
                    raise
                except Exception as exc:  # a damaged or foreign file: safetensors, torch, ours
                    raise _unusable(self.weights, exc) from exc
            return self._run

    def _load(self) -> Any:
        """A function from padded (ids, mask, types) arrays to (answer, start, end) logits."""
        from retrieval.answer import reader_net

        base = self.base_path
        if self.backend == "torch":
            import torch

            net = reader_net.load_trained(base, self.weights)
            if self._threads:
                torch.set_num_threads(self._threads)

            def run_torch(ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> Any:
                with torch.inference_mode():
                    out = net(
                        torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(types)
                    )
                return [o.float().numpy() for o in out]

            return run_torch
        from retrieval import onnx

        cache = self._cache_dir or onnx.default_cache_dir(Path("data"))
        key = onnx.fingerprint(self.weights, Path(base) / "model.safetensors")
        path = onnx.model_file(cache, "reader", key, self.precision)
        example = reader_net.example_inputs()
        onnx.export(
            lambda: reader_net.load_trained(base, self.weights),
            example,
            path,
            input_names=reader_net.INPUTS,
            output_names=reader_net.OUTPUTS,
            dynamic_axes=reader_net.DYNAMIC_AXES,
            precision=self.precision,
        )
        session = onnx.open_session(path, self._threads)

        def run_onnx(ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> Any:
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            return session.run(None, feed)

        return run_onnx

    def read(self, question: str, sentences: Sequence[tuple[str, str]]) -> list[Reading]:
        """One reading per (title, sentence), in order."""
        if not sentences:
            return []
        run = self._runner()
        encoded = encode(self.base_path, question, list(sentences))
        readings: list[Reading | None] = [None] * len(encoded)
        # Shortest first, in groups padded to their own longest: less padding to compute.
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].ids))
        for g in range(0, len(order), GROUP):
            group = order[g : g + GROUP]
            ids, types, mask = _padded([encoded[i] for i in group])
            with self._lock:  # one batch at a time: the CPU is the bottleneck either way
                answer, starts, ends = run(ids, mask, types)
            chances = 1.0 / (1.0 + np.exp(-np.asarray(answer, dtype=np.float64)))
            for row, i in enumerate(group):
                span = _span(encoded[i], starts[row], ends[row], sentences[i][1])
                readings[i] = Reading(round(float(chances[row]), 4), span)
        return [r for r in readings if r is not None]


def _unusable(weights: Path, reason: Exception) -> ReaderUnavailable:
    return ReaderUnavailable(
        f"The reader's weights file {weights} cannot be used ({reason}). Rebuild it with"
        f" `{TRAINING_COMMAND}`."
    )


def _padded(encoded: Sequence[Encoded]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    width = max(len(e.ids) for e in encoded)
    ids = np.zeros((len(encoded), width), dtype=np.int64)
    types = np.zeros_like(ids)
    mask = np.zeros_like(ids)
    for i, e in enumerate(encoded):
        ids[i, : len(e.ids)] = e.ids
        types[i, : len(e.ids)] = e.type_ids
        mask[i, : len(e.ids)] = 1
    return ids, types, mask


def _span(
    encoded: Encoded, start_logits: np.ndarray, end_logits: np.ndarray, sentence: str
) -> tuple[int, int] | None:
    """The best span over the sentence's tokens (start ≤ end, at most MAX_ANSWER_TOKENS
    long), widened to whole words."""
    allowed = np.array([s is not None for s in encoded.spans])
    if not allowed.any():
        return None
    n = len(encoded.spans)
    starts = np.where(allowed, start_logits[:n], -np.inf)
    ends = np.where(allowed, end_logits[:n], -np.inf)
    pair = starts[:, None] + ends[None, :]
    band = np.triu(np.ones((n, n), dtype=bool)) & ~np.triu(
        np.ones((n, n), dtype=bool), MAX_ANSWER_TOKENS
    )
    pair = np.where(band, pair, -np.inf)
    i, j = np.unravel_index(int(np.argmax(pair)), pair.shape)
    first, last = encoded.spans[i], encoded.spans[j]
    if first is None or last is None:
        return None
    return _whole_words(sentence, first[0], last[1])


def _whole_words(text: str, start: int, end: int) -> tuple[int, int] | None:
    """[start, end) widened to the words it cuts, without surrounding space or punctuation."""
    start, end = max(0, start), min(len(text), end)
    while start > 0 and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while end < len(text) and text[end - 1].isalnum() and text[end].isalnum():
        end += 1
    while start < end and not text[start].isalnum() and text[start] not in '$€£¥("“':
        start += 1
    while end > start and not text[end - 1].isalnum() and text[end - 1] not in '%)"”':
        end -= 1
    return (start, end) if end > start else None


@lru_cache(maxsize=4)
def base_fingerprint(base_path: str) -> str:
    """A short hash of the base model's weights file: adapters fit only the base they were
    trained on."""
    digest = hashlib.sha256()
    with (Path(base_path) / "model.safetensors").open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def read_metadata(path: Path) -> dict[str, Any]:
    """The metadata of a weights file (its header only)."""
    from safetensors import safe_open

    with safe_open(str(path), "numpy") as f:
        raw = f.metadata() or {}
    return {k: json.loads(v) for k, v in raw.items()}


def check_metadata(base_path: str, path: Path) -> dict[str, Any]:
    """The file's metadata, if it is a reader weights file made for this base (ValueError
    if not)."""
    meta = read_metadata(path)
    if meta.get("format") != FORMAT:
        raise ValueError(f"not a reader weights file (format {meta.get('format')!r})")
    if meta.get("base") != base_fingerprint(str(base_path)):
        raise ValueError("trained on another base model than the bundled all-MiniLM-L6-v2")
    return meta
