"""Every loader on small files the tests create, and every kind of bad file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import docx
import pytest
from reportlab.pdfgen import canvas

from retrieval.errors import LoadError, UnsupportedFile
from retrieval.ingest.chunking import chunk_document
from retrieval.ingest.loaders import load


def test_txt_with_leading_date_line_takes_date_and_headline(tmp_path: Path) -> None:
    path = tmp_path / "news.txt"
    path.write_text(
        " date 2024-04-02 Storm hits the coast. Thousands lost power overnight.\n\nMore text.\n",
        encoding="utf-8",
    )
    doc = load(path)
    assert doc.date == date(2024, 4, 2)
    assert doc.title == "Storm hits the coast."
    assert doc.text.startswith("Storm hits the coast.")
    assert "date 2024" not in doc.text


def test_markdown_front_matter_gives_title_date_and_url(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text(
        "---\ntitle: Budget passes\ndate: 2024-03-15\nurl: https://news.example/budget\n---\n"
        "# Heading\n\nThe budget passed on Friday.\n",
        encoding="utf-8",
    )
    doc = load(path)
    assert (doc.title, doc.date, doc.url) == (
        "Budget passes",
        date(2024, 3, 15),
        "https://news.example/budget",
    )
    assert "title:" not in doc.text


def test_markdown_heading_and_file_name_date(tmp_path: Path) -> None:
    path = tmp_path / "2023-11-05-election-night.md"
    path.write_text("# Election night\n\nVotes were counted.\n", encoding="utf-8")
    doc = load(path)
    assert doc.title == "Election night"
    assert doc.date == date(2023, 11, 5)


def test_plain_text_without_metadata_is_titled_from_file_name(tmp_path: Path) -> None:
    path = tmp_path / "harbour_report.txt"
    path.write_text(
        "The harbour reopened after repairs. Ships returned on Monday.", encoding="utf-8"
    )
    doc = load(path)
    assert doc.title == "Harbour report"
    assert doc.date is None


def test_html_main_text_title_date_and_url(tmp_path: Path) -> None:
    body = " ".join(["The council approved the new bridge after a long debate."] * 8)
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>Bridge approved | Daily</title>"
        '<meta property="og:title" content="Bridge approved">'
        '<meta property="article:published_time" content="2024-02-10T08:00:00Z">'
        '<link rel="canonical" href="https://daily.example/bridge">'
        "</head><body><nav>Home | Sports | Weather</nav><article><h1>Bridge approved</h1>"
        f"<p>{body}</p><p>Construction starts in May.</p></article>"
        "<footer>Copyright Daily</footer></body></html>",
        encoding="utf-8",
    )
    doc = load(path)
    assert doc.title == "Bridge approved"
    assert doc.date == date(2024, 2, 10)
    assert doc.url == "https://daily.example/bridge"
    assert "Construction starts in May." in doc.text
    assert "Copyright Daily" not in doc.text


def test_pdf_pages_are_kept_for_citations(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    pdf = canvas.Canvas(str(path))
    pdf.setTitle("Annual report")
    pdf.drawString(72, 720, "Revenue grew by four percent in the first quarter.")
    pdf.showPage()
    pdf.drawString(72, 720, "The harbour expansion was finished in October.")
    pdf.showPage()
    pdf.save()
    doc = load(path)
    assert doc.title == "Annual report"
    assert [page for _, page in doc.pages] == [1, 2]
    chunks = chunk_document(doc, max_chars=60)
    harbour = next(c for c in chunks if "harbour" in c.text)
    assert harbour.location.startswith("page 2")


def test_docx_paragraphs_and_heading_title(tmp_path: Path) -> None:
    path = tmp_path / "memo.docx"
    document = docx.Document()
    document.add_heading("Quarterly memo", level=1)
    document.add_paragraph("Sales rose in the north.")
    document.add_paragraph("Costs fell in the south.")
    document.save(str(path))
    doc = load(path)
    assert doc.title == "Quarterly memo"
    assert "Sales rose in the north.\n\nCosts fell in the south." in doc.text


def test_windows_1252_text_is_decoded_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "cafe.txt"
    path.write_bytes("Le café a ouvert ses portes.".encode("cp1252"))
    assert "café" in load(path).text


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.md", b"   \n\n  ", "empty"),
        ("binary.txt", b"\x00\x01\x02binary\x00data" * 10, "binary"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "PDF"),
        ("broken.docx", b"PK\x03\x04 not a real zip", "DOCX"),
    ],
)
def test_bad_files_raise_load_error_with_reason(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LoadError, match=reason):
        load(path)


def test_huge_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with open(path, "wb") as fh:  # sparse: 100 MB on paper, nothing on disk
        fh.truncate(100 * 1024 * 1024)
    with pytest.raises(LoadError, match="too large"):
        load(path, max_bytes=50 * 1024 * 1024)


def test_vanished_file_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="disappeared"):
        load(tmp_path / "gone.txt")


def test_unknown_type_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "image.png"
    path.write_bytes(b"\x89PNG....")
    with pytest.raises(UnsupportedFile):
        load(path)


def test_unreadable_path_is_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "folder.txt"
    path.mkdir()
    with pytest.raises(LoadError, match="cannot read"):
        load(path)
