"""RSS/Atom subscriptions and polling rounds (ingest.feeds), against a local web server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from retrieval.errors import CitebotError
from retrieval.ingest.feeds import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    POLL_INTERVAL,
    FeedStore,
    PollReport,
    backoff,
    poll,
)
from retrieval.ingest.fetching import Fetcher, InvalidURL
from retrieval.ingest.pages import read_holders
from retrieval.ingest.web import Web
from retrieval.settings import RetrievalSettings
from tests.fakes.web_server import (
    Page,
    WebServer,
    article_html,
    atom_feed,
    bomb,
    rss_feed,
)

T0 = 1_700_000_000.0
RSS = "application/rss+xml"


def paragraphs(n: int, extra: str = "") -> list[str]:
    """Article paragraphs that differ from one article to the next."""
    return [
        f"Story {n}: the council met on Tuesday to discuss the new bridge over the river.{extra}",
        f"Residents of district {n} said the works had blocked the road for three months and"
        " asked for compensation; the council promised an answer before the summer.",
    ]


def story(n: int, *, metadata: bool = True, extra: str = "") -> Page:
    """The page of story n, dated 2024-03-0n when it has metadata."""
    return Page(
        article_html(
            f"Story number {n}",
            paragraphs(n, extra),
            published=f"2024-03-0{n}T08:00:00Z" if metadata else None,
            author="City desk" if metadata else None,
            metadata=metadata,
        )
    )


def rss_item(site: WebServer, n: int, **extra: str) -> dict[str, str]:
    """An RSS item linking story n."""
    item = {
        "title": f"Story number {n}",
        "link": site.url(f"/news/{n}"),
        "guid": f"urn:news:story-{n}",
        "pubDate": f"Sun, 0{n} Mar 2024 08:00:00 GMT",
        "description": f"Summary of story {n}",
    }
    item.update(extra)
    return item


@pytest.fixture
def site() -> Iterator[WebServer]:
    """A local news site."""
    with WebServer() as server:
        yield server


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    """A fetcher allowed to reach 127.0.0.1, quick to give up (though not so quick that a busy
    machine makes a local page fail), with no pause between requests."""
    with Fetcher(allow_hosts=frozenset({"127.0.0.1"}), timeout=2.0, per_host_interval=0) as f:
        yield f


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FeedStore]:
    """An empty subscription store."""
    feeds = FeedStore(tmp_path / "data" / "feeds.sqlite3")
    yield feeds
    feeds.close()


@pytest.fixture
def pages(tmp_path: Path) -> Path:
    """Where fetched pages are saved."""
    return tmp_path / "data" / "pages"


@pytest.fixture
def web(tmp_path: Path, fetcher: Fetcher) -> Iterator[Web]:
    """The archive's links and feeds (DATA_DIR under tmp_path), with the test fetcher."""
    web = Web(RetrievalSettings(data_dir=tmp_path / "data"))
    web.fetcher.close()
    web.fetcher = fetcher
    yield web
    web.close()


def front_matter(path: Path) -> dict[str, str]:
    """The front matter of a saved page."""
    head = path.read_text(encoding="utf-8").split("---\n")[1]
    return dict(line.split(": ", 1) for line in head.strip().splitlines())


# --- subscriptions ------------------------------------------------------------------------


def test_store_adds_lists_and_removes(tmp_path: Path) -> None:
    path = tmp_path / "feeds.sqlite3"
    store = FeedStore(path)
    first = store.add("https://example.org/rss.xml", now=T0)
    assert store.add(" https://example.org/rss.xml ", now=T0 + 5) == first  # idempotent
    store.add("https://example.org/atom.xml", now=T0 + 1)
    with pytest.raises(InvalidURL):
        store.add("file:///etc/passwd")
    store.close()
    reopened = FeedStore(path)
    urls = [feed.url for feed in reopened.list()]
    assert urls == ["https://example.org/rss.xml", "https://example.org/atom.xml"]
    assert first.failures == 0 and first.next_attempt == 0 and first.added_at == T0
    assert reopened.remove("https://example.org/rss.xml") is True
    assert reopened.remove("https://example.org/rss.xml") is False
    assert [feed.url for feed in reopened.list()] == ["https://example.org/atom.xml"]
    reopened.close()


def test_backoff_doubles_and_is_capped() -> None:
    assert backoff(1) == BACKOFF_BASE
    assert backoff(2) == 2 * BACKOFF_BASE
    assert backoff(3) == 4 * BACKOFF_BASE
    assert backoff(30) == BACKOFF_CAP == 6 * 3600
    assert backoff(1, retry_after=3600) == 3600
    assert backoff(1, retry_after=10**9) == BACKOFF_CAP


# --- rounds -------------------------------------------------------------------------------


def test_rss_round_saves_every_entry(
    site: WebServer, fetcher: Fetcher, store: FeedStore, pages: Path
) -> None:
    for n in (1, 2, 3):
        site.route(f"/news/{n}", story(n))
    items = [rss_item(site, n) for n in (1, 2, 3)]
    site.route("/rss.xml", Page(rss_feed("City news", items), content_type=RSS))
    store.add(site.url("/rss.xml"), now=T0)

    report = poll(store, fetcher, pages, now=T0)

    assert report.polled == [site.url("/rss.xml")] and not report.failed
    assert len(report.added) == 3 and report.changed_files
    assert {front_matter(p)["title"] for p in report.added} == {
        f"Story number {n}" for n in (1, 2, 3)
    }
    saved = front_matter(next(p for p in report.added if "Story number 2" in p.read_text()))
    assert saved["date"] == "2024-03-02" and saved["author"] == "City desk"
    assert saved["url"] == site.url("/news/2")
    feed = store.get(site.url("/rss.xml"))
    assert feed is not None and feed.title == "City news" and feed.failures == 0
    assert feed.next_attempt == T0 + POLL_INTERVAL
    entries = store.entries(site.url("/rss.xml"))
    assert {e.state for e in entries} == {"saved"} and len(entries) == 3
    assert "3 added" in report.summary()


def test_atom_round_uses_entry_dates_when_pages_have_none(
    site: WebServer, fetcher: Fetcher, store: FeedStore, pages: Path
) -> None:
    for n in (1, 2):
        site.route(f"/news/{n}", story(n, metadata=False))
    entries = [
        {
            "title": f"Atom story {n}",
            "link": site.url(f"/news/{n}"),
            "id": f"urn:story:{n}",
            "published": f"2023-12-1{n}T09:30:00Z",
            "updated": f"2023-12-1{n}T09:30:00Z",
            "summary": f"Summary {n}",
        }
        for n in (1, 2)
    ]
    site.route(
        "/atom.xml", Page(atom_feed("Atom news", entries), content_type="application/atom+xml")
    )
    store.add(site.url("/atom.xml"), now=T0)

    report = poll(store, fetcher, pages, now=T0)

    assert len(report.added) == 2
    dates = sorted(front_matter(p)["date"] for p in report.added)
    assert dates == ["2023-12-11", "2023-12-12"]
    assert sorted(front_matter(p)["title"] for p in report.added) == [
        "Atom story 1",
        "Atom story 2",
    ]
    stored = store.entry(site.url("/atom.xml"), "urn:story:1")
    assert stored is not None and stored.published == date(2023, 12, 11)


def test_unchanged_feed_answers_304_and_nothing_is_refetched(
    site: WebServer, fetcher: Fetcher, store: FeedStore, pages: Path
) -> None:
    for n in (1, 2):
        site.route(f"/news/{n}", story(n))
    feed = rss_feed("News", [rss_item(site, n) for n in (1, 2)])
    site.route("/rss.xml", Page(feed, content_type=RSS, etag='"feed-v1"'))
    store.add(site.url("/rss.xml"), now=T0)
    poll(store, fetcher, pages, now=T0)
    site.reset()

    report = poll(store, fetcher, pages, now=T0 + POLL_INTERVAL)

    assert report.not_modified == [site.url("/rss.xml")] and not report.polled
    assert not report.changed_files and not report.unchanged
    assert [r.path for r in site.requests] == ["/rss.xml"] and report.requests == 1
    assert site.requests[0].headers["if-none-match"] == '"feed-v1"'


def test_last_modified_feed_answers_304(
    site: WebServer, fetcher: Fetcher, store: FeedStore, pages: Path
) -> None:
    site.route("/news/1", story(1))
    stamp = "Sun, 03 Mar 2024 08:00:00 GMT"
    feed = rss_feed("News", [rss_item(site, 1)])
    site.route("/rss.xml", Page(feed, content_type=RSS, last_modified=stamp))
    store.add(site.url("/rss.xml"), now=T0)
    poll(store, fetcher, pages, now=T0)
    site.reset()
    report = poll(store, fetcher, pages, now=T0 + POLL_INTERVAL)
    assert report.not_modified and site.hits() == 1
    assert site.requests[0].headers["if-modified-since"] == stamp


def test_feeds_are_polled_only_when_due(
    site: WebServer, fetcher: Fetcher, store: FeedStore, pages: Path
) -> None:
    site.route("/rss.xml", Page(rss_feed("Empty", []), content_type=RSS))
    store.add(site.url("/rss.xml"), now=T0)
    assert poll(store, fetcher, pages, now=T0).polled
    assert store.next_due() == T0 + POLL_INTERVAL
    early = poll(store, fetcher, pages, now=T0 + 60)
    assert early.not_due == [site.url("/rss.xml")] and early.requests == 0
    assert poll(store, fetcher, pages, now=T0 + 60, only_due=False).polled


def test_feed_that_changes_between_polls(
    site: WebServer, fetcher: Fetcher, store: FeedStore, pages: Path
) -> None:
    for n in (1, 2, 3, 4):
        site.route(f"/news/{n}", story(n))
    first = [rss_item(site, n) for n in (1, 2, 3)]
    site.route("/rss.xml", Page(rss_feed("News", first), content_type=RSS))
    store.add(site.url("/rss.xml"), now=T0)
    round1 = poll(store, fetcher, pages, now=T0)
    assert len(round1.added) == 3
    path_of = {front_matter(p)["title"]: p for p in round1.added}

    # story 1 is corrected, story 2 stays, story 3 drops out of the feed, story 4 is new
    site.route("/news/1", story(1, extra=" Correction: the meeting was on Wednesday."))
    second = [
        rss_item(site, 1, description="Summary of story 1 (corrected)"),
        rss_item(site, 2),
        rss_item(site, 4),
    ]
    site.route("/rss.xml", Page(rss_feed("News", second), content_type=RSS))
    site.reset()
    round2 = poll(store, fetcher, pages, now=T0 + POLL_INTERVAL)

    assert round2.updated == [path_of["Story number 1"]]
    assert "Correction" in path_of["Story number 1"].read_text(encoding="utf-8")
    assert [front_matter(p)["title"] for p in round2.added] == ["Story number 4"]
    assert site.hits("/news/2") == 0 and site.hits("/news/3") == 0  # unchanged: not fetched
    assert path_of["Story number 3"].exists()  # gone from the feed, kept in the archive
    assert not round2.removed


def test_page_that_vanishes_has_its_file_removed(
    site: WebServer, fetcher: Fetcher, store: FeedStore, pages: Path
) -> None:
    site.route("/news/1", story(1))
    site.route("/news/2", story(2))
    site.route(
        "/rss.xml", Page(rss_feed("N", [rss_item(site, 1), rss_item(site, 2)]), content_type=RSS)
    )
    store.add(site.url("/rss.xml"), now=T0)
    saved = {front_matter(p)["title"]: p for p in poll(store, fetcher, pages, now=T0).added}

    site.remove("/news/1")  # the article is withdrawn; the feed marks the entry as updated
    items = [rss_item(site, 1, description="Withdrawn"), rss_item(site, 2)]
    site.route("/rss.xml", Page(rss_feed("N", items), content_type=RSS))
    report = poll(store, fetcher, pages, now=T0 + POLL_INTERVAL)

    assert report.removed == [saved["Story number 1"]]
    assert not saved["Story number 1"].exists() and saved["Story number 2"].exists()
    assert report.page_failures and "HTTP 404" in report.page_failures[0][1]
    entry = store.entry(site.url("/rss.xml"), "urn:news:story-1")
    assert entry is not None and entry.state == "gone" and entry.page_path is None


def test_invalid_feed_backs_off_and_never_stops_the_others(
    site: WebServer, fetcher: Fetcher, store: FeedStore, pages: Path
) -> None:
    site.route("/news/1", story(1))
    site.route("/broken.xml", Page("<rss><channel><item>oops</chan", content_type=RSS))
    site.route("/good.xml", Page(rss_feed("Good", [rss_item(site, 1)]), content_type=RSS))
    broken, good = site.url("/broken.xml"), site.url("/good.xml")
    store.add(broken, now=T0)
    store.add(good, now=T0 + 1)

    report = poll(store, fetcher, pages, now=T0)
    assert [url for url, _ in report.failed] == [broken] and report.polled == [good]
    assert "not a valid RSS or Atom feed" in report.failed[0][1]
    assert len(report.added) == 1
    state = store.get(broken)
    assert state is not None and state.failures == 1
    assert state.next_attempt == T0 + BACKOFF_BASE and state.last_error

    assert broken in poll(store, fetcher, pages, now=T0 + 60).not_due
    poll(store, fetcher, pages, now=T0 + BACKOFF_BASE)
    state = store.get(broken)
    assert state is not None and state.failures == 2
    assert state.next_attempt == T0 + BACKOFF_BASE + 2 * BACKOFF_BASE

    site.route("/broken.xml", Page(rss_feed("Fixed", []), content_type=RSS))
    assert broken in poll(store, fetcher, pages, now=T0 + 10 * BACKOFF_BASE).polled
    state = store.get(broken)
    assert state is not None and state.failures == 0 and state.last_error is None


def test_unreachable_and_disallowed_feeds_are_reported(
    site: WebServer, fetcher: Fetcher, store: FeedStore, pages: Path
) -> None:
    site.route("/robots.txt", Page("User-agent: *\nDisallow: /private/", content_type="text/plain"))
    site.route("/slow.xml", Page(rss_feed("Slow", []), content_type=RSS, delay=3.0))
    site.route("/private/rss.xml", Page(rss_feed("Private", []), content_type=RSS))
    site.route("/page.html", Page(article_html("Not a feed", paragraphs(1))))
    for path in ("/slow.xml", "/private/rss.xml", "/page.html"):
        store.add(site.url(path), now=T0)
    store.add("http://10.0.0.9/rss.xml", now=T0)
    report = poll(store, fetcher, pages, now=T0)
    reasons = dict(report.failed)
    assert "did not answer" in reasons[site.url("/slow.xml")]
    assert "robots.txt" in reasons[site.url("/private/rss.xml")]
    assert "text/html" in reasons[site.url("/page.html")]
    assert reasons["http://10.0.0.9/rss.xml"] == "refused: 10.0.0.9 is a private address"


def test_broken_page_is_retried_later_though_the_feed_is_unchanged(
    site: WebServer, fetcher: Fetcher, store: FeedStore, pages: Path
) -> None:
    site.route("/news/1", story(1))
    site.route("/news/2", Page("overloaded", status=503, content_type="text/plain"))
    feed = rss_feed("N", [rss_item(site, 1), rss_item(site, 2)])
    site.route("/rss.xml", Page(feed, content_type=RSS, etag='"v1"'))
    store.add(site.url("/rss.xml"), now=T0)

    round1 = poll(store, fetcher, pages, now=T0)
    assert len(round1.added) == 1 and round1.page_failures[0][0] == site.url("/news/2")
    entry = store.entry(site.url("/rss.xml"), "urn:news:story-2")
    assert entry is not None and entry.state == "failed"
    assert entry.next_attempt == T0 + BACKOFF_BASE

    site.route("/news/2", story(2))
    site.reset()
    round2 = poll(store, fetcher, pages, now=T0 + POLL_INTERVAL)
    assert round2.not_modified and len(round2.added) == 1
    assert sorted(r.path for r in site.requests) == ["/news/2", "/rss.xml"]
    assert not poll(store, fetcher, pages, now=T0 + 2 * POLL_INTERVAL).added


def test_entry_links_to_private_addresses_are_refused(
    site: WebServer, fetcher: Fetcher, store: FeedStore, pages: Path
) -> None:
    site.route("/news/1", story(1))
    evil = {"title": "Metadata", "link": "http://169.254.169.254/latest/", "guid": "urn:news:evil"}
    site.route("/rss.xml", Page(rss_feed("N", [evil, rss_item(site, 1)]), content_type=RSS))
    store.add(site.url("/rss.xml"), now=T0)
    report = poll(store, fetcher, pages, now=T0)
    assert len(report.added) == 1
    assert report.page_failures == [
        ("http://169.254.169.254/latest/", "refused: 169.254.169.254 is a link-local address")
    ]
    entry = store.entry(site.url("/rss.xml"), "urn:news:evil")
    assert entry is not None and entry.state == "failed" and entry.next_attempt is None


def test_one_article_in_two_feeds_is_one_file(
    site: WebServer, fetcher: Fetcher, store: FeedStore, pages: Path
) -> None:
    site.route("/news/1", story(1))
    site.route("/a.xml", Page(rss_feed("A", [rss_item(site, 1)]), content_type=RSS))
    site.route("/b.xml", Page(rss_feed("B", [rss_item(site, 1)]), content_type=RSS))
    store.add(site.url("/a.xml"), now=T0)
    store.add(site.url("/b.xml"), now=T0 + 1)
    report: PollReport = poll(store, fetcher, pages, now=T0)
    assert len(report.added) == 1 and report.updated == report.added  # B is named a holder
    assert len(list(pages.rglob("*.md"))) == 1
    assert store.pages(site.url("/a.xml")) == store.pages(site.url("/b.xml"))
    assert read_holders(report.added[0]).feeds == (site.url("/a.xml"), site.url("/b.xml"))
    assert not poll(store, fetcher, pages, now=T0, only_due=False).changed_files


def test_a_feed_compressed_twice_is_refused_and_the_others_are_read(
    site: WebServer, fetcher: Fetcher, store: FeedStore, pages: Path
) -> None:
    site.route("/news/1", story(1))
    site.route("/good.xml", Page(rss_feed("Good", [rss_item(site, 1)]), content_type=RSS))
    layers = {"Content-Encoding": "gzip, gzip, gzip"}
    body = bomb(20_000_000, "gzip", "gzip", "gzip")
    site.route("/bomb.xml", Page(body, content_type=RSS, headers=layers))
    store.add(site.url("/bomb.xml"), now=T0)
    store.add(site.url("/good.xml"), now=T0 + 1)
    report = poll(store, fetcher, pages, now=T0)
    assert report.polled == [site.url("/good.xml")] and len(report.added) == 1
    [(url, reason)] = report.failed
    assert url == site.url("/bomb.xml") and "compressed more than once" in reason


def test_a_feed_never_removes_a_page_an_admin_added(
    site: WebServer, fetcher: Fetcher, web: Web
) -> None:
    site.route("/news/1", story(1))
    [link] = web.fetch_links([site.url("/news/1")])  # an admin sends the link
    assert link.path is not None and link.change == "added"
    site.route("/rss.xml", Page(rss_feed("N", [rss_item(site, 1)]), content_type=RSS))
    web.feeds.add(site.url("/rss.xml"), now=T0)
    poll(web.feeds, fetcher, web.pages_dir, now=T0)

    site.remove("/news/1")  # the feed's entry now points at a 404
    items = [rss_item(site, 1, description="Withdrawn")]
    site.route("/rss.xml", Page(rss_feed("N", items), content_type=RSS))
    report = poll(web.feeds, fetcher, web.pages_dir, now=T0 + POLL_INTERVAL)

    assert report.page_failures and "HTTP 404" in report.page_failures[0][1]
    assert not report.removed and link.path.exists()  # the admin's link still holds it
    entry = web.feeds.entry(site.url("/rss.xml"), "urn:news:story-1")
    assert entry is not None and entry.state == "gone"


DAMAGE = bytes(range(256)) * 16  # not SQLite: what a bad disk or a stray write leaves


def test_a_damaged_feed_list_is_a_clear_error_naming_the_file_and_the_repair(
    tmp_path: Path,
) -> None:
    path = tmp_path / "feeds.sqlite3"
    path.write_bytes(DAMAGE)
    with pytest.raises(CitebotError) as damaged:
        FeedStore(path)
    message = str(damaged.value)
    assert f"the feed list {path} is damaged" in message and "citebot feeds repair" in message


def test_repair_keeps_the_damaged_file_and_subscribes_again_to_the_feeds_pages_name(
    site: WebServer, web: Web
) -> None:
    from retrieval.ingest.feeds import repair_feed_store

    for n in (1, 2):
        site.route(f"/news/{n}", story(n))
        site.route(f"/{n}.xml", Page(rss_feed(f"F{n}", [rss_item(site, n)]), content_type=RSS))
        web.feeds.add(site.url(f"/{n}.xml"), now=T0 + n)
    site.route("/3.xml", Page(rss_feed("F3", [rss_item(site, 1)]), content_type=RSS))
    web.feeds.add(site.url("/3.xml"), now=T0 + 3)
    assert len(web.poll().added) == 2
    assert web.unsubscribe(site.url("/3.xml"))  # dropped: not to come back with a repair
    path = web.feeds.path
    web.close()
    path.write_bytes(DAMAGE)

    repaired = repair_feed_store(path, web.pages_dir)

    assert repaired.status == "damaged" and repaired.backup is not None
    assert repaired.backup.read_bytes() == DAMAGE and repaired.backup.parent == path.parent
    assert sorted(repaired.subscribed) == [site.url("/1.xml"), site.url("/2.xml")]
    store = FeedStore(path)
    assert sorted(feed.url for feed in store.list()) == [site.url("/1.xml"), site.url("/2.xml")]
    store.close()
    assert repair_feed_store(path, web.pages_dir).status == "sound"  # nothing more to do


def hosts_fetcher(**options: float) -> Fetcher:
    """A fetcher that takes slow.test and fast.test for 127.0.0.1 (two sites of the test)."""
    resolve = lambda host, port: ["127.0.0.1"]  # noqa: E731
    names = frozenset({"slow.test", "fast.test"})
    return Fetcher(allow_hosts=names, resolver=resolve, per_host_interval=0, **options)


def test_a_slow_host_does_not_delay_the_other_feeds(
    site: WebServer, store: FeedStore, pages: Path
) -> None:
    with WebServer() as fast, hosts_fetcher(timeout=1.0) as fetcher:
        slow_items = []
        for n in (1, 2, 3):  # each page answers after the time limit: 1 s each
            site.route(f"/news/{n}", Page(story(n).body, delay=1.5))
            slow_items.append(rss_item(site, n, link=site.url(f"/news/{n}", host="slow.test")))
        site.route("/rss.xml", Page(rss_feed("Slow", slow_items), content_type=RSS))
        fast.route("/news/5", story(5))
        fast_items = [rss_item(fast, 5, link=fast.url("/news/5", host="fast.test"))]
        fast.route("/rss.xml", Page(rss_feed("Fast", fast_items), content_type=RSS))
        store.add(site.url("/rss.xml", host="slow.test"), now=T0)
        store.add(fast.url("/rss.xml", host="fast.test"), now=T0 + 1)

        started = time.monotonic()
        report = poll(store, fetcher, pages, now=T0)

        assert [front_matter(p)["title"] for p in report.added] == ["Story number 5"]
        assert fast.received("/news/5")[0].at - started < 1.5  # not after the slow host's 3 s
        assert len(report.page_failures) == 3


def test_a_round_spends_no_more_than_its_time_budget_on_one_host(
    site: WebServer, store: FeedStore, pages: Path
) -> None:
    with hosts_fetcher(timeout=0.5) as fetcher:
        items = []
        for n in (1, 2, 3, 4, 5):  # each page answers after the time limit: 0.5 s each
            site.route(f"/news/{n}", Page(story(n).body, delay=0.7))
            items.append(rss_item(site, n, link=site.url(f"/news/{n}", host="slow.test")))
        feed = site.url("/rss.xml", host="slow.test")
        site.route("/rss.xml", Page(rss_feed("Slow", items), content_type=RSS))
        store.add(feed, now=T0)

        report = poll(store, fetcher, pages, now=T0, host_seconds=1.2, round_seconds=30)

        assert report.seconds < 2.4  # not the 2.5 s and more that five pages would take
        failed = [url for url, _ in report.page_failures]
        assert len(failed) >= 1 and len(report.deferred) >= 2
        assert sorted(failed + report.deferred) == sorted(item["link"] for item in items)
        assert site.hits("/news/5") == 0
        for url in report.deferred:  # no failure counted: due again at the next round
            [entry] = [e for e in store.entries(feed) if e.link == url]
            assert entry.failures == 0 and entry.next_attempt == T0 and entry.state == "failed"
        assert "left for the next round" in report.summary()

        for n in (1, 2, 3, 4, 5):
            site.route(f"/news/{n}", story(n))
        with hosts_fetcher(timeout=2.0) as patient:
            later = poll(store, patient, pages, now=T0 + 60, only_due=False)
        assert len(later.added) == len(report.deferred)  # the failed wait for their backoff

        report = poll(store, fetcher, pages, now=T0 + 9 * POLL_INTERVAL, round_seconds=0)
        assert report.deferred == [feed] and not report.polled and not report.failed
        state = store.get(feed)
        assert state is not None and state.failures == 0  # still due: tried next round
