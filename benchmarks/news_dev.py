"""News-search questions with distractors: answered from the right snippet, refused without it.

    .venv/bin/python benchmarks/news_dev.py                           # both splits
    .venv/bin/python benchmarks/news_dev.py --split tune --show-failures
    .venv/bin/python benchmarks/news_dev.py --split heldout --json    # JSON on the last line
    .venv/bin/python benchmarks/news_dev.py --cli                     # via `citebot ask --json`
    .venv/bin/python benchmarks/news_dev.py --check                   # the data only, no model
    .venv/bin/python benchmarks/news_dev.py --data tests/data/news_check.json   # the unseen check

The data is tests/data/news_dev.json: short news snippets, and questions of the kind outsiders
ask ("Who won the women's singles at Wimbledon in 2018?", "Super Bowl 2022 location"), each
with its gold snippet and same-topic distractors that do not answer it (other years or
quarters, headline and question-echo snippets, boilerplate), plus questions whose topic is in
the archive but whose answer is not. Rules are tuned on the "tune" split and reported on
"heldout". tests/data/news_check.json is a second set (48 snippets, 30 questions, all
"heldout"), written separately after the rules were tuned and never tuned on. Each document
becomes a .md file with title/date/url front matter, indexed with the product's own ingest in a
temporary folder, in two settings:

- FULL: every document. Answerable questions: the share whose answer text (not refused)
  contains an accepted answer, whose cited passages contain one, and that were refused.
  Unanswerable-topic questions: the share refused.
- DISTRACTORS-ONLY: every document except the gold ones of the split's questions. Answerable
  questions: the share refused (should be high), and of those answered, how many answer texts
  contain an accepted answer anyway (the data is checked so that none should).

An accepted answer matches case-insensitively, whitespace- and NFKC-normalised, at word
boundaries ("$9" does not match "$95" or "$9.9"). Settings come from the environment (e.g.
LLM_PROVIDER), not from .env; CHROMA_HOST is cleared so a server's collection is never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from common import ROOT

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


DATA = ROOT / "tests" / "data" / "news_dev.json"
SPLITS = ("tune", "heldout")


# -- the data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    id: str
    split: str
    kind: str
    text: str
    answers: tuple[str, ...]
    gold: tuple[str, ...]
    distractors: tuple[str, ...]
    answerable: bool


def load(path: Path) -> tuple[list[dict[str, str]], list[Question]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    questions = [
        Question(
            id=q["id"],
            split=q["split"],
            kind=q["kind"],
            text=q["question"],
            answers=tuple(q["answers"]),
            gold=tuple(q["gold"]),
            distractors=tuple(q["distractors"]),
            answerable=q.get("answerable", bool(q["gold"])),
        )
        for q in data["questions"]
    ]
    return data["documents"], questions


def normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def matches(text: str, answers: Iterable[str]) -> bool:
    """Whether any accepted answer occurs in text (see the module docstring)."""
    haystack = normalise(text)
    return any(
        re.search(rf"(?<![0-9a-z]){re.escape(normalise(a))}(?![0-9a-z]|[.,][0-9])", haystack)
        for a in answers
        if a.strip()
    )


def check(documents: Sequence[dict[str, str]], questions: Sequence[Question]) -> list[str]:
    """The data's invariants: ids resolve, each gold document holds an accepted answer, and no
    other document holds one (so an answer from distractors alone cannot be right)."""
    texts = {d["id"]: d["text"] for d in documents}
    ids = Counter(d["id"] for d in documents)
    problems = [f"{i}: duplicate document id" for i, n in ids.items() if n > 1]
    for q in questions:
        for i in (*q.gold, *q.distractors):
            if i not in texts:
                problems.append(f"{q.id}: no document {i}")
        if q.answerable != bool(q.gold) or q.answerable != bool(q.answers):
            problems.append(f"{q.id}: answerable={q.answerable} but gold/answers disagree")
        for i, text in texts.items():
            if (i in q.gold) != matches(text, q.answers):
                where = "gold document lacks" if i in q.gold else "non-gold document holds"
                problems.append(f"{q.id}: {where} an accepted answer: {i}")
    return problems


def write_corpus(documents: Sequence[dict[str, str]], folder: Path) -> None:
    folder.mkdir(parents=True)
    for d in documents:
        front = f"---\ntitle: {d['title']}\ndate: {d['date']}\nurl: {d['url']}\n---\n\n"
        (folder / f"{d['id']}.md").write_text(front + d["text"] + "\n", encoding="utf-8")


# -- the product, through its Python API or its CLI ----------------------------------------------


@dataclass(frozen=True)
class Reply:
    text: str
    refused: bool
    passages: tuple[str, ...]
    confidence: float
    composer: str


class Bot(Protocol):
    def ask(self, question: str) -> Reply: ...


class ApiBot:
    """`Archive.ingest()` then `Archive.ask(question)` in this process (the fast way)."""

    def __init__(self, corpus: Path, data: Path) -> None:
        from retrieval import Archive, RetrievalSettings

        settings = RetrievalSettings(  # type: ignore[call-arg]
            _env_file=None, corpus_dir=corpus, data_dir=data, chroma_host=""
        )
        self.archive = Archive(settings)
        self.archive.ingest()

    def ask(self, question: str) -> Reply:
        asked = self.archive.ask(question)
        a: Any = getattr(asked, "answer", asked)  # an AnswerStream (newer API) or the Answer
        passages = tuple(c.passage for c in a.citations)
        return Reply(a.text, a.refused, passages, a.confidence, a.composer)


class CliBot:
    """`citebot ingest DIR` then `citebot ask QUESTION --json`, one process per question."""

    def __init__(self, corpus: Path, data: Path) -> None:
        local = ROOT / ".venv" / "bin" / "citebot"
        self.command = str(local) if local.exists() else shutil.which("citebot") or "citebot"
        self.cwd = data.parent  # no .env here
        self.env = {
            **os.environ,
            "CORPUS_DIR": str(corpus),
            "DATA_DIR": str(data),
            "CHROMA_HOST": "",
        }
        self._run("ingest", str(corpus))

    def _run(self, *args: str) -> str:
        done = subprocess.run(
            [self.command, *args], capture_output=True, text=True, env=self.env, cwd=self.cwd
        )
        if done.returncode:
            raise SystemExit(f"citebot {args[0]} failed ({done.returncode}): {done.stderr}")
        return done.stdout

    def ask(self, question: str) -> Reply:
        a = json.loads(self._run("ask", question, "--json").strip().splitlines()[-1])
        passages = tuple(c.get("passage", "") for c in a["citations"])
        return Reply(
            a["text"], a["refused"], passages, a.get("confidence", 0.0), a.get("composer", "")
        )


# -- measuring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    question: Question
    setting: str  # "full" or "distractors"
    reply: Reply

    @property
    def in_text(self) -> bool:
        return not self.reply.refused and matches(self.reply.text, self.question.answers)

    @property
    def in_cited(self) -> bool:
        return any(matches(p, self.question.answers) for p in self.reply.passages)


def run_split(
    documents: Sequence[dict[str, str]],
    questions: Sequence[Question],
    full: Bot,
    make_bot: Callable[[Path, Path], Bot],
    root: Path,
    split: str,
) -> list[Record]:
    records = [Record(q, "full", full.ask(q.text)) for q in questions]
    gold = {g for q in questions for g in q.gold}
    folder = root / f"distractors-{split}"
    write_corpus([d for d in documents if d["id"] not in gold], folder / "corpus")
    bot = make_bot(folder / "corpus", folder / "data")
    records += [Record(q, "distractors", bot.ask(q.text)) for q in questions if q.answerable]
    return records


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def summarise(records: Sequence[Record]) -> dict[str, Any]:
    full = [r for r in records if r.setting == "full" and r.question.answerable]
    unanswerable = [r for r in records if r.setting == "full" and not r.question.answerable]
    only = [r for r in records if r.setting == "distractors"]
    answered_only = [r for r in only if not r.reply.refused]
    kinds: dict[str, list[Record]] = {}
    for r in full:
        kinds.setdefault(r.question.kind, []).append(r)
    return {
        "full": {
            "questions": len(full),
            "answer_in_text": share(sum(r.in_text for r in full), len(full)),
            "answer_in_cited": share(sum(r.in_cited for r in full), len(full)),
            "refused": share(sum(r.reply.refused for r in full), len(full)),
        },
        "distractors_only": {
            "questions": len(only),
            "refused": share(sum(r.reply.refused for r in only), len(only)),
            "answered": len(answered_only),
            "answered_with_accepted_answer": sum(
                matches(r.reply.text, r.question.answers) for r in answered_only
            ),
        },
        "unanswerable_topic": {
            "questions": len(unanswerable),
            "refused": share(sum(r.reply.refused for r in unanswerable), len(unanswerable)),
        },
        "answer_in_text_by_kind": {
            kind: {
                "questions": len(rs),
                "answer_in_text": share(sum(r.in_text for r in rs), len(rs)),
            }
            for kind, rs in sorted(kinds.items())
        },
    }


def show_failures(records: Sequence[Record]) -> None:
    for r in records:
        q = r.question
        if r.setting == "full" and q.answerable and not r.in_text:
            why = "refused" if r.reply.refused else "answer not in text"
        elif r.setting == "full" and not q.answerable and not r.reply.refused:
            why = "answered an unanswerable-topic question"
        elif r.setting == "distractors" and not r.reply.refused:
            why = "answered from distractors only"
        else:
            continue
        cited = "yes" if r.in_cited else "no"
        print(f"--- {q.id} [{q.split}, {q.kind}, {r.setting}] {why}")
        print(f"Q: {q.text}")
        print(f"expected: {' | '.join(q.answers) or '(refusal)'}; in cited passages: {cited}")
        print(f"confidence {r.reply.confidence:.3f}: {' '.join(r.reply.text.split())}")
    print()


def render(summaries: dict[str, dict[str, Any]]) -> str:
    def pct(value: float | None) -> str:
        return "–" if value is None else f"{100 * value:.0f}%"

    names = list(summaries)
    lines = [
        "| measure | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    rows = (
        ("FULL: answer in text", "full", "answer_in_text"),
        ("FULL: answer in cited passages", "full", "answer_in_cited"),
        ("FULL: refused", "full", "refused"),
        ("DISTRACTORS-ONLY: refused", "distractors_only", "refused"),
        ("unanswerable topic: refused", "unanswerable_topic", "refused"),
    )
    for label, group, key in rows:
        cells = [pct(summaries[n][group][key]) for n in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    counts = [
        f"{s['full']['questions']} / {s['distractors_only']['questions']}"
        f" / {s['unanswerable_topic']['questions']}"
        for s in summaries.values()
    ]
    lines.append("| questions (full / distractors / unanswerable) | " + " | ".join(counts) + " |")
    wrong = [
        f"{s['distractors_only']['answered_with_accepted_answer']}"
        f" of {s['distractors_only']['answered']}"
        for s in summaries.values()
    ]
    lines.append(
        "| DISTRACTORS-ONLY: answered with an accepted answer | " + " | ".join(wrong) + " |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=(*SPLITS, "all"), default="all")
    parser.add_argument("--data", type=Path, default=DATA, help="the dev set (JSON)")
    parser.add_argument("--cli", action="store_true", help="ask through the citebot CLI (slow)")
    parser.add_argument("--json", action="store_true", help="one JSON object on the last line")
    parser.add_argument("--show-failures", action="store_true")
    parser.add_argument("--check", action="store_true", help="only check the data's invariants")
    args = parser.parse_args()

    documents, questions = load(args.data)
    if args.check:
        problems = check(documents, questions)
        print("\n".join(problems) or f"ok: {len(documents)} documents, {len(questions)} questions")
        sys.exit(1 if problems else 0)
    splits = SPLITS if args.split == "all" else (args.split,)
    make_bot: Callable[[Path, Path], Bot] = CliBot if args.cli else ApiBot
    started = time.perf_counter()
    records: list[Record] = []
    with tempfile.TemporaryDirectory(prefix="citebot-news-dev-") as tmp:
        root = Path(tmp)
        write_corpus(documents, root / "full" / "corpus")
        full = make_bot(root / "full" / "corpus", root / "full" / "data")
        for split in splits:
            asked = [q for q in questions if q.split == split]
            records += run_split(documents, asked, full, make_bot, root, split)

    summaries = {s: summarise([r for r in records if r.question.split == s]) for s in splits}
    if len(splits) > 1:
        summaries["all"] = summarise(records)
    composers = Counter(r.reply.composer for r in records)
    if args.show_failures:
        show_failures(records)
    seconds = round(time.perf_counter() - started, 1)
    print(f"{len(documents)} documents, {len(questions)} questions, {seconds} s, {dict(composers)}")
    print(render(summaries))
    if args.json:
        print(
            json.dumps(
                {
                    "data": str(args.data),
                    "documents": len(documents),
                    "backend": "cli" if args.cli else "api",
                    "composers": dict(composers),
                    "seconds": seconds,
                    "splits": summaries,
                    "results": [
                        {
                            "id": r.question.id,
                            "setting": r.setting,
                            "refused": r.reply.refused,
                            "answer_in_text": r.in_text,
                            "answer_in_cited": r.in_cited,
                        }
                        for r in records
                    ],
                }
            )
        )


if __name__ == "__main__":
    main()
