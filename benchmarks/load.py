"""Load benchmark: many chats asking at once, through the fake Bot API server, in polling and
webhook modes. Prints p50/p95 question-to-reply latency, throughput and the send rates that
Telegram limits (about 1 message/s in one chat, 30/s overall, 20/min in one group).

The bot runs as a real `citebot serve` process, exactly as deployed; this process plays
Telegram (tests/fakes/botapi_server.py over HTTP on 127.0.0.1) and the users. Every chat is a user
who asks a question, waits for the reply, reads it for `--think` seconds (default 1, so one
user never makes the bot send more than about a message a second) and asks the next: a
closed loop, 50 users at once by default, enough to keep the bot saturated. The archive is
SQuAD-dev paragraphs, one file each, and the questions are SQuAD's own questions about them.
The per-user rate limit is switched off and the asking users are admins (whom the budget of
replies does not count): neither is what is measured.

`--flood private,group` adds runs in which one ordinary user (default limits) floods the bot
while the others ask, as in issue 11: `--flood-burst` /help commands at once, then
`--flood-rate` a second until the others are done, in a private chat or in a group. The
table then compares the other users' latency under the flood with the run without (`none`).

    .venv/bin/python benchmarks/load.py [--questions 200] [--chats 50] [--docs 400]
                                        [--modes polling,webhook] [--store embedded|server]
                                        [--think 1.0] [--flood none,private,group]
                                        [--flood-burst 300] [--flood-rate 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from common import ROOT, SQUAD

from bot.webhook import SECRET_HEADER
from tests.fakes.botapi_server import BotApiServer
from tests.fakes.chroma_server import ChromaServer

DEMO = ROOT / "corpus"
DEMO_QUESTIONS = [
    "Who warned Russia that Crocus City Hall was a potential target?",
    "When did the United States warn Moscow about the attack?",
    "Which group carried out the attack on Crocus City Hall?",
    "Where is Crocus City Hall?",
]
SECRET = "load-benchmark-secret"
HOOK_URL = "https://citebot.invalid/hook"
FLOODER = 9_001  # an ordinary user (the asking users are 10_000 + i, admins)
FLOOD_GROUP = -100_900
FIRST_USER = 10_000


class LoadApiServer(BotApiServer):
    """The fake Bot API, plus a future per chat that resolves with the next message sent to
    it (a closed-loop user has one question outstanding, so that message is its reply; in
    private chats the bot does not quote the question)."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting: dict[int, asyncio.Future[tuple[float, str]]] = {}

    def expect_reply(self, chat_id: int) -> asyncio.Future[tuple[float, str]]:
        """Resolves to (when the reply arrived, its visible text)."""
        future: asyncio.Future[tuple[float, str]] = asyncio.get_running_loop().create_future()
        self.waiting[chat_id] = future
        return future

    async def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        arrived = time.monotonic()
        result = await super()._m_sendMessage(params)
        future = self.waiting.pop(int(params["chat_id"]), None)
        if future is not None and not future.done():
            future.set_result((arrived, str(result.get("text", ""))))
        return result


@dataclass
class Result:
    mode: str
    flood: str  # none | private | group
    latencies: list[float]
    wall: float
    failed: int
    apologies: int
    max_chat_rate: int  # most messages sent to one chat within any 1 s
    max_total_rate: int  # most messages sent overall within any 1 s
    messages: int
    flood_sent: int = 0  # updates the flooder sent
    flood_replies: int = 0  # messages the bot sent to the flooded chat


def write_corpus(folder: Path, docs: int) -> list[str]:
    """SQuAD-dev paragraphs as files (title in front matter); their questions, in order."""
    folder.mkdir(parents=True)
    if not SQUAD.exists():
        for path in DEMO.iterdir():
            shutil.copy(path, folder / path.name)
        return DEMO_QUESTIONS
    questions: list[str] = []
    written = 0
    for article in json.loads(SQUAD.read_text(encoding="utf-8"))["data"]:
        title = article["title"].replace("_", " ")
        for i, paragraph in enumerate(article["paragraphs"]):
            if written == docs:
                return questions
            (folder / f"{article['title'][:60]}-{i:03d}.md").write_text(
                f"---\ntitle: {title}\n---\n{paragraph['context']}\n", encoding="utf-8"
            )
            questions.extend(qa["question"] for qa in paragraph["qas"][:2])
            written += 1
    return questions


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most events within any `window` seconds."""
    times = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def wait_until(condition: Any, bot: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 300
    while not condition():
        if bot.poll() is not None:
            raise SystemExit(f"citebot serve exited ({bot.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise SystemExit(f"citebot serve did not get to {what} in 300 s")
        await asyncio.sleep(0.1)


async def run_mode(
    mode: str,
    api: LoadApiServer,
    env: dict[str, str],
    cwd: Path,
    plan: list[list[str]],
    think: float,
    flood: str = "none",
    flood_burst: int = 300,
    flood_rate: float = 1.0,
) -> Result:
    command = [sys.executable, "-m", "bot.cli", "serve"]
    webhook_port = free_port()
    if mode == "webhook":
        command += ["--webhook", HOOK_URL, "--listen", "127.0.0.1", "--port", str(webhook_port)]
    first_call = len(api.calls)
    api.webhook = None
    update_ids = itertools.count(1_000_000)
    bot_log = cwd / f"serve-{mode}-{flood}.log"
    with open(bot_log, "wb") as err:
        bot = subprocess.Popen(command, cwd=cwd, env=env, stdout=err, stderr=err)
    try:
        if mode == "webhook":
            await wait_until(lambda: api.webhook is not None, bot, "setWebhook")
        else:
            await wait_until(
                lambda: any(c.method == "getUpdates" for c in api.calls[first_call:]),
                bot,
                "polling",
            )
        log(
            f"{mode}: bot ready; {sum(map(len, plan))} questions from {len(plan)} chats;"
            f" flood: {flood}"
        )
        latencies: list[float] = []
        failures = 0
        replies: dict[int, str] = {}
        flood_chat = FLOOD_GROUP if flood == "group" else FLOODER
        flood_sent = 0
        async with aiohttp.ClientSession() as http:

            async def deliver(message: dict[str, Any]) -> bool:
                """Hand one update to the bot as Telegram would; False if it was refused."""
                if mode != "webhook":
                    api.push_update({"message": message})
                    return True
                update = {"update_id": next(update_ids), "message": message}
                async with http.post(
                    f"http://127.0.0.1:{webhook_port}/hook",
                    json=update,
                    headers={SECRET_HEADER: SECRET},
                ) as response:
                    return response.status == 200

            async def flooder(done: asyncio.Event) -> None:
                nonlocal flood_sent
                kind = "supergroup" if flood == "group" else "private"
                burst = flood_burst
                while not done.is_set():
                    for _ in range(burst):
                        message = api.make_message(
                            "/help", chat_id=flood_chat, chat_type=kind, user_id=FLOODER
                        )
                        flood_sent += await deliver(message)
                    burst = 1
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(done.wait(), 1 / flood_rate)

            async def user(chat_id: int, questions: list[str]) -> None:
                nonlocal failures
                for question in questions:
                    message = api.make_message(question, chat_id=chat_id)
                    reply = api.expect_reply(chat_id)
                    asked = time.monotonic()
                    if not await deliver(message):
                        failures += 1
                        continue
                    try:
                        answered, text = await asyncio.wait_for(reply, 300)
                    except TimeoutError:
                        failures += 1
                        continue
                    latencies.append(answered - asked)
                    replies[message["message_id"]] = text
                    await asyncio.sleep(think)

            sends_before = len(api.calls)
            done = asyncio.Event()
            flooding = asyncio.create_task(flooder(done)) if flood != "none" else None
            await asyncio.sleep(0.5 if flooding else 0)  # the burst is in before anyone asks
            started = time.monotonic()
            await asyncio.gather(*(user(FIRST_USER + i, qs) for i, qs in enumerate(plan)))
            wall = time.monotonic() - started
            done.set()
            if flooding is not None:
                await flooding
    finally:
        bot.send_signal(signal.SIGTERM)
        try:  # waited in a thread: this event loop is the Bot API the bot is finishing with
            await asyncio.to_thread(bot.wait, 60)
        except subprocess.TimeoutExpired:
            bot.kill()
            bot.wait()
        if bot.returncode not in (0, -signal.SIGTERM):
            sys.stderr.write(bot_log.read_text(errors="replace")[-3000:])
    sends = [c for c in api.calls[sends_before:] if c.method == "sendMessage"]
    per_chat: dict[int, list[float]] = defaultdict(list)
    for call in sends:
        per_chat[int(call.params["chat_id"])].append(call.at)
    flood_replies = len(per_chat.pop(flood_chat, [])) if flood != "none" else 0
    apologies = sum(
        1 for text in replies.values() if text.startswith(("Sorry", "The archive is temporarily"))
    )
    return Result(
        mode=mode,
        flood=flood,
        latencies=latencies,
        wall=wall,
        failed=failures,
        apologies=apologies,
        max_chat_rate=max((max_in_window(t) for t in per_chat.values()), default=0),
        max_total_rate=max_in_window([c.at for c in sends]),
        messages=len(sends),
        flood_sent=flood_sent,
        flood_replies=flood_replies,
    )


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def print_table(results: list[Result], args: argparse.Namespace, setup: dict[str, str]) -> None:
    print(
        f"\n{args.questions} questions from {args.chats} chats (closed loop, {args.think:g} s"
        " to read each answer), store:"
        f" {args.store}, {setup['docs']} documents, ingest {setup['ingest']} s;"
        f" {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, Python"
        f" {platform.python_version()}\n"
    )
    head = (
        "| mode | flood | answered | p50 ms | p95 ms | max ms | questions/s"
        " | msgs/s peak (overall) | msgs/s peak (one chat) | failed | apologies"
        " | flood updates → replies |"
    )
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for r in results:
        ms = [x * 1000 for x in r.latencies]
        flooded = f"{r.flood_sent} → {r.flood_replies}" if r.flood != "none" else "–"
        print(
            f"| {r.mode} | {r.flood} | {len(r.latencies)} | {percentile(ms, 50):.0f}"
            f" | {percentile(ms, 95):.0f} | {max(ms, default=float('nan')):.0f}"
            f" | {len(r.latencies) / r.wall:.1f} | {r.max_total_rate} | {r.max_chat_rate}"
            f" | {r.failed} | {r.apologies} | {flooded} |"
        )
    print(
        "\nTelegram's limits: about 1 message/s in one chat, 30/s overall, 20/min in one group;"
        " the asking users' chats are private (the flooded chat is not in the peaks)."
    )
    if any(r.flood != "none" for r in results):
        print(
            f"Flood: one ordinary user sends {args.flood_burst} /help at once, then"
            f" {args.flood_rate:g} a second until the others are done, in a private chat or a"
            " group; latencies are the other users'."
        )


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="citebot-load-") as tmp:
        work = Path(tmp)
        questions = write_corpus(work / "corpus", args.docs)
        docs = len(list((work / "corpus").iterdir()))
        plan: list[list[str]] = [[] for _ in range(args.chats)]
        for i in range(args.questions):
            plan[i % args.chats].append(questions[i % len(questions)])

        chroma = ChromaServer(work / "chroma") if args.store == "server" else None
        api = LoadApiServer()
        await api.start()
        try:
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith(("CHROMA_", "LLM_"))},
                "PYTHONPATH": str(ROOT),
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
                "TOKENIZERS_PARALLELISM": "false",
                "CORPUS_DIR": str(work / "corpus"),
                "DATA_DIR": str(work / "data"),
                "FEEDBACK_DB": str(work / "data" / "feedback.sqlite3"),
                "TELEGRAM_BOT_TOKEN": api.token,
                "TELEGRAM_API_BASE_URL": api.base_url,
                "WEBHOOK_SECRET": SECRET,
                "RATE_LIMIT_PER_MINUTE": "0",
                # the asking users are admins, whom the budget of replies does not count
                "ADMIN_USER_IDS": ",".join(str(FIRST_USER + i) for i in range(len(plan))),
                "LLM_PROVIDER": "none",
            }
            if chroma is not None:
                await asyncio.to_thread(chroma.start)
                env.update({"CHROMA_HOST": chroma.host, "CHROMA_PORT": str(chroma.port)})
            started = time.monotonic()
            log(f"ingesting {docs} documents…")
            ingest = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "bot.cli", "ingest"],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
            )
            if ingest.returncode != 0:
                raise SystemExit(f"ingest failed: {ingest.stderr[-2000:]}")
            setup = {"docs": str(docs), "ingest": f"{time.monotonic() - started:.0f}"}
            results = []
            for mode in args.modes.split(","):
                for flood in args.flood.split(","):
                    log(f"{mode}, flood {flood}: starting citebot serve…")
                    results.append(
                        await run_mode(
                            mode.strip(),
                            api,
                            env,
                            work,
                            plan,
                            args.think,
                            flood.strip(),
                            args.flood_burst,
                            args.flood_rate,
                        )
                    )
        finally:
            await api.stop()
            if chroma is not None:
                chroma.stop()
    print_table(results, args, setup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--docs", type=int, default=400, help="SQuAD-dev paragraphs to index")
    parser.add_argument("--modes", default="polling,webhook")
    parser.add_argument("--store", choices=["embedded", "server"], default="embedded")
    parser.add_argument("--think", type=float, default=1.0, help="seconds between questions")
    parser.add_argument(
        "--flood", default="none", help="runs to make: none, private, group (comma-separated)"
    )
    parser.add_argument("--flood-burst", type=int, default=300, help="flood updates at once")
    parser.add_argument(
        "--flood-rate", type=float, default=1.0, help="flood updates a second after the burst"
    )
    args = parser.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
