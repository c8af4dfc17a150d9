"""Turn files into `Document`s: text plus title, date and url, from txt, md, html, pdf, docx.

Metadata comes, in order of trust, from front matter or HTML metadata, a leading
`date YYYY-MM-DD` line (as in news exports), the first heading, and the file name.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from retrieval.errors import LoadError, UnsupportedFile
from retrieval.settings import RetrievalSettings
from retrieval.text import markdown_heading
from retrieval.types import MAX_TITLE_CHARS, MAX_URL_CHARS, Document

SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_DATE_LINE = re.compile(r"\A\s*date[:\s]\s*(\d{4}-\d{2}-\d{2})\b[ \t]*\r?\n?", re.IGNORECASE)
_NAME_DATE = re.compile(r"(\d{4})[-_.](\d{2})[-_.](\d{2})")
_MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one document may cost to read: caps against decompression bombs and absurd files.
    Each is checked as early as it can be, so a refused file costs little time or memory."""

    max_chars: int = 5_000_000  # characters of extracted text (MAX_DOCUMENT_CHARS)
    max_inflated_bytes: int = 100 * _MB  # sum of a zip's parts, inflated (MAX_INFLATED_MB)
    max_ratio: float = 100.0  # inflated/compressed, for a zip part over 1 MB
    max_members: int = 10_000  # parts in a zip
    max_pages: int = 10_000  # pages of a PDF (MAX_PDF_PAGES)
    max_parse_seconds: float = 300.0  # reading and chunking it, in the parse worker

    @classmethod
    def from_settings(cls, settings: RetrievalSettings) -> Limits:
        return cls(
            max_chars=settings.max_document_chars,
            max_inflated_bytes=int(settings.max_inflated_mb * _MB),
            max_ratio=settings.max_compression_ratio,
            max_pages=settings.max_pdf_pages,
            max_parse_seconds=settings.max_parse_seconds,
        )


DEFAULT_LIMITS = Limits()


def document_id(source: str) -> str:
    """Stable id of a document: derived from where it comes from, not from its content."""
    return hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]


def parse_date(value: str) -> date | None:
    """A date from `2024-03-22`, `2024-03-22T10:00:00Z` or `2024/03/22`; None otherwise."""
    match = _NAME_DATE.search(value or "")
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def load(
    path: Path,
    source: str | None = None,
    max_bytes: int = 50 * 1024 * 1024,
    limits: Limits = DEFAULT_LIMITS,
) -> Document:
    """Read one file into a Document; raises LoadError with the reason when it cannot."""
    return parse(read(path, max_bytes), path, source, limits)


def read(path: Path, max_bytes: int = 50 * 1024 * 1024) -> bytes:
    """The file's bytes, if its type is supported and it is within the size limit."""
    if path.suffix.lower() not in _PARSERS:
        raise UnsupportedFile(f"unsupported file type {path.suffix.lower() or '(none)'}")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise LoadError(f"file too large ({size / 1e6:.0f} MB, limit {max_bytes / 1e6:.0f} MB)")
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise LoadError("file disappeared before it could be read") from exc
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc.strerror or exc}") from exc


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse(
    data: bytes, path: Path, source: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> Document:
    """A Document from a file's bytes; `source` is how citations name it (default: file name)."""
    parser = _PARSERS.get(path.suffix.lower())
    if parser is None:
        raise UnsupportedFile(f"unsupported file type {path.suffix.lower() or '(none)'}")
    if not data.strip():
        raise LoadError("file is empty")
    text, meta = parser(data, limits)
    text = text.strip("\ufeff")
    if not text.strip():
        raise LoadError("no text could be extracted")
    check_length(len(text), limits)
    name_title, name_date = _from_file_name(path)
    url = str(meta.get("url") or "").strip()
    return Document(
        id=document_id(str(path.resolve())),
        source=source or path.name,
        title=" ".join((meta.get("title") or name_title).split())[:MAX_TITLE_CHARS],
        text=text,
        content_hash=content_hash(data),
        date=parse_date(meta.get("date", "")) or name_date,
        url=url if url and len(url) <= MAX_URL_CHARS else None,  # cut, it would mislead
        pages=tuple(meta.get("pages", ())),
    )


def check_length(chars: int, limits: Limits) -> None:
    """LoadError if a document's text is longer than the cap."""
    if chars > limits.max_chars:
        raise LoadError(
            f"document too long: {chars:,} characters of text"
            f" (limit MAX_DOCUMENT_CHARS={limits.max_chars:,})"
        )


def check_zip(data: bytes, kind: str, limits: Limits) -> None:
    """Refuse a zip-based file (docx) that would inflate to too much, from the sizes its
    directory declares, before anything is inflated (zipfile never inflates a part beyond its
    declared size: a part that lies fails its CRC check instead)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise LoadError(f"corrupt or unreadable {kind}: {exc}") from exc
    if len(members) > limits.max_members:
        raise LoadError(
            f"{kind} has {len(members):,} parts (limit {limits.max_members:,}):"
            " refused as a possible decompression bomb"
        )
    inflated = sum(m.file_size for m in members)
    if inflated > limits.max_inflated_bytes:
        raise LoadError(
            f"{kind} inflates to {inflated / _MB:,.0f} MB"
            f" (limit MAX_INFLATED_MB={limits.max_inflated_bytes / _MB:,.0f}):"
            " refused as a possible decompression bomb"
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > _MB and ratio > limits.max_ratio:
            raise LoadError(
                f"{kind} part {member.filename} inflates {ratio:,.0f} times"
                f" ({member.compress_size / 1024:,.0f} KB to {member.file_size / _MB:,.0f} MB;"
                f" limit MAX_COMPRESSION_RATIO={limits.max_ratio:,.0f}):"
                " refused as a possible decompression bomb"
            )


def decode(data: bytes) -> str:
    """Text from bytes: UTF-8 first, then Windows-1252; binary content is refused."""
    if b"\x00" in data[:8192]:
        raise LoadError("binary content, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    text = data.decode("cp1252", errors="replace")
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\t\r\n\f")
    if controls > 0.01 * min(len(text), 8192) or text.count("\ufffd") > 0.01 * len(text):
        raise LoadError("binary content or unknown text encoding")
    return text


def _plain(data: bytes, limits: Limits) -> tuple[str, dict]:
    text = decode(data).replace("\r\n", "\n")
    meta: dict = {}
    front = _FRONT_MATTER.match(text)
    if front:
        for line in front[1].splitlines():
            key, _, value = line.partition(":")
            key = key.strip().lower()
            value = value.strip().strip("'\"")
            if key in ("title", "date", "url") and value:
                meta[key] = value
            elif key in ("link", "source") and value.startswith("http"):
                meta.setdefault("url", value)
            elif key in ("published", "pubdate") and value:
                meta.setdefault("date", value)
        text = text[front.end() :]
    dated = _DATE_LINE.match(text)
    if dated:
        meta.setdefault("date", dated[1])
        text = text[dated.end() :]
    text = text.strip()
    if "title" not in meta:
        heading = next(filter(None, map(markdown_heading, text[:2000].split("\n"))), None)
        first_line = text.split("\n", 1)[0].strip()
        if heading:
            meta["title"] = heading
        elif dated and first_line:
            meta["title"] = _first_sentence(first_line)
        elif 0 < len(first_line) <= 120 and not first_line.endswith((".", ",", ";")):
            meta["title"] = first_line
    return text, meta


def _first_sentence(line: str) -> str:
    from retrieval.text import sentences

    first = sentences(line)[0] if line else ""
    return first if len(first) <= 200 else ""


def _html(data: bytes, limits: Limits) -> tuple[str, dict]:
    import trafilatura

    html = decode(data)
    extracted = trafilatura.bare_extraction(
        html, with_metadata=True, include_comments=False, include_tables=True, favor_recall=True
    )
    if extracted is None:
        raise LoadError("no article text found in the HTML")
    doc = extracted if isinstance(extracted, dict) else extracted.as_dict()
    body = doc.get("text") or ""
    # trafilatura puts one paragraph a line; blank lines make the paragraphs visible to chunking.
    text = "\n\n".join(line.strip() for line in body.splitlines() if line.strip())
    meta = {k: doc[k] for k in ("title", "date", "url") if doc.get(k)}
    return text, meta


def _pdf(data: bytes, limits: Limits) -> tuple[str, dict]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise LoadError("PDF is encrypted")
        declared = _declared_pages(reader)
        if declared > limits.max_pages:
            raise LoadError(
                f"PDF has {declared:,} pages (limit MAX_PDF_PAGES={limits.max_pages:,})"
            )
        parts: list[str] = []
        pages: list[tuple[int, int]] = []
        offset = 0
        for number, page in enumerate(reader.pages, start=1):
            if number > limits.max_pages:
                raise LoadError(f"PDF has over {limits.max_pages:,} pages (limit MAX_PDF_PAGES)")
            page_text = (page.extract_text() or "").strip()
            if not page_text:
                continue
            pages.append((offset, number))
            parts.append(page_text)
            offset += len(page_text) + 2
            if offset > limits.max_chars:  # stop reading: the rest cannot be kept anyway
                raise LoadError(
                    f"document too long: over {limits.max_chars:,} characters of text by page"
                    f" {number:,} (limit MAX_DOCUMENT_CHARS={limits.max_chars:,})"
                )
        info: dict = dict(reader.metadata or {})
        meta: dict = {"pages": pages}
        title = str(info.get("/Title") or "").strip()
        if title:
            meta["title"] = title
        created = str(info.get("/CreationDate") or "")
        if created.startswith("D:") and len(created) >= 10:
            meta["date"] = f"{created[2:6]}-{created[6:8]}-{created[8:10]}"
    except LoadError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoadError(f"corrupt or unreadable PDF: {exc}") from exc
    return "\n\n".join(parts), meta


def _declared_pages(reader: object) -> int:
    """The page count a PDF's page tree declares (read without building the page list)."""
    try:
        count = reader.trailer["/Root"]["/Pages"]["/Count"]  # type: ignore[attr-defined]
        return int(count)
    except (KeyError, TypeError, ValueError, AttributeError):
        return 0


def _docx(data: bytes, limits: Limits) -> tuple[str, dict]:
    import docx

    check_zip(data, "DOCX", limits)
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LoadError(f"corrupt or unreadable DOCX: {exc}") from exc
    paragraphs = [p for p in document.paragraphs if p.text.strip()]
    meta: dict = {}
    props = document.core_properties
    if props.title:
        meta["title"] = props.title
    if props.created:
        meta["date"] = props.created.date().isoformat()
    for p in paragraphs:
        style = (p.style.name or "").lower() if p.style is not None else ""
        if style == "title" or style.startswith("heading"):
            meta.setdefault("title", p.text.strip())
            break
    return "\n\n".join(p.text.strip() for p in paragraphs), meta


def _from_file_name(path: Path) -> tuple[str, date | None]:
    stem = path.stem
    found = parse_date(stem)
    stem = _NAME_DATE.sub(" ", stem)
    title = re.sub(r"[-_]+", " ", stem).strip()
    return (title[:1].upper() + title[1:]) if title else path.name, found


_PARSERS: dict[str, Callable[[bytes, Limits], tuple[str, dict]]] = {
    ".txt": _plain,
    ".md": _plain,
    ".markdown": _plain,
    ".html": _html,
    ".htm": _html,
    ".pdf": _pdf,
    ".docx": _docx,
}
