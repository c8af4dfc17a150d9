"""Fetching web pages politely and safely (ingest.fetching), against a local web server."""

from __future__ import annotations

import itertools
import re
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from retrieval.errors import CitebotError
from retrieval.ingest.fetching import (
    HTML_TYPES,
    BadContentType,
    BadEncoding,
    BlockedAddress,
    Fetcher,
    FetchFailed,
    FetchTimeout,
    InvalidURL,
    NoArticle,
    OutOfTime,
    PageGone,
    RobotsDisallowed,
    TooLarge,
    TooManyRedirects,
    address_problem,
    normalize_url,
    parse_allow_hosts,
)
from retrieval.ingest.pages import article_path, save_article, store_article
from tests.fakes.web_server import Page, WebServer, article_html, bomb, compressed

LOCAL = frozenset({"127.0.0.1"})
PARAGRAPHS = [
    "Heavy rain caused the river Aire to burst its banks on Friday, flooding dozens of homes"
    " in the lower town and closing the main road to the coast for most of the day.",
    "Rescue teams from three counties worked through the night. The mayor said the new flood"
    " barrier, finished last spring, had held in the upper town and prevented worse damage.",
    "Forecasters expect more rain on Sunday and have issued an amber warning for the valley.",
]
ARTICLE = article_html(
    "Floods hit the valley",
    PARAGRAPHS,
    published="2024-03-22T10:00:00Z",
    author="Jane Doe",
    canonical="/news/2024/floods",
)


@pytest.fixture
def site() -> Iterator[WebServer]:
    """A local web server; tests add routes."""
    with WebServer() as server:
        yield server


def make_fetcher(**overrides: object) -> Fetcher:
    """A fetcher that may reach 127.0.0.1, with short timeouts (though not so short that a busy
    machine makes a local page fail) and no pause between requests."""
    options: dict = {"allow_hosts": LOCAL, "timeout": 2.0, "per_host_interval": 0.0}
    options.update(overrides)
    return Fetcher(**options)


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    """The default test fetcher."""
    with make_fetcher() as f:
        yield f


@pytest.fixture
def no_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything opens a TCP connection."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a connection was attempted: {args}")

    monkeypatch.setattr(socket, "create_connection", refuse)


# --- plain fetching -----------------------------------------------------------------------


def test_fetch_returns_body_status_type_and_validators(site: WebServer, fetcher: Fetcher) -> None:
    site.route("/a", Page(ARTICLE, etag='"v1"', last_modified="Fri, 22 Mar 2024 10:00:00 GMT"))
    result = fetcher.fetch(site.url("/a"))
    assert result.status == 200 and not result.not_modified
    assert result.final_url == site.url("/a")
    assert result.content_type == "text/html" and result.charset == "utf-8"
    assert result.body == ARTICLE.encode("utf-8")
    assert result.etag == '"v1"'
    assert result.last_modified == "Fri, 22 Mar 2024 10:00:00 GMT"


def test_user_agent_is_sent(site: WebServer) -> None:
    site.route("/a", Page(ARTICLE))
    with make_fetcher(user_agent="citebot-test/1.0") as fetcher:
        fetcher.fetch(site.url("/a"))
    assert {r.headers["user-agent"] for r in site.requests} == {"citebot-test/1.0"}


def test_etag_gives_not_modified_without_body(site: WebServer, fetcher: Fetcher) -> None:
    site.route("/a", Page(ARTICLE, etag='"v1"'))
    first = fetcher.fetch(site.url("/a"))
    again = fetcher.fetch(site.url("/a"), etag=first.etag)
    assert again.not_modified and again.status == 304 and again.body == b""
    assert site.received("/a")[-1].headers["if-none-match"] == '"v1"'
    assert fetcher.stats.not_modified == 1


def test_last_modified_gives_not_modified(site: WebServer, fetcher: Fetcher) -> None:
    stamp = "Fri, 22 Mar 2024 10:00:00 GMT"
    site.route("/a", Page(ARTICLE, last_modified=stamp))
    first = fetcher.fetch(site.url("/a"))
    again = fetcher.fetch(site.url("/a"), last_modified=first.last_modified)
    assert again.not_modified
    assert site.received("/a")[-1].headers["if-modified-since"] == stamp


def test_redirect_is_followed(site: WebServer, fetcher: Fetcher) -> None:
    site.route("/old", Page(status=301, headers={"Location": "/new#top"}))
    site.route("/new", Page(ARTICLE))
    result = fetcher.fetch(site.url("/old"))
    assert result.final_url == site.url("/new")
    assert result.redirects == (site.url("/old"),)


def test_redirect_loop_is_refused(site: WebServer, fetcher: Fetcher) -> None:
    site.route("/a", Page(status=302, headers={"Location": "/b"}))
    site.route("/b", Page(status=302, headers={"Location": "/a"}))
    with pytest.raises(TooManyRedirects, match="redirect loop"):
        fetcher.fetch(site.url("/a"))
    assert site.hits("/a") == 1 and site.hits("/b") == 1


def test_too_many_redirects_are_refused(site: WebServer) -> None:
    for i in range(5):
        site.route(f"/r{i}", Page(status=302, headers={"Location": f"/r{i + 1}"}))
    site.route("/r5", Page(ARTICLE))
    with make_fetcher(max_redirects=3) as fetcher, pytest.raises(TooManyRedirects):
        fetcher.fetch(site.url("/r0"))
    assert site.hits("/r4") == 0


def test_slow_server_times_out(site: WebServer) -> None:
    site.route("/slow", Page(ARTICLE, delay=3.0))
    with (
        make_fetcher(timeout=0.3) as fetcher,
        pytest.raises(FetchTimeout, match=re.escape("0.3 s")),
    ):
        fetcher.fetch(site.url("/slow"))


def test_slow_body_hits_the_time_limit(site: WebServer) -> None:
    site.route("/drip", Page("x" * 4000, content_type="text/html", drip=0.1, piece=100))
    with make_fetcher(timeout=0.4) as fetcher, pytest.raises(FetchTimeout):
        fetcher.fetch(site.url("/drip"))


def test_declared_huge_page_is_refused_before_reading(site: WebServer) -> None:
    site.route("/huge", Page("<p>" + "x" * 1000, repeat=100_000))  # 100 MB announced
    with make_fetcher(max_bytes=1_000_000) as fetcher, pytest.raises(TooLarge, match="1 MB"):
        fetcher.fetch(site.url("/huge"))
    assert fetcher.stats.bytes == 0


def test_streamed_huge_page_stops_at_the_cap(site: WebServer) -> None:
    site.route("/huge", Page("<p>" + "x" * 10_000, repeat=10_000, send_length=False))
    with make_fetcher(max_bytes=200_000) as fetcher, pytest.raises(TooLarge):
        fetcher.fetch(site.url("/huge"))
    assert fetcher.stats.bytes < 400_000


# --- compression (Content-Encoding) -------------------------------------------------------

CODINGS = ["gzip", "deflate", "br", "zstd"]


@pytest.mark.parametrize("coding", [*CODINGS, "x-gzip", "identity"])
def test_one_layer_of_compression_is_decoded(
    coding: str, site: WebServer, fetcher: Fetcher
) -> None:
    layer = {"x-gzip": "gzip", "identity": None}.get(coding, coding)
    body = compressed(ARTICLE.encode(), layer) if layer else ARTICLE.encode()
    site.route("/a", Page(body, headers={"Content-Encoding": coding}))
    assert fetcher.fetch(site.url("/a")).body == ARTICLE.encode()
    accepted = site.received("/a")[0].headers["accept-encoding"]
    assert [c.strip() for c in accepted.split(",")] == CODINGS


@pytest.mark.parametrize("coding", CODINGS)
def test_compression_bomb_stops_at_the_cap_without_inflating(coding: str, site: WebServer) -> None:
    """20 MB of zeros in a few KB: decoding stops at the cap, and never holds much more."""
    site.route("/bomb", Page(bomb(20_000_000, coding), headers={"Content-Encoding": coding}))
    with make_fetcher(max_bytes=200_000) as fetcher:
        tracemalloc.start()
        try:
            with pytest.raises(TooLarge, match=re.escape("larger than 200 KB")):
                fetcher.fetch(site.url("/bomb"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert fetcher.stats.bytes <= 200_000 + 128 * 1024
    assert peak < 3_000_000, f"{peak:,} bytes held while decoding"


@pytest.mark.parametrize(
    "codings", [("gzip", "gzip", "gzip"), ("gzip", "zstd"), ("deflate", "identity", "br")]
)
def test_stacked_compression_is_refused_before_decoding(
    codings: tuple[str, ...], site: WebServer, fetcher: Fetcher
) -> None:
    layers = [c for c in codings if c != "identity"]
    header = ", ".join(codings)
    site.route("/bomb", Page(bomb(5_000_000, *layers), headers={"Content-Encoding": header}))
    with pytest.raises(BadEncoding, match="compressed more than once") as refused:
        fetcher.fetch(site.url("/bomb"))
    assert header in str(refused.value)
    assert fetcher.stats.bytes == 0


@pytest.mark.parametrize("coding", ["compress", "x-bomb", "gzip;q=1"])
def test_unknown_compression_is_refused(coding: str, site: WebServer, fetcher: Fetcher) -> None:
    site.route("/a", Page(ARTICLE, headers={"Content-Encoding": coding}))
    with pytest.raises(BadEncoding, match=re.escape(f"unknown compression ({coding})")):
        fetcher.fetch(site.url("/a"))


@pytest.mark.parametrize("coding", CODINGS)
def test_damaged_compressed_body_fails_cleanly(
    coding: str, site: WebServer, fetcher: Fetcher
) -> None:
    site.route(
        "/a", Page(b"\x1f\x8b not really compressed" * 50, headers={"Content-Encoding": coding})
    )
    with pytest.raises(BadEncoding, match=f"damaged {coding} data"):
        fetcher.fetch(site.url("/a"))


def test_content_type_not_asked_for_is_refused(site: WebServer, fetcher: Fetcher) -> None:
    site.route("/report.pdf", Page(b"%PDF-1.7 ...", content_type="application/pdf"))
    with pytest.raises(BadContentType, match="application/pdf"):
        fetcher.fetch(site.url("/report.pdf"), accept=HTML_TYPES)


def test_missing_page_is_gone_and_server_error_is_transient(
    site: WebServer, fetcher: Fetcher
) -> None:
    site.route("/busy", Page("busy", status=503, headers={"Retry-After": "120"}))
    with pytest.raises(PageGone) as gone:
        fetcher.fetch(site.url("/nothing"))
    assert gone.value.status == 404 and not gone.value.transient
    with pytest.raises(FetchFailed) as failed:
        fetcher.fetch(site.url("/busy"))
    assert failed.value.status == 503 and failed.value.retry_after == 120
    assert failed.value.transient


def test_unreachable_server_fails_cleanly(fetcher: Fetcher) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    with pytest.raises(FetchFailed):
        fetcher.fetch(f"http://127.0.0.1:{port}/")


def test_requests_to_one_host_are_spaced(site: WebServer) -> None:
    site.route("/a", Page(ARTICLE))
    now = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    with make_fetcher(per_host_interval=2.0, clock=lambda: now[0], sleep=sleep) as fetcher:
        fetcher.fetch(site.url("/a"))  # robots.txt, then /a: one pause between them
        fetcher.fetch(site.url("/a"))
    assert slept == [2.0, 2.0]


def test_threads_sharing_a_fetcher_keep_the_pace(site: WebServer) -> None:
    site.route("/a", Page(ARTICLE))
    with make_fetcher(per_host_interval=0.15, respect_robots=False) as fetcher:
        threads = [threading.Thread(target=fetcher.fetch, args=(site.url("/a"),)) for _ in "abc"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    times = sorted(r.at for r in site.requests)
    assert len(times) == 3
    assert all(later - earlier >= 0.14 for earlier, later in itertools.pairwise(times))


# --- robots.txt ---------------------------------------------------------------------------


def test_robots_disallow_is_obeyed(site: WebServer, fetcher: Fetcher) -> None:
    site.route(
        "/robots.txt", Page("User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    )
    site.route("/private/a", Page(ARTICLE))
    site.route("/public/a", Page(ARTICLE))
    with pytest.raises(RobotsDisallowed, match=re.escape("robots.txt")):
        fetcher.fetch(site.url("/private/a"))
    assert site.hits("/private/a") == 0
    assert fetcher.fetch(site.url("/public/a")).status == 200
    assert site.hits("/robots.txt") == 1  # cached per site


def test_robots_rules_for_citebot_by_name(site: WebServer, fetcher: Fetcher) -> None:
    rules = "User-agent: citebot\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    site.route("/robots.txt", Page(rules, content_type="text/plain"))
    site.route("/a", Page(ARTICLE))
    with pytest.raises(RobotsDisallowed):
        fetcher.fetch(site.url("/a"))


def test_missing_robots_allows_and_broken_robots_fails(site: WebServer, fetcher: Fetcher) -> None:
    site.route("/a", Page(ARTICLE))
    assert fetcher.fetch(site.url("/a")).status == 200  # robots.txt answered 404
    with WebServer() as other, make_fetcher() as fresh:
        other.route("/robots.txt", Page("oops", status=500, content_type="text/plain"))
        other.route("/a", Page(ARTICLE))
        with pytest.raises(FetchFailed, match=re.escape("robots.txt")):
            fresh.fetch(other.url("/a"))
        assert other.hits("/a") == 0


def test_failed_robots_is_cached_like_a_good_one(site: WebServer, fetcher: Fetcher) -> None:
    site.route("/robots.txt", Page("oops", status=500, content_type="text/plain"))
    site.route("/a", Page(ARTICLE))
    for _ in range(3):
        with pytest.raises(FetchFailed, match=re.escape("robots.txt")):
            fetcher.fetch(site.url("/a"))
    assert site.hits("/robots.txt") == 1 and site.hits("/a") == 0


def test_a_trickling_page_is_cut_at_the_time_limit(site: WebServer) -> None:
    """A byte just before each network wait would time out: the whole response still gets
    no more than the time limit."""
    site.route("/drip", Page("x" * 100, drip=0.7, piece=1))
    with make_fetcher(timeout=1.0, respect_robots=False) as fetcher:
        started = time.monotonic()
        with pytest.raises(FetchTimeout):
            fetcher.fetch(site.url("/drip"))
        assert time.monotonic() - started < 1.35


def test_a_deadline_stops_a_fetch_however_long_its_time_limit(site: WebServer) -> None:
    site.route("/slow", Page(ARTICLE, delay=2.0))
    with make_fetcher(timeout=5.0, respect_robots=False) as fetcher:
        started = time.monotonic()
        with fetcher.deadline(started + 0.3), pytest.raises(OutOfTime):
            fetcher.fetch(site.url("/slow"))
        assert time.monotonic() - started < 1.0
        with fetcher.deadline(started - 1), pytest.raises(OutOfTime):  # already past
            fetcher.fetch(site.url("/slow"))
    assert site.hits("/slow") == 1


def test_robots_can_be_switched_off(site: WebServer) -> None:
    site.route("/a", Page(ARTICLE))
    with make_fetcher(respect_robots=False) as fetcher:
        fetcher.fetch(site.url("/a"))
    assert site.hits("/robots.txt") == 0


# --- SSRF ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://10.0.0.1/", "refused: 10.0.0.1 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://[::1]/", "::1 is a loopback address"),
        ("http://localhost/", "localhost resolves to"),
        ("http://127.0.0.1:8080/", "127.0.0.1 is a loopback address"),
        ("http://0.0.0.0/", "0.0.0.0 is an unspecified address"),
        ("http://[::ffff:192.168.1.1]/", "a private address"),
        ("http://100.64.0.1/", "100.64.0.1 is not a public address"),
        ("https://[fe80::1]/", "a link-local address"),
    ],
)
def test_local_addresses_are_refused_before_connecting(
    url: str, message: str, no_connect: None
) -> None:
    with Fetcher(timeout=0.5) as fetcher, pytest.raises(BlockedAddress, match=re.escape(message)):
        fetcher.fetch(url)


def test_refusal_is_a_citebot_error_fit_for_users(no_connect: None) -> None:
    with Fetcher() as fetcher, pytest.raises(CitebotError) as caught:
        fetcher.fetch("http://10.0.0.1/")
    assert str(caught.value) == "refused: 10.0.0.1 is a private address"


def test_every_resolved_address_is_checked(no_connect: None) -> None:
    resolver = lambda host, port: ["93.184.216.34", "10.1.2.3"]  # noqa: E731
    with (
        Fetcher(resolver=resolver) as fetcher,
        pytest.raises(BlockedAddress, match=re.escape("10.1.2.3")),
    ):
        fetcher.fetch("http://news.example/a")


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.org/x", "gopher://x/", "http:///nohost", "x"]
)
def test_non_web_links_are_refused(url: str, no_connect: None) -> None:
    with Fetcher() as fetcher, pytest.raises(InvalidURL, match="refused"):
        fetcher.fetch(url)


def test_links_with_credentials_are_refused(no_connect: None) -> None:
    with Fetcher() as fetcher, pytest.raises(InvalidURL, match="user name"):
        fetcher.fetch("http://admin:secret@example.org/")


def test_redirect_to_private_address_is_refused(site: WebServer, fetcher: Fetcher) -> None:
    site.route("/go", Page(status=302, headers={"Location": "http://10.0.0.5/admin"}))
    with pytest.raises(BlockedAddress, match=re.escape("10.0.0.5 is a private address")):
        fetcher.fetch(site.url("/go"))


def test_redirect_to_loopback_is_refused_unless_allowed(site: WebServer) -> None:
    site.route("/go", Page(status=302, headers={"Location": site.url("/secret")}))
    site.route("/secret", Page(ARTICLE))
    resolve = lambda host, port: ["127.0.0.1"]  # noqa: E731 - "news.test" is this server
    blocked = pytest.raises(BlockedAddress, match=re.escape("127.0.0.1 is a loopback address"))
    with make_fetcher(allow_hosts=frozenset({"news.test"}), resolver=resolve) as fetcher, blocked:
        fetcher.fetch(site.url("/go", host="news.test"))
    assert site.hits("/secret") == 0
    with make_fetcher(allow_hosts=frozenset({"news.test", "127.0.0.1"}), resolver=resolve) as f:
        assert f.fetch(site.url("/go", host="news.test")).final_url == site.url("/secret")


def test_name_that_changes_address_is_checked_again_at_connect(site: WebServer) -> None:
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])  # DNS rebinding: public, then local

    def resolve(host: str, port: int) -> list[str]:
        return next(answers, ["127.0.0.1"])

    site.route("/a", Page(ARTICLE))
    fetcher = Fetcher(resolver=resolve, respect_robots=False, timeout=0.5)
    with (
        fetcher,
        pytest.raises(BlockedAddress, match=re.escape("rebind.test resolves to 127.0.0.1")),
    ):
        fetcher.fetch(site.url("/a", host="rebind.test"))
    assert site.hits() == 0


def test_allow_hosts_setting_parses_names_and_networks(site: WebServer) -> None:
    allow = parse_allow_hosts(" Intranet.Local, 127.0.0.0/8 ,,")
    assert allow == frozenset({"intranet.local", "127.0.0.0/8"})
    site.route("/a", Page(ARTICLE))
    with make_fetcher(allow_hosts=allow) as fetcher:
        assert fetcher.fetch(site.url("/a")).status == 200


def test_allow_hosts_entry_with_a_port_allows_that_port_only(site: WebServer) -> None:
    site.route("/a", Page(ARTICLE))
    resolve = lambda host, port: ["127.0.0.1"]  # noqa: E731 - "news.test" is this machine
    with WebServer() as other:
        other.route("/a", Page(ARTICLE))
        for entry, host in (
            (f"127.0.0.1:{site.port}", "127.0.0.1"),
            (f"News.Test:{site.port}", "news.test"),
        ):
            allow = parse_allow_hosts(entry)
            with make_fetcher(allow_hosts=allow, resolver=resolve) as fetcher:
                assert fetcher.fetch(site.url("/a", host=host)).status == 200
                with pytest.raises(BlockedAddress, match="loopback"):
                    fetcher.fetch(other.url("/a", host=host))
    assert other.hits() == 0


@pytest.mark.parametrize(
    ("entry", "allowed", "refused"),
    [
        ("127.0.0.0/8:8080", "http://127.0.0.2:8080/", "http://127.0.0.2:8081/"),
        ("[::1]:8080", "http://[::1]:8080/", "http://[::1]/"),
        ("::1", "http://[::1]:9999/", "http://[::2]/"),
        ("127.0.0.1", "http://127.0.0.1:1/", "http://127.0.0.2/"),  # a bare host: every port
    ],
)
def test_allow_hosts_ports_networks_and_ipv6(
    entry: str, allowed: str, refused: str, no_connect: None
) -> None:
    with Fetcher(allow_hosts=parse_allow_hosts(entry)) as fetcher:
        fetcher.check_url(allowed)
        with pytest.raises(BlockedAddress):
            fetcher.check_url(refused)


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("192.168.0.1", "a private address"),
        ("172.16.5.4", "a private address"),
        ("fc00::1", "a private address"),
        ("224.0.0.1", "a multicast address"),
        ("64:ff9b::a00:1", "a private address"),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::", "a loopback address"),  # 6to4 of 127.0.0.1
    ],
)
def test_address_problem(address: str, problem: str | None) -> None:
    assert address_problem(address) == problem


# --- articles -----------------------------------------------------------------------------


def test_article_with_metadata(site: WebServer, fetcher: Fetcher) -> None:
    site.route("/a", Page(ARTICLE))
    site.route("/news/2024/floods", Page(ARTICLE))  # the canonical page: trusted once fetched
    article = fetcher.fetch_article(site.url("/a?utm_source=chat#comments"))
    assert article.url == site.url("/news/2024/floods")  # relative canonical, resolved
    assert article.final_url == site.url("/news/2024/floods")  # the text is the canonical's
    assert article.title == "Floods hit the valley"
    assert article.date == date(2024, 3, 22)
    assert article.author == "Jane Doe"
    assert "burst its banks" in article.text and "amber warning" in article.text
    assert "All rights reserved" not in article.text


def test_article_without_metadata(site: WebServer, fetcher: Fetcher) -> None:
    site.route("/b", Page(article_html("unused", PARAGRAPHS, metadata=False)))
    article = fetcher.fetch_article(site.url("/b"))
    assert article.url == site.url("/b")
    assert article.date is None and article.author is None
    assert article.title  # never empty: the URL at worst
    assert "Rescue teams" in article.text


def test_url_without_canonical_is_normalized(site: WebServer, fetcher: Fetcher) -> None:
    site.route("/b", Page(article_html("B", PARAGRAPHS)))
    article = fetcher.fetch_article(site.url("/b?id=7&utm_source=tg&fbclid=x#top"))
    assert article.url == site.url("/b?id=7")


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("HTTP://News.Example:80/a?utm_medium=x", "http://news.example/a"),
        ("https://news.example:443", "https://news.example/"),
        ("https://news.example:8443/a?b=1&c=2#x", "https://news.example:8443/a?b=1&c=2"),
        ("http://[2001:db8::1]:8080/a", "http://[2001:db8::1]:8080/a"),
    ],
)
def test_normalize_url(url: str, normal: str) -> None:
    assert normalize_url(url) == normal


def test_canonical_on_another_site_is_ignored(site: WebServer, fetcher: Fetcher) -> None:
    page = article_html("Fake", PARAGRAPHS, canonical="https://trusted-news.example/story")
    site.route("/c", Page(page))
    assert fetcher.fetch_article(site.url("/c")).url == site.url("/c")


def test_a_declared_canonical_cannot_put_a_page_under_another_pages_url(
    site: WebServer, fetcher: Fetcher, tmp_path: Path
) -> None:
    """/evilcanon names /page?i=1 as its canonical URL: its words must never be kept (and
    cited) as that page's, nor replace the copy already archived."""
    site.route("/page", Page(article_html("Floods hit the valley", PARAGRAPHS)))
    forged = ["The flood barrier failed on Friday and the mayor hid it, officials now admit."]
    site.route("/evilcanon", Page(article_html("Flood cover-up", forged, canonical="/page?i=1")))
    real_path, _ = store_article(fetcher.fetch_article(site.url("/page?i=1")), tmp_path)
    real = real_path.read_text(encoding="utf-8")

    article = fetcher.fetch_article(site.url("/evilcanon"))
    if article.url == site.url("/page?i=1"):  # trusted after fetching it: that page's own text
        assert "mayor hid it" not in article.text and "burst its banks" in article.text
    else:
        assert article.url == site.url("/evilcanon")
    store_article(article, tmp_path)
    assert real_path.read_text(encoding="utf-8") == real  # the archived page is untouched


def test_canonical_equal_to_the_fetched_url_costs_no_second_request(
    site: WebServer, fetcher: Fetcher
) -> None:
    site.route("/news/2024/floods", Page(ARTICLE))
    article = fetcher.fetch_article(site.url("/news/2024/floods"))
    assert article.url == site.url("/news/2024/floods")
    assert site.hits("/news/2024/floods") == 1


def test_canonical_that_cannot_be_fetched_is_not_trusted(site: WebServer, fetcher: Fetcher) -> None:
    site.route("/a", Page(ARTICLE))  # its canonical, /news/2024/floods, answers 404
    article = fetcher.fetch_article(site.url("/a?utm_source=chat"))
    assert article.url == site.url("/a")
    assert "burst its banks" in article.text


def test_page_without_text_is_no_article(site: WebServer, fetcher: Fetcher) -> None:
    site.route(
        "/empty",
        Page("<html><head><title>Photo</title></head><body><img src='a.png'></body></html>"),
    )
    with pytest.raises(NoArticle):
        fetcher.fetch_article(site.url("/empty"))


def test_article_refuses_feeds_and_other_types(site: WebServer, fetcher: Fetcher) -> None:
    site.route("/data.json", Page("{}", content_type="application/json"))
    with pytest.raises(BadContentType):
        fetcher.fetch_article(site.url("/data.json"))


def test_saved_article_is_idempotent_and_loadable(
    site: WebServer, fetcher: Fetcher, tmp_path: Path
) -> None:
    from retrieval.ingest.loaders import load

    site.route("/a", Page(ARTICLE))
    site.route("/news/2024/floods", Page(ARTICLE))
    article = fetcher.fetch_article(site.url("/a"))
    path = save_article(article, tmp_path)
    assert path == article_path(article.url, tmp_path)
    assert path.parent.name == f"127.0.0.1_{site.port}"
    stamp = path.stat().st_mtime_ns
    again = fetcher.fetch_article(site.url("/a"))
    assert store_article(again, tmp_path) == (path, "unchanged")
    assert path.stat().st_mtime_ns == stamp
    document = load(path)
    assert document.title == "Floods hit the valley"
    assert document.date == date(2024, 3, 22)
    assert document.url == site.url("/news/2024/floods")
    assert document.text.startswith("Floods hit the valley") or "Heavy rain" in document.text
    assert "author: Jane Doe" in path.read_text(encoding="utf-8")


def test_changed_article_updates_the_same_file(
    site: WebServer, fetcher: Fetcher, tmp_path: Path
) -> None:
    site.route("/a", Page(ARTICLE))
    path, change = store_article(fetcher.fetch_article(site.url("/a")), tmp_path)
    assert change == "added"
    site.route("/a", Page(ARTICLE.replace("amber warning", "red warning")))
    assert store_article(fetcher.fetch_article(site.url("/a")), tmp_path) == (path, "updated")
    assert "red warning" in path.read_text(encoding="utf-8")
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary left
