"""Rendering answers and passages as Telegram HTML: property tests (Hypothesis) that any text
and citations give messages Telegram accepts, and examples of where long answers split."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.render import (
    MAX_CHARS,
    plain_text,
    render_answer,
    render_draft,
    render_help,
    render_inline,
    render_passage,
    render_sources,
    size,
    source_line,
)
from retrieval import Answer, ArchiveStats, Citation
from retrieval.index.lexical import DocumentInfo
from tests.fakes.botapi_server import check_html

_MARKER = re.compile(r"\[\d+\]")
_CHARS = st.characters(blacklist_categories=("Cs", "Cc"))
_TRICKY = st.sampled_from(
    [
        "<",
        ">",
        "&",
        "&amp;",
        "<b>",
        "</i>",
        '"',
        " ",
        "\n",
        ". ",
        "? ",
        "[1]",
        " [2]",
        "[",
        "]",
        "😀",
        "👨‍👩‍👧",
        "𝔘",
        "\u200b",
        "x" * 700,
        "word " * 60,
    ]
)
_fragments = st.lists(st.one_of(st.text(_CHARS, max_size=30), _TRICKY), max_size=40).map("".join)
# Long texts are built by repetition: cheap to generate and to shrink.
_huge = st.one_of(
    _fragments,
    st.tuples(st.text(_CHARS, min_size=1, max_size=12), st.integers(300, 900)).map(
        lambda t: "".join(t[0].split()) * t[1] or "x"  # one enormous "word"
    ),
    st.tuples(_fragments, st.integers(2, 200)).map(lambda t: (t[0] + " [1] ") * t[1]),
)
_urls = st.one_of(
    st.none(),
    st.just('https://example.org/a?b=1&c=<2>&d="x"'),
    st.text(_CHARS, max_size=60).map(lambda s: "https://example.org/" + s),
    st.integers(900, 1200).map(lambda n: "https://e.org/" + "&" * n),
    _fragments,
)


@st.composite
def citations(draw: st.DrawFn, n: int) -> Citation:
    passage = draw(st.one_of(_fragments, _huge))
    if passage and draw(st.booleans()):
        start = draw(st.integers(0, len(passage) - 1))
        quote = passage[start : start + draw(st.integers(1, 400))]
    else:
        quote = draw(_fragments)
    return Citation(
        n=n,
        chunk_id=f"{n:016x}-0001-abcdef0123",
        title=draw(st.one_of(_fragments, _fragments.map(lambda t: t * 40))),
        source=draw(_fragments),
        quote=quote,
        passage=passage,
        date=draw(st.one_of(st.none(), st.dates(date(1900, 1, 1), date(2100, 1, 1)))),
        url=draw(_urls),
        location=draw(_fragments),
    )


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    count = draw(st.integers(0, 14))
    cited = tuple(draw(citations(n)) for n in range(1, count + 1))
    return Answer(
        question=draw(_fragments),
        text=draw(_huge),
        citations=cited,
        confidence=draw(st.floats(0, 1)),
        refused=draw(st.booleans()),
    )


def _nospace(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _cleaned(text: str) -> str:
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", text.replace("\r\n", "\n"))


_RENDER_SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@_RENDER_SETTINGS
@given(answers(), st.one_of(st.none(), _fragments))
def test_any_answer_renders_as_valid_messages_within_the_limit(
    answer: Answer, follow_up_of: str | None
) -> None:
    parts = render_answer(replace(answer, follow_up_of=follow_up_of))
    assert parts
    for part in parts:
        assert size(part) <= MAX_CHARS
        check_html(part)  # as strict as Telegram: its tags only, balanced, & and < escaped
        assert part == part.strip() or part.strip()  # no message is only white space
    seen = [plain_text(p) for p in parts]
    # Nothing of the answer is lost or reordered (white space aside) ...
    everything = _nospace("".join(seen))
    assert _nospace(_cleaned(answer.text)) in everything
    # ... no [n] marker is cut between two messages ...
    for before, after in itertools.pairwise(seen):
        joint = before.rstrip()[-8:] + after.lstrip()[:8]
        cut = len(before.rstrip()[-8:])
        assert not any(m.start() < cut < m.end() for m in _MARKER.finditer(joint))
    # ... and every source is listed whole in one message.
    for citation in answer.citations:
        assert sum(source_line(citation) in part for part in parts) == 1


@_RENDER_SETTINGS
@given(st.integers(1, 99).flatmap(citations))
def test_any_passage_renders_as_one_valid_message(citation: Citation) -> None:
    html = render_passage(citation)
    assert size(html) <= MAX_CHARS
    check_html(html)
    seen = plain_text(html)
    assert seen.startswith(f"[{citation.n}] ")
    passage = _cleaned(citation.passage)
    if size(html) < MAX_CHARS - 2000:
        assert passage.strip() in seen or _nospace(passage) in _nospace(seen)


def test_long_answers_split_between_sentences() -> None:
    sentence = "The embassy warned of attacks on concerts and mass gatherings in Moscow. [1]"
    answer = Answer("q", " ".join([sentence] * 150), (_citation(1),), 0.9)
    parts = render_answer(answer)
    assert len(parts) >= 3
    for part in parts[:-1]:
        assert part.rstrip().endswith("Moscow. [1]")
    for part in parts[1:]:
        assert part.startswith("The embassy") or part.startswith("<b>Sources</b>")


def test_sources_split_between_entries_and_the_heading_stays_with_the_first() -> None:
    cited = tuple(_citation(n, title="T" * 190 + f" {n}") for n in range(1, 40))
    answer = Answer("q", "x " * 1800 + "end. [1]", cited, 0.9)
    parts = render_answer(answer)
    assert len(parts) >= 3
    heading = next(p for p in parts if "<b>Sources</b>" in p)
    assert heading.index("<b>Sources</b>") < heading.index("[1] ")
    assert not any(p.rstrip().endswith("<b>Sources</b>") for p in parts)


def test_emoji_count_double_toward_the_limit() -> None:
    answer = Answer("q", "😀" * 3000 + " [1]", (_citation(1),), 0.9)
    parts = render_answer(answer)
    assert len(parts) >= 2
    assert all(len(p.encode("utf-16-le")) // 2 <= MAX_CHARS for p in parts)


def test_corpus_text_is_escaped_and_links_are_quoted() -> None:
    citation = _citation(1, title="<script>&", url='https://e.org/?a=1&b="2"')
    parts = render_answer(Answer("q", "1 < 2 & 3 > 2 [1]", (citation,), 0.9))
    assert "1 &lt; 2 &amp; 3 &gt; 2 [1]" in parts[0]
    assert '<a href="https://e.org/?a=1&amp;b=&quot;2&quot;">&lt;script&gt;&amp;</a>' in parts[0]
    javascript = _citation(2, url="javascript:alert(1)")
    assert "<a " not in source_line(javascript)


def test_a_long_passage_is_cut_around_the_quote() -> None:
    before = "Earlier context sentence. " * 300
    quote = "The United States warned Russia that Crocus City Hall was a target."
    after = " Later context sentence." * 300
    html = render_passage(_citation(3, passage=before + quote + after, quote=quote))
    assert size(html) <= MAX_CHARS
    assert f"<b>{quote}</b>" in html
    assert "<blockquote>… " in html and html.endswith(" …</blockquote>")


def test_help_and_sources_say_what_the_archive_holds() -> None:
    docs = tuple(
        DocumentInfo(f"id{i}", f"Title <{i}>", f"corpus/d{i}.txt", 3, f"2024-03-{i + 1:02d}")
        for i in range(30)
    )
    stats = ArchiveStats(30, 90, date(2024, 3, 1), date(2024, 3, 30), docs[:20])
    text = render_help(stats, "citebot_bot", is_admin=True)
    assert "archive of 30 documents, dated 2024-03-01 to 2024-03-30" in text
    assert "@citebot_bot" in text and "send me a document" in text
    listing = render_sources(stats)
    check_html(listing)
    assert "Title &lt;0&gt;" in listing and "… and 10 more" in listing
    empty = ArchiveStats(0, 0, None, None, ())
    assert "empty" in render_help(empty, "b") and render_sources(empty) == "The archive is empty."


def _citation(
    n: int,
    title: str = "Title",
    url: str | None = None,
    passage: str = "A passage.",
    quote: str = "A passage.",
) -> Citation:
    return Citation(n, f"c{n}", title, "corpus/x.txt", quote, passage, date(2024, 4, 2), url)


def test_the_answer_is_bold_inside_its_quoted_sentence() -> None:
    text = "The lens was made by Leith Glassworks in 2024. [1]"
    start = text.index("Leith Glassworks")
    citation = Citation(1, "c1", "Lamp", "corpus/l.md", text[:-4], text[:-4])
    answer = Answer("Who made the lens?", text, (citation,), 0.9, highlights=((start, start + 16),))
    (message,) = render_answer(answer)
    check_html(message)
    assert "The lens was made by <b>Leith Glassworks</b> in 2024. [1]" in message
    tiny = render_answer(answer, limit=60)  # cut into words: the tags stay balanced
    for part in tiny:
        check_html(part)
    assert "".join(plain_text(p) for p in tiny).count("Leith") == 1


@_RENDER_SETTINGS
@given(answers(), st.one_of(st.none(), _fragments))
def test_any_inline_answer_is_one_valid_message(answer: Answer, heard: str | None) -> None:
    html = render_inline(answer)
    assert size(html) <= MAX_CHARS
    check_html(html)
    assert plain_text(html).startswith("❓ ")
    for part in render_answer(answer, heard=heard):
        check_html(part)
        assert size(part) <= MAX_CHARS
    draft = render_draft(answer.text, heard=heard)
    check_html(draft)
    assert size(draft) <= MAX_CHARS


def test_inline_answer_keeps_its_first_sentences_and_the_sources_they_cite() -> None:
    text = (
        "The lens was made by Leith Glassworks in 2024. [2] It cost £40,000. [1]"
        " The lamp was lit again in May. [3]"
    )
    start = text.index("Leith Glassworks")
    cited = (
        _citation(1, "Costs"),
        _citation(2, "Lens <new>", url="https://example.org/lens?a=1&b=2"),
        _citation(3, "Relit"),
    )
    answer = Answer("Who made the lens?", text, cited, 0.9, highlights=((start, start + 16),))
    html = render_inline(answer)
    assert html.startswith("❓ <i>Who made the lens?</i>\n\nThe lens was made by <b>Leith")
    assert "It cost £40,000. [1]" in html and "lit again" not in html
    assert '[2] <a href="https://example.org/lens?a=1&amp;b=2">Lens &lt;new&gt;</a>' in html
    assert "[1] Costs" in html and "Relit" not in html
    refused = render_inline(
        replace(answer, refused=True, text="Nothing answers this.", highlights=())
    )
    assert "<b>Nearest sources</b>" in refused and "Relit" in refused


def test_what_was_heard_comes_first_and_is_escaped() -> None:
    answer = Answer("q", "The lens was made in Leith. [1]", (_citation(1),), 0.9)
    (message,) = render_answer(answer, heard="who made the <lens> & why")
    assert message.startswith("🎤 “who made the &lt;lens&gt; &amp; why”\n\nThe lens")
    assert render_draft("The lens.", heard="who?").startswith("🎤 “who?”\n\nThe lens.")
    text = render_help(ArchiveStats(1, 1, None, None, ()), "citebot_bot", inline=True)
    assert "voice note" in text and "<code>@citebot_bot your question</code>" in text
    assert "@citebot_bot your question" not in render_help(
        ArchiveStats(1, 1, None, None, ()), "citebot_bot"
    )
