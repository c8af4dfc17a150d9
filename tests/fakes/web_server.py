"""A fake web site for tests and benchmarks: real HTTP on 127.0.0.1, routes set by the test.

Each route answers with a `Page`: body, status, content type, extra headers, validators (the
server answers 304 itself to a matching If-None-Match / If-Modified-Since), a delay before
answering, and a slow drip or a missing Content-Length for the body. A route may also be a
function of the request. Every request is recorded, so tests can count what was fetched.

    with WebServer() as site:
        site.route("/feed.xml", Page(rss, content_type="application/rss+xml", etag='"v1"'))
        fetcher.fetch(site.url("/feed.xml"))
        assert site.hits("/feed.xml") == 1

Hostile bodies are built here too: `compressed` applies Content-Encodings in turn (send them
with `headers={"Content-Encoding": "gzip, gzip"}`), and `bomb` compresses a long run of zero
bytes without ever holding it in memory.
"""

from __future__ import annotations

import sys
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Page:
    """One scripted response."""

    body: bytes | str = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)
    etag: str | None = None  # sent, and a matching If-None-Match gets a 304
    last_modified: str | None = None  # sent, and an equal If-Modified-Since gets a 304
    delay: float = 0.0  # seconds before the status line (a slow server)
    drip: float = 0.0  # seconds between body pieces of `piece` bytes (a slow body)
    piece: int = 1024
    repeat: int = 1  # the body sent this many times over (a huge page, little memory)
    send_length: bool = True  # False: no Content-Length, the connection closes after the body

    @property
    def data(self) -> bytes:
        """The body as bytes."""
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


@dataclass(frozen=True)
class Request:
    """One request as the server saw it."""

    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    at: float = 0.0  # time.monotonic() when it arrived


Route = Page | Callable[[Request], Page]


class _QuietServer(ThreadingHTTPServer):
    """A threaded HTTP server that does not print clients hanging up."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Ignore connection resets (a client that stopped reading); report anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class WebServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 serving the routes a test sets."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _QuietServer(("127.0.0.1", 0), _handler_class(self))
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._server.server_address[1])

    def _serve(self) -> None:
        """Serve until shut down, noticing the shutdown quickly."""
        self._server.serve_forever(poll_interval=0.02)

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        """An absolute URL on this server (host may be a name the test's resolver knows)."""
        return f"http://{host}:{self.port}{path}"

    def route(self, path: str, page: Route) -> None:
        """Serve page at path (replacing what was there)."""
        self.routes[path] = page

    def remove(self, path: str) -> None:
        """Make path answer 404."""
        self.routes.pop(path, None)

    def hits(self, path: str | None = None) -> int:
        """How many requests came for path (the path part only), or in all."""
        with self._lock:
            return sum(1 for r in self.requests if path is None or r.path.split("?")[0] == path)

    def received(self, path: str) -> list[Request]:
        """The requests that came for path."""
        with self._lock:
            return [r for r in self.requests if r.path.split("?")[0] == path]

    def reset(self) -> None:
        """Forget the requests seen so far."""
        with self._lock:
            self.requests.clear()

    def __enter__(self) -> WebServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def _record(self, request: Request) -> Page:
        """Log request and find its page (a 404 page when there is no route)."""
        with self._lock:
            self.requests.append(request)
        route = self.routes.get(request.path.split("?")[0])
        if route is None:
            return Page("not found", status=404, content_type="text/plain")
        return route(request) if callable(route) else route

    def _wait(self, seconds: float) -> bool:
        """Sleep, unless the server stops; True when it did stop."""
        return self._stopping.wait(seconds) if seconds > 0 else False


def _not_modified(page: Page, headers: Mapping[str, str]) -> bool:
    """Whether the request's validators match the page's."""
    if page.etag is not None and "if-none-match" in headers:
        tags = [tag.strip() for tag in headers["if-none-match"].split(",")]
        return page.etag in tags or "*" in tags
    if page.last_modified is not None and "if-modified-since" in headers:
        return headers["if-modified-since"] == page.last_modified
    return False


def _handler_class(server: WebServer) -> type[BaseHTTPRequestHandler]:
    """A request handler bound to server."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else headers and body wait on delayed ACKs (40 ms)

        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            page = server._record(Request("GET", self.path, headers, time.monotonic()))
            if server._wait(page.delay):
                return
            try:
                self._answer(page, headers)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _answer(self, page: Page, headers: Mapping[str, str]) -> None:
            if page.status == 200 and _not_modified(page, headers):
                self.send_response(304)
                self._validators(page)
                self.end_headers()
                return
            data = page.data
            self.send_response(page.status)
            self.send_header("Content-Type", page.content_type)
            for name, value in page.headers.items():
                self.send_header(name, value)
            self._validators(page)
            if page.send_length:
                self.send_header("Content-Length", str(len(data) * page.repeat))
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self._body(page, data)

        def _validators(self, page: Page) -> None:
            if page.etag is not None:
                self.send_header("ETag", page.etag)
            if page.last_modified is not None:
                self.send_header("Last-Modified", page.last_modified)

        def _body(self, page: Page, data: bytes) -> None:
            for _ in range(page.repeat):
                if not page.drip:
                    self.wfile.write(data)
                    continue
                for start in range(0, len(data), page.piece):
                    self.wfile.write(data[start : start + page.piece])
                    self.wfile.flush()
                    if server._wait(page.drip):
                        return

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    return Handler


# --- content builders ---------------------------------------------------------------------


def article_html(
    title: str,
    paragraphs: list[str],
    *,
    published: str | None = None,
    author: str | None = None,
    canonical: str | None = None,
    metadata: bool = True,
) -> str:
    """A news article page as sites serve them: head metadata, navigation, article, footer.

    metadata=False gives a bare page: no <title>, no meta tags, no heading."""
    head = ["<meta charset='utf-8'>"]
    if metadata:
        head.append(f"<title>{_esc(title)} | The Daily Example</title>")
        head.append(f"<meta property='og:title' content='{_esc(title)}'>")
        if published:
            head.append(f"<meta property='article:published_time' content='{published}'>")
        if author:
            head.append(f"<meta name='author' content='{_esc(author)}'>")
    if canonical:
        head.append(f"<link rel='canonical' href='{_esc(canonical)}'>")
    heading = f"<h1>{_esc(title)}</h1>" if metadata else ""
    body = "".join(f"<p>{_esc(p)}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html lang='en'><head>{''.join(head)}</head><body>"
        "<header><nav><a href='/'>Home</a> <a href='/world'>World</a>"
        " <a href='/sport'>Sport</a></nav></header>"
        f"<main><article>{heading}{body}</article></main>"
        "<footer><p>© The Daily Example. All rights reserved.</p></footer></body></html>"
    )


def rss_feed(title: str, items: list[dict[str, str]]) -> str:
    """An RSS 2.0 document; each item may have title, link, guid, pubDate, description."""
    parts = []
    for item in items:
        fields = "".join(
            f"<{key}>{_esc(value)}</{key}>"
            for key, value in item.items()
            if key in ("title", "link", "guid", "pubDate", "description")
        )
        parts.append(f"<item>{fields}</item>")
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>{_esc(title)}</title><link>http://example.invalid/</link>"
        f"<description>News</description>{''.join(parts)}</channel></rss>"
    )


def atom_feed(title: str, entries: list[dict[str, str]]) -> str:
    """An Atom 1.0 document; each entry may have title, link, id, published, updated, summary."""
    parts = []
    for entry in entries:
        fields = [f"<{k}>{_esc(v)}</{k}>" for k, v in entry.items() if k not in ("link",)]
        if "link" in entry:
            fields.append(f"<link rel='alternate' href='{_esc(entry['link'])}'/>")
        parts.append(f"<entry>{''.join(fields)}</entry>")
    return (
        "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
        f"<title>{_esc(title)}</title><id>urn:test:feed</id>"
        f"<updated>2024-03-22T10:00:00Z</updated>{''.join(parts)}</feed>"
    )


def _esc(text: str) -> str:
    """Text escaped for HTML and XML content and attribute values."""
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;")
    )


# --- hostile bodies -----------------------------------------------------------------------

_PIECE = 1024 * 1024


def _compressor(coding: str) -> tuple[Callable[[bytes], bytes], Callable[[], bytes]]:
    """(feed, finish) of a streaming compressor for one Content-Encoding."""
    if coding in ("gzip", "deflate"):
        wbits = 31 if coding == "gzip" else 15  # deflate as HTTP means zlib-wrapped
        z = zlib.compressobj(9, zlib.DEFLATED, wbits)
        return z.compress, z.flush
    if coding == "br":
        import brotli

        b = brotli.Compressor(quality=5)
        return b.process, b.finish
    if coding == "zstd":
        import zstandard

        s = zstandard.ZstdCompressor(level=3).compressobj()
        return s.compress, s.flush
    raise ValueError(f"unknown coding {coding}")


def compressed(data: bytes, *codings: str) -> bytes:
    """data with each Content-Encoding applied in the order given (as the header lists them)."""
    for coding in codings:
        feed, finish = _compressor(coding)
        data = feed(data) + finish()
    return data


def bomb(size: int, *codings: str) -> bytes:
    """size zero bytes, compressed with codings in turn: a few KB that inflate to size."""
    first, *rest = codings
    feed, finish = _compressor(first)
    zeros = bytes(_PIECE)
    parts = [feed(zeros[: min(_PIECE, size - done)]) for done in range(0, size, _PIECE)]
    return compressed(b"".join(parts) + finish(), *rest)
