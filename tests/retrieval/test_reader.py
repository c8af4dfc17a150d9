"""The reader: the shipped weights load over the bundled base and give their recorded outputs;
a missing, damaged or foreign weights file stops start-up with a message naming the file and
the training command; odd sentences never crash it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval import Archive, RetrievalSettings
from retrieval.answer.reader import TRAINING_COMMAND, WEIGHTS, Reader, read_metadata
from retrieval.errors import ReaderUnavailable

pytestmark = pytest.mark.slow  # loads the bundled MiniLM under the shipped adapters

DEMO_TITLE = "US warned Russia of Crocus City Hall attack"
RECORDED = Path(__file__).parent.parent / "data" / "reader_recorded.json"


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader()


def test_the_shipped_weights_give_their_recorded_outputs(reader: Reader) -> None:
    """Recorded when the weights were trained (`training/record_reader_outputs.py`): a change
    of the file, the base model, the input format or the runtime shows here."""
    for case in json.loads(RECORDED.read_text())["cases"]:
        readings = reader.read(case["question"], [tuple(s) for s in case["sentences"]])
        for reading, want in zip(readings, case["readings"], strict=True):
            assert reading.probability == pytest.approx(want["probability"], abs=0.03)
            assert reading.span == (tuple(want["span"]) if want["span"] else None)


def test_the_answering_sentence_outscores_its_neighbours_and_its_answer_is_marked(
    reader: Reader,
) -> None:
    sentences = [
        "The United States warned Russia that Crocus City Hall, the concert hall outside"
        " Moscow, was a potential target of an attack.",
        "A Kremlin spokesperson did not respond to questions from The Washington Post.",
        "In the specific case of Crocus City Hall, however, the most suitable solution for the"
        " protection of American citizens present in Moscow was chosen.",
    ]
    readings = reader.read(
        "Who warned Russia about an attack on Crocus City Hall?",
        [(DEMO_TITLE, s) for s in sentences],
    )
    best = max(range(3), key=lambda i: readings[i].probability)
    assert best == 0 and readings[0].probability > 0.5
    span = readings[0].span
    assert span is not None and sentences[0][span[0] : span[1]] == "The United States"


def test_odd_sentences_are_read_not_rejected(reader: Reader) -> None:
    odd = ["", " ", "x" * 200_000, "🙂 \u0000 \u200b ‮", "word " * 5000, "?"]
    readings = reader.read("Who?", [("", s) for s in odd])
    assert len(readings) == len(odd)
    for sentence, reading in zip(odd, readings, strict=True):
        assert 0.0 <= reading.probability <= 1.0
        if reading.span is not None:
            start, end = reading.span
            assert 0 <= start < end <= len(sentence)
    assert reader.read("Who?", []) == []
    assert len(reader.read("", [("", "A sentence.")])) == 1


def test_the_weights_file_is_small_and_records_how_it_was_made() -> None:
    assert WEIGHTS.stat().st_size < 10_000_000
    meta = read_metadata(WEIGHTS)
    assert meta["format"] == "citebot-reader/1"
    assert len(meta["pairs_sha256"]) == 64 and len(meta["squad_train_sha256"]) == 64


def _settings(tmp_path: Path, weights: Path) -> RetrievalSettings:
    return RetrievalSettings(  # type: ignore[call-arg]
        _env_file=None,
        corpus_dir=tmp_path / "corpus",
        data_dir=tmp_path / "data",
        chroma_host="",
        reader_weights=str(weights),
    )


@pytest.mark.parametrize("damage", ["missing", "truncated", "not safetensors", "other base"])
def test_unusable_weights_stop_start_up_naming_the_file_and_the_command(
    tmp_path: Path, damage: str
) -> None:
    weights = tmp_path / "reader.safetensors"
    shipped = WEIGHTS.read_bytes()
    if damage == "truncated":
        weights.write_bytes(shipped[: len(shipped) // 2])
    elif damage == "not safetensors":
        weights.write_text("<html>404</html>")
    elif damage == "other base":
        weights.write_bytes(_with_metadata(shipped, base="0123456789abcdef"))
    with pytest.raises(ReaderUnavailable) as caught:
        Archive(_settings(tmp_path, weights))
    message = str(caught.value)
    assert str(weights) in message and TRAINING_COMMAND in message
    if damage == "other base":
        assert "another base model" in message


def _with_metadata(safetensors: bytes, **changes: str) -> bytes:
    """The same tensors with some metadata values changed (the header is JSON)."""
    size = int.from_bytes(safetensors[:8], "little")
    header = json.loads(safetensors[8 : 8 + size])
    header["__metadata__"].update({k: json.dumps(v) for k, v in changes.items()})
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return len(raw).to_bytes(8, "little") + raw + safetensors[8 + size :]
