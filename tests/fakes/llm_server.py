"""A fake LLM server for tests: real HTTP on 127.0.0.1, scripted replies.

It speaks the two protocols citebot's langchain clients use:
- OpenAI-compatible `POST /v1/chat/completions`: a JSON completion, or with `"stream": true`
  server-sent events (`data: {chunk}` lines, then `data: [DONE]`);
- Ollama `POST /api/chat`: a JSON reply, or NDJSON lines while streaming.

Tests queue `Reply`s (text, HTTP status, a delay before answering, how the text is cut into
streamed pieces) and read back every request received, to check what the prompt contained.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted response."""

    text: str = ""
    status: int = 200
    delay: float = 0.0  # seconds to wait before answering (for timeouts)
    piece_chars: int = 5  # streamed replies are cut into pieces of this many characters
    piece_delay: float = 0.0  # seconds between streamed pieces (a model writing slowly)


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    path: str
    body: dict[str, Any]

    @property
    def stream(self) -> bool:
        # OpenAI streams only when asked; Ollama streams unless told not to.
        default = self.path.endswith("/api/chat")
        return bool(self.body.get("stream", default))

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    def content(self, role: str) -> str:
        """The text of the first message with this role."""
        for message in self.messages:
            if message.get("role") == role:
                content = message.get("content", "")
                if isinstance(content, list):
                    return "".join(part.get("text", "") for part in content)
                return str(content)
        return ""


class FakeLLMServer:
    """Serves scripted replies in order; a request with nothing queued gets a 500."""

    def __init__(self) -> None:
        self._replies: deque[Reply] = deque()
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def queue(self, *replies: Reply | str) -> None:
        with self._lock:
            self._replies.extend(Reply(r) if isinstance(r, str) else r for r in replies)

    def start(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _next(self, received: Received) -> Reply:
        with self._lock:
            self.requests.append(received)
            if self._replies:
                return self._replies.popleft()
        return Reply("no reply scripted for this request", status=500)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                received = Received(self.path, body)
                if not (self.path.endswith("/chat/completions") or self.path.endswith("/api/chat")):
                    self._send_json(404, {"error": {"message": f"no route {self.path}"}})
                    return
                reply = server._next(received)
                if reply.delay and server._stopping.wait(reply.delay):
                    return
                try:
                    if reply.status != 200:
                        self._send_json(
                            reply.status, {"error": {"message": reply.text, "type": "server"}}
                        )
                    elif self.path.endswith("/api/chat"):
                        self._ollama(received, reply)
                    else:
                        self._openai(received, reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def _send_json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _openai(self, received: Received, reply: Reply) -> None:
                model = str(received.body.get("model", "fake"))
                base = {"id": "chatcmpl-fake", "created": int(time.time()), "model": model}
                if not received.stream:
                    self._send_json(
                        200,
                        {
                            **base,
                            "object": "chat.completion",
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {"role": "assistant", "content": reply.text},
                                    "finish_reason": "stop",
                                }
                            ],
                            "usage": {
                                "prompt_tokens": 1,
                                "completion_tokens": 1,
                                "total_tokens": 2,
                            },
                        },
                    )
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()

                def event(delta: dict[str, Any], finish: str | None = None) -> None:
                    chunk = {
                        **base,
                        "object": "chat.completion.chunk",
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    }
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()

                event({"role": "assistant", "content": ""})
                for piece in _pieces(reply.text, reply.piece_chars):
                    if reply.piece_delay and server._stopping.wait(reply.piece_delay):
                        return
                    event({"content": piece})
                event({}, "stop")
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def _ollama(self, received: Received, reply: Reply) -> None:
                model = str(received.body.get("model", "fake"))
                stamp = "2024-04-02T00:00:00Z"
                done = {
                    "model": model,
                    "created_at": stamp,
                    "done": True,
                    "done_reason": "stop",
                    "total_duration": 1,
                    "load_duration": 1,
                    "prompt_eval_count": 1,
                    "prompt_eval_duration": 1,
                    "eval_count": 1,
                    "eval_duration": 1,
                }
                if not received.stream:
                    message = {"role": "assistant", "content": reply.text}
                    self._send_json(200, {**done, "message": message})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.end_headers()
                for piece in _pieces(reply.text, reply.piece_chars):
                    line = {
                        "model": model,
                        "created_at": stamp,
                        "message": {"role": "assistant", "content": piece},
                        "done": False,
                    }
                    self.wfile.write(json.dumps(line).encode() + b"\n")
                    self.wfile.flush()
                last = {**done, "message": {"role": "assistant", "content": ""}}
                self.wfile.write(json.dumps(last).encode() + b"\n")
                self.wfile.flush()

        return Handler


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), max(size, 1))]
