"""Links and feeds through the `citebot` command, against a local web site on 127.0.0.1:
a page is fetched, kept and ingested, then cited with its URL; a feed round adds its
articles; private addresses are refused unless FETCH_ALLOW_HOSTS allows them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import Settings
from retrieval import Archive
from tests.fakes.web_server import Page, WebServer, article_html, bomb, rss_feed

pytestmark = pytest.mark.slow

LIGHTHOUSE = [
    "The harbour board voted on Tuesday to relight the Skerryvore lamp, dark since 2019.",
    "A glassworks in Leith will make the new Fresnel lens, the board's chair said.",
]


@pytest.fixture
def site() -> Iterator[WebServer]:
    with WebServer() as server:
        yield server


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, corpus_dir: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FETCH_ALLOW_HOSTS", "127.0.0.1")
    return tmp_path


def test_a_link_is_fetched_ingested_cited_and_updated_in_place(
    env: Path, site: WebServer, capsys: pytest.CaptureFixture[str]
) -> None:
    page = article_html("Skerryvore lamp to shine again", LIGHTHOUSE, published="2024-05-14")
    site.route("/news/lamp", Page(page))
    url = site.url("/news/lamp")

    assert main(["ingest", url]) == 0
    out = capsys.readouterr().out
    assert f"{url}: added, “Skerryvore lamp to shine again”" in out

    assert main(["ask", "--json", "Who will make the new lens for the Skerryvore lamp?"]) == 0
    answer = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert not answer["refused"] and "Leith" in answer["text"]
    assert answer["citations"][0]["url"] == url
    assert answer["citations"][0]["date"] == "2024-05-14"

    site.route("/news/lamp", Page(page.replace("Leith", "Glasgow")))
    assert main(["ingest", url]) == 0
    assert "updated" in capsys.readouterr().out
    assert main(["sources", "--json"]) == 0
    sources = json.loads(capsys.readouterr().out)
    assert sources["documents"] == 1  # the page, updated in place: not a duplicate


def test_private_addresses_are_refused_without_the_allow_list(
    env: Path, site: WebServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FETCH_ALLOW_HOSTS")
    site.route("/secret", Page(article_html("Internal", ["Do not read this."])))
    assert main(["ingest", site.url("/secret"), "http://169.254.169.254/latest"]) == 1
    out = capsys.readouterr().out
    assert "loopback" in out and "link-local" in out
    assert site.hits() == 0  # refused before connecting


def test_a_feed_round_adds_its_articles_and_a_second_round_adds_nothing(
    env: Path, site: WebServer, capsys: pytest.CaptureFixture[str]
) -> None:
    site.route("/news/lamp", Page(article_html("Skerryvore lamp to shine again", LIGHTHOUSE)))
    feed = rss_feed(
        "Harbour news",
        [
            {
                "title": "Skerryvore lamp to shine again",
                "link": site.url("/news/lamp"),
                "guid": "urn:lamp",
                "pubDate": "Tue, 14 May 2024 08:00:00 GMT",
            }
        ],
    )
    site.route("/rss.xml", Page(feed, content_type="application/rss+xml", etag='"v1"'))

    assert main(["feeds", "add", site.url("/rss.xml")]) == 0
    assert main(["feeds", "list"]) == 0
    assert site.url("/rss.xml") in capsys.readouterr().out

    assert main(["ingest", "--feeds"]) == 0
    assert "1 added" in capsys.readouterr().out
    assert main(["ask", "--json", "Who will make the new Fresnel lens?"]) == 0
    answer = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "Leith" in answer["text"]
    assert answer["citations"][0]["url"] == site.url("/news/lamp")
    assert answer["citations"][0]["date"] == "2024-05-14"  # the entry's date: the page has none

    page_hits = site.hits("/news/lamp")
    assert main(["ingest", "--feeds", "--json"]) == 0
    rounds = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rounds["feeds"]["not_modified"] == [site.url("/rss.xml")]
    assert rounds["ingest"]["chunks_embedded"] == 0
    assert site.hits("/news/lamp") == page_hits  # a 304 for the feed: no page refetched


def lamp_feed(site: WebServer) -> str:
    """A feed of one article (with an ETag: unchanged, it answers 304), and its URL."""
    site.route("/news/lamp", Page(article_html("Skerryvore lamp to shine again", LIGHTHOUSE)))
    item = {"title": "Skerryvore lamp", "link": site.url("/news/lamp"), "guid": "urn:lamp"}
    site.route(
        "/rss.xml",
        Page(rss_feed("Harbour news", [item]), content_type="application/rss+xml", etag='"v1"'),
    )
    return site.url("/rss.xml")


def test_a_stacked_compression_bomb_is_refused_with_a_clear_message(
    env: Path, site: WebServer, capsys: pytest.CaptureFixture[str]
) -> None:
    layers = {"Content-Encoding": "gzip, gzip, gzip"}
    site.route("/bomb", Page(bomb(50_000_000, "gzip", "gzip", "gzip"), headers=layers))
    assert main(["ingest", site.url("/bomb")]) == 1
    out = capsys.readouterr().out
    assert "compressed more than once (Content-Encoding: gzip, gzip, gzip)" in out


def test_a_feed_round_killed_before_its_ingest_is_completed_by_the_next_round(
    env: Path, site: WebServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["feeds", "add", lamp_feed(site)]) == 0
    killed = Archive(Settings())  # a round that saved its page, then was killed (kill -9)
    assert len(killed.web.poll(every_feed=True).added) == 1
    capsys.readouterr()

    assert main(["ingest", "--feeds", "--json"]) == 0  # the feed answers 304 this time
    rounds = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rounds["feeds"]["not_modified"] and len(rounds["ingest"]["added"]) == 1
    assert main(["ask", "--json", "Who will make the new Fresnel lens?"]) == 0
    assert "Leith" in json.loads(capsys.readouterr().out.strip().splitlines()[-1])["text"]


def test_a_damaged_feed_list_stops_nothing_else_and_is_repaired(
    env: Path, site: WebServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = lamp_feed(site)
    assert main(["feeds", "add", url]) == 0
    assert main(["ingest", "--feeds"]) == 0
    damaged = env / "data" / "feeds.sqlite3"
    damaged.write_bytes(bytes(range(256)) * 16)
    capsys.readouterr()

    for args in (["feeds", "list"], ["ingest", "--feeds"], ["feeds", "add", url]):
        assert main(args) == 1, args
        error = capsys.readouterr().err
        assert "feeds.sqlite3 is damaged" in error and "citebot feeds repair" in error
    site.route("/news/ferry", Page(article_html("Ferry to sail twice a day", LIGHTHOUSE[:1])))
    assert main(["ingest", site.url("/news/ferry")]) == 0  # a link needs no feed list
    assert "added" in capsys.readouterr().out

    assert main(["feeds", "repair"]) == 0
    out = capsys.readouterr().out
    assert "the damaged feed list is kept as data/feeds.sqlite3.damaged-" in out
    assert "subscribes to the 1 feed the saved pages name (the next round fetches each" in out
    assert f"afresh):\n  {url}" in out
    assert main(["feeds", "list"]) == 0 and url in capsys.readouterr().out

    damaged.write_bytes(bytes(range(256)) * 16)  # `ingest --rebuild` repairs it as well
    assert main(["ingest", "--rebuild"]) == 0
    assert "the damaged feed list is kept as" in capsys.readouterr().out
    assert main(["feeds", "list"]) == 0 and url in capsys.readouterr().out
