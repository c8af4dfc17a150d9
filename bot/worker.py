"""A bounded worker: blocking jobs run one at a time in their own thread, with at most a few
waiting; a job beyond that is refused at once (`Busy`) instead of piling up.

The bot transcribes voice notes in one (`Services.transcriber`): a burst of voice notes then
holds one core and a short line, never the default thread pool that text questions use, and
the people beyond the line are told the bot is busy rather than left waiting. Its thread can run
at a lower priority (`nice`; on Linux a thread's own, inherited by the threads it starts, such
as the speech model's), so that text questions go first when both want the same core.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

BUSY = (
    "I am busy transcribing other voice notes. Please send yours again in a minute,"
    " or type the question."
)


class Busy(Exception):
    """The worker's line is full."""

    def __init__(self) -> None:
        super().__init__(BUSY)


class BoundedWorker:
    """Runs jobs one at a time in a thread of its own, with up to `capacity` waiting.

    Bookkeeping happens on the event loop (no lock needed): `run` counts a job from the
    moment it is accepted until it has finished.
    """

    def __init__(self, capacity: int, name: str = "worker", nice: int = 0) -> None:
        if capacity < 0:
            raise ValueError("capacity must be 0 or more")
        self.capacity = capacity
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=name, initializer=lower_priority, initargs=(nice,)
        )
        self._accepted = 0

    @property
    def full(self) -> bool:
        """Whether a new job would be refused now."""
        return self._accepted > self.capacity

    @property
    def accepted(self) -> int:
        """Jobs running or waiting."""
        return self._accepted

    async def run(self, job: Callable[[], T]) -> T:
        """job() in the worker's thread; Busy at once if the line is full. Cancelling the
        wait does not stop a job already running (it finishes, and its result is dropped)."""
        if self.full:
            raise Busy
        self._accepted += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, job)
        finally:
            self._accepted -= 1

    def close(self) -> None:
        """Drop the waiting jobs; the running one finishes in the background."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def lower_priority(nice: int) -> None:
    """Lower the calling thread's scheduling priority by `nice` (Linux: per thread; elsewhere,
    or if the system refuses, nothing changes)."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    thread = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + nice)
    except OSError as exc:
        log.info("could not lower the priority of thread %s: %s", thread, exc)
