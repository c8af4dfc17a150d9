"""The embedders: the ONNX export gives the torch model's vectors, and the settings choose it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from retrieval.index.embedding import (
    EmbedderIdentity,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    make_embedder,
)
from retrieval.onnx import default_cache_dir
from retrieval.settings import RetrievalSettings
from tests.conftest import ROOT

TEXTS = [
    "Who warned Russia that Crocus City Hall was a potential target?",
    "The United States warned Russia that Crocus City Hall, the concert hall outside Moscow,"
    " was a potential target of an attack. " * 4,  # > 256 tokens: truncated alike
    "Beyoncé Giselle Knowles-Carter (born September 4, 1981) is an American singer, songwriter"
    " and actress; Destiny's Child sold 60 million records.",
    "How many kilometres long is the Rhine?",
]
# Texts with next to no words, where int8's rounding weighs most (about 0.97 against torch).
DEGENERATE = ["x", "", "   "]

pytestmark = pytest.mark.slow  # loads the model on torch and on ONNX Runtime


def settings(**values: object) -> RetrievalSettings:
    return RetrievalSettings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def onnx_fp32() -> OnnxEmbedder:
    return OnnxEmbedder(precision="fp32", cache_dir=settings().onnx_dir)


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_onnx_vectors_are_the_torch_models_vectors(
    precision: str, torch_embedder: SentenceTransformerEmbedder, onnx_fp32: OnnxEmbedder
) -> None:
    onnx_embedder = make_embedder(settings()) if precision == "int8" else onnx_fp32
    texts = TEXTS + DEGENERATE
    reference = torch_embedder.embed(texts)
    vectors = onnx_embedder.embed(texts)
    assert vectors.shape == reference.shape == (len(texts), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = (vectors * reference).sum(axis=1)
    words, degenerate = cosine[: len(TEXTS)], cosine[len(TEXTS) :]
    if precision == "fp32":
        assert cosine.min() >= 0.99999, cosine
    else:
        assert words.min() >= 0.99 and degenerate.min() >= 0.95, cosine


def test_batches_sorted_by_length_come_back_in_the_callers_order(
    onnx_fp32: OnnxEmbedder,
) -> None:
    together = onnx_fp32.embed(TEXTS + DEGENERATE)
    alone = np.vstack([onnx_fp32.embed([text]) for text in TEXTS + DEGENERATE])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_each_embedder_says_what_it_is(
    torch_embedder: SentenceTransformerEmbedder, onnx_fp32: OnnxEmbedder
) -> None:
    assert make_embedder(settings()).identity == EmbedderIdentity(
        "all-MiniLM-L6-v2", "onnx", "int8", 384
    )
    assert onnx_fp32.identity == EmbedderIdentity("all-MiniLM-L6-v2", "onnx", "fp32", 384)
    assert torch_embedder.identity == EmbedderIdentity("all-MiniLM-L6-v2", "torch", "fp32", 384)
    identity = torch_embedder.identity
    assert EmbedderIdentity.from_json(identity.to_json()) == identity
    assert EmbedderIdentity.from_json("") is None
    assert EmbedderIdentity.from_json('{"model": "x"}') is None


def test_the_export_is_made_once_into_the_cache_beside_the_venv(onnx_fp32: OnnxEmbedder) -> None:
    assert onnx_fp32.path.parent == default_cache_dir(Path("unused"))
    assert onnx_fp32.path.is_file()
    assert {p.suffix for p in onnx_fp32.path.parent.iterdir()} <= {".onnx", ".json"}


def test_onnx_int8_is_the_default_and_torch_is_a_setting() -> None:
    default = settings()
    assert (default.embedding_backend, default.embedding_precision) == ("onnx", "int8")
    assert isinstance(make_embedder(default), OnnxEmbedder)
    on_torch = settings(embedding_backend="torch")
    assert on_torch.embedding_precision == "fp32"  # torch runs the model's own weights
    assert isinstance(make_embedder(on_torch), SentenceTransformerEmbedder)
    assert settings(embedding_precision="fp32").embedding_precision == "fp32"
    assert settings(model_cache_dir="/srv/models").onnx_dir == Path("/srv/models")
    assert settings(model_cache_dir="").onnx_dir == default_cache_dir(Path("data"))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"embedding_backend": "torch", "embedding_precision": "int8"},
            "EMBEDDING_PRECISION=int8 needs EMBEDDING_BACKEND=onnx",
        ),
        ({"embedding_device": "cuda"}, "EMBEDDING_DEVICE=cuda needs EMBEDDING_BACKEND=torch"),
        ({"embedding_backend": "tensorflow"}, "'onnx' or 'torch'"),
        ({"embedding_precision": "int4"}, "'int8' or 'fp32'"),
    ],
)
def test_impossible_embedder_settings_are_refused_with_the_reason(
    values: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**values)


def test_every_embedder_setting_is_in_env_example() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for line in ("EMBEDDING_BACKEND=onnx", "EMBEDDING_PRECISION=int8", "MODEL_CACHE_DIR="):
        assert f"\n{line}\n" in example
