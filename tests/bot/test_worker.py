"""The transcription worker's thread runs at a lower priority than the bot's own threads, and
so do the threads it starts (the speech model's)."""

from __future__ import annotations

import os
import threading

import pytest

from bot.services import TRANSCRIBER_NICE
from bot.worker import BoundedWorker

pytestmark = pytest.mark.skipif(not hasattr(os, "setpriority"), reason="no per-thread nice")


def priority() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def started_thread_priority() -> int:
    found: list[int] = []
    thread = threading.Thread(target=lambda: found.append(priority()))
    thread.start()
    thread.join()
    return found[0]


async def test_the_worker_thread_and_the_threads_it_starts_are_nicer() -> None:
    worker = BoundedWorker(capacity=1, nice=TRANSCRIBER_NICE)
    try:
        mine = priority()
        expected = min(mine + TRANSCRIBER_NICE, 19)
        assert await worker.run(priority) == expected
        assert await worker.run(started_thread_priority) == expected
        assert priority() == mine  # the bot's own thread is left as it was
    finally:
        worker.close()


async def test_a_worker_without_nice_keeps_the_bot_s_priority() -> None:
    worker = BoundedWorker(capacity=1)
    try:
        assert await worker.run(priority) == priority()
    finally:
        worker.close()
