"""Ingest hardening (issue 11): symbolic links out of the ingested folder are not followed,
and decompression bombs and absurdly long documents are refused quickly with a reason."""

from __future__ import annotations

import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import docx
import pytest

from bot.settings import Settings
from retrieval.archive import Archive
from retrieval.errors import LoadError
from retrieval.index.embedding import Embedder
from retrieval.ingest import loaders
from tests.retrieval.test_ingest import assert_consistent

SECRET = "The database password is hunter2, do not quote it."


# -- symbolic links ---------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the corpus holding a secret (a `.env`, `/etc/passwd`, …)."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text(f"Secrets\n\n{SECRET}\n", encoding="utf-8")
    (folder / "more").mkdir()
    (folder / "more" / "notes.md").write_text(f"# Notes\n\n{SECRET} again.\n", encoding="utf-8")
    return folder


def stored_text(archive: Archive) -> str:
    return "\n".join(c.text for c in archive.store.scan())


def test_links_out_of_the_corpus_are_skipped_and_reported(
    make_settings: Callable[..., Settings],
    corpus_dir: Path,
    outside: Path,
    embedder: Embedder,
) -> None:
    (corpus_dir / "passwords.txt").symlink_to(outside / "secret.txt")
    (corpus_dir / "shared").symlink_to(outside / "more", target_is_directory=True)
    (corpus_dir / "etc-passwd.txt").symlink_to("/etc/passwd")
    inner = corpus_dir / "sub"
    inner.mkdir()
    (inner / "kept.md").write_text("# Ferry timetable\n\nThe ferry leaves at nine.\n")
    (corpus_dir / "alias.md").symlink_to(inner / "kept.md")  # inside, and ingested anyway
    drafts = corpus_dir / ".drafts"
    drafts.mkdir()
    (drafts / "draft.md").write_text("# Draft\n\nThe lighthouse opens in May.\n")
    (corpus_dir / "draft.md").symlink_to(drafts / "draft.md")  # inside: followed

    archive = Archive(make_settings(), embedder=embedder)
    report = archive.ingest()

    skipped = dict(report.skipped)
    assert set(skipped) == {
        "corpus/passwords.txt",
        "corpus/shared",
        "corpus/etc-passwd.txt",
        "corpus/alias.md",
    }
    for name in ("corpus/passwords.txt", "corpus/shared", "corpus/etc-passwd.txt"):
        assert "outside" in skipped[name] and "link" in skipped[name]
    assert "corpus/sub/kept.md" in skipped["corpus/alias.md"]  # the same file, once
    assert sorted(report.added) == [
        "corpus/draft.md",
        "corpus/sub/kept.md",
        "corpus/us-warned-russia-crocus-city-hall.txt",
    ]
    assert not report.failed
    assert SECRET not in stored_text(archive)
    assert all("hunter2" not in d.title for d in archive.lexical.documents.values())
    assert_consistent(archive)


def test_links_named_on_the_command_line_are_checked_too(
    make_settings: Callable[..., Settings],
    corpus_dir: Path,
    outside: Path,
    embedder: Embedder,
) -> None:
    """`citebot ingest corpus/*` names the files one by one: a link among them is still a link."""
    link = corpus_dir / "passwords.txt"
    link.symlink_to(outside / "secret.txt")
    archive = Archive(make_settings(), embedder=embedder)
    report = archive.ingest(sorted(corpus_dir.iterdir()))
    assert [name for name, _ in report.skipped] == ["corpus/passwords.txt"]
    assert report.added == ["corpus/us-warned-russia-crocus-city-hall.txt"]
    assert SECRET not in stored_text(archive)


def test_links_in_the_uploads_folder_are_skipped(
    make_settings: Callable[..., Settings],
    corpus_dir: Path,
    outside: Path,
    embedder: Embedder,
) -> None:
    settings = make_settings()
    settings.uploads_dir.mkdir(parents=True)
    (settings.uploads_dir / "report.txt").symlink_to(outside / "secret.txt")
    archive = Archive(settings, embedder=embedder)
    report = archive.ingest()
    assert [name for name, _ in report.skipped] == ["data/uploads/report.txt"]
    assert SECRET not in stored_text(archive)


def test_a_link_indexed_before_the_fix_is_removed_on_the_next_ingest(
    make_settings: Callable[..., Settings],
    corpus_dir: Path,
    outside: Path,
    embedder: Embedder,
) -> None:
    """What a version that followed links indexed under the link's name goes at the next run."""
    link = corpus_dir / "passwords.txt"
    link.write_text((outside / "secret.txt").read_text(encoding="utf-8"), encoding="utf-8")
    archive = Archive(make_settings(), embedder=embedder)
    archive.ingest()
    assert SECRET in stored_text(archive)
    link.unlink()
    link.symlink_to(outside / "secret.txt")
    report = archive.ingest()
    assert report.removed == ["corpus/passwords.txt"]
    assert [name for name, _ in report.skipped] == ["corpus/passwords.txt"]
    assert SECRET not in stored_text(archive)
    assert_consistent(archive)


# -- decompression bombs and absurd documents ---------------------------------------------------

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels"'
    ' ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="word/document.xml" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/officeDocument"/>'
    "</Relationships>"
)


def bomb_docx(path: Path, inflated_mb: float, paragraph_chars: int = 1000) -> Path:
    """A valid .docx whose document.xml is `inflated_mb` MB of the same paragraph, deflated:
    a few tens of KB on disk, millions of characters of text."""
    sentence = "The harbour master counted the ships in the bay again today. "
    text = (sentence * (paragraph_chars // len(sentence) + 1))[:paragraph_chars]
    paragraph = f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>".encode()
    count = int(inflated_mb * 1024 * 1024 / len(paragraph))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            part.write(
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/'
                b'main"><w:body>'
            )
            block = paragraph * 100
            for _ in range(count // 100):
                part.write(block)
            part.write(b"</w:body></w:document>")
    return path


def test_a_docx_bomb_is_refused_before_it_is_inflated(tmp_path: Path) -> None:
    bomb = bomb_docx(tmp_path / "bomb.docx", inflated_mb=40)
    assert bomb.stat().st_size < 300_000
    started = time.perf_counter()
    with pytest.raises(LoadError, match="decompression bomb") as refused:
        loaders.load(bomb)
    assert time.perf_counter() - started < 1.0
    assert "MAX_COMPRESSION_RATIO" in str(refused.value)


def test_docx_inflated_size_and_member_count_are_capped(tmp_path: Path) -> None:
    normal = tmp_path / "normal.docx"
    document = docx.Document()
    for n in range(300):
        document.add_paragraph(f"Paragraph {n}: the ferry to island {n * 7} leaves at dawn.")
    document.save(str(normal))
    assert "island 2093" in loaders.load(normal).text  # the defaults let it through
    with pytest.raises(LoadError, match="MAX_INFLATED_MB"):
        loaders.load(normal, limits=loaders.Limits(max_inflated_bytes=20_000))

    crowded = tmp_path / "crowded.docx"
    with zipfile.ZipFile(normal) as source, zipfile.ZipFile(crowded, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        for n in range(200):
            target.writestr(f"extra/part{n}.xml", "<a/>")
    with pytest.raises(LoadError, match="parts"):
        loaders.load(crowded, limits=loaders.Limits(max_members=100))


def test_documents_over_the_character_and_passage_caps_are_refused(
    tmp_path: Path, make_settings: Callable[..., Settings], embedder: Embedder
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "long.txt").write_text("All quiet in the harbour today. " * 2000, encoding="utf-8")
    (corpus / "choppy.md").write_text(
        "\n\n".join(f"## Ferry {n}\n\nShort line {n} about ferries." for n in range(400)),
        encoding="utf-8",
    )
    (corpus / "fine.md").write_text("# Ferry\n\nThe ferry leaves at nine.\n", encoding="utf-8")
    settings = make_settings(max_document_chars=50_000, max_chunks_per_document=50)
    report = Archive(settings, embedder=embedder).ingest()
    failed = dict(report.failed)
    assert "MAX_DOCUMENT_CHARS" in failed["corpus/long.txt"]
    assert "63,999 characters" in failed["corpus/long.txt"]
    assert "MAX_CHUNKS_PER_DOCUMENT" in failed["corpus/choppy.md"]
    assert report.added == ["corpus/fine.md"]


def raw_pdf(pages: int, text: str) -> bytes:
    """A PDF of `pages` pages that all show the same content stream (tiny on disk)."""
    stream = f"BT /F1 10 Tf 20 800 Td ({text}) Tj ET".encode()
    kids = " ".join(f"{5 + n} 0 R" for n in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 600 850] /Contents 4 0 R"
    page += b" /Resources << /Font << /F1 3 0 R >> >> >>"
    objects += [page] * pages
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_pdfs_with_absurd_page_counts_or_text_are_refused_quickly(tmp_path: Path) -> None:
    small = tmp_path / "small.pdf"
    small.write_bytes(raw_pdf(3, "The ferry leaves at nine."))
    doc = loaders.load(small)
    assert doc.text.count("The ferry leaves at nine.") == 3 and doc.pages[-1][1] == 3

    many = tmp_path / "many-pages.pdf"
    many.write_bytes(raw_pdf(30_000, "Page text."))
    started = time.perf_counter()
    with pytest.raises(LoadError, match="MAX_PDF_PAGES"):
        loaders.load(many)
    assert time.perf_counter() - started < 5.0

    wordy = tmp_path / "wordy.pdf"
    wordy.write_bytes(raw_pdf(2_000, "All quiet in the harbour today. " * 20))
    started = time.perf_counter()
    with pytest.raises(LoadError, match="MAX_DOCUMENT_CHARS"):
        loaders.load(wordy, limits=loaders.Limits(max_chars=20_000))
    assert time.perf_counter() - started < 5.0
