"""Which `.env` the `citebot` command reads: the project's (or the file CITEBOT_ENV_FILE
names), never one that happens to lie in the current directory."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pytest

import bot.cli
import retrieval.settings
from bot.cli import main
from bot.settings import Settings
from tests.conftest import ROOT

PLANTED = "http://attacker.invalid/bot"
VARIABLES = ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE_URL", "CITEBOT_ENV_FILE")


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Settings]:
    """`citebot serve` run in a directory holding a planted .env, with a project folder of its
    own (so a developer's .env plays no part); the settings it was given are recorded."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    cwd = tmp_path / "somewhere"
    cwd.mkdir()
    (cwd / ".env").write_text(f"TELEGRAM_API_BASE_URL={PLANTED}\nTELEGRAM_BOT_TOKEN=planted\n")
    monkeypatch.chdir(cwd)
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.setattr(retrieval.settings, "project_dir", lambda: project)
    recorded: list[Settings] = []

    def serve(args: argparse.Namespace, settings: Settings) -> int:
        recorded.append(settings)
        return 0

    monkeypatch.setattr(bot.cli, "cmd_serve", serve)
    return recorded


def test_a_env_planted_in_the_current_directory_is_not_read(
    seen: list[Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve"]) == 0
    assert seen[0].telegram_api_base_url == ""
    assert seen[0].telegram_bot_token == ""
    assert "no .env file" in capsys.readouterr().err


def test_the_projects_env_is_read_from_any_directory_and_named(
    seen: list[Settings],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    project_env = tmp_path / "project" / ".env"
    project_env.write_text("TELEGRAM_BOT_TOKEN=from-the-project\n")
    assert main(["serve"]) == 0
    assert seen[0].telegram_bot_token == "from-the-project"
    assert seen[0].telegram_api_base_url == ""
    assert f"settings from {project_env}" in capsys.readouterr().err
    assert any(str(project_env) in r.getMessage() for r in caplog.records)


def test_citebot_env_file_names_the_file_to_read(
    seen: list[Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "project" / ".env").write_text("TELEGRAM_BOT_TOKEN=from-the-project\n")
    named = tmp_path / "etc" / "citebot.env"
    named.parent.mkdir()
    named.write_text("TELEGRAM_BOT_TOKEN=from-the-named-file\n")
    monkeypatch.setenv("CITEBOT_ENV_FILE", str(named))
    assert main(["serve"]) == 0
    assert seen[0].telegram_bot_token == "from-the-named-file"
    assert seen[0].telegram_api_base_url == ""
    monkeypatch.setenv("CITEBOT_ENV_FILE", "")  # empty: no file at all
    assert main(["serve"]) == 0
    assert seen[1].telegram_bot_token == ""
    monkeypatch.setenv("CITEBOT_ENV_FILE", str(tmp_path / "missing.env"))
    capsys.readouterr()
    assert main(["serve"]) == 2
    assert len(seen) == 2
    assert f"CITEBOT_ENV_FILE names {tmp_path / 'missing.env'}" in capsys.readouterr().err


def test_the_project_is_the_checkout_holding_pyproject_toml() -> None:
    assert retrieval.settings.project_dir() == ROOT
    assert (ROOT / "pyproject.toml").is_file()
