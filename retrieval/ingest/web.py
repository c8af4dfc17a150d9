"""Links and feeds into the archive: fetched pages are kept as files in the pages folder
(`DATA_DIR/pages`, one file per canonical URL) and ingested like corpus files, so a page
already in the archive is updated, not duplicated, and a rebuild refetches nothing.

`Web` holds the polite, SSRF-safe `Fetcher` and the `FeedStore` of one archive.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.ingest.feeds import FeedStore, PollReport, poll
from retrieval.ingest.fetching import Fetcher, FetchError, parse_allow_hosts
from retrieval.ingest.pages import store_article
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
        self.fetcher = Fetcher(
            timeout=settings.fetch_timeout,
            max_bytes=int(settings.fetch_max_mb * 1024 * 1024),
            allow_hosts=parse_allow_hosts(settings.fetch_allow_hosts),
        )
        self.feeds = FeedStore(settings.feeds_path)

    def close(self) -> None:
        self.fetcher.close()
        self.feeds.close()

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
        return poll(self.feeds, self.fetcher, self.pages_dir, only_due=not every_feed)
