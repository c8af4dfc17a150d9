"""Evaluation data sets, read into plain types: BEIR (corpus.jsonl, queries.jsonl,
qrels/*.tsv) and SQuAD v1.1 (articles → paragraphs → questions with answer spans).

Only reading and checking happens here; `retrieval.eval.run` indexes and scores them.
Malformed input raises `InvalidEvalData` with the file and line at fault.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import InvalidEvalData


@dataclass(frozen=True)
class EvalDocument:
    """One document of an evaluation corpus: its id in the data set, title and text."""

    key: str
    title: str
    text: str


@dataclass(frozen=True)
class EvalQuestion:
    """A question with the documents that answer it (`relevant`: key → grade > 0) and, for
    SQuAD, the accepted answer strings."""

    id: str
    text: str
    relevant: dict[str, int]
    answers: tuple[str, ...] = ()
    group: str = ""  # SQuAD: the article the question was written on
    answerable: bool = True  # SQuAD 2.0: False for questions its paragraph does not answer


@dataclass(frozen=True)
class EvalSet:
    """A corpus and the questions asked of it."""

    name: str
    documents: tuple[EvalDocument, ...]
    questions: tuple[EvalQuestion, ...]


def load_beir(
    folder: Path, qrels: Path | None = None, split: str = "test", limit: int | None = None
) -> EvalSet:
    """A BEIR data set; `qrels` defaults to `folder/qrels/<split>.tsv`. Only queries that
    have a relevance judgement are kept (as BEIR scores them)."""
    if not folder.is_dir():
        raise InvalidEvalData(f"{folder} is not a folder (expected corpus.jsonl, queries.jsonl)")
    qrels_path = qrels or folder / "qrels" / f"{split}.tsv"
    documents = tuple(
        EvalDocument(
            key=_text_field(row, "_id", path, n),
            title=str(row.get("title") or "").strip(),
            text=_text_field(row, "text", path, n, allow_empty=True),
        )
        for path, n, row in _jsonl(folder / "corpus.jsonl")
    )
    documents = tuple(d for d in documents if (d.title or d.text).strip())
    texts = {
        _text_field(row, "_id", path, n): _text_field(row, "text", path, n)
        for path, n, row in _jsonl(folder / "queries.jsonl")
    }
    judged = read_qrels(qrels_path)
    known = {d.key for d in documents}
    questions = []
    for qid, relevant in judged.items():
        if qid not in texts:
            raise InvalidEvalData(f"{qrels_path}: query {qid!r} is not in queries.jsonl")
        relevant = {k: g for k, g in relevant.items() if k in known and g > 0}
        if relevant:
            questions.append(EvalQuestion(qid, texts[qid], relevant))
    if not questions:
        raise InvalidEvalData(f"{qrels_path}: no judged query points at a document of the corpus")
    return EvalSet(folder.name, documents, tuple(questions[:limit] if limit else questions))


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """query id → {document id: grade} from a BEIR qrels TSV (header line optional)."""
    if not path.is_file():
        raise InvalidEvalData(f"no qrels file at {path}")
    judged: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            parts = line.rstrip("\n").split("\t")
            if not line.strip() or (n == 1 and parts[0] == "query-id"):
                continue
            if len(parts) == 4:  # TREC style: query, iteration, document, grade
                parts = [parts[0], parts[2], parts[3]]
            if len(parts) != 3:
                raise InvalidEvalData(f"{path}:{n}: expected query-id, corpus-id, score")
            try:
                grade = int(float(parts[2]))
            except ValueError as exc:
                raise InvalidEvalData(f"{path}:{n}: score {parts[2]!r} is not a number") from exc
            judged.setdefault(parts[0].strip(), {})[parts[1].strip()] = grade
    return judged


def load_squad(path: Path, limit: int | None = None, every: int = 1) -> EvalSet:
    """SQuAD v1.1 or 2.0: each paragraph a document (title = article title, key
    `a<article>-p<n>`); every `every`-th question, at most `limit`. SQuAD 2.0's unanswerable
    questions (`is_impossible`) have `answerable=False` and no answers."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        articles = data["data"]
    except FileNotFoundError as exc:
        raise InvalidEvalData(f"no SQuAD file at {path}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise InvalidEvalData(f"{path} is not a SQuAD v1.1 JSON file ({exc})") from exc
    documents: list[EvalDocument] = []
    questions: list[EvalQuestion] = []
    try:
        for a, article in enumerate(articles):
            title = str(article.get("title", "")).replace("_", " ").strip()
            for p, paragraph in enumerate(article["paragraphs"]):
                key = f"a{a:03d}-p{p:03d}"
                documents.append(EvalDocument(key, title, str(paragraph["context"])))
                for qa in paragraph.get("qas", []):
                    answers = tuple(dict.fromkeys(str(x["text"]) for x in qa.get("answers", [])))
                    possible = not qa.get("is_impossible", False)
                    questions.append(
                        EvalQuestion(
                            str(qa["id"]),
                            str(qa["question"]),
                            {key: 1},
                            answers if possible else (),
                            title,
                            answerable=possible,
                        )
                    )
    except (KeyError, TypeError, AttributeError) as exc:
        raise InvalidEvalData(f"{path}: unexpected SQuAD structure ({exc!r})") from exc
    if not documents or not questions:
        raise InvalidEvalData(f"{path} holds no paragraphs with questions")
    chosen = questions[:: max(every, 1)]
    return EvalSet(path.stem, tuple(documents), tuple(chosen[:limit] if limit else chosen))


def _jsonl(path: Path) -> Iterator[tuple[Path, int, dict]]:
    if not path.is_file():
        raise InvalidEvalData(f"no {path.name} in {path.parent}")
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidEvalData(f"{path}:{n}: not JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise InvalidEvalData(f"{path}:{n}: expected a JSON object")
            yield path, n, row


def _text_field(row: dict, name: str, path: Path, n: int, allow_empty: bool = False) -> str:
    value = row.get(name)
    if value is None or (not allow_empty and not str(value).strip()):
        raise InvalidEvalData(f"{path}:{n}: missing {name!r}")
    return str(value)
