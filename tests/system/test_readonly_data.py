"""A DATA_DIR this user may not write (issue 20, item 10): every command says so, none
suggests `citebot ingest --rebuild` (which would destroy a good index, and could not write
either), nothing is changed; with a Chroma server, questions are answered read-only.

The commands run as child processes without the right to override file permissions (as
root, with `setpriv`: the tests run as root here, and root writes to read-only files)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.handlers import READ_ONLY, user_message
from bot.settings import Settings
from retrieval.archive import Archive
from retrieval.errors import DataNotWritable
from retrieval.index.embedding import SentenceTransformerEmbedder
from tests.conftest import CROCUS_QUESTION
from tests.fakes.chroma_server import ChromaServer
from tests.system.test_faults import child_env

pytestmark = pytest.mark.slow

UNPRIVILEGED = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]


def as_user(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`citebot …` as a user without the right to write where the permissions say no."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: read-only folders are writable")
        prefix = UNPRIVILEGED
    return subprocess.run(
        [*prefix, sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=900,
    )


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """`folder` and everything in it read-only while the block runs."""
    paths = [folder, *folder.rglob("*")]
    modes = {path: path.stat().st_mode for path in paths}
    for path in paths:
        path.chmod(modes[path] & ~0o222)
    try:
        yield
    finally:
        for path in reversed(paths):
            path.chmod(modes[path])


def files(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder`: its size and modification time (to see that none changed)."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


def environment(settings: Settings, corpus: Path, **extra: str) -> dict[str, str]:
    return {"CORPUS_DIR": str(corpus), "DATA_DIR": str(settings.data_dir), **extra}


def assert_names_the_folder(result: subprocess.CompletedProcess[str], data: Path) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert f"error: {data}" in result.stderr, result.stderr  # DATA_DIR or a folder in it
    assert "is not writable by this user" in result.stderr, result.stderr
    assert "--rebuild" not in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_a_read_only_data_dir_is_named_and_no_rebuild_is_suggested(
    make_settings: Callable[..., Settings],
    corpus_dir: Path,
    embedder: SentenceTransformerEmbedder,
    tmp_path: Path,
) -> None:
    settings = make_settings()
    Archive(settings, embedder=embedder).ingest()
    before = files(settings.data_dir)
    env = environment(settings, corpus_dir)
    with read_only(settings.data_dir):
        for args in (["sources"], ["ask", CROCUS_QUESTION], ["ingest", "--rebuild"]):
            assert_names_the_folder(as_user(args, tmp_path, env), settings.data_dir)
    assert files(settings.data_dir) == before  # nothing was changed, nothing discarded


def test_with_a_chroma_server_questions_are_answered_from_a_read_only_data_dir(
    make_settings: Callable[..., Settings],
    corpus_dir: Path,
    embedder: SentenceTransformerEmbedder,
    tmp_path: Path,
) -> None:
    with ChromaServer(tmp_path / "server") as server:
        settings = make_settings(chroma_host=server.host, chroma_port=server.port)
        Archive(settings, embedder=embedder).ingest()
        env = environment(
            settings, corpus_dir, CHROMA_HOST=server.host, CHROMA_PORT=str(server.port)
        )
        with read_only(settings.data_dir):
            asked = as_user(["ask", CROCUS_QUESTION], tmp_path, env)
            listed = as_user(["sources"], tmp_path, env)
            ingested = as_user(["ingest"], tmp_path, env)
    assert asked.returncode == 0 and "United States" in asked.stdout, asked.stderr
    assert listed.returncode == 0 and "1 document" in listed.stdout, listed.stderr
    assert_names_the_folder(ingested, settings.data_dir)


def test_an_admin_adding_to_a_read_only_archive_is_told_so_not_sorry(tmp_path: Path) -> None:
    error = DataNotWritable.of(Path("/srv/data"), PermissionError(13, "Permission denied"))
    assert error is not None and "/srv/data is not writable" in str(error)
    assert "no rebuild is needed" in str(error)
    assert user_message(error) == READ_ONLY
    damaged = ValueError("file is not a database")  # in a writable folder: damage, not rights
    assert DataNotWritable.of(tmp_path, damaged) is None
