"""`citebot serve` as an operator runs it: clear errors for missing or rejected settings, and
a real process that answers over the (fake) Bot API and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.cli import main
from tests.fakes.botapi_server import BotApiServer

TELEGRAM_VARIABLES = (
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_BASE_URL",
    "TELEGRAM_API_FILE_URL",
    "TELEGRAM_API_BASE_FILE_URL",
    "WEBHOOK_URL",
    "WEBHOOK_SECRET",
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)  # no developer .env; corpus/ and data/ are relative to here
    for name in TELEGRAM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
async def api() -> AsyncIterator[BotApiServer]:
    async with BotApiServer() as server:
        yield server


def test_serve_without_a_token_says_how_to_get_one(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "TELEGRAM_BOT_TOKEN is not set" in err and "@BotFather" in err
    assert not (env / "data").exists()  # refused before opening anything


def test_webhook_mode_refuses_to_start_without_a_secret(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    assert main(["serve", "--webhook", "https://bot.example.org/hook", "--port", "8443"]) == 2
    assert "webhook mode needs WEBHOOK_SECRET" in capsys.readouterr().err


async def test_serve_with_a_rejected_token_fails_clearly(
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    api: BotApiServer,
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "999:not-the-right-token")
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", api.base_url)
    code = await asyncio.to_thread(main, ["serve"])
    assert code == 1
    err = capsys.readouterr().err
    assert f"the Bot API at {api.base_url} rejected TELEGRAM_BOT_TOKEN" in err
    assert "Traceback" not in err


@pytest.mark.slow
async def test_citebot_serve_answers_and_stops_on_sigterm(env: Path, api: BotApiServer) -> None:
    citebot = [sys.executable, "-m", "bot.cli"]  # the `citebot` command, from this checkout
    variables = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_BASE_URL": api.base_url,
        "DATA_DIR": str(env / "data"),  # nothing ingested: an empty archive
        "FEEDBACK_DB": str(env / "data" / "feedback.sqlite3"),
    }
    process = await asyncio.create_subprocess_exec(
        *citebot, "serve", cwd=env, env=variables, stderr=asyncio.subprocess.PIPE
    )
    try:
        await api.wait_for("getUpdates", timeout=120, pending=True)
        api.push_message("/start", chat_id=77)
        api.push_message("Who warned Russia about the attack?", chat_id=77)
        await api.wait_for("sendMessage", chat_id=77, count=2, timeout=60)
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.stderr is not None
    err = (await process.stderr.read()).decode()
    assert code == 0, err
    assert f"@{api.username} is answering (long polling)" in err
    texts = [c.params["text"] for c in api.calls_to("sendMessage", chat_id=77)]
    assert "My archive is empty for now" in texts[0]
    assert texts[1].startswith("The archive has nothing that answers this question.")
    assert api.calls_to("deleteWebhook")  # polling mode clears any webhook first


@pytest.mark.slow
async def test_serve_fails_clearly_when_telegram_refuses_the_webhook(
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    api: BotApiServer,
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", api.token)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", api.base_url)
    monkeypatch.setenv("WEBHOOK_SECRET", "a-secret")
    api.fail_next("setWebhook", 400, "Bad Request: bad webhook: Failed to resolve host")
    args = ["serve", "--webhook", "https://nowhere.invalid/hook", "--listen", "127.0.0.1"]
    code = await asyncio.to_thread(main, [*args, "--port", "0"])
    assert code == 1
    err = capsys.readouterr().err
    assert "the Bot API refused to start the bot: Bad webhook: failed to resolve host" in err
    assert "Traceback" not in err
