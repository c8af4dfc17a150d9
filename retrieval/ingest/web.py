"""Links and feeds into the archive: fetched pages are kept as files in the pages folder
(`DATA_DIR/pages`, one file per canonical URL) and ingested like corpus files, so a page
already in the archive is updated, not duplicated, and a rebuild refetches nothing.

`Web` holds the polite, SSRF-safe `Fetcher` and the `FeedStore` of one archive; a link
never needs the feed store, so a damaged one cannot stop links from being added.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.ingest.feeds import FeedRepair, FeedStore, PollReport, poll, repair_feed_store
from retrieval.ingest.fetching import Fetcher, FetchError, parse_allow_hosts
from retrieval.ingest.pages import drop_feed, store_article
from retrieval.settings import RetrievalSettings

log = logging.getLogger(__name__)

URL_RE = re.compile(r"https?://[^\s<>\"']+", re.I)


def is_url(text: str) -> bool:
    """Whether the text is a web address (http or https)."""
    return bool(URL_RE.fullmatch(text.strip()))


def urls_in(text: str) -> list[str]:
    """The web addresses in a message, in order, without repeats or trailing punctuation."""
    return list(dict.fromkeys(m.rstrip(".,;:!?)") for m in URL_RE.findall(text)))


@dataclass(frozen=True)
class LinkResult:
    """What fetching one link gave: its file and whether it was new, or why it failed."""

    url: str
    path: Path | None = None
    change: str = ""  # "added", "updated", "unchanged"
    title: str = ""
    canonical: str = ""
    error: str = ""


class Web:
    """The fetcher and the feed subscriptions of one archive."""

    def __init__(self, settings: RetrievalSettings) -> None:
        self.pages_dir = settings.pages_dir
        self.feeds_path = settings.feeds_path
        self.round_seconds = settings.feed_round_seconds  # a feed round's time budget,
        self.host_seconds = settings.feed_host_seconds  # and what it may spend on one host
        self.fetcher = Fetcher(
            timeout=settings.fetch_timeout,
            max_bytes=int(settings.fetch_max_mb * 1024 * 1024),
            allow_hosts=parse_allow_hosts(settings.fetch_allow_hosts),
        )
        self._feeds: FeedStore | None = None
        self._feeds_lock = threading.Lock()

    @property
    def feeds(self) -> FeedStore:
        """The subscriptions, opened on first use: links never need them, so a damaged file
        (a FeedStoreError saying how to repair it) stops feed work only. Once damage is met,
        the file is opened afresh, so a repair by another process takes effect."""
        with self._feeds_lock:
            if self._feeds is not None and self._feeds.damaged:
                self._feeds.close()
                self._feeds = None
            if self._feeds is None:
                self._feeds = FeedStore(self.feeds_path)
            return self._feeds

    def close(self) -> None:
        self.fetcher.close()
        with self._feeds_lock:
            if self._feeds is not None:
                self._feeds.close()
                self._feeds = None

    def unsubscribe(self, url: str) -> bool:
        """Drop a subscription; its pages stay, no longer naming it (so a repair of the feed
        list does not subscribe to it again). False if there was none."""
        pages = self.feeds.pages(url.strip())
        removed = self.feeds.remove(url)
        for relative in pages:
            drop_feed(self.pages_dir / relative, url.strip())
        return removed

    def repair_feeds(self) -> FeedRepair:
        """Set a damaged feed list aside and subscribe again to the feeds the pages name
        (see `repair_feed_store`); a sound one is left as it is."""
        with self._feeds_lock:
            if self._feeds is not None:
                self._feeds.close()
                self._feeds = None
            return repair_feed_store(self.feeds_path, self.pages_dir)

    def fetch_links(self, urls: Sequence[str]) -> list[LinkResult]:
        """Fetch each page's main text and keep it as a file; failures are reported, never
        raised, so one bad link does not cost the others."""
        results = []
        for url in urls:
            try:
                article = self.fetcher.fetch_article(url)
                path, change = store_article(article, self.pages_dir, link=True)
            except FetchError as exc:
                log.info("could not add %s: %s", url, exc)
                results.append(LinkResult(url, error=str(exc)))
                continue
            results.append(LinkResult(url, path, change, article.title, article.url))
        return results

    def poll(self, every_feed: bool = False) -> PollReport:
        """One round over the feeds that are due (all of them with `every_feed`)."""
        return poll(
            self.feeds,
            self.fetcher,
            self.pages_dir,
            only_due=not every_feed,
            round_seconds=self.round_seconds,
            host_seconds=self.host_seconds,
        )
