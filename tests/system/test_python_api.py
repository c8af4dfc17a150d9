"""The Python API from a plain script: `Archive(...).ingest([...])` at a script's top level,
without `if __name__ == "__main__":`, ingests and answers (the parse worker does not run the
script again and wait on the script's own write lock)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CROCUS_QUESTION

pytestmark = pytest.mark.slow  # loads the embedding model and the reader

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
from pathlib import Path
from retrieval import Archive, RetrievalSettings

here = Path(__file__).parent
archive = Archive(RetrievalSettings(_env_file=None, corpus_dir=here / "corpus",
                                    data_dir=here / "data", chroma_host=""))
report = archive.ingest([here / "corpus"])
print("added", len(report.added))
print(archive.ask({question!r}).answer.text)
"""


def test_a_script_without_a_main_guard_ingests_and_answers(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    for demo in (ROOT / "corpus").glob("*.txt"):
        (tmp_path / "corpus" / demo.name).write_bytes(demo.read_bytes())
    script = tmp_path / "script.py"
    script.write_text(SCRIPT.format(question=CROCUS_QUESTION))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr
    assert "added 1" in done.stdout and "United States" in done.stdout, done.stdout
