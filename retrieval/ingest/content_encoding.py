"""Undoing a response's Content-Encoding piece by piece, so a small body cannot inflate at once.

httpx decodes each network read whole (64 KB of gzip can become 64 MB in one step, and each
layer of `gzip, gzip, gzip` multiplies that again) before the caller sees a byte, so the
fetcher reads the raw body and decodes it here: no step gives more than `piece` bytes, and the
caller counts them and stops at its size cap. One layer of gzip, deflate, br or zstd, or none,
is read; a body compressed twice or in an unknown way is refused before any of it is decoded.

    coding = content_coding(response.headers.get_list("content-encoding", split_commas=True))
    for piece in decoded(response.iter_raw(), coding):
        ...
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence
from importlib.util import find_spec
from typing import IO, cast

PIECE = 64 * 1024  # the most any one decoding step gives
ZSTD_MAX_WINDOW = 8 * 1024 * 1024  # RFC 9659: HTTP's zstd needs no larger window
_ALIASES = {"x-gzip": "gzip"}  # RFC 9110 8.4.1.3: treat x-gzip as gzip
CODINGS = tuple(
    coding
    for coding, module in (
        ("gzip", None),
        ("deflate", None),
        ("br", "brotli"),
        ("zstd", "zstandard"),
    )
    if module is None or find_spec(module) is not None
)
ACCEPT_ENCODING = ", ".join(CODINGS)  # what to send as Accept-Encoding


class EncodingRefused(ValueError):
    """A body compressed more than once, in a way not read here, or damaged (message says)."""


def content_coding(values: Sequence[str]) -> str | None:
    """The one coding to undo, from the Content-Encoding values in order (None: not compressed);
    EncodingRefused for more than one coding or an unknown one."""
    listed = [value.strip().lower() for value in values if value.strip()]
    codings = [_ALIASES.get(c, c) for c in listed if c != "identity"]
    if len(codings) > 1:
        raise EncodingRefused(f"compressed more than once (Content-Encoding: {', '.join(listed)})")
    if codings and codings[0] not in CODINGS:
        raise EncodingRefused(f"sent with an unknown compression ({codings[0]})")
    return codings[0] if codings else None


def decoded(raw: Iterable[bytes], coding: str | None, piece: int = PIECE) -> Iterator[bytes]:
    """The decoded body, in pieces of at most `piece` bytes (for no coding, raw as it comes);
    EncodingRefused when the data is not valid for its coding."""
    if coding is None:
        return iter(raw)
    if coding in ("gzip", "deflate"):
        return _zlib(raw, coding, piece)
    if coding == "br":
        return _brotli(raw, piece)
    if coding == "zstd":
        return _zstd(raw, piece)
    raise EncodingRefused(f"sent with an unknown compression ({coding})")


def _zlib(raw: Iterable[bytes], coding: str, piece: int) -> Iterator[bytes]:
    """gzip, or deflate (zlib-wrapped as the RFC says, or raw as some servers send it)."""
    decompressor = None
    for data in raw:
        if not data:
            continue
        if decompressor is None:
            wbits = 31 if coding == "gzip" else 15 if _zlib_header(data) else -15
            decompressor = zlib.decompressobj(wbits)
        while True:
            try:
                out = decompressor.decompress(data, piece)
            except zlib.error as exc:
                raise EncodingRefused(f"damaged {coding} data ({exc})") from exc
            if out:
                yield out
            if decompressor.eof:
                return  # anything after the end of the stream is not read
            data = decompressor.unconsumed_tail
            if not data and len(out) < piece:
                break
    if decompressor is not None:
        yield decompressor.flush()


def _zlib_header(data: bytes) -> bool:
    """Whether data starts with a zlib header (deflate method, valid check bits)."""
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


def _brotli(raw: Iterable[bytes], piece: int) -> Iterator[bytes]:
    import brotli

    decompressor = brotli.Decompressor()
    try:
        for data in raw:
            if not data:
                continue
            yield decompressor.process(data, output_buffer_limit=piece)
            while not decompressor.can_accept_more_data():
                yield decompressor.process(b"", output_buffer_limit=piece)
            if decompressor.is_finished():
                return
        while not decompressor.is_finished():  # output still held back
            out = decompressor.process(b"", output_buffer_limit=piece)
            if not out:
                return
            yield out
    except brotli.error as exc:
        raise EncodingRefused(f"damaged br data ({exc})") from exc


def _zstd(raw: Iterable[bytes], piece: int) -> Iterator[bytes]:
    import zstandard

    decompressor = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
    source = cast(IO[bytes], _Reader(raw))  # zstandard only calls its read()
    reader = decompressor.stream_reader(source, read_size=piece, read_across_frames=True)
    try:
        while out := reader.read(piece):
            yield out
    except zstandard.ZstdError as exc:
        raise EncodingRefused(f"damaged zstd data ({exc})") from exc


class _Reader:
    """A file-like read() over an iterator of byte strings (for zstandard's stream reader)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._buffer = chunk
        if size < 0:
            size = len(self._buffer)
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out
