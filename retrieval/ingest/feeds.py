"""RSS/Atom subscriptions: a SQLite store of feeds and their entries, and one polling round.

A round (`poll`) visits every due feed: a conditional GET (ETag / Last-Modified), parsing with
feedparser, and for each new or changed entry a fetch of its page, saved as a Markdown file
under `pages_dir` (see `pages`) that the ingest treats like a corpus file. Entries that drop
out of a feed are kept (archives keep old news); a page that answers 404/410 when fetched
again has its file removed, unless something else still holds it: a link (an admin's, or
`citebot ingest URL`) or another entry. A feed or page that fails is reported and retried
later with exponential backoff; it never stops the others.

    store = FeedStore(data_dir / "feeds.sqlite3")
    store.add("https://example.org/rss.xml")
    report = poll(store, Fetcher(), data_dir / "pages")
"""

from __future__ import annotations

import calendar
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from retrieval.errors import CitebotError
from retrieval.ingest.fetching import (
    FEED_TYPES,
    Fetcher,
    FetchError,
    FetchFailed,
    FetchResult,
    InvalidURL,
    OutOfTime,
    PageGone,
)
from retrieval.ingest.pages import feeds_named, read_holders, store_article

log = logging.getLogger(__name__)

POLL_INTERVAL = 15 * 60.0  # seconds between two polls of a healthy feed
BACKOFF_BASE = 5 * 60.0  # seconds before the first retry of a failed feed or page
BACKOFF_CAP = 6 * 3600.0  # never wait longer than this between retries
MAX_ENTRIES = 100  # entries of one feed looked at per round (newest first, as feeds list them)
ROUND_SECONDS = 600.0  # the longest a round goes on (FEED_ROUND_SECONDS)
HOST_SECONDS = 120.0  # the longest a round spends on one host (FEED_HOST_SECONDS)
WORKERS = 4  # hosts polled side by side

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    etag TEXT,
    last_modified TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    added_at REAL NOT NULL,
    last_polled REAL
);
CREATE TABLE IF NOT EXISTS entries (
    feed_url TEXT NOT NULL REFERENCES feeds(url) ON DELETE CASCADE,
    entry_id TEXT NOT NULL,
    link TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    fingerprint TEXT NOT NULL,
    published TEXT,
    state TEXT NOT NULL,
    page_path TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL,
    last_error TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (feed_url, entry_id)
);
CREATE INDEX IF NOT EXISTS entries_page ON entries(page_path);
"""


class InvalidFeed(CitebotError):
    """A response that is not an RSS or Atom feed."""


@dataclass(frozen=True)
class Feed:
    """One subscription and its polling state (times are Unix seconds)."""

    url: str
    title: str
    etag: str | None
    last_modified: str | None
    failures: int
    next_attempt: float
    last_error: str | None
    added_at: float
    last_polled: float | None


@dataclass(frozen=True)
class Entry:
    """One feed entry as last seen. state: saved, failed (retried at next_attempt) or gone."""

    feed_url: str
    entry_id: str
    link: str
    title: str
    fingerprint: str
    published: date | None
    state: str
    page_path: str | None  # relative to pages_dir
    failures: int
    next_attempt: float | None
    last_error: str | None


@dataclass
class PollReport:
    """What one round did, feed by feed and page by page."""

    polled: list[str] = field(default_factory=list)  # feeds fetched and parsed
    not_modified: list[str] = field(default_factory=list)  # feeds that answered 304
    not_due: list[str] = field(default_factory=list)  # feeds waiting for their next attempt
    failed: list[tuple[str, str]] = field(default_factory=list)  # (feed url, reason)
    added: list[Path] = field(default_factory=list)
    updated: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)  # files deleted: their page is gone
    page_failures: list[tuple[str, str]] = field(default_factory=list)  # (page url, reason)
    deferred: list[str] = field(default_factory=list)  # feeds and pages left for next round
    requests: int = 0
    seconds: float = 0.0

    def merge(self, other: PollReport) -> None:
        """Add another part of the round (its lists; not its counts)."""
        for name in (
            "polled",
            "not_modified",
            "not_due",
            "failed",
            "added",
            "updated",
            "unchanged",
            "removed",
            "page_failures",
            "deferred",
        ):
            getattr(self, name).extend(getattr(other, name))

    @property
    def changed_files(self) -> bool:
        """Whether the pages folder changed, i.e. whether an ingest has work to do."""
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        """One line for logs and the CLI."""
        return (
            f"{len(self.polled)} feeds read, {len(self.not_modified)} not modified,"
            f" {len(self.failed)} failed; pages: {len(self.added)} added,"
            f" {len(self.updated)} updated, {len(self.unchanged)} unchanged,"
            f" {len(self.removed)} removed, {len(self.page_failures)} failed"
            + (f", {len(self.deferred)} left for the next round" if self.deferred else "")
            + f" ({self.requests} requests, {self.seconds:.1f} s)"
        )


@dataclass(frozen=True)
class FeedItem:
    """One entry of a parsed feed: what a round needs of it."""

    entry_id: str
    link: str
    title: str
    fingerprint: str
    published: date | None


def backoff(failures: int, retry_after: float | None = None) -> float:
    """Seconds to wait after the n-th failure in a row: 5 min, 10, 20, … capped at 6 h."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, failures - 1))
    if retry_after:
        delay = max(delay, min(retry_after, BACKOFF_CAP))
    return delay


def validate_feed_url(url: str) -> str:
    """url stripped, if it is an http(s) link with a host; InvalidURL otherwise."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InvalidURL(f"{url!r} is not a valid link", url=url) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidURL(f"{url!r} is not an http or https link", url=url)
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise InvalidURL(f"{url!r} has spaces or control characters in it", url=url)
    return url


class FeedStoreError(CitebotError):
    """The feed list (feeds.sqlite3) cannot be used: damaged, or locked or unreadable."""


def _store_error(path: Path, exc: sqlite3.DatabaseError) -> FeedStoreError:
    """The FeedStoreError for an SQLite error on the feed list at path."""
    if isinstance(exc, sqlite3.OperationalError):  # locked, read-only, no such folder …
        return FeedStoreError(f"the feed list {path} cannot be used right now ({exc})")
    return FeedStoreError(
        f"the feed list {path} is damaged ({exc}); run `citebot feeds repair` to set it aside"
        " (it is kept as a backup) and subscribe again to the feeds the saved pages name"
    )


class FeedStore:
    """Subscriptions and per-feed, per-entry state in one SQLite file.

    Any failure to read or write it is a FeedStoreError saying what to do; after a damaged
    file is met, `damaged` is True (see `Web.feeds`, which then opens it afresh)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.damaged = False
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=30.0, check_same_thread=False)
        try:
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            # WAL: only a power cut can lose the last commits
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise _store_error(path, exc) from exc

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction, one thread at a time."""
        with self._lock:
            try:
                with self._db:
                    yield self._db
            except sqlite3.DatabaseError as exc:
                error = _store_error(self.path, exc)
                self.damaged = not isinstance(exc, sqlite3.OperationalError)
                raise error from exc

    def is_sound(self) -> bool:
        """Whether SQLite finds the whole file intact (PRAGMA quick_check)."""
        try:
            with self._tx() as db:
                return [row[0] for row in db.execute("PRAGMA quick_check")] == ["ok"]
        except FeedStoreError:
            return False

    def add(self, url: str, *, now: float | None = None) -> Feed:
        """Subscribe to url (idempotent: an existing subscription is returned as it is)."""
        url = validate_feed_url(url)
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO feeds (url, added_at) VALUES (?, ?)",
                (url, time.time() if now is None else now),
            )
        feed = self.get(url)
        assert feed is not None
        return feed

    def get(self, url: str) -> Feed | None:
        """The subscription to url, if any."""
        with self._tx() as db:
            row = db.execute("SELECT * FROM feeds WHERE url = ?", (url.strip(),)).fetchone()
        return None if row is None else _feed(row)

    def list(self) -> tuple[Feed, ...]:
        """Every subscription, in the order they were added."""
        with self._tx() as db:
            rows = db.execute("SELECT * FROM feeds ORDER BY added_at, url").fetchall()
        return tuple(_feed(row) for row in rows)

    def next_due(self) -> float | None:
        """When the earliest feed is due (Unix seconds), for a scheduler; None without feeds."""
        with self._tx() as db:
            row = db.execute("SELECT MIN(next_attempt) FROM feeds").fetchone()
        return None if row[0] is None else float(row[0])

    def remove(self, url: str) -> bool:
        """Unsubscribe (its entries are forgotten; saved pages stay); False if not subscribed."""
        with self._tx() as db:
            db.execute("DELETE FROM entries WHERE feed_url = ?", (url.strip(),))
            return db.execute("DELETE FROM feeds WHERE url = ?", (url.strip(),)).rowcount > 0

    def pages(self, url: str) -> tuple[str, ...]:
        """The saved page files (relative to pages_dir) of a feed's entries."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT DISTINCT page_path FROM entries"
                " WHERE feed_url = ? AND page_path IS NOT NULL",
                (url,),
            ).fetchall()
        return tuple(row[0] for row in rows)

    def entries(self, url: str) -> tuple[Entry, ...]:
        """Every entry of a feed seen so far."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT * FROM entries WHERE feed_url = ? ORDER BY updated_at, entry_id", (url,)
            ).fetchall()
        return tuple(_entry(row) for row in rows)

    def entry(self, url: str, entry_id: str) -> Entry | None:
        """One entry of a feed, if seen."""
        with self._tx() as db:
            row = db.execute(
                "SELECT * FROM entries WHERE feed_url = ? AND entry_id = ?", (url, entry_id)
            ).fetchone()
        return None if row is None else _entry(row)

    def page_users(self, page_path: str) -> int:
        """How many entries (of any feed) point at a page file."""
        with self._tx() as db:
            row = db.execute(
                "SELECT COUNT(*) FROM entries WHERE page_path = ?", (page_path,)
            ).fetchone()
        return int(row[0])

    def feed_polled(self, feed: Feed, result: FetchResult, title: str | None, now: float) -> None:
        """Record a successful poll: validators, title, no failures, next poll time."""
        with self._tx() as db:
            db.execute(
                "UPDATE feeds SET title = ?, etag = ?, last_modified = ?, failures = 0,"
                " last_error = NULL, next_attempt = ?, last_polled = ? WHERE url = ?",
                (
                    title if title is not None else feed.title,
                    result.etag or feed.etag,
                    result.last_modified or feed.last_modified,
                    now + POLL_INTERVAL,
                    now,
                    feed.url,
                ),
            )

    def feed_failed(self, feed: Feed, reason: str, retry_after: float | None, now: float) -> None:
        """Record a failed poll: one more failure, and the next attempt after a backoff."""
        failures = feed.failures + 1
        with self._tx() as db:
            db.execute(
                "UPDATE feeds SET failures = ?, last_error = ?, next_attempt = ?,"
                " last_polled = ? WHERE url = ?",
                (failures, reason, now + backoff(failures, retry_after), now, feed.url),
            )

    def due_retries(self, url: str, now: float) -> tuple[Entry, ...]:
        """A feed's failed entries whose next attempt has come."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT * FROM entries WHERE feed_url = ? AND state = 'failed'"
                " AND next_attempt IS NOT NULL AND next_attempt <= ?",
                (url, now),
            ).fetchall()
        return tuple(_entry(row) for row in rows)

    def put_entry(self, entry: Entry, now: float) -> None:
        """Insert or replace an entry's state."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO entries (feed_url, entry_id, link, title, fingerprint,"
                " published, state, page_path, failures, next_attempt, last_error, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.feed_url,
                    entry.entry_id,
                    entry.link,
                    entry.title,
                    entry.fingerprint,
                    entry.published.isoformat() if entry.published else None,
                    entry.state,
                    entry.page_path,
                    entry.failures,
                    entry.next_attempt,
                    entry.last_error,
                    now,
                ),
            )


def _feed(row: sqlite3.Row) -> Feed:
    """A Feed from its row."""
    return Feed(
        url=row["url"],
        title=row["title"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        failures=row["failures"],
        next_attempt=row["next_attempt"],
        last_error=row["last_error"],
        added_at=row["added_at"],
        last_polled=row["last_polled"],
    )


def _entry(row: sqlite3.Row) -> Entry:
    """An Entry from its row."""
    return Entry(
        feed_url=row["feed_url"],
        entry_id=row["entry_id"],
        link=row["link"],
        title=row["title"],
        fingerprint=row["fingerprint"],
        published=date.fromisoformat(row["published"]) if row["published"] else None,
        state=row["state"],
        page_path=row["page_path"],
        failures=row["failures"],
        next_attempt=row["next_attempt"],
        last_error=row["last_error"],
    )


@dataclass(frozen=True)
class FeedRepair:
    """What `repair_feed_store` did."""

    status: str  # "sound" (nothing done), "damaged" (set aside) or "missing"
    backup: Path | None  # where the damaged file now is
    subscribed: tuple[str, ...]  # the feeds subscribed to again


def repair_feed_store(path: Path, pages_dir: Path) -> FeedRepair:
    """Set a damaged feed list aside (renamed, as a backup, beside it) and start a new one
    subscribed to the feeds the saved pages name (their `feed:` lines); a sound one is left
    as it is. The pages stay; the next round fetches each feed afresh (its entries' pages are
    fetched again, and are unchanged on disk unless the site changed them)."""
    status, backup = "missing", None
    if path.exists():
        try:
            store = FeedStore(path)
        except FeedStoreError:
            sound = False
        else:
            sound = store.is_sound()
            store.close()
        if sound:
            return FeedRepair("sound", None, ())
        status = "damaged"
        backup = path.with_name(f"{path.name}.damaged-{datetime.now(UTC):%Y%m%d-%H%M%S}")
        for suffix in ("", "-wal", "-shm"):  # the write-ahead log belongs to the old file
            if Path(f"{path}{suffix}").exists():
                os.replace(f"{path}{suffix}", f"{backup}{suffix}")
    store = FeedStore(path)
    try:
        subscribed = []
        for url in feeds_named(pages_dir):
            try:
                subscribed.append(store.add(url).url)
            except InvalidURL:
                log.warning("not subscribing again to %r, named in a saved page", url)
    finally:
        store.close()
    return FeedRepair(status, backup, tuple(subscribed))


# --- one round ----------------------------------------------------------------------------


def poll(
    store: FeedStore,
    fetcher: Fetcher,
    pages_dir: Path,
    *,
    now: float | None = None,
    only_due: bool = True,
    round_seconds: float = ROUND_SECONDS,
    host_seconds: float = HOST_SECONDS,
) -> PollReport:
    """One round over the feeds (only those due, unless only_due=False); never raises per feed.

    Feeds on different hosts are polled side by side (WORKERS at a time; one host's feeds in
    turn), so a slow host delays only itself. The round spends at most `host_seconds` on any
    one host and `round_seconds` in all: what is left then (a feed, or an entry's page) is
    deferred, with no failure counted, to the next round."""
    now = time.time() if now is None else now
    started, requests = time.monotonic(), fetcher.stats.requests
    budget = _Budget(started + round_seconds, host_seconds)
    report = PollReport()
    groups: dict[str, list[Feed]] = {}
    for feed in store.list():
        if only_due and feed.next_attempt > now:
            report.not_due.append(feed.url)
        else:
            groups.setdefault(_host(feed.url), []).append(feed)

    def poll_group(feeds: list[Feed]) -> PollReport:
        part = PollReport()
        for feed in feeds:
            _poll_one(store, fetcher, pages_dir, feed, now, part, budget)
        return part

    if groups:
        with ThreadPoolExecutor(min(WORKERS, len(groups)), "feeds") as pool:
            for part in pool.map(poll_group, groups.values()):
                report.merge(part)
    report.requests = fetcher.stats.requests - requests
    report.seconds = time.monotonic() - started
    return report


class _Budget:
    """How long a round may go on, in all and on each host (time.monotonic() seconds)."""

    def __init__(self, ends: float, host_seconds: float) -> None:
        self.ends = ends
        self.host_seconds = host_seconds
        self._spent: dict[str, float] = {}
        self._lock = threading.Lock()

    def deadline(self, host: str) -> float:
        """When the round must stop asking host."""
        with self._lock:
            return min(self.ends, time.monotonic() + self.host_seconds - self._spent.get(host, 0))

    def left(self, host: str) -> bool:
        """Whether the round may still ask host."""
        return self.deadline(host) > time.monotonic()

    @contextmanager
    def spending(self, fetcher: Fetcher, url: str) -> Iterator[None]:
        """Fetch from url within the block: by the host's deadline, the time counted."""
        host, started = _host(url), time.monotonic()
        try:
            with fetcher.deadline(self.deadline(host)):
                yield
        finally:
            with self._lock:
                self._spent[host] = self._spent.get(host, 0) + time.monotonic() - started


def _host(url: str) -> str:
    """The host name of a URL (lower case; "" when it has none)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _poll_one(
    store: FeedStore,
    fetcher: Fetcher,
    pages_dir: Path,
    feed: Feed,
    now: float,
    report: PollReport,
    budget: _Budget,
) -> None:
    """Poll one feed, never raising: an unexpected error counts as the feed's failure."""
    try:
        _poll_feed(store, fetcher, pages_dir, feed, now, report, budget)
    except FeedStoreError:
        raise  # the feed list itself: every feed would fail the same way
    except Exception as exc:  # one broken feed must never stop the round
        log.exception("polling %s failed", feed.url)
        reason = f"internal error: {exc}"
        store.feed_failed(feed, reason, None, now)
        report.failed.append((feed.url, reason))


def _poll_feed(
    store: FeedStore,
    fetcher: Fetcher,
    pages_dir: Path,
    feed: Feed,
    now: float,
    report: PollReport,
    budget: _Budget,
) -> None:
    """Fetch and parse one feed, then fetch its new and changed entries' pages."""
    if not budget.left(_host(feed.url)):
        report.deferred.append(feed.url)
        return
    try:
        with budget.spending(fetcher, feed.url):
            result = fetcher.fetch(
                feed.url, etag=feed.etag, last_modified=feed.last_modified, accept=FEED_TYPES
            )
        title, items = ("", []) if result.not_modified else parse_feed(result)
    except OutOfTime:
        report.deferred.append(feed.url)
        return
    except (FetchError, InvalidFeed) as exc:
        store.feed_failed(feed, str(exc), getattr(exc, "retry_after", None), now)
        report.failed.append((feed.url, str(exc)))
        return
    seen = set()
    if result.not_modified:
        report.not_modified.append(feed.url)
        store.feed_polled(feed, result, None, now)
    else:
        report.polled.append(feed.url)
        for item in items[:MAX_ENTRIES]:
            previous = store.entry(feed.url, item.entry_id)
            if previous is None or previous.fingerprint != item.fingerprint:
                seen.add(item.entry_id)
                _fetch_entry(
                    store, fetcher, pages_dir, feed.url, item, previous, now, report, budget
                )
        store.feed_polled(feed, result, title or None, now)
    for entry in store.due_retries(feed.url, now):
        if entry.entry_id in seen:
            continue
        item = FeedItem(entry.entry_id, entry.link, entry.title, entry.fingerprint, entry.published)
        _fetch_entry(store, fetcher, pages_dir, feed.url, item, entry, now, report, budget)


def parse_feed(result: FetchResult) -> tuple[str, list[FeedItem]]:
    """The feed's title and entries; InvalidFeed when the body is not a feed."""
    import feedparser

    parsed = feedparser.parse(
        result.body,
        response_headers={
            "content-location": result.final_url,
            "content-type": result.headers.get("content-type", "application/xml"),
        },
    )
    items = [item for item in (_item(entry) for entry in parsed.entries) if item is not None]
    title = str(parsed.feed.get("title") or "").strip()
    # feedparser reads broken XML leniently (bozo); it is a feed if something usable came out.
    if not parsed.get("version") or (parsed.get("bozo") and not items and not title):
        reason = parsed.get("bozo_exception") or "no RSS or Atom content"
        raise InvalidFeed(f"{result.url} is not a valid RSS or Atom feed: {reason}")
    return title, items


def _item(entry: Any) -> FeedItem | None:
    """What a round needs of a feedparser entry; None for an entry without an http(s) link."""
    link = str(entry.get("link") or "").strip()
    if not link.startswith(("http://", "https://")):
        return None
    title = " ".join(str(entry.get("title") or "").split())
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    published = datetime.fromtimestamp(calendar.timegm(stamp), UTC).date() if stamp else None
    signature = [link, title, entry.get("updated") or entry.get("published") or ""]
    signature.append(entry.get("summary") or "")
    fingerprint = hashlib.sha1(json.dumps(signature).encode("utf-8")).hexdigest()
    return FeedItem(str(entry.get("id") or link), link, title, fingerprint, published)


def _fetch_entry(
    store: FeedStore,
    fetcher: Fetcher,
    pages_dir: Path,
    feed_url: str,
    item: FeedItem,
    previous: Entry | None,
    now: float,
    report: PollReport,
    budget: _Budget,
) -> None:
    """Fetch and save one entry's page, recording the outcome in the store and the report;
    when the round's time for the page's host is spent, it is left to the next round."""
    base = Entry(
        feed_url=feed_url,
        entry_id=item.entry_id,
        link=item.link,
        title=item.title,
        fingerprint=item.fingerprint,
        published=item.published,
        state="saved",
        page_path=previous.page_path if previous else None,
        failures=0,
        next_attempt=None,
        last_error=None,
    )
    try:
        if not budget.left(_host(item.link)):
            raise OutOfTime("the time allowed ran out", url=item.link)
        with budget.spending(fetcher, item.link):
            article = fetcher.fetch_article(item.link)
    except OutOfTime as exc:
        report.deferred.append(item.link)
        failures = previous.failures if previous else 0
        deferred = replace(base, state="failed", failures=failures, last_error=str(exc))
        store.put_entry(replace(deferred, next_attempt=now), now)  # due again next round
        return
    except PageGone as exc:
        _page_gone(store, pages_dir, base, str(exc), now, report)
        return
    except FetchError as exc:
        _page_failed(store, base, previous, exc, now, report)
        return
    except Exception as exc:  # a parser bug on one page must not stop the round
        log.exception("reading %s failed", item.link)
        error = FetchFailed(f"could not read {item.link}: {exc}", url=item.link)
        _page_failed(store, base, previous, error, now, report)
        return
    if item.published is not None:  # the publisher's date beats one guessed from the page
        article = replace(article, date=item.published)
    if article.title == article.url and item.title:
        article = replace(article, title=item.title)
    path, change = store_article(article, pages_dir, feed=feed_url)
    {"added": report.added, "updated": report.updated, "unchanged": report.unchanged}[
        change
    ].append(path)
    relative = path.relative_to(pages_dir).as_posix()
    store.put_entry(replace(base, page_path=relative), now)
    if base.page_path and base.page_path != relative:
        _drop_file(store, pages_dir, base.page_path, report)  # its canonical URL changed


def _page_gone(
    store: FeedStore, pages_dir: Path, entry: Entry, reason: str, now: float, report: PollReport
) -> None:
    """A page answered 404/410: forget it, and remove its file unless another entry uses it."""
    report.page_failures.append((entry.link, reason))
    store.put_entry(replace(entry, state="gone", page_path=None, last_error=reason), now)
    if entry.page_path:
        _drop_file(store, pages_dir, entry.page_path, report)


def _drop_file(store: FeedStore, pages_dir: Path, relative: str, report: PollReport) -> None:
    """Delete a page file that nothing holds any more: no entry points at it, and no link
    (an admin's, or `citebot ingest URL`) added it."""
    if store.page_users(relative):
        return
    path = pages_dir / relative
    if read_holders(path).link:
        log.info("keeping %s: a link added it", path)
        return
    if path.exists():
        path.unlink()
        report.removed.append(path)


def _page_failed(
    store: FeedStore,
    entry: Entry,
    previous: Entry | None,
    error: FetchError,
    now: float,
    report: PollReport,
) -> None:
    """Record a failed page: transient errors are retried with backoff, others once it changes.

    A copy saved earlier stays in the archive until the page is known to be gone."""
    report.page_failures.append((entry.link, str(error)))
    failures = (previous.failures if previous else 0) + 1
    retry_at = None
    if error.transient:
        retry_at = now + backoff(failures, getattr(error, "retry_after", None))
    failed = replace(
        entry, state="failed", failures=failures, next_attempt=retry_at, last_error=str(error)
    )
    store.put_entry(failed, now)
