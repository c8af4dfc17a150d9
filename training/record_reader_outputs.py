"""Record the shipped reader's outputs on a few fixed inputs, for the test that checks them.

    .venv/bin/python training/record_reader_outputs.py   # after training: writes the test data

tests/retrieval/test_reader.py reads tests/data/reader_recorded.json and checks that the
shipped weights, loaded the way the product loads them, still give these outputs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval.answer.reader import WEIGHTS, Reader, read_metadata  # noqa: E402

OUT = ROOT / "tests" / "data" / "reader_recorded.json"

CASES = [
    (
        "Who warned Russia that Crocus City Hall was a potential target?",
        [
            (
                "US warned Russia of Crocus City Hall attack",
                "The United States warned Russia that Crocus City Hall, the concert hall outside"
                " Moscow, was a potential target of an attack.",
            ),
            (
                "US warned Russia of Crocus City Hall attack",
                "A Kremlin spokesperson did not respond to questions from The Washington Post"
                " about the warning regarding Crocus City Hall.",
            ),
        ],
    ),
    (
        "Where was Nikola Tesla born?",
        [
            ("Nikola Tesla", "He was born in Smiljan, in the Austrian Empire, in 1856."),
            ("Nikola Tesla", "In 1884 he moved to New York City."),
            ("Alternating current", "Alternating current won the war of the currents."),
        ],
    ),
    (
        "In what year did Tesla move to Paris?",
        [("Nikola Tesla", "In 1884 he moved to New York City.")],
    ),
]


def main() -> None:
    reader = Reader()
    cases = []
    for question, sentences in CASES:
        readings = reader.read(question, sentences)
        cases.append(
            {
                "question": question,
                "sentences": sentences,
                "readings": [{"probability": r.probability, "span": r.span} for r in readings],
            }
        )
    meta = read_metadata(WEIGHTS)
    record = {"weights": {k: meta[k] for k in ("pairs_sha256", "steps")}, "cases": cases}
    OUT.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
