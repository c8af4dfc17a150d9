"""Answers as shown in a chat, and the 👍/👎 votes on them, in a local SQLite file.

A shown answer is kept so that its buttons keep working: "[n]" opens passage n, "back"
restores the answer, a vote is stored with the question, the answer and its citations.
Recent answers are also held in memory, so a failing disk (full, read-only) costs the
record, never the conversation: write failures are logged and the bot carries on.

The file holds chats' questions, so it is kept small and private: answers that were voted on
stay, of the others only the `keep_answers` most recent (older ones are pruned as new ones
are added), and the file (with any -journal, -wal or -shm beside it) is readable by its
owner only (0600).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval import Answer, Citation

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY,
    chat_id INTEGER NOT NULL,
    answer TEXT NOT NULL,          -- JSON: question, text, citations, confidence, refused
    last_part TEXT NOT NULL,       -- HTML of the message that carries the buttons
    follow_up_of TEXT,
    shown_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS votes (
    answer_id TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    chat_id INTEGER NOT NULL,
    vote INTEGER NOT NULL,         -- +1 or -1
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,       -- JSON list of the cited passages
    voted_at REAL NOT NULL,
    PRIMARY KEY (answer_id, user_id)
);
"""


@dataclass(frozen=True)
class ShownAnswer:
    """An answer as sent to a chat: what its buttons refer to."""

    id: str
    chat_id: int
    answer: Answer
    last_part: str

    @staticmethod
    def new_id() -> str:
        return secrets.token_hex(6)

    def citation(self, n: int) -> Citation | None:
        return next((c for c in self.answer.citations if c.n == n), None)


@dataclass(frozen=True)
class Vote:
    """One user's 👍 (+1) or 👎 (-1) on one answer."""

    answer_id: str
    user_id: int
    chat_id: int
    vote: int
    question: str
    answer: str
    citations: tuple[dict[str, Any], ...]
    voted_at: float


class FeedbackStore:
    """Shown answers and votes: recent answers in memory, everything in SQLite."""

    def __init__(self, path: Path, keep_recent: int = 2_000, keep_answers: int = 2_000) -> None:
        self.path = path
        self._keep_recent = keep_recent  # answers held in memory
        self._keep_answers = max(0, keep_answers)  # unvoted answers kept in the file
        self._recent: OrderedDict[str, ShownAnswer] = OrderedDict()
        self._lock = threading.Lock()
        self._pruned_to = 0  # rows up to this rowid were pruned already (by this process)
        self._tightened = False  # an existing file's permissions were checked

    def keep(self, shown: ShownAnswer) -> bool:
        """Remember a shown answer; False if it could not be written to disk (it is still
        remembered in memory)."""
        with self._lock:
            self._recent[shown.id] = shown
            while len(self._recent) > self._keep_recent:
                self._recent.popitem(last=False)
        try:
            with self._connect() as db:
                row = db.execute(
                    "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        shown.id,
                        shown.chat_id,
                        json.dumps(shown.answer.to_dict()),
                        shown.last_part,
                        shown.answer.follow_up_of,
                        time.time(),
                    ),
                ).lastrowid
                if row is not None:
                    self._prune(db, row)
            return True
        except (sqlite3.Error, OSError, UnicodeError) as exc:  # UnicodeError: a lone surrogate
            log.error("could not record the answer %s in %s: %s", shown.id, self.path, exc)
            return False

    def find(self, answer_id: str) -> ShownAnswer | None:
        """A shown answer by id: from memory, else from the file; None if unknown."""
        with self._lock:
            shown = self._recent.get(answer_id)
        if shown is not None:
            return shown
        try:
            with self._connect() as db:
                row = db.execute(
                    "SELECT id, chat_id, answer, last_part FROM answers WHERE id = ?",
                    (answer_id,),
                ).fetchone()
        except (sqlite3.Error, OSError) as exc:
            log.error("could not read the answer %s from %s: %s", answer_id, self.path, exc)
            return None
        if row is None:
            return None
        try:
            answer = Answer.from_dict(json.loads(row[2]))
        except (ValueError, TypeError, KeyError) as exc:
            log.error("answer %s in %s is damaged: %s", answer_id, self.path, exc)
            return None
        return ShownAnswer(row[0], row[1], answer, row[3])

    def record_vote(self, shown: ShownAnswer, user_id: int, vote: int) -> bool:
        """Store a user's vote on an answer (a second vote replaces the first); False if the
        file could not be written."""
        citations = json.dumps(shown.answer.to_dict()["citations"])
        try:
            with self._connect() as db:
                db.execute(
                    "INSERT OR REPLACE INTO votes VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        shown.id,
                        user_id,
                        shown.chat_id,
                        1 if vote > 0 else -1,
                        shown.answer.question,
                        shown.answer.text,
                        citations,
                        time.time(),
                    ),
                )
            return True
        except (sqlite3.Error, OSError, UnicodeError) as exc:  # UnicodeError: a lone surrogate
            log.error("could not record a vote on %s in %s: %s", shown.id, self.path, exc)
            return False

    def votes(self, vote: int | None = None, limit: int | None = None) -> list[Vote]:
        """Recorded votes, newest first: all of them, or only 👍 (1) or 👎 (-1), at most
        `limit`. What `citebot feedback` reads to show which answers did not help."""
        query = "SELECT * FROM votes"
        params: list[int] = []
        if vote is not None:
            query += " WHERE vote = ?"
            params.append(1 if vote > 0 else -1)
        query += " ORDER BY voted_at DESC"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        with self._connect() as db:
            rows = db.execute(query, params).fetchall()
        return [
            Vote(r[0], r[1], r[2], r[3], r[4], r[5], tuple(json.loads(r[6])), r[7]) for r in rows
        ]

    def _prune(self, db: sqlite3.Connection, newest: int) -> None:
        """Delete the answers nobody voted on that are older than the `keep_answers` newest.

        Rowids grow with each insert, so "older" is a rowid range; only the part of it not
        pruned before is scanned, which makes each insert's pruning cost a row or two.
        """
        cutoff = newest - self._keep_answers
        if cutoff <= self._pruned_to:
            return
        db.execute(
            "DELETE FROM answers WHERE rowid > ? AND rowid <= ?"
            " AND NOT EXISTS (SELECT 1 FROM votes WHERE votes.answer_id = answers.id)",
            (self._pruned_to, cutoff),
        )
        self._pruned_to = cutoff

    def _make_private(self) -> None:
        """Create the file readable by its owner only (SQLite gives its -journal, -wal and
        -shm files the database file's permissions); tighten a file an earlier version left
        readable by others, once."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            self._tightened = True
        except FileExistsError:
            pass
        if self._tightened:
            return
        self._tightened = True
        for path in (self.path, *(Path(f"{self.path}{s}") for s in ("-journal", "-wal", "-shm"))):
            try:
                if path.exists() and path.stat().st_mode & 0o077:
                    path.chmod(0o600)
            except OSError as exc:  # not the owner (e.g. `citebot feedback` as another user)
                log.warning("could not make %s readable by its owner only: %s", path, exc)

    def _connect(self) -> _Transaction:
        self._make_private()
        connection = sqlite3.connect(self.path, timeout=5)
        try:
            connection.executescript(_SCHEMA)
        except sqlite3.Error:
            connection.close()
            raise
        return _Transaction(connection)


class _Transaction:
    """A connection used for one transaction, committed on success, always closed."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def __enter__(self) -> sqlite3.Connection:
        return self._connection

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        with closing(self._connection):
            if kind is None:
                self._connection.commit()
