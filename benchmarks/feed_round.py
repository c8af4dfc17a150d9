"""Feed polling rounds against a local news site: first round fetches all, second only checks.

A local HTTP server (127.0.0.1) serves --feeds RSS feeds (ETag and Last-Modified set) of
--entries items each, every item linking its own article page: realistic news HTML (head
metadata, a large menu, inline styles and script, 6-9 paragraphs, related links, footer;
about 30 KB). Round 1 polls every feed, fetches, extracts and saves every page; round 2, with
nothing new, must send only conditional feed requests (all answered 304) and save nothing.

With --ingest each round is followed by the archive's ingest of the pages folder (embedding
with the bundled model), as `citebot serve` and `citebot ingest --feeds` do: round 2 must
embed nothing.

    .venv/bin/python benchmarks/feed_round.py [--feeds 50] [--entries 20] [--ingest]
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

import common  # noqa: F401  (first: sets the path)

from retrieval.archive import Archive
from retrieval.ingest.feeds import POLL_INTERVAL, FeedStore, PollReport, poll
from retrieval.ingest.fetching import Fetcher
from retrieval.settings import RetrievalSettings
from tests.fakes.web_server import Page, WebServer, article_html, rss_feed

WORDS = (
    "council minister river bridge election police court hospital school budget storm flood"
    " village city harbour train station airport protest strike union workers farmers prices"
    " energy winter summer report inquiry witness judge mayor residents officials company"
    " market shares bank interest rate inflation weather warning rescue teams hundreds"
    " thousands said on Tuesday after before during against between under new old local"
    " national regional government opposition party vote agreement plan project road"
).split()
T0 = 1_700_000_000.0


def sentence(rng: random.Random) -> str:
    """A plausible news sentence."""
    words = [rng.choice(WORDS) for _ in range(rng.randint(12, 28))]
    return " ".join(words).capitalize() + "."


def article(rng: random.Random, feed: int, entry: int) -> str:
    """One article page of feed `feed`, entry `entry`."""
    paragraphs = [
        " ".join(sentence(rng) for _ in range(rng.randint(2, 5))) for _ in range(rng.randint(6, 9))
    ]
    day = 1 + (feed + entry) % 28
    page = article_html(
        f"{sentence(rng)[:70].rstrip('.')} ({feed}-{entry})",
        paragraphs,
        published=f"2024-03-{day:02d}T08:00:00Z",
        author=f"Reporter {feed % 7}",
        canonical=f"/news/{feed}/{entry}",
    )
    related = "".join(
        f"<li><a href='/news/{feed}/{i}'>Related story {i}</a></li>" for i in range(8)
    )
    return page.replace("</main>", f"</main><aside><ul>{related}</ul></aside>{BOILERPLATE}")


MENU = "".join(f"<li><a href='/section/{w}'>{w.title()}</a></li>" for w in WORDS * 2)
BOILERPLATE = (
    f"<nav class='mega-menu'><ul>{MENU}</ul></nav><style>"
    + "".join(f".c{i}{{margin:{i}px;color:#{i:06x}}}" for i in range(300))
    + "</style><script>window.analytics={id:'UA-0000',consent:false};"
    + "".join(f"function f{i}(a){{return a*{i}+document.title.length;}}" for i in range(200))
    + "</script>"
)


def build_site(site: WebServer, feeds: int, entries: int) -> list[str]:
    """Publish the feeds and their pages; the feed URLs."""
    rng = random.Random(42)
    urls = []
    for f in range(feeds):
        items = []
        for e in range(entries):
            site.route(f"/news/{f}/{e}", Page(article(rng, f, e)))
            items.append(
                {
                    "title": f"Story {f}-{e}",
                    "link": site.url(f"/news/{f}/{e}"),
                    "guid": f"urn:bench:{f}:{e}",
                    "pubDate": f"Fri, {1 + (f + e) % 28:02d} Mar 2024 08:00:00 GMT",
                    "description": f"Summary of story {f}-{e}",
                }
            )
        site.route(
            f"/feeds/{f}.xml",
            Page(
                rss_feed(f"Feed {f}", items),
                content_type="application/rss+xml",
                etag=f'"feed-{f}-v1"',
                last_modified="Fri, 22 Mar 2024 10:00:00 GMT",
            ),
        )
        urls.append(site.url(f"/feeds/{f}.xml"))
    return urls


def show(name: str, report: PollReport, site: WebServer) -> None:
    """One round's numbers."""
    saved = len(report.added) + len(report.updated)
    fetched = site.hits() - sum(
        1 for r in site.requests if r.path.startswith(("/feeds/", "/robots"))
    )
    rate = fetched / report.seconds if report.seconds else 0.0
    print(
        f"{name}: {report.seconds:6.2f} s, {site.hits():5d} requests"
        f" ({len(report.polled)} feeds read, {len(report.not_modified)} feeds 304,"
        f" {fetched} pages fetched), {saved} pages saved,"
        f" {len(report.unchanged)} unchanged, {len(report.failed)} feeds failed,"
        f" {len(report.page_failures)} pages failed; {rate:.0f} pages/s"
    )


def ingest(archive: Archive, pages: Path, name: str) -> int:
    """Ingest the pages folder; print and return the chunks embedded."""
    report = archive.ingest([pages])
    rate = report.chunks_embedded / report.seconds if report.seconds else 0.0
    print(
        f"{name} ingest: {report.seconds:6.2f} s, {len(report.added)} added,"
        f" {len(report.unchanged)} unchanged, {report.chunks_embedded} chunks embedded"
        f" ({rate:.1f} chunks/s)"
    )
    return report.chunks_embedded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--entries", type=int, default=20)
    parser.add_argument("--ingest", action="store_true", help="ingest the pages after each round")
    args = parser.parse_args()

    with WebServer() as site, tempfile.TemporaryDirectory() as tmp:
        feeds = build_site(site, args.feeds, args.entries)
        size = sum(
            len(p.data) for k, p in site.routes.items() if isinstance(p, Page) and "/news/" in k
        )
        print(
            f"{args.feeds} feeds x {args.entries} entries,"
            f" pages average {size / max(1, args.feeds * args.entries) / 1000:.1f} KB"
        )
        store = FeedStore(Path(tmp) / "feeds.sqlite3")
        for url in feeds:
            store.add(url, now=T0)
        pages = Path(tmp) / "pages"
        archive = None
        if args.ingest:
            settings = RetrievalSettings(  # type: ignore[call-arg]
                _env_file=None, corpus_dir=Path(tmp) / "corpus", data_dir=Path(tmp) / "data"
            )
            archive = Archive(settings)
        embedded = []
        with Fetcher(allow_hosts=frozenset({"127.0.0.1"}), per_host_interval=0.0) as fetcher:
            first = poll(store, fetcher, pages, now=T0)
            show("round 1 (all new)", first, site)
            if archive is not None:
                embedded.append(ingest(archive, pages, "round 1"))
            site.reset()
            second = poll(store, fetcher, pages, now=T0 + POLL_INTERVAL)
            show("round 2 (nothing new)", second, site)
            if archive is not None:
                embedded.append(ingest(archive, pages, "round 2"))
        files = len(list(pages.rglob("*.md")))
        print(f"files under pages/: {files}")
        ok = (
            len(first.added) == args.feeds * args.entries
            and len(second.not_modified) == args.feeds
            and site.hits() == args.feeds
            and not (second.added or second.updated)
            and (not embedded or (embedded[0] > 0 and embedded[1] == 0))
        )
        print("check:", "ok" if ok else "FAILED")
        store.close()
        if not ok:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
