"""Polite, safe fetching of web pages and feeds, and turning a page into an article.

Polite: a clear User-Agent, robots.txt obeyed (cached per site, an unreadable one too;
Crawl-delay honoured), one request per host every `per_host_interval` seconds, conditional
requests (ETag and Last-Modified). Safe: only http and https; every address a host name
resolves to must be public unless the host (or the address, or the network; on every port,
or on one) is in `allow_hosts`; that check runs before each request, at every redirect hop
and again at connect time, on the addresses actually dialled (so a name that resolves
differently the second time cannot reach a private service); bounded redirects, size
(counted as the body is decoded, one layer of compression at most: see `content_encoding`),
content types and time: each network wait, each whole response, and a caller's deadline
(`Fetcher.deadline`) cut every wait short.

    fetcher = Fetcher(allow_hosts=frozenset({"127.0.0.1"}))
    article = fetcher.fetch_article("https://example.org/news/1")
    path, change = store_article(article, data_dir / "pages")  # see `pages`

Errors are `FetchError`s (a `CitebotError`) whose messages can be shown to a user as they are.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
import socket
import ssl
import threading
import time
import urllib.robotparser
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import TracebackType
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import certifi
import httpcore
import httpx

from retrieval.errors import CitebotError
from retrieval.ingest.content_encoding import (
    ACCEPT_ENCODING,
    EncodingRefused,
    content_coding,
    decoded,
)

log = logging.getLogger(__name__)

USER_AGENT = "citebot/0.1 (self-hosted question answering over a news archive)"
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/x-rss+xml",
        "application/xml",
        "text/xml",
        "text/plain",  # many feeds are served as plain text
    }
)
TEXT_TYPES = HTML_TYPES | FEED_TYPES
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309: parse at least the first 500 KiB
MAX_CRAWL_DELAY = 60.0
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

Resolver = Callable[[str, int], Sequence[str]]
Clock = Callable[[], float]
Sleep = Callable[[float], None]


class FetchError(CitebotError):
    """A URL could not be fetched; the message says why, fit to show a user."""

    transient = False  # True when trying again later may succeed

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class InvalidURL(FetchError):
    """Not an http(s) link with a host, or one carrying credentials."""


class BlockedAddress(FetchError):
    """The host is, or resolves to, a private, loopback, link-local or otherwise local address."""


class RobotsDisallowed(FetchError):
    """The site's robots.txt forbids citebot to fetch this URL."""


class TooLarge(FetchError):
    """The response is larger than the size cap."""


class BadContentType(FetchError):
    """The response is not of a type asked for (e.g. a PDF where a web page was expected)."""


class BadEncoding(FetchError):
    """The body is compressed more than once, in an unknown way, or its compression is damaged."""


class TooManyRedirects(FetchError):
    """More redirects than allowed, or a redirect loop."""


class NoArticle(FetchError):
    """The page was fetched but no article text could be extracted from it."""


class FetchFailed(FetchError):
    """The server could not be reached, timed out, or answered with an error status."""

    transient = True

    def __init__(
        self,
        message: str,
        *,
        url: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, url=url)
        self.status = status
        self.retry_after = retry_after


class FetchTimeout(FetchFailed):
    """The server was too slow."""


class OutOfTime(FetchTimeout):
    """The time the caller allowed (Fetcher.deadline) ran out: not the server's fault."""


class PageGone(FetchFailed):
    """The server answered 404 or 410: the page is not there (any more)."""

    transient = False


@dataclass(frozen=True)
class FetchResult:
    """One successful (2xx) or not-modified (304) response, after redirects."""

    url: str  # as asked
    final_url: str  # after redirects
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes  # empty when not_modified
    content_type: str  # media type without parameters, lower case; "" when absent
    charset: str | None = None
    not_modified: bool = False
    redirects: tuple[str, ...] = ()  # the URLs that redirected, in order

    @property
    def etag(self) -> str | None:
        """The validator to send as If-None-Match next time."""
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        """The validator to send as If-Modified-Since next time."""
        return self.headers.get("last-modified")


@dataclass(frozen=True)
class Article:
    """A web page reduced to what the archive keeps."""

    url: str  # what citations link to and what identifies the page (see fetch_article)
    title: str
    date: date | None
    author: str | None
    text: str
    fetched_at: datetime
    final_url: str = ""  # the URL actually fetched, after redirects
    canonical: str = ""  # the canonical URL the page declares (same site), not yet trusted


@dataclass
class FetchStats:
    """Counters over the fetcher's life (mutable, for reports and benchmarks)."""

    requests: int = 0
    not_modified: int = 0
    bytes: int = 0
    robots_requests: int = 0
    slept: float = 0.0


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for host, in its order, without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_problem(address: str) -> str | None:
    """Why an address must not be fetched ("a private address"), or None when it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None and (problem := address_problem(str(embedded))):
            return problem
    checks = (
        ("an unspecified", ip.is_unspecified),
        ("a loopback", ip.is_loopback),
        ("a link-local", ip.is_link_local),
        ("a multicast", ip.is_multicast),
        ("a private", ip.is_private),
        ("a reserved", ip.is_reserved),
    )
    for label, hit in checks:
        if hit:
            return f"{label} address"
    return None if ip.is_global else "not a public address"


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4, Teredo), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    return ip.teredo[1] if ip.teredo is not None else None


def parse_allow_hosts(value: str) -> frozenset[str]:
    """The FETCH_ALLOW_HOSTS setting ("intranet.local, 10.0.0.0/8, 127.0.0.1:8080") as a set
    of entries: host names, addresses or networks, each with a port or for every port."""
    return frozenset(part.strip().lower() for part in value.split(",") if part.strip())


def _normal_host(host: str) -> str:
    """A host as compared with allow_hosts: lower case, no brackets, no trailing dot."""
    return host.strip().strip("[]").rstrip(".").lower()


def _allow_entry(entry: str) -> tuple[str, int | None]:
    """An allow_hosts entry as (host, address or network; its port, or None for every port):
    "host:8080", "10.0.0.0/8:8080" and "[::1]:8080" name a port; "host" and "::1" do not."""
    entry = entry.strip().lower()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return _normal_host(host), int(port) if port.isdigit() else None
    host, colon, port = entry.rpartition(":")
    if colon and ":" not in host and port.isdigit():
        return _normal_host(host), int(port)
    return _normal_host(entry), None


class AddressGuard:
    """Decides which addresses a host may be reached at; refuses non-public ones."""

    def __init__(self, allow_hosts: Iterable[str], resolver: Resolver) -> None:
        self._names: set[tuple[str, int | None]] = set()
        self._networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, int | None]] = []
        for entry in allow_hosts:
            host, port = _allow_entry(entry)
            try:
                self._networks.append((ipaddress.ip_network(host, strict=False), port))
            except ValueError:
                self._names.add((host, port))
        self._resolver = resolver

    def vet(self, host: str, port: int) -> list[str]:
        """The addresses to dial for host; raises BlockedAddress if any of them is not public."""
        name = _normal_host(host)
        addresses = self._addresses(name, port)
        if (name, None) in self._names or (name, port) in self._names:
            return addresses
        for address in addresses:
            problem = self._problem(address, port)
            if problem is None:
                continue
            if _is_ip(name):
                raise BlockedAddress(f"refused: {address} is {problem}")
            raise BlockedAddress(f"refused: {name} resolves to {address}, {problem}")
        return addresses

    def _addresses(self, name: str, port: int) -> list[str]:
        """The host itself when it is an address, else what the resolver says."""
        if _is_ip(name):
            return [name]
        try:
            addresses = [str(a) for a in self._resolver(name, port)]
        except (OSError, UnicodeError) as exc:
            raise FetchFailed(f"could not resolve host name {name}") from exc
        if not addresses:
            raise FetchFailed(f"could not resolve host name {name}")
        return addresses

    def _problem(self, address: str, port: int) -> str | None:
        """address_problem, unless an allowed network (on every port, or this one) holds it."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if any(ip in net and allowed in (None, port) for net, allowed in self._networks):
            return None
        return address_problem(address)


def _is_ip(text: str) -> bool:
    """Whether text is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    return True


class _Deadlines(threading.local):
    """When this thread's current response must be done, and when its caller's time runs out
    (time.monotonic(); None: no limit): every network wait is cut short to meet them."""

    response: float | None = None
    caller: float | None = None

    def cap(self, timeout: float | None, error: type[Exception]) -> float | None:
        """timeout, shortened to the time left; `error` at once when none is left."""
        ends = [t for t in (self.response, self.caller) if t is not None]
        if not ends:
            return timeout
        left = min(ends) - time.monotonic()
        if left <= 0:
            raise error("the time allowed ran out")
        return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every wait ends by the thread's deadlines (a server that
    sends a byte just before each wait would time out cannot stretch a response)."""

    def __init__(self, inner: httpcore.NetworkStream, deadlines: _Deadlines) -> None:
        self._inner = inner
        self._deadlines = deadlines

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadlines.cap(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadlines.cap(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        timeout = self._deadlines.cap(timeout, httpcore.ConnectTimeout)
        inner = self._inner.start_tls(ssl_context, server_hostname, timeout)
        return _DeadlineStream(inner, self._deadlines)

    def get_extra_info(self, info: str) -> object:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    """httpcore's socket backend, dialling only addresses the guard has vetted just now, on
    streams that keep the thread's deadlines."""

    def __init__(self, guard: AddressGuard, deadlines: _Deadlines) -> None:
        self._guard = guard
        self._deadlines = deadlines
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Vet host's addresses, then connect to the first that answers."""
        error: Exception | None = None
        for address in self._guard.vet(host, port)[:4]:
            wait = self._deadlines.cap(timeout, httpcore.ConnectTimeout)
            try:
                stream = self._inner.connect_tcp(address, port, wait, local_address, socket_options)
                return _DeadlineStream(stream, self._deadlines)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Never: a web link cannot name a local socket."""
        raise BlockedAddress("refused: local sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        """As httpcore's own backend."""
        time.sleep(seconds)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying TLS context (certifi's CA bundle) for every fetcher: loading it is slow."""
    return ssl.create_default_context(cafile=certifi.where())


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over the guarded backend; no proxies from the environment."""

    def __init__(self, guard: AddressGuard, deadlines: _Deadlines) -> None:
        context = _ssl_context()
        super().__init__(verify=context, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=20,
            max_keepalive_connections=10,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(guard, deadlines),
        )


@dataclass
class _Robots:
    """One site's robots.txt rules (None: everything allowed), or why it could not be read,
    and when that expires."""

    parser: urllib.robotparser.RobotFileParser | None
    expires: float
    error: FetchFailed | None = None


@dataclass(frozen=True)
class _Hop:
    """One response, before redirects are followed."""

    status: int
    headers: dict[str, str]
    body: bytes = b""
    location: str | None = None


class Fetcher:
    """Fetches URLs politely and safely; share one per process (threads too) to keep the pace."""

    def __init__(
        self,
        *,
        user_agent: str = USER_AGENT,
        timeout: float = 15.0,
        max_bytes: int = 5 * 1024 * 1024,
        max_redirects: int = 5,
        per_host_interval: float = 1.0,
        allow_hosts: frozenset[str] = frozenset(),
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        resolver: Resolver = system_resolver,
        robots_ttl: float = 3600.0,
        robots_retry: float = 600.0,
        respect_robots: bool = True,
    ) -> None:
        self.user_agent = user_agent
        self.timeout = timeout  # seconds for each network wait, and for a whole response
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.per_host_interval = per_host_interval  # seconds between two requests to one host
        self.respect_robots = respect_robots
        self.robots_ttl = robots_ttl  # seconds a site's robots.txt is kept
        self.robots_retry = robots_retry  # seconds before an unreadable one is asked again
        self.stats = FetchStats()
        self._deadlines = _Deadlines()
        self._clock = clock
        self._sleep = sleep
        self._guard = AddressGuard(allow_hosts, resolver)
        self._client = httpx.Client(
            transport=_GuardedTransport(self._guard, self._deadlines),
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            headers={"User-Agent": user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            trust_env=False,
        )
        self._last_request: dict[str, float] = {}  # host → when its latest request may start
        self._pace_lock = threading.Lock()
        self._crawl_delays: dict[str, float] = {}
        self._robots: dict[str, _Robots] = {}

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def deadline(self, at: float | None) -> Iterator[None]:
        """Within the block, this thread's fetches stop with OutOfTime at `at` (a
        time.monotonic() value; None: no limit beyond each response's time limit)."""
        outer = self._deadlines.caller
        if at is not None and outer is not None:
            at = min(at, outer)
        self._deadlines.caller = at if at is not None else outer
        try:
            yield
        finally:
            self._deadlines.caller = outer

    def check_url(self, url: str) -> None:
        """Raise InvalidURL or BlockedAddress if url may not be fetched (resolves its host)."""
        host, port = _host_port(url)
        self._guard.vet(host, port)

    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: frozenset[str] | None = TEXT_TYPES,
    ) -> FetchResult:
        """GET url, following redirects with every check; a 304 gives not_modified=True."""
        headers = {"Accept": _accept_header(accept)}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return self._follow(url, headers, accept, self.max_bytes, robots=self.respect_robots)

    def fetch_article(self, url: str) -> Article:
        """Fetch a web page and extract its article: text, title, date, author, canonical URL.

        A page's declared canonical URL is its URL only when it is the URL fetched (after
        redirects); any other is fetched in turn and the article is that page's own text, so
        no page can put its words under another page's URL. If it cannot be fetched, the
        page keeps the URL it was fetched from."""
        article = parse_article(self.fetch(url, accept=HTML_TYPES))
        if not article.canonical or article.canonical == article.url:
            return article
        try:
            return parse_article(self.fetch(article.canonical, accept=HTML_TYPES))
        except FetchError as exc:
            log.info("not trusting %s as the URL of %s: %s", article.canonical, url, exc)
            return article

    def _follow(
        self,
        url: str,
        headers: dict[str, str],
        accept: frozenset[str] | None,
        cap: int,
        *,
        robots: bool,
    ) -> FetchResult:
        """Request url, then each redirect target in turn, checking every hop."""
        current = _drop_fragment(url)
        visited: list[str] = []
        for _ in range(self.max_redirects + 1):
            self.check_url(current)
            if robots:
                self._check_robots(current)
            hop = self._request(current, headers, accept, cap)
            if hop.location is None:
                return _result(url, current, hop, tuple(visited))
            visited.append(current)
            current = _drop_fragment(urljoin(current, hop.location))
            if current in visited:
                raise TooManyRedirects(f"refused: redirect loop at {current}", url=url)
        raise TooManyRedirects(f"refused: more than {self.max_redirects} redirects", url=url)

    def _request(
        self, url: str, headers: dict[str, str], accept: frozenset[str] | None, cap: int
    ) -> _Hop:
        """One GET, streamed: status checks, then type and size checks before reading; the
        whole response within the time limit, and within the caller's deadline."""
        host, _ = _host_port(url)
        self._wait_turn(host, url)
        self._deadlines.response = time.monotonic() + self.timeout
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                self.stats.requests += 1
                return self._hop(url, response, accept, cap)
        except httpx.TimeoutException as exc:
            caller = self._deadlines.caller
            if caller is not None and caller <= time.monotonic():
                raise OutOfTime(
                    f"stopped fetching {url}: the time allowed ran out", url=url
                ) from exc
            raise FetchTimeout(f"{host} did not answer within {self.timeout:g} s", url=url) from exc
        except httpx.HTTPError as exc:
            raise FetchFailed(f"could not fetch {url}: {_reason(exc)}", url=url) from exc
        finally:
            self._deadlines.response = None

    def _hop(
        self, url: str, response: httpx.Response, accept: frozenset[str] | None, cap: int
    ) -> _Hop:
        """Turn a streamed response into a _Hop, or raise the matching FetchError."""
        status = response.status_code
        headers = {k.lower(): v for k, v in response.headers.items()}
        if status in _REDIRECTS and headers.get("location"):
            return _Hop(status, headers, location=headers["location"])
        if status == 304:
            self.stats.not_modified += 1
            return _Hop(status, headers)
        _check_status(url, status, headers)
        media_type, _ = _content_type(headers)
        if accept is not None and media_type and media_type not in accept:
            raise BadContentType(f"refused: {url} is {media_type}, not a web page or feed", url=url)
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > cap:
            raise TooLarge(f"refused: {url} is larger than {_mb(cap)}", url=url)
        try:
            coding = content_coding(
                response.headers.get_list("content-encoding", split_commas=True)
            )
        except EncodingRefused as exc:
            raise BadEncoding(f"refused: {url} is {exc}", url=url) from exc
        return _Hop(status, headers, body=self._read(url, response, coding, cap))

    def _read(self, url: str, response: httpx.Response, coding: str | None, cap: int) -> bytes:
        """The body, decoded a piece at a time; stops as soon as either the bytes received or
        the bytes decoded pass cap (the time limit is kept by the stream, see _Deadlines)."""
        received = 0

        def raw() -> Iterator[bytes]:
            nonlocal received
            for chunk in response.iter_raw():
                received += len(chunk)
                check(received)
                yield chunk

        def check(size: int) -> None:
            if size > cap:
                raise TooLarge(f"refused: {url} is larger than {_mb(cap)}", url=url)

        parts: list[bytes] = []
        size = 0
        try:
            for piece in decoded(raw(), coding):
                size += len(piece)
                self.stats.bytes += len(piece)
                check(size)
                parts.append(piece)
        except EncodingRefused as exc:
            raise BadEncoding(f"refused: {url} is {exc}", url=url) from exc
        return b"".join(parts)

    def _wait_turn(self, host: str, url: str) -> None:
        """Sleep until this host may be asked again (per_host_interval or its Crawl-delay);
        OutOfTime, without waiting, if that is after the caller's deadline.

        Each caller reserves its slot under a lock, so threads sharing a fetcher keep the pace."""
        interval = max(self.per_host_interval, self._crawl_delays.get(host, 0.0))
        caller = self._deadlines.caller
        with self._pace_lock:
            now = self._clock()
            last = self._last_request.get(host)
            slot = now if last is None else max(now, last + interval)
            if caller is not None and time.monotonic() + (slot - now) >= caller:
                raise OutOfTime(f"stopped fetching {url}: the time allowed ran out", url=url)
            self._last_request[host] = slot
            self.stats.slept += slot - now
        if slot > now:
            self._sleep(slot - now)

    def _check_robots(self, url: str) -> None:
        """Raise RobotsDisallowed when the site's robots.txt forbids url to citebot."""
        parts = urlsplit(url)
        if parts.path.rstrip("/") == "/robots.txt":
            return
        robots = self._robots_for(f"{parts.scheme}://{parts.netloc}")
        if robots.parser is not None and not robots.parser.can_fetch(self.user_agent, url):
            raise RobotsDisallowed(f"refused: {parts.netloc}'s robots.txt forbids {url}", url=url)

    def _robots_for(self, origin: str) -> _Robots:
        """The cached rules of origin, (re)reading its robots.txt when missing or expired.

        A robots.txt that could not be read is cached too (for robots_retry seconds): until
        then the site's URLs fail at once, rather than each waiting for it again."""
        cached = self._robots.get(origin)
        if cached is not None and cached.expires > self._clock():
            if cached.error is not None:
                error = cached.error
                raise FetchFailed(str(error), url=error.url, retry_after=error.retry_after)
            return cached
        try:
            robots = _Robots(self._read_robots(origin), self._clock() + self.robots_ttl)
        except OutOfTime:
            raise  # the caller's time ran out: says nothing about the site
        except FetchFailed as exc:
            self._robots[origin] = _Robots(None, self._clock() + self.robots_retry, exc)
            raise
        self._robots[origin] = robots
        return robots

    def _read_robots(self, origin: str) -> urllib.robotparser.RobotFileParser | None:
        """Parsed robots.txt of origin; None when it has none (any 4xx); FetchFailed on 5xx."""
        url = f"{origin}/robots.txt"
        self.stats.robots_requests += 1
        try:
            result = self._follow(url, {}, None, ROBOTS_MAX_BYTES, robots=False)
        except TooLarge:
            return None  # a robots.txt over 512 KiB is not one; treat the site as open
        except OutOfTime:
            raise
        except FetchFailed as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                return None
            raise FetchFailed(
                f"could not read {url}, so nothing is fetched from that site for now ({exc})",
                url=url,
                retry_after=exc.retry_after,
            ) from exc
        parser = urllib.robotparser.RobotFileParser(url)
        parser.parse(result.body.decode("utf-8", errors="replace").splitlines())
        delay = parser.crawl_delay(self.user_agent)
        if delay:
            host, _ = _host_port(origin)
            self._crawl_delays[host] = min(float(delay), MAX_CRAWL_DELAY)
        return parser


def _host_port(url: str) -> tuple[str, int]:
    """The host and port of an http(s) URL; InvalidURL for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"refused: {url!r} is not a valid link", url=url) from exc
    if parts.scheme not in ("http", "https"):
        raise InvalidURL(f"refused: {url!r} is not an http or https link", url=url)
    if not parts.hostname:
        raise InvalidURL(f"refused: {url!r} has no host name", url=url)
    if parts.username is not None or parts.password is not None:
        raise InvalidURL("refused: links carrying a user name or password are not fetched", url=url)
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _drop_fragment(url: str) -> str:
    """url without its #fragment, which never reaches the server."""
    return urlunsplit(urlsplit(url.strip())._replace(fragment=""))


def _accept_header(accept: frozenset[str] | None) -> str:
    """An Accept header preferring the asked types."""
    if not accept:
        return "*/*"
    return ", ".join(sorted(accept - {"text/plain"})) + ", text/plain;q=0.5, */*;q=0.1"


def _check_status(url: str, status: int, headers: Mapping[str, str]) -> None:
    """Raise PageGone for 404/410 and FetchFailed for any other non-2xx status."""
    if 200 <= status < 300:
        return
    if status in (404, 410):
        raise PageGone(f"{url} is gone (HTTP {status})", url=url, status=status)
    retry_after = _retry_after(headers.get("retry-after", ""))
    raise FetchFailed(
        f"{url} answered HTTP {status}", url=url, status=status, retry_after=retry_after
    )


def _retry_after(value: str) -> float | None:
    """Seconds from a Retry-After header given in seconds (dates are ignored)."""
    value = value.strip()
    return float(value) if value.isdigit() else None


def _content_type(headers: Mapping[str, str]) -> tuple[str, str | None]:
    """The media type (lower case, "" when absent) and charset of a response."""
    media, _, params = headers.get("content-type", "").partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("'\"").lower()
    return media.strip().lower(), charset


def _result(url: str, final_url: str, hop: _Hop, redirects: tuple[str, ...]) -> FetchResult:
    """The FetchResult of the last hop."""
    media_type, charset = _content_type(hop.headers)
    return FetchResult(
        url=url,
        final_url=final_url,
        status=hop.status,
        headers=hop.headers,
        body=hop.body,
        content_type=media_type,
        charset=charset,
        not_modified=hop.status == 304,
        redirects=redirects,
    )


def _reason(exc: Exception) -> str:
    """A short reason for a network error."""
    text = str(exc).strip()
    return text.splitlines()[-1][:200] if text else type(exc).__name__


def _mb(size: int) -> str:
    """A byte count for a message: '5 MB', '512 KB'."""
    return f"{size / 1e6:g} MB" if size >= 1_000_000 else f"{size / 1e3:g} KB"


# --- articles -----------------------------------------------------------------------------


def parse_article(result: FetchResult, *, now: datetime | None = None) -> Article:
    """The article in a fetched HTML page (trafilatura): its text and metadata, its URL (the one
    fetched, normalized) and the canonical URL it declares (see Fetcher.fetch_article)."""
    import trafilatura

    html: str | bytes = _decode(result.body, result.charset)
    extracted = trafilatura.bare_extraction(
        html,
        url=result.final_url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        favor_recall=True,
    )
    if extracted is None:
        doc: dict = {}
    else:
        doc = extracted if isinstance(extracted, dict) else extracted.as_dict()
    text = "\n\n".join(
        line.strip() for line in (doc.get("text") or "").splitlines() if line.strip()
    )
    if not text:
        raise NoArticle(f"no article text found at {result.final_url}", url=result.url)
    url = normalize_url(result.final_url)
    return Article(
        url=url,
        title=_one_line(doc.get("title") or "") or url,
        date=_iso_date(doc.get("date") or ""),
        author=_one_line(doc.get("author") or "") or None,
        text=text,
        fetched_at=now or datetime.now(UTC),
        final_url=result.final_url,
        canonical=declared_canonical(html, result.final_url) or "",
    )


def _decode(body: bytes, charset: str | None) -> str | bytes:
    """Text when the server named a known charset, else the bytes for trafilatura to sniff."""
    if charset:
        try:
            return body.decode(charset, errors="replace")
        except LookupError:
            pass
    return body


def declared_canonical(html: str | bytes, final_url: str) -> str | None:
    """The canonical URL the page declares (rel=canonical, else og:url), normalized (see
    normalize_url), if it is on the same site as final_url; else None."""
    declared = _declared_canonical(html)
    if declared:
        candidate = normalize_url(urljoin(final_url, declared))
        if _same_site(candidate, final_url):
            return candidate
    return None


_TRACKING = re.compile(r"^(?:utm_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|ocid|cmpid)$", re.I)


def normalize_url(url: str) -> str:
    """url with its scheme and host in lower case, and no fragment, default port or tracking
    parameters (utm_*, fbclid, …): one article, one URL, however the link was shared."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and (parts.scheme.lower(), port) not in (("http", 80), ("https", 443)):
        netloc = f"{netloc}:{port}"
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(_TRACKING.match(key) for key, _ in pairs):
        query = urlencode([(k, v) for k, v in pairs if not _TRACKING.match(k)])
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", query, ""))


def _declared_canonical(html: str | bytes) -> str | None:
    """The href of <link rel=canonical>, else the content of <meta property=og:url>."""
    import lxml.etree
    import lxml.html

    try:
        tree = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return None
    for link in tree.iterfind(".//link[@rel][@href]"):
        if "canonical" in (link.get("rel") or "").lower().split():
            return (link.get("href") or "").strip() or None
    for meta in tree.iterfind(".//meta[@property='og:url'][@content]"):
        return (meta.get("content") or "").strip() or None
    return None


def _same_site(url: str, other: str) -> bool:
    """Whether two http(s) URLs are on one site (host names equal but for www./m./amp.)."""
    a, b = urlsplit(url), urlsplit(other)
    if a.scheme not in ("http", "https"):
        return False
    return _site(a.hostname or "") == _site(b.hostname or "")


def _site(host: str) -> str:
    """A host name without a leading www., m. or amp."""
    return re.sub(r"^(?:www\d?|m|amp)\.", "", host.lower())


def _one_line(text: str) -> str:
    """Text with runs of white space (newlines included) made single spaces."""
    return " ".join(text.split())


def _iso_date(text: str) -> date | None:
    """A date from YYYY-MM-DD at the start of text; None otherwise."""
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None
