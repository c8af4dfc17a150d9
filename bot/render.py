"""Answers, passages and listings as Telegram HTML: escaped, cited, and cut into messages
that Telegram accepts.

Everything here is pure: data in, HTML strings out. All corpus and user text is escaped.
A message never exceeds `MAX_CHARS`, counted the strict way (UTF-16 code units of the HTML
source, which is never shorter than the text Telegram counts). Long answers are split between
sentences, or between sources; never inside a tag, an HTML entity or a `[n]` marker.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser

from retrieval import Answer, ArchiveStats, Citation

MAX_CHARS = 4096
TITLE_CHARS = 200
NOTE_CHARS = 300
HREF_CHARS = 1000  # longer (escaped) links are shown as text, not as a link

EMPTY_ANSWER = "The archive gave no answer to this question."
DRAFT_TAIL = " …"  # ends a message that is still being written

_MARKER = re.compile(r"\[\d+\]")
_TOKEN = re.compile(r"\[\d+\]|\s+|[^\s\[]+|\[")
_SENTENCE_END = re.compile(r"(?:[.!?…]['\"”’»)\]]*|\[\d+\])$")
# C0 controls but tab and newline, DEL, and the C1 controls (0x9b starts escape codes too).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def size(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji may count two)."""
    return len(text.encode("utf-16-le")) // 2


def clean(text: str | None) -> str:
    """Text without control characters (other than tab and newline): Telegram rejects them,
    and a terminal obeys them (escape codes in a file name or a document)."""
    return _CONTROL.sub("", (text or "").replace("\r\n", "\n"))


def one_line(text: str | None) -> str:
    """A name or a title as one line: `clean`, with runs of white space made one space."""
    return " ".join(clean(text).split())


def esc(text: str | None) -> str:
    """Text made safe for Telegram HTML."""
    return html.escape(clean(text), quote=False)


def shorten(text: str | None, limit: int) -> str:
    """Text cut to at most `limit` characters at a word boundary, with an ellipsis if cut."""
    text = one_line(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def plain_text(fragment: str) -> str:
    """What a reader sees of an HTML fragment: tags dropped, entities decoded."""
    parser = _TextCollector()
    parser.feed(fragment)
    parser.close()
    return "".join(parser.parts)


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


# -- answers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Block:
    """A piece of a message that is never split: balanced HTML, within the limit alone."""

    html: str
    sep: str = "\n"  # what joins it to the previous block in the same message


def render_answer(
    answer: Answer,
    limit: int = MAX_CHARS,
    *,
    notice: str | None = None,
    heard: str | None = None,
) -> list[str]:
    """The answer with its `[n]` markers, then a compact source list, as one or more messages.

    `heard` is the transcript of a spoken question, shown first (🎤 “…”) so that a mishearing
    is seen; `notice` is a one-line remark shown in italics above the answer (e.g. why it
    quotes the archive instead of being written by the LLM).
    """
    blocks: list[_Block] = []
    if heard:
        blocks.append(_Block(heard_line(heard)))
    if answer.follow_up_of:
        note = esc(shorten(answer.follow_up_of, NOTE_CHARS))
        blocks.append(_Block(f"<i>Follow-up to: {note}</i>"))
    if notice:
        blocks.append(_Block(f"<i>{esc(shorten(notice, NOTE_CHARS))}</i>"))
    marked = _mark(answer.text, answer.highlights)
    spare = len(_BOLD_OPEN + _BOLD_CLOSE) * len(answer.highlights)  # the tags outgrow the marks
    for i, (sep, piece) in enumerate(_answer_pieces(marked, limit - spare)):
        blocks.append(_Block(_bold_marks(esc(piece)), "\n\n" if i == 0 else sep))
    if answer.citations:
        heading = "<b>Nearest sources</b>" if answer.refused else "<b>Sources</b>"
        lines = [source_line(c) for c in answer.citations]
        # The heading travels with the first source so it never ends a message alone.
        blocks.append(_Block(f"{heading}\n{lines[0]}", "\n\n"))
        blocks.extend(_Block(line) for line in lines[1:])
    return _pack(blocks, limit) or [EMPTY_ANSWER]


# The answer inside a quoted sentence is shown in bold. Its place is marked with two
# private-use characters before the text is cut into pieces, and the marks become tags after
# escaping; a piece cut inside a marked span gets its tags balanced.
_OPEN, _CLOSE = "\ue000", "\ue001"
_BOLD_OPEN, _BOLD_CLOSE = "<b>", "</b>"


def mark_spans(text: str, spans: Sequence[tuple[int, int]], opening: str, closing: str) -> str:
    """text with each span (offsets into it) between `opening` and `closing`; spans that
    overlap an earlier one or the end are clipped."""
    out: list[str] = []
    position = 0
    for start, end in sorted(spans):
        start, end = max(start, position), min(end, len(text))
        if start >= end:
            continue
        out += [text[position:start], opening, text[start:end], closing]
        position = end
    out.append(text[position:])
    return "".join(out)


def _mark(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """text with the spans between the private mark characters (any already in the text
    become U+FFFD, so offsets still hold and only our marks turn into tags)."""
    text = text.replace(_OPEN, "\ufffd").replace(_CLOSE, "\ufffd")
    return mark_spans(text, spans, _OPEN, _CLOSE)


def _bold_marks(fragment: str) -> str:
    """Escaped text with mark characters turned into balanced <b> tags."""
    out: list[str] = []
    inside = False
    for ch in fragment:
        if ch == _OPEN and not inside:
            out.append(_BOLD_OPEN)
            inside = True
        elif ch == _CLOSE and inside:
            out.append(_BOLD_CLOSE)
            inside = False
        elif ch not in (_OPEN, _CLOSE):
            out.append(ch)
    if inside:
        out.append(_BOLD_CLOSE)
    return "".join(out)


def render_inline(answer: Answer, limit: int = MAX_CHARS, sentences: int = 2) -> str:
    """An answer to send into any chat from inline mode, as one message: the question, the
    answer's first `sentences` (the answer itself in bold) and the sources they cite (for a
    refusal, the nearest sources), linked where they have a web address."""
    blocks = [_Block(f"❓ <i>{esc(shorten(answer.question, NOTE_CHARS))}</i>")]
    marked = _mark(answer.text, answer.highlights)
    pieces = _answer_pieces(marked, limit // 2)[:sentences]
    shown = "".join(sep + piece if i else piece for i, (sep, piece) in enumerate(pieces))
    if shown:
        blocks.append(_Block(_bold_marks(esc(shown)), "\n\n"))
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", shown)}
    sources = [c for c in answer.citations if c.n in cited or answer.refused or not cited]
    if sources:
        heading = "<b>Nearest sources</b>" if answer.refused else "<b>Sources</b>"
        blocks.append(_Block(f"{heading}\n{source_line(sources[0])}", "\n\n"))
        blocks.extend(_Block(source_line(c)) for c in sources[1:])
    return (_pack(blocks, limit) or [EMPTY_ANSWER])[0]


def heard_line(transcript: str) -> str:
    """What was heard in a spoken question: 🎤 “…”."""
    return f"🎤 “{esc(shorten(transcript, NOTE_CHARS))}”"


def render_draft(text: str, limit: int = MAX_CHARS, heard: str | None = None) -> str:
    """An answer still being written (checked sentences only), as one message ending in "…":
    as many whole sentences from the start as fit (below what was heard, for a spoken
    question)."""
    head = f"{heard_line(heard)}\n\n" if heard else ""
    budget = limit - size(DRAFT_TAIL) - size(head)
    body = ""
    for sep, piece in _answer_pieces(text, budget):
        grown = body + esc(sep if body else "") + esc(piece)
        if size(grown) > budget:
            break
        body = grown
    return f"{head}{body}{DRAFT_TAIL}"


def source_line(citation: Citation) -> str:
    """`[n] Title · date · location`, the title linked when the source has a web address."""
    title = esc(shorten(citation.title or citation.source, TITLE_CHARS)) or "untitled"
    href = _href(citation.url)
    if href:
        title = f'<a href="{href}">{title}</a>'
    details = [d for d in (_date(citation), esc(shorten(citation.location, 80))) if d]
    if not href:
        details.append(esc(shorten(citation.url or citation.source, TITLE_CHARS)))
    return " · ".join([f"[{citation.n}] {title}", *details])


def _answer_pieces(text: str, limit: int) -> list[tuple[str, str]]:
    """(separator, piece) pairs: whole sentences where they fit alone, else words, else
    characters; a `[n]` marker is never cut and never separated from what it cites."""
    pieces: list[tuple[str, str]] = []
    for sep, sentence in _units(clean(text), sentence_level=True):
        if size(esc(sentence)) <= limit:
            pieces.append((sep, sentence))
            continue
        for j, (word_sep, word) in enumerate(_units(sentence, sentence_level=False)):
            word_sep = sep if j == 0 else word_sep
            if size(esc(word)) <= limit:
                pieces.append((word_sep, word))
                continue
            for k, atom in enumerate(_atoms(word)):
                pieces.append((word_sep if k == 0 else "", atom))
    return pieces


def _units(text: str, sentence_level: bool) -> list[tuple[str, str]]:
    """Split text at white space into (separator, unit) pairs. White space before a `[n]`
    marker never splits; at sentence level only white space after a sentence end, a marker,
    or a line break does."""
    tokens = _TOKEN.findall(text)
    units: list[tuple[str, str]] = []
    sep: list[str] = []
    current: list[str] = []
    for i, token in enumerate(tokens):
        if not token.isspace():
            current.append(token)
            continue
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        breaks = not _MARKER.fullmatch(following) and (
            not sentence_level
            or "\n" in token
            or bool(current and _SENTENCE_END.search("".join(current[-4:])[-40:]))
        )
        if breaks and current:
            units.append(("".join(sep), "".join(current)))
            sep, current = [token], []
        elif current:
            current.append(token)
        else:
            sep.append(token)
    if current:
        units.append(("".join(sep), "".join(current)))
    return units


def _atoms(word: str) -> list[str]:
    """A word with no white space, as characters, keeping `[n]` markers whole."""
    atoms: list[str] = []
    position = 0
    for match in _MARKER.finditer(word):
        atoms.extend(word[position : match.start()])
        atoms.append(match.group())
        position = match.end()
    atoms.extend(word[position:])
    return atoms


def _pack(blocks: Sequence[_Block], limit: int) -> list[str]:
    """Fill messages with whole blocks, in order, as full as the limit allows."""
    messages: list[str] = []
    current: list[str] = []
    used = 0
    for block in blocks:
        grown = used + size(block.sep) + size(block.html) if current else size(block.html)
        if grown <= limit:
            current += [block.sep, block.html] if current else [block.html]
            used = grown
            continue
        if current:
            messages.append("".join(current))
        current, used = [block.html], size(block.html)
    if current:
        messages.append("".join(current))
    return messages


# -- passages --------------------------------------------------------------------------------


def render_passage(citation: Citation, limit: int = MAX_CHARS) -> str:
    """The full cited passage (the quoted words in bold), with title, date and link; cut
    around the quote, with ellipses, if it is too long for one message."""
    title = esc(shorten(citation.title or citation.source, TITLE_CHARS)) or "untitled"
    lines = [f"<b>[{citation.n}] {title}</b>"]
    details = [d for d in (_date(citation), esc(shorten(citation.location, 80))) if d]
    if details:
        lines.append(" · ".join(details))
    href = _href(citation.url)
    if href:
        lines.append(f'<a href="{href}">{esc(shorten(citation.url, 120))}</a>')
    else:
        lines.append(esc(shorten(citation.url or citation.source, TITLE_CHARS)))
    head = "\n".join(lines) + "\n\n"
    budget = limit - size(head) - size("<blockquote></blockquote>")
    body = _passage_body(clean(citation.passage), clean(citation.quote), budget)
    return f"{head}<blockquote>{body}</blockquote>"


def _passage_body(passage: str, quote: str, budget: int) -> str:
    spans = _quote_spans(passage, quote)
    whole = _highlight(passage, spans, 0, len(passage))
    if size(whole) <= budget:
        return whole

    def fits(start: int, end: int) -> bool:
        return size(_highlight(passage, spans, start, end)) <= budget

    # Start a little before the quote, take as much as fits after it; if that reaches the
    # end of the passage, take as much as fits before it instead.
    start = passage.rfind(" ", 0, spans[0][0] - 150) + 1 if spans and spans[0][0] > 200 else 0
    low, high = start, len(passage)  # the largest end that fits
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(start, middle) else (low, middle - 1)
    end = low
    if end == len(passage) and start > 0:
        low, high = 0, start  # the smallest start that fits
        while low < high:
            middle = (low + high) // 2
            low, high = (low, middle) if fits(middle, end) else (middle + 1, high)
        start = low
        space = passage.find(" ", start, start + 80)
        if space >= 0 and start > 0:
            start = space + 1
    else:
        space = passage.rfind(" ", start, end)
        if space > start and end - space < 80:
            end = space
    return _highlight(passage, spans, start, end)


def _quote_spans(passage: str, quote: str) -> list[tuple[int, int]]:
    """Where the quoted sentences stand in the passage (a quote joins them with " … ")."""
    spans: list[tuple[int, int]] = []
    for part in (p.strip() for p in quote.split(" … ")):
        at = passage.find(part) if part else -1
        if at >= 0:
            spans.append((at, at + len(part)))
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _highlight(passage: str, spans: Sequence[tuple[int, int]], start: int, end: int) -> str:
    """passage[start:end], escaped, with the spans in bold and ellipses where it is cut."""
    out: list[str] = ["… "] if start > 0 else []
    position = start
    for a, b in spans:
        a, b = max(a, start), min(b, end)
        if a >= b:
            continue
        out.append(esc(passage[position:a]))
        out.append(f"<b>{esc(passage[a:b])}</b>")
        position = b
    out.append(esc(passage[position:end]))
    if end < len(passage):
        out.append(" …")
    return "".join(out)


# -- listings --------------------------------------------------------------------------------


def render_help(
    stats: ArchiveStats, bot_username: str, is_admin: bool = False, inline: bool = False
) -> str:
    """What the bot knows and how to ask it (`inline`: whether inline mode is switched on)."""
    if stats.documents:
        holds = f"I answer questions about an archive of {_count(stats.documents, 'document')}"
        if stats.first_date and stats.last_date:
            holds += f", dated {stats.first_date.isoformat()} to {stats.last_date.isoformat()}"
        holds += "."
    else:
        holds = "My archive is empty for now, so I cannot answer questions yet."
    lines = [
        holds,
        "",
        "<b>How to ask</b>",
        "• In a private chat, just send your question, typed or as a voice note (in English;"
        " I show what I heard).",
        f"• In a group, write <code>/ask your question</code>, mention @{esc(bot_username)},"
        " or reply to one of my messages.",
    ]
    if inline:
        lines.append(
            f"• In any chat, type <code>@{esc(bot_username)} your question</code> to send a cited"
            " answer there."
        )
    lines += [
        "",
        "Every answer quotes the archive and cites it: tap <b>[n]</b> to read the passage,"
        " 👍/👎 to tell me whether it helped. A short follow-up such as “and when was that?”"
        " continues your previous question.",
        "/sources lists the newest documents.",
    ]
    if is_admin:
        lines += [
            "",
            "As an admin you can send me a document (txt, md, html, pdf, docx) to add it.",
        ]
    return "\n".join(lines)


def render_sources(stats: ArchiveStats, limit: int = MAX_CHARS) -> str:
    """The newest documents, as many as fit in one message."""
    if not stats.documents:
        return "The archive is empty."
    span = ""
    if stats.first_date and stats.last_date:
        span = f", dated {stats.first_date.isoformat()} to {stats.last_date.isoformat()}"
    head = f"<b>{_count(stats.documents, 'document')}</b>{span}. Newest first:"
    lines = []
    for doc in stats.newest:
        title = esc(shorten(doc.title or doc.source, TITLE_CHARS)) or "untitled"
        href = _href(doc.url)
        if href:
            title = f'<a href="{href}">{title}</a>'
        else:
            title += f" ({esc(shorten(doc.source, TITLE_CHARS))})"
        lines.append(f"• {doc.date or 'undated'} · {title}")
    return _fit_lines(head, lines, stats.documents, limit)


def _fit_lines(head: str, lines: Iterable[str], total: int, limit: int) -> str:
    text, shown = head, 0
    for line in lines:
        more = f"\n… and {total - shown - 1:,} more"
        if size(text + "\n" + line + more) > limit:
            break
        text += "\n" + line
        shown += 1
    if shown < total:
        text += f"\n… and {total - shown:,} more"
    return text


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _date(citation: Citation) -> str:
    return citation.date.isoformat() if citation.date else ""


def _href(url: str | None) -> str | None:
    """The escaped link target, if url is a web address short enough to link."""
    url = clean(url)
    if not url.startswith(("http://", "https://")) or any(ch.isspace() for ch in url):
        return None
    href = html.escape(url, quote=True)
    return href if size(href) <= HREF_CHARS else None
