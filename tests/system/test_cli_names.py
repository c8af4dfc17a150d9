"""What `citebot` prints of names and titles it does not control (issue 20, item 11): a file
name or a document may carry terminal escape codes; none reaches the terminal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.cli import main

# Clear the screen, set the window title (ended by a bell), a C1 control sequence introducer;
# in file names, a line break too.
ESCAPES = "\x1b[2J\x1b]0;pwned\x07\x9b31m"
NAME = ESCAPES + "\n"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)  # corpus/ and data/ are relative to here
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / f"keeper{NAME}notes.txt").write_text(
        f"date 2024-05-01 The lighthouse keeper{ESCAPES} retired in May.\n\n"
        "The lighthouse keeper retired in May after forty years at the light.\n",
        encoding="utf-8",
    )
    (corpus / f"empty{NAME}.md").write_text("", encoding="utf-8")
    (corpus / f"tool{NAME}.exe").write_bytes(b"MZ")
    return tmp_path


def printed(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert not CONTROL.findall(out), [c for c in CONTROL.findall(out)]
    return out


def test_escape_codes_in_names_and_titles_are_not_printed(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest"]) == 0
    out = printed(capsys)
    assert "failed: corpus/empty[2J]0;pwned31m .md: file is empty" in out
    assert "skipped: corpus/tool[2J]0;pwned31m .exe: unsupported file type .exe" in out
    assert "1 added" in out

    assert main(["sources"]) == 0
    out = printed(capsys)
    assert "The lighthouse keeper[2J]0;pwned31m retired in May." in out
    assert "corpus/keeper[2J]0;pwned31m notes.txt" in out

    assert main(["ask", "When did the lighthouse keeper retire?"]) == 0
    out = printed(capsys)
    assert "corpus/keeper[2J]0;pwned31m notes.txt" in out
