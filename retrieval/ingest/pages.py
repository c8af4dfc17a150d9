"""The pages folder: each fetched web page kept as one Markdown file, named by its URL.

A file is front matter (title, date, url, author, then what holds the page: `added-by: link`
once a link added it, an admin's or `citebot ingest URL`, and one `feed: URL` line for each
feed whose entries point at it) and the article's text; the ingest reads it like a corpus
file. What holds a page decides when it may go: a feed removes a page only when no link and
no other entry holds it (`feeds`), and `citebot feeds repair` subscribes again to the feeds
the pages name.

    path, change = store_article(article, data_dir / "pages", link=True)
    assert read_holders(path).link
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from retrieval.ingest.fetching import Article

SaveChange = Literal["added", "updated", "unchanged"]


@dataclass(frozen=True)
class Holders:
    """What keeps a page in the archive: a link that added it, the feeds that point at it."""

    link: bool = False
    feeds: tuple[str, ...] = ()

    def __or__(self, other: Holders) -> Holders:
        feeds = tuple(dict.fromkeys((*self.feeds, *other.feeds)))
        return Holders(self.link or other.link, feeds)


def article_path(url: str, pages_dir: Path) -> Path:
    """Where the page of a URL is kept: pages_dir/<host>/<sha1 of url>.md."""
    parts = urlsplit(url)
    host = (parts.hostname or "unknown").lower()
    if parts.port:
        host = f"{host}_{parts.port}"
    folder = re.sub(r"[^a-z0-9.-]", "_", host).lstrip(".") or "unknown"
    return pages_dir / folder / f"{hashlib.sha1(url.encode('utf-8')).hexdigest()}.md"


def render_article(article: Article, holders: Holders = Holders()) -> str:
    """The file content: front matter (title, date, url, author, holders) then the text."""
    lines = ["---", f"title: {_one_line(article.title)}"]
    if article.date is not None:
        lines.append(f"date: {article.date.isoformat()}")
    lines.append(f"url: {article.url}")
    if article.author:
        lines.append(f"author: {_one_line(article.author)}")
    if holders.link:
        lines.append("added-by: link")
    lines += [f"feed: {_one_line(feed)}" for feed in holders.feeds]
    lines += ["---", "", article.text.strip(), ""]
    return "\n".join(lines)


def read_holders(path: Path) -> Holders:
    """What the front matter of a page file says holds it (nothing for a missing file)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return Holders()
    return _holders(text)


def _holders(text: str) -> Holders:
    """The holders named in a page's front matter."""
    if not text.startswith("---\n"):
        return Holders()
    head = text[4:].split("\n---\n", 1)[0]
    link, feeds = False, []
    for line in head.splitlines():
        key, _, value = line.partition(": ")
        if key == "added-by" and value.strip() == "link":
            link = True
        elif key == "feed" and value.strip():
            feeds.append(value.strip())
    return Holders(link, tuple(dict.fromkeys(feeds)))


def store_article(
    article: Article, pages_dir: Path, *, link: bool = False, feed: str | None = None
) -> tuple[Path, SaveChange]:
    """Write the article's file, keeping what held it before and adding this link or feed,
    unless the file already holds the same content; say which it was."""
    path = article_path(article.url, pages_dir)
    old = path.read_bytes() if path.exists() else None
    holders = Holders(link, (feed,) if feed else ())
    if old is not None:
        holders = _holders(old.decode("utf-8", errors="replace")) | holders
    content = render_article(article, holders).encode("utf-8")
    if content == old:
        return path, "unchanged"
    _write(path, content)
    return path, "added" if old is None else "updated"


def save_article(article: Article, pages_dir: Path) -> Path:
    """Write the article under pages_dir (same URL, same file; unchanged, untouched)."""
    return store_article(article, pages_dir)[0]


def drop_feed(path: Path, feed: str) -> bool:
    """Take a feed off a page's holders (it was unsubscribed); True if the file changed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return False
    head, sep, body = text.partition("\n---\n")
    lines = head.split("\n")
    kept = [line for line in lines if line != f"feed: {_one_line(feed)}"]
    if not text.startswith("---\n") or not sep or len(kept) == len(lines):
        return False
    _write(path, ("\n".join(kept) + sep + body).encode("utf-8"))
    return True


def page_files(pages_dir: Path) -> Iterator[Path]:
    """The page files under pages_dir (hidden and temporary files left out)."""
    if not pages_dir.is_dir():
        return
    for path in sorted(pages_dir.glob("*/*.md")):
        if not path.name.startswith(".") and path.is_file():
            yield path


def listing(pages_dir: Path) -> dict[str, tuple[int, int, int]]:
    """Each page file with its size, modification time and inode: a new or rewritten file
    (always a new inode, see _write) or a removed one changes it."""
    found = {}
    for path in page_files(pages_dir):
        stat = path.stat()
        found[str(path)] = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
    return found


def feeds_named(pages_dir: Path) -> list[str]:
    """Every feed the saved pages name as a holder, in the order first met."""
    feeds: dict[str, None] = {}
    for path in page_files(pages_dir):
        feeds.update(dict.fromkeys(read_holders(path).feeds))
    return list(feeds)


def _write(path: Path, content: bytes) -> None:
    """Replace path's content at once (a reader sees the old file or the new, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Hidden (ingest skips dot files) and unique (two threads may save one page at once).
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            os.fchmod(out.fileno(), 0o644)  # a web page: not a secret
            out.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _one_line(text: str) -> str:
    """Text with runs of white space (newlines included) made single spaces."""
    return " ".join(text.split())
