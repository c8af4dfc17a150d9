"""CHROMA_AUTH_TOKEN end to end. `chroma run` (chromadb 1.x) checks no token itself, so in
production a reverse proxy in front of it does; here a small one on 127.0.0.1 forwards every
request to a real `chroma run` server when it carries `Authorization: Bearer <secret>` and
answers 401 otherwise, recording what arrived. citebot must send the token on every request,
and a refused token must become an error a user can act on."""

from __future__ import annotations

import hmac
import http.client
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.settings import Settings
from retrieval.archive import Archive
from retrieval.errors import IndexUnavailable
from retrieval.index.embedding import Embedder
from tests.conftest import CROCUS_QUESTION
from tests.fakes.chroma_server import ChromaServer

SECRET = "s3cret-token-for-tests"

# Headers that belong to one connection, not to the request or response being relayed.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


@dataclass(frozen=True)
class Seen:
    """One request as the proxy received it."""

    method: str
    path: str
    authorization: str | None
    forwarded: bool


class AuthProxy:
    """A reverse proxy on 127.0.0.1 that lets through only requests bearing the secret.

    A refusal is 401 with a plain-text body, as nginx or Caddy send it; with `chroma_errors`
    the body is Chroma's own JSON error instead (`{"error": "AuthorizationError", ...}`).
    """

    def __init__(self, upstream: ChromaServer, secret: str, chroma_errors: bool = False) -> None:
        self.upstream = upstream
        self.secret = secret
        self.chroma_errors = chroma_errors
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.host = "127.0.0.1"
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> AuthProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def allows(self, authorization: str | None) -> bool:
        expected = f"Bearer {self.secret}".encode()
        return authorization is not None and hmac.compare_digest(authorization.encode(), expected)

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                authorization = self.headers.get("Authorization")
                allowed = proxy.allows(authorization)
                proxy.record(Seen(self.command, self.path, authorization, allowed))
                if not allowed:
                    self._refuse()
                    return
                upstream = http.client.HTTPConnection(
                    proxy.upstream.host, proxy.upstream.port, timeout=30
                )
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                    headers["Host"] = f"{proxy.upstream.host}:{proxy.upstream.port}"
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    reply = upstream.getresponse()
                    payload = reply.read()
                    self.send_response(reply.status, reply.reason)
                    for key, value in reply.getheaders():
                        if key.lower() not in HOP_BY_HOP:
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                finally:
                    upstream.close()

            def _refuse(self) -> None:
                if proxy.chroma_errors:
                    payload = json.dumps(
                        {"error": "AuthorizationError", "message": "Unauthorized"}
                    ).encode()
                    kind = "application/json"
                else:
                    payload = b"401 Authorization Required\n"
                    kind = "text/plain"
                self.send_response(401, "Unauthorized")
                self.send_header("WWW-Authenticate", 'Bearer realm="chroma"')
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _relay

        return Handler


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    with ChromaServer(tmp_path_factory.mktemp("chroma-auth") / "db") as server:
        yield server


@pytest.fixture
def proxy(chroma_server: ChromaServer) -> Iterator[AuthProxy]:
    with AuthProxy(chroma_server, SECRET) as running:
        yield running


def through(make_settings: Callable[..., Settings], proxy: AuthProxy, token: str) -> Settings:
    """Settings that reach Chroma through the proxy, in a collection of this test's own."""
    return make_settings(
        chroma_host=proxy.host,
        chroma_port=proxy.port,
        chroma_auth_token=token,
        chroma_collection=f"auth-{uuid.uuid4().hex[:12]}",
        chroma_timeout=10.0,
        index_refresh_seconds=0,
    )


def test_the_token_rides_on_every_request_of_an_ingest_and_a_question(
    make_settings: Callable[..., Settings],
    corpus_dir: object,
    embedder: Embedder,
    proxy: AuthProxy,
) -> None:
    archive = Archive(through(make_settings, proxy, SECRET), embedder=embedder)
    report = archive.ingest()
    assert report.added
    assert archive.store.count() == len(archive.lexical) > 0

    answer = archive.ask(CROCUS_QUESTION).answer
    assert not answer.refused
    assert "United States" in answer.text
    assert answer.citations[0].source == "corpus/us-warned-russia-crocus-city-hall.txt"

    methods = {seen.method for seen in proxy.seen}
    assert {"GET", "POST"} <= methods, methods
    # Every request the proxy saw bore the token, and so every one reached Chroma.
    refused = [seen for seen in proxy.seen if seen.authorization != f"Bearer {SECRET}"]
    assert refused == []
    assert all(seen.forwarded for seen in proxy.seen)
    paths = " ".join(seen.path for seen in proxy.seen)
    assert "/upsert" in paths and "/query" in paths


def test_a_token_revoked_mid_conversation_is_named_when_the_next_question_fails(
    make_settings: Callable[..., Settings],
    corpus_dir: object,
    embedder: Embedder,
    proxy: AuthProxy,
) -> None:
    archive = Archive(through(make_settings, proxy, SECRET), embedder=embedder)
    archive.ingest()
    proxy.secret = "rotated-" + SECRET
    with pytest.raises(IndexUnavailable) as failure:
        _ = archive.ask(CROCUS_QUESTION).answer
    message = str(failure.value)
    assert "CHROMA_AUTH_TOKEN" in message and "401" in message
    assert f"{proxy.host}:{proxy.port}" in message

    # The token is put right (the proxy accepts it again): the same archive answers.
    proxy.secret = SECRET
    assert not archive.ask(CROCUS_QUESTION).answer.refused


@pytest.mark.parametrize(
    ("token", "chroma_errors", "advice"),
    [
        ("wrong-token", False, "check CHROMA_AUTH_TOKEN"),
        ("", False, "set CHROMA_AUTH_TOKEN"),
        ("wrong-token", True, "check CHROMA_AUTH_TOKEN"),
    ],
    ids=["wrong-token", "no-token", "wrong-token-chroma-json-error"],
)
def test_a_refused_token_stops_the_archive_opening_with_advice(
    make_settings: Callable[..., Settings],
    embedder: Embedder,
    proxy: AuthProxy,
    token: str,
    chroma_errors: bool,
    advice: str,
) -> None:
    proxy.chroma_errors = chroma_errors
    settings = through(make_settings, proxy, token)
    with pytest.raises(IndexUnavailable) as failure:
        Archive(settings, embedder=embedder)
    message = str(failure.value)
    assert "refused" in message or "asks for credentials" in message
    assert advice in message
    assert "401" in message
    assert f"{proxy.host}:{proxy.port}" in message
    assert proxy.seen, "the proxy saw no request"
    assert not any(seen.forwarded for seen in proxy.seen)
    expected = f"Bearer {token}" if token else None
    assert {seen.authorization for seen in proxy.seen} == {expected}
