"""The `citebot` command as a user runs it (in-process, real components)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import CROCUS_QUESTION, VOICE_DATA


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, corpus_dir: Path) -> Path:
    monkeypatch.chdir(tmp_path)  # no developer .env; corpus/ and data/ are relative to here
    return tmp_path


def test_ingest_ask_and_sources(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest"]) == 0
    out = capsys.readouterr().out
    assert "1 added, 0 changed, 0 unchanged, 0 removed, 0 failed" in out

    assert main(["ingest"]) == 0
    assert "0 added, 0 changed, 1 unchanged" in capsys.readouterr().out

    assert main(["ask", CROCUS_QUESTION]) == 0
    out = capsys.readouterr().out
    assert "United States" in out and "[1]" in out
    assert "Sources:" in out
    assert "[1] The United States warned Russia" in out
    assert "2024-04-02" in out and "corpus/us-warned-russia-crocus-city-hall.txt" in out

    assert main(["sources"]) == 0
    out = capsys.readouterr().out
    assert "1 document, 4 chunks, dated 2024-04-02 to 2024-04-02" in out


def test_json_output_is_one_object(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["ingest", "--json"])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["added"] == ["corpus/us-warned-russia-crocus-city-hall.txt"]
    main(["ask", "--json", CROCUS_QUESTION])
    answer = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert answer["citations"][0]["date"] == "2024-04-02"
    assert answer["refused"] is False


@pytest.mark.slow
def test_ask_voice_transcribes_the_recording_and_answers(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["ingest"])
    capsys.readouterr()
    assert main(["ask", "--voice", str(VOICE_DATA / "crocus.ogg"), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert answer["transcript"].startswith("Who warned Russia")
    assert "Crocus City Hall" in answer["transcript"]
    assert answer["citations"][0]["source"] == "corpus/us-warned-russia-crocus-city-hall.txt"
    main(["ask", "--json", answer["transcript"]])  # what was heard, typed: the same answer
    typed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {k: answer[k] for k in typed} == typed and "transcript" not in typed
    (env / "notes.ogg").write_text("These are notes, not a recording.")
    assert main(["ask", "--voice", str(env / "notes.ogg")]) == 1
    assert "could not read that as audio" in capsys.readouterr().err
    assert main(["ask"]) == 2
    assert main(["ask", "--voice", str(env / "missing.ogg")]) == 2
    assert main(["ask", "a question", "--voice", str(env / "notes.ogg")]) == 2


def test_failures_are_listed_with_reasons(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (env / "corpus" / "empty.md").write_text("", encoding="utf-8")
    assert main(["ingest"]) == 0
    out = capsys.readouterr().out
    assert "failed: corpus/empty.md: file is empty" in out
    assert "1 added, 0 changed, 0 unchanged, 0 removed, 1 failed" in out


def test_bad_questions_and_empty_index_get_clear_errors(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", "anything"]) == 1
    assert "run `citebot ingest` first" in capsys.readouterr().err
    main(["ingest"])
    capsys.readouterr()
    assert main(["ask", "x" * 10_000]) == 1
    assert "10,000 characters" in capsys.readouterr().err


def test_corrupt_manifest_names_the_rebuild_path(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["ingest"])
    (env / "data" / "manifest.sqlite3").write_bytes(b"this is not a database" * 100)
    for leftover in ("manifest.sqlite3-wal", "manifest.sqlite3-shm"):
        (env / "data" / leftover).unlink(missing_ok=True)
    assert main(["ingest"]) == 1
    assert "citebot ingest --rebuild" in capsys.readouterr().err
    assert main(["ingest", "--rebuild"]) == 0
    assert "1 added" in capsys.readouterr().out
    with sqlite3.connect(env / "data" / "manifest.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM files").fetchone() == (1,)


def test_a_malformed_setting_is_named_without_a_traceback(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CHROMA_PORT", "eight thousand")
    assert main(["sources"]) == 2
    err = capsys.readouterr().err
    assert "setting CHROMA_PORT=eight thousand" in err
    assert "Traceback" not in err


def test_feedback_lists_the_answers_voted_down(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.feedback import FeedbackStore, ShownAnswer
    from retrieval import Answer, Citation

    assert main(["feedback"]) == 0  # nothing recorded yet: said, not an error
    assert "No feedback recorded yet" in capsys.readouterr().err
    citation = Citation(1, "c1", "Harbour news", "corpus/h.txt", "The ferry left.", "…")
    store = FeedbackStore(env / "data" / "feedback.sqlite3")  # DATA_DIR's default place
    good = ShownAnswer(
        "a1", 7, Answer("When did the ferry leave?", "At dawn. [1]", (citation,), 0.8), "x"
    )
    bad = ShownAnswer(
        "a2", 7, Answer("Who owns the ferry?", "The ferry left. [1]", (citation,), 0.5), "x"
    )
    store.record_vote(good, 11, 1)
    store.record_vote(bad, 12, -1)

    assert main(["feedback"]) == 0
    out = capsys.readouterr().out
    assert "Q: Who owns the ferry?" in out and "A: The ferry left. [1]" in out
    assert "[1] Harbour news" in out and "“The ferry left.”" in out
    assert "When did the ferry leave?" not in out  # a 👍 is not listed by default

    assert main(["feedback", "--all", "--json"]) == 0
    votes = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [v["vote"] for v in votes] == [-1, 1]  # newest first
    assert votes[0]["citations"][0]["quote"] == "The ferry left."
