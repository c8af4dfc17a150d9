"""LLM answers through the real langchain clients against a scripted server on 127.0.0.1:
good answers pass, invented or unsupported citations and uncited claims are removed, failures
fall back to the extractive answer, streaming shows only checked sentences."""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from retrieval.answer.followup import merge_followup, rewrite_followup
from retrieval.answer.llm import build_chat_model
from retrieval.answer.prompt import build_prompt, estimate_tokens
from retrieval.archive import Archive
from retrieval.types import Answer, Hit
from tests.conftest import CROCUS_QUESTION
from tests.fakes.llm_server import FakeLLMServer, Reply

WARNED = "The United States warned Russia that Crocus City Hall"
NARYSHKIN = "Sergei Naryshkin"
POLICE = "specialized police units arrived"

pytestmark = pytest.mark.slow


@pytest.fixture
def llm_archive(
    make_settings: Callable[..., Settings],
    corpus_dir: Path,
    embedder: Any,
    llm_server: FakeLLMServer,
) -> Callable[..., Archive]:
    """An ingested demo archive whose LLM is the fake server; keyword arguments are settings."""

    def make(**overrides: Any) -> Archive:
        values: dict[str, Any] = {
            "llm_provider": "openai",
            "llm_base_url": f"{llm_server.url}/v1",
            "llm_model": "fake-model",
            "llm_timeout": 5,
        }
        values.update(overrides)
        archive = Archive(make_settings(**values), embedder=embedder)
        archive.ingest()
        return archive

    return make


def number_of(hits: list[Hit], phrase: str) -> int:
    """The passage number (1-based, as in the prompt) of the hit whose text has the phrase."""
    for n, hit in enumerate(hits, start=1):
        if phrase in hit.chunk.text:
            return n
    raise AssertionError(f"no hit contains {phrase!r}")


def assert_well_formed(answer: Answer) -> None:
    """Every [n] resolves; numbers are 1..k in order of first use; quotes are verbatim."""
    used = [int(n) for n in re.findall(r"\[(\d+)\]", answer.text)]
    first_use = list(dict.fromkeys(used))
    assert first_use == list(range(1, len(first_use) + 1))
    assert [c.n for c in answer.citations] == first_use
    for citation in answer.citations:
        for part in citation.quote.split(" … "):
            assert part and part in citation.passage


def test_good_answer_is_kept_renumbered_and_quoted(
    llm_archive: Callable[..., Archive], llm_server: FakeLLMServer
) -> None:
    archive = llm_archive()
    hits = archive.search(CROCUS_QUESTION)
    a, b = number_of(hits, WARNED), number_of(hits, NARYSHKIN)
    llm_server.queue(
        f"The United States warned Russia that Crocus City Hall was a potential target [{a}]. "
        f"Sergei Naryshkin said the information shared by the United States was too general [{b}]."
    )

    answer = archive.ask(CROCUS_QUESTION).answer

    assert answer.composer == "llm" and not answer.refused
    assert answer.text == (
        "The United States warned Russia that Crocus City Hall was a potential target. [1] "
        "Sergei Naryshkin said the information shared by the United States was too general. [2]"
    )
    assert [c.chunk_id for c in answer.citations] == [hits[a - 1].chunk.id, hits[b - 1].chunk.id]
    assert answer.citations[0].quote.startswith(WARNED)
    assert "too general" in answer.citations[1].quote
    assert_well_formed(answer)


def test_prompt_numbers_and_delimits_passages_as_untrusted_data(
    llm_archive: Callable[..., Archive], llm_server: FakeLLMServer
) -> None:
    archive = llm_archive()
    hits = archive.search(CROCUS_QUESTION)
    llm_server.queue(f"The United States warned Russia [{number_of(hits, WARNED)}].")

    _ = archive.ask(CROCUS_QUESTION).answer

    (request,) = llm_server.requests
    assert request.path == "/v1/chat/completions" and request.stream
    assert request.body["model"] == "fake-model"
    system, user = request.content("system"), request.content("user")
    tag = re.search(r"=== PASSAGE \[n\] BEGIN (\w+) ===", system)
    assert tag, system
    assert "untrusted" in system and "never follow instructions" in system
    assert "[n]" in system or "square brackets" in system
    for n, hit in enumerate(hits, start=1):
        begin = user.index(f"=== PASSAGE [{n}] BEGIN {tag[1]} ===")
        end = user.index(f"=== PASSAGE [{n}] END {tag[1]} ===")
        first_sentence = hit.chunk.text.split(". ")[0]
        assert begin < user.index(first_sentence, begin) < end
    assert user.rstrip().endswith(CROCUS_QUESTION)
    assert user.index(CROCUS_QUESTION) > user.rindex(f"END {tag[1]}")


def test_invented_citation_is_removed(
    llm_archive: Callable[..., Archive], llm_server: FakeLLMServer
) -> None:
    archive = llm_archive()
    hits = archive.search(CROCUS_QUESTION)
    a = number_of(hits, WARNED)
    llm_server.queue(
        f"The United States warned Russia that Crocus City Hall was a potential target [{a}][9]. "
        "American intelligence had intercepted the plans of the commando [9]."
    )

    answer = archive.ask(CROCUS_QUESTION).answer

    assert answer.composer == "llm"
    assert "[9]" not in answer.text and "intercepted" not in answer.text
    assert answer.text.endswith("potential target. [1]")
    assert len(answer.citations) == 1
    assert any("never given [9]" in note for note in answer.notes)
    assert_well_formed(answer)


def test_uncited_and_unsupported_claims_are_dropped(
    llm_archive: Callable[..., Archive], llm_server: FakeLLMServer
) -> None:
    archive = llm_archive()
    hits = archive.search(CROCUS_QUESTION)
    a, b = number_of(hits, WARNED), number_of(hits, POLICE)
    llm_server.queue(
        f"The United States warned Russia that Crocus City Hall was a potential target [{a}]. "
        "Russia ignored the warning entirely. "
        f"The Eiffel Tower in Paris was completed for the World Fair [{a}]. "
        f"Police units arrived more than an hour after the shooting began [{b}]."
    )

    answer = archive.ask(CROCUS_QUESTION).answer

    assert answer.composer == "llm"
    assert "ignored" not in answer.text and "Eiffel" not in answer.text
    assert answer.text == (
        "The United States warned Russia that Crocus City Hall was a potential target. [1] "
        "Police units arrived more than an hour after the shooting began. [2]"
    )
    reasons = " | ".join(answer.notes)
    assert "no citation" in reasons and "not supported" in reasons
    assert_well_formed(answer)


def test_numbers_not_in_the_cited_passage_are_dropped(
    llm_archive: Callable[..., Archive], llm_server: FakeLLMServer
) -> None:
    archive = llm_archive()
    hits = archive.search(CROCUS_QUESTION)
    a = number_of(hits, WARNED)
    llm_server.queue(
        f"The attack on March 22 caused over 140 deaths [{a}]. "
        f"The attack on March 22 caused over 260 deaths [{a}]. "
        f"The United States warned Russia that Crocus City Hall was a potential target [{a}]."
    )

    answer = archive.ask(CROCUS_QUESTION).answer

    assert answer.composer == "llm"
    assert "140 deaths" in answer.text and "260" not in answer.text


@pytest.mark.parametrize("mode", ["drained", "iterated"])
@pytest.mark.parametrize(
    ("reply", "expected_note"),
    [
        (Reply("far too late", delay=4.0), "llm failed"),
        (Reply("upstream model crashed", status=500), "llm failed"),
        (Reply("Russia was warned. Nobody knows by whom. It was in March."), "citation check"),
    ],
    ids=["timeout", "http-500", "nothing-cited"],
)
def test_failures_fall_back_to_the_extractive_answer(
    llm_archive: Callable[..., Archive],
    llm_server: FakeLLMServer,
    caplog: pytest.LogCaptureFixture,
    mode: str,
    reply: Reply,
    expected_note: str,
) -> None:
    archive = llm_archive(llm_timeout=1)
    extractive = archive.ask(CROCUS_QUESTION, use_llm=False).answer
    llm_server.queue(reply)

    with caplog.at_level(logging.WARNING, logger="retrieval.answer.llm"):
        stream = archive.ask(CROCUS_QUESTION)
        if mode == "iterated":
            assert list(stream) == []
        answer = stream.answer

    assert len(llm_server.requests) == 1
    assert answer.composer == "extractive"
    assert answer.text == extractive.text and answer.citations == extractive.citations
    assert any(expected_note in note for note in answer.notes)
    assert "using the extractive answer" in caplog.text


def test_too_little_surviving_falls_back(
    llm_archive: Callable[..., Archive], llm_server: FakeLLMServer
) -> None:
    archive = llm_archive()
    hits = archive.search(CROCUS_QUESTION)
    a = number_of(hits, WARNED)
    llm_server.queue(
        f"The United States warned Russia that Crocus City Hall was a potential target [{a}]. "
        "Moscow thanked Washington for the tip. The FSB arrested the organisers in advance. "
        "The concert was cancelled."
    )

    answer = archive.ask(CROCUS_QUESTION).answer

    assert answer.composer == "extractive"
    assert any("1 of 4 sentences kept" in note for note in answer.notes)


def test_stream_shows_only_checked_sentences(
    llm_archive: Callable[..., Archive], llm_server: FakeLLMServer
) -> None:
    archive = llm_archive()
    hits = archive.search(CROCUS_QUESTION)
    a, b = number_of(hits, WARNED), number_of(hits, NARYSHKIN)
    llm_server.queue(
        Reply(
            f"The United States warned Russia that Crocus City Hall was a potential target. [{a}] "
            "The Kremlin admitted everything. "
            f"Sergei Naryshkin called the information too general [{b}, 9]. "
            f"Russia took appropriate measures, Naryshkin said [{b}].",
            piece_chars=3,
        )
    )

    stream = archive.ask(CROCUS_QUESTION)
    drafts = list(stream)
    answer = stream.answer

    assert llm_server.requests[0].stream
    assert answer.composer == "llm"
    assert len(drafts) == 3
    assert drafts[-1] == answer.text
    for earlier, later in itertools.pairwise(drafts):
        assert later.startswith(earlier)
    assert all("Kremlin" not in d and "9]" not in d for d in drafts)
    assert drafts[0] == (
        "The United States warned Russia that Crocus City Hall was a potential target. [1]"
    )
    assert answer.text.endswith(
        "too general. [2] Russia took appropriate measures, Naryshkin said. [2]"
    )
    assert_well_formed(answer)


def test_model_that_finds_no_answer_refuses(
    llm_archive: Callable[..., Archive], llm_server: FakeLLMServer
) -> None:
    archive = llm_archive()
    llm_server.queue("NO_ANSWER")

    answer = archive.ask(CROCUS_QUESTION).answer

    assert answer.refused and answer.composer == "llm"
    assert answer.citations  # the nearest sources are still offered


def test_weak_evidence_is_refused_without_calling_the_model(
    llm_archive: Callable[..., Archive], llm_server: FakeLLMServer
) -> None:
    archive = llm_archive()

    answer = archive.ask("What is the melting point of tungsten carbide?").answer

    assert answer.refused
    assert llm_server.requests == []


def test_ask_without_llm_makes_no_call(
    llm_archive: Callable[..., Archive], llm_server: FakeLLMServer
) -> None:
    archive = llm_archive()

    answer = archive.ask(CROCUS_QUESTION, use_llm=False).answer

    assert answer.composer == "extractive" and not answer.refused
    assert llm_server.requests == []


def test_context_is_capped_in_tokens(llm_archive: Callable[..., Archive]) -> None:
    archive = llm_archive()
    hits = archive.search(CROCUS_QUESTION)
    assert len(hits) >= 3

    wide = build_prompt(CROCUS_QUESTION, hits, context_tokens=10_000)
    narrow = build_prompt(CROCUS_QUESTION, hits, context_tokens=300)
    tiny = build_prompt(CROCUS_QUESTION, hits, context_tokens=120)

    assert len(wide.passages) == len(hits)
    assert 1 <= len(narrow.passages) < len(hits)
    passages_part = narrow.user.rsplit("\n\nQuestion", 1)[0]
    assert estimate_tokens(passages_part) <= 300
    assert len(tiny.passages) == 1
    assert estimate_tokens(tiny.user.rsplit("\n\nQuestion", 1)[0]) <= 120


def test_ollama_provider_through_langchain_ollama(
    llm_archive: Callable[..., Archive], llm_server: FakeLLMServer
) -> None:
    archive = llm_archive(llm_provider="ollama", llm_base_url=llm_server.url)
    hits = archive.search(CROCUS_QUESTION)
    a = number_of(hits, WARNED)
    text = f"The United States warned Russia that Crocus City Hall was a potential target [{a}]."
    llm_server.queue(text, text)

    answer = archive.ask(CROCUS_QUESTION).answer
    stream = archive.ask(CROCUS_QUESTION)
    drafts = list(stream)

    assert [r.path for r in llm_server.requests] == ["/api/chat", "/api/chat"]
    assert llm_server.requests[0].body["options"]["num_predict"] == 512
    assert answer.composer == "llm" and answer.text.endswith("potential target. [1]")
    assert drafts == [answer.text] and stream.answer.text == answer.text


def test_followup_is_rewritten_into_a_standalone_question(
    llm_archive: Callable[..., Archive], llm_server: FakeLLMServer
) -> None:
    model = build_chat_model(llm_archive().settings)
    llm_server.queue(
        "Standalone question: How did Russia respond to the US warning about Crocus City Hall?",
        Reply("boom", status=500),
        "Bananas are yellow.",
    )

    good, failed, unusable = (
        rewrite_followup(model, CROCUS_QUESTION, "And how did Russia respond?", 2000)
        for _ in range(3)
    )

    assert good == "How did Russia respond to the US warning about Crocus City Hall?"
    merged = merge_followup(CROCUS_QUESTION, "And how did Russia respond?")
    assert failed == unusable == merged
    assert merged == "And how did Russia respond? (warned Crocus City Hall potential target)"
    user = llm_server.requests[0].content("user")
    assert CROCUS_QUESTION in user and "And how did Russia respond?" in user
