"""Training pairs for the reader, made by code from SQuAD v1.1 train (seeded, reproducible).

Each pair is (question, title, sentence) with a label: 1 if the sentence answers the question
(then also where the answer stands in it), 0 if not. Four kinds of pairs:

- positives: the sentence that holds the crowd's answer span;
- paragraph negatives: the paragraph's other sentences (the one sharing most of the
  question's words first: the hard ones);
- article negatives: a sentence of another paragraph of the same article that shares the
  question's words;
- unanswerable edits, made the way SQuAD 2.0's crowd made its unanswerable questions
  (Rajpurkar, Jia & Liang 2018, section 4): the question edited so that its answer sentence
  no longer answers it (another entity of the article swapped in, another year or number, a
  negation, an antonym, an impossible condition, another content word), paired with that
  sentence;
- echoes: the question itself, or as a headline, as the sentence (a question found in a
  document answers nothing).

A quarter of the pairs carry a document date in their title, as news does ("Title
(2018-07-15)"): a random one, which changes nothing, or, for a question made unanswerable by
the year it adds ("… in 1743?"), a date in that year, which makes it answerable again.

A negative sentence that contains the answer text is left out (it may answer too). Whole
articles are held out for validation, so that no paragraph is on both sides.

    python training/reader_data.py     # counts per kind and a few examples of each edit
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval.answer.reader_inputs import heading  # noqa: E402
from retrieval.text import STOPWORDS, sentence_spans, terms  # noqa: E402

SQUAD_TRAIN = ROOT.parent / "shared" / "train" / "squad" / "train-v1.1.json"


@dataclass(frozen=True)
class Pair:
    question: str
    title: str
    sentence: str
    label: int  # 1: the sentence answers the question
    start: int = -1  # the answer's character span in `sentence` (positives only)
    end: int = -1
    kind: str = "positive"


@dataclass(frozen=True)
class Mix:
    """How many pairs of each kind a question gives (expected values)."""

    paragraph_negatives: float = 1.5  # the hardest one always, a random other one half the time
    article_negatives: float = 0.5
    edits: float = 0.75
    echoes: float = 0.12  # the question itself, or as a headline, as a sentence: no answer
    # Share of a question's pairs whose title carries a document date, as news does: a random
    # one, or (for a year the question adds as a condition) one of that year, which answers it.
    dated: float = 0.25


# --- the edits ---------------------------------------------------------------------------------

ANTONYMS = dict(
    pair
    for a, b in (
        ("first", "last"),
        ("largest", "smallest"),
        ("biggest", "smallest"),
        ("most", "least"),
        ("highest", "lowest"),
        ("longest", "shortest"),
        ("oldest", "newest"),
        ("earliest", "latest"),
        ("before", "after"),
        ("increase", "decrease"),
        ("increased", "decreased"),
        ("rise", "fall"),
        ("rose", "fell"),
        ("north", "south"),
        ("northern", "southern"),
        ("east", "west"),
        ("eastern", "western"),
        ("won", "lost"),
        ("win", "lose"),
        ("maximum", "minimum"),
        ("older", "younger"),
        ("early", "late"),
        ("earlier", "later"),
        ("began", "ended"),
        ("start", "end"),
        ("started", "ended"),
        ("larger", "smaller"),
        ("higher", "lower"),
        ("more", "fewer"),
        ("best", "worst"),
        ("better", "worse"),
        ("top", "bottom"),
        ("upper", "lower"),
        ("inside", "outside"),
        ("internal", "external"),
        ("public", "private"),
        ("major", "minor"),
        ("positive", "negative"),
        ("accepted", "rejected"),
        ("allowed", "banned"),
        ("supported", "opposed"),
        ("import", "export"),
        ("imports", "exports"),
        ("entered", "left"),
        ("open", "closed"),
        ("opened", "closed"),
        ("male", "female"),
        ("men", "women"),
        ("modern", "ancient"),
        ("western", "eastern"),
        ("wet", "dry"),
        ("hot", "cold"),
        ("warmest", "coldest"),
        ("strong", "weak"),
        ("rich", "poor"),
        ("success", "failure"),
        ("successful", "unsuccessful"),
        ("legal", "illegal"),
        ("common", "rare"),
        ("gained", "lost"),
        ("bought", "sold"),
        ("buy", "sell"),
        ("above", "below"),
        ("total", "partial"),
        ("primary", "secondary"),
    )
    for pair in ((a, b), (b, a))
)

_AUXILIARY = re.compile(
    r"^((?:\w+\s+){0,3}?)(is|was|are|were|can|could|will|would|has|have|had|should)\s+(?!not\b)",
    re.IGNORECASE,
)
_YEAR = re.compile(r"\b(1[5-9]\d\d|20[0-2]\d)\b")
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)?\b")
_CAPITALISED = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+(?:of\s+|the\s+|de\s+|and\s+)?[A-Z][\w'’.-]*)*")
_WORD = re.compile(r"[A-Za-z][a-z]+")
_WH = frozenset(
    "what who whom whose when where which why how in on at the a an during along for to from by "
    "according after besides if with as is are did does do was were".split()
)


def entities(text: str) -> list[str]:
    """Capitalised runs of words ("Kanye West", "University of Chicago"), without a capitalised
    question or function word at their start."""
    found = []
    for match in _CAPITALISED.finditer(text):
        # A run does not cross a sentence's end ("Austria. In February").
        for piece in re.split(r"(?<=[a-z]{2})\.\s+", match.group()):
            words = piece.rstrip(".").split() if piece.count(".") == 1 else piece.split()
            while words and words[0].lower() in _WH | STOPWORDS:
                words = words[1:]
            if words and len(" ".join(words)) > 2:
                found.append(" ".join(words))
    return found


def _replace_once(text: str, old: str, new: str) -> str | None:
    match = re.search(rf"(?<![\w]){re.escape(old)}(?![\w])", text)
    if match is None:
        return None
    return text[: match.start()] + new + text[match.end() :]


def swap_entity(
    question: str, sentence: str, pool: Sequence[str], rng: random.Random
) -> str | None:
    """Another of the article's entities in place of one the question names."""
    named = [e for e in entities(question) if e in sentence]
    if not named:
        return None
    old = rng.choice(named)
    lowered = sentence.lower()
    options = [
        e
        for e in pool
        if e.lower() not in lowered
        and e.lower() not in question.lower()
        and abs(len(e.split()) - len(old.split())) <= 1
    ]
    if not options:
        return None
    return _replace_once(question, old, rng.choice(options))


def swap_number(question: str, sentence: str, rng: random.Random) -> str | None:
    """Another year or number in place of one the question names (and the sentence has)."""
    years = [m for m in _YEAR.finditer(question) if m.group() in sentence]
    if years:
        match = rng.choice(years)
        year = int(match.group())
        for _ in range(10):
            other = str(year + rng.choice([-1, 1]) * rng.randint(1, 40))
            if other not in sentence:
                return question[: match.start()] + other + question[match.end() :]
        return None
    numbers = [m for m in _NUMBER.finditer(question) if m.group() in sentence]
    if not numbers:
        return None
    match = rng.choice(numbers)
    value = float(match.group().replace(",", ""))
    other_value = value * rng.choice([2, 3, 0.5, 10]) + rng.choice([0, 1, 5])
    other = f"{other_value:,.0f}" if other_value >= 1 else f"{other_value:g}"
    if other in sentence or other == match.group():
        return None
    return question[: match.start()] + other + question[match.end() :]


def negate(question: str, sentence: str) -> str | None:
    """ "Who was the first …" → "Who was not the first …" (when the sentence has no negation)."""
    if re.search(r"\b(not|never|no)\b|n't", sentence):
        return None
    match = _AUXILIARY.match(question)
    if match is None or match.group(1).strip().lower() not in _WH_PREFIXES:
        return None
    return question[: match.end()] + "not " + question[match.end() :]


_WH_PREFIXES = frozenset(
    ["what", "who", "which", "where", "when", "how", "why", "how many", "how much", "what year"]
)


def antonym(question: str, sentence: str) -> str | None:
    """A word of the question (and the sentence) turned into its opposite."""
    lowered = sentence.lower()
    for match in _WORD.finditer(question):
        word = match.group()
        opposite = ANTONYMS.get(word.lower())
        if word.istitle() and match.start() > 0:
            continue  # a name ("Kanye West"), not a word with an opposite
        if opposite and word.lower() in lowered and opposite not in lowered:
            new = opposite.capitalize() if word[0].isupper() else opposite
            return question[: match.start()] + new + question[match.end() :]
    return None


def impossible_condition(question: str, paragraph: str, rng: random.Random) -> str | None:
    """A condition the paragraph cannot meet: a year it never mentions."""
    body = question.rstrip(" ?")
    if not question.endswith("?") or re.match(r"(?i)(when|what year|in what year)\b", question):
        return None
    for _ in range(10):
        year = str(rng.randint(1600, 2015))
        if year not in paragraph:
            condition = rng.choice(["in", "before", "after", "in", "by"])
            return f"{body} {condition} {year}?"
    return None


def swap_word(
    question: str, sentence: str, vocabulary: Sequence[str], rng: random.Random
) -> str | None:
    """Another content word of the article in place of one the question shares with the
    sentence ("Which river …" → "Which mountain …")."""
    lowered = sentence.lower()
    shared = [
        m
        for m in _WORD.finditer(question)
        if m.group().islower() and m.group() not in STOPWORDS and len(m.group()) > 3
        if m.group() in lowered
    ]
    if not shared:
        return None
    match = rng.choice(shared)
    options = [w for w in vocabulary if w not in lowered and w != match.group()]
    if not options:
        return None
    return question[: match.start()] + rng.choice(options) + question[match.end() :]


EDITS = ("entity", "number", "negation", "antonym", "condition", "word")


def edit(
    question: str,
    sentence: str,
    paragraph: str,
    article: _Article,
    rng: random.Random,
) -> tuple[str, str] | None:
    """The question made unanswerable by its sentence, and how; None if no edit applies."""
    kinds = list(EDITS)
    rng.shuffle(kinds)
    # The edits that change what the question names first, as the crowd mostly did.
    kinds.sort(key=lambda k: k not in ("entity", "number", "antonym", "negation"))
    for kind in kinds:
        if kind == "entity":
            # Another entity of the same paragraph first (the crowd's way), else the article's.
            new = swap_entity(question, sentence, entities(paragraph), rng) or swap_entity(
                question, sentence, article.entities, rng
            )
        elif kind == "number":
            new = swap_number(question, sentence, rng)
        elif kind == "negation":
            new = negate(question, sentence) if rng.random() < 0.5 else None
        elif kind == "antonym":
            new = antonym(question, sentence)
        elif kind == "condition":
            new = impossible_condition(question, paragraph, rng) if rng.random() < 0.5 else None
        else:
            new = swap_word(question, sentence, article.vocabulary, rng)
        if new and new != question:
            return new, kind
    return None


# --- the pairs ---------------------------------------------------------------------------------


@dataclass
class _Article:
    title: str
    paragraphs: list[tuple[str, list[tuple[int, int]], list[dict]]]
    entities: list[str]
    vocabulary: list[str]


def load_articles(path: Path = SQUAD_TRAIN) -> list[_Article]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    articles = []
    for raw in data:
        title = str(raw["title"]).replace("_", " ").strip()
        paragraphs = []
        entity_counts: Counter[str] = Counter()
        words: Counter[str] = Counter()
        for p in raw["paragraphs"]:
            context = p["context"]
            paragraphs.append((context, sentence_spans(context), p["qas"]))
            entity_counts.update(entities(context))
            words.update(w for w in _WORD.findall(context) if w.islower() and len(w) > 3)
        vocabulary = [w for w, _ in words.most_common() if w not in STOPWORDS][:400]
        articles.append(_Article(title, paragraphs, sorted(entity_counts), vocabulary))
    return articles


def split_articles(
    articles: Sequence[_Article], held_out: int, seed: int
) -> tuple[list[_Article], list[_Article]]:
    """(training articles, validation articles): whole articles held out, chosen by seed."""
    order = sorted(range(len(articles)), key=lambda i: articles[i].title)
    random.Random(seed).shuffle(order)
    validation = {articles[i].title for i in order[:held_out]}
    return (
        [a for a in articles if a.title not in validation],
        [a for a in articles if a.title in validation],
    )


def _overlap(question_terms: set[str], sentence: str) -> int:
    return len(question_terms & set(terms(sentence)))


def article_pairs(article: _Article, rng: random.Random, mix: Mix) -> Iterator[Pair]:
    """The pairs of one article, question by question."""
    sentences_of = [
        [(context[a:b], a, b) for a, b in spans] for context, spans, _ in article.paragraphs
    ]
    for index, (context, _spans, questions) in enumerate(article.paragraphs):
        for qa in questions:
            answer = qa["answers"][0]
            start, text = int(answer["answer_start"]), str(answer["text"])
            end = start + len(text)
            holding = [s for s in sentences_of[index] if s[1] <= start and end <= s[2]]
            if not holding or not text.strip():
                continue  # an answer across a sentence boundary: no clean positive
            sentence, s_start, _ = holding[0]
            question = " ".join(str(qa["question"]).split())
            span = (start - s_start, end - s_start)
            pairs = [Pair(question, article.title, sentence, 1, *span)]
            pairs += _negatives(question, text, sentence, index, sentences_of, article, rng, mix)
            if rng.random() < mix.edits:
                edited = edit(question, sentence, context, article, rng)
                if edited is not None:
                    pairs.append(
                        Pair(edited[0], article.title, sentence, 0, kind=f"edit-{edited[1]}")
                    )
            if rng.random() < mix.echoes:
                pairs.append(Pair(question, article.title, echo(question, rng), 0, kind="echo"))
            yield from _dated(pairs, span, rng, mix)


def echo(question: str, rng: random.Random) -> str:
    """The question as a sentence of a document: verbatim, or as a headline ("The 2021 Tour de
    France: who won?", "… – what we know")."""
    if rng.random() < 0.5:
        return question
    body = question.rstrip(" ?")
    return body + rng.choice([": what we know", " – explained", ": live updates", "?"])


def _dated(
    pairs: list[Pair], span: tuple[int, int], rng: random.Random, mix: Mix
) -> Iterator[Pair]:
    """The pairs, some with a document date in their title. A question made unanswerable by a
    year it adds ("… in 1743?") is answered by its sentence in a document of that year."""
    for pair in pairs:
        condition = re.search(r" in (\d{4})\?$", pair.question)
        if pair.kind == "edit-condition" and condition and rng.random() < 0.5:
            year = int(condition.group(1))
            pair = replace(pair, label=1, start=span[0], end=span[1], kind="dated-condition")
        elif rng.random() < mix.dated:
            year = rng.randint(1950, 2025)
        else:
            yield pair
            continue
        day = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        yield replace(pair, title=heading(pair.title, day))


def _negatives(
    question: str,
    answer: str,
    sentence: str,
    index: int,
    sentences_of: list[list[tuple[str, int, int]]],
    article: _Article,
    rng: random.Random,
    mix: Mix,
) -> Iterator[Pair]:
    question_terms = set(terms(question))
    lowered = answer.lower()

    def usable(text: str) -> bool:
        return text != sentence and lowered not in text.lower() and len(text) >= 12

    others = [s for s, _, _ in sentences_of[index] if usable(s)]
    if others:
        others.sort(key=lambda s: -_overlap(question_terms, s))
        yield Pair(question, article.title, others[0], 0, kind="paragraph")
        if len(others) > 1 and rng.random() < mix.paragraph_negatives - 1:
            yield Pair(question, article.title, rng.choice(others[1:]), 0, kind="paragraph")
    if rng.random() < mix.article_negatives and len(sentences_of) > 1:
        pool = [
            s
            for i in rng.sample(range(len(sentences_of)), min(8, len(sentences_of)))
            if i != index
            for s, _, _ in sentences_of[i]
            if usable(s)
        ]
        if pool:
            best = max(pool, key=lambda s: _overlap(question_terms, s))
            if _overlap(question_terms, best) > 0:
                yield Pair(question, article.title, best, 0, kind="article")


def sample_questions(articles: Sequence[_Article], questions: int, seed: int) -> list[_Article]:
    """The articles with only a seeded sample of `questions` questions left in them."""
    keys = [
        (a, p, q)
        for a, article in enumerate(articles)
        for p, (_, _, qas) in enumerate(article.paragraphs)
        for q in range(len(qas))
    ]
    rng = random.Random(seed)
    chosen = set(rng.sample(keys, min(questions, len(keys))))
    sampled = []
    for a, article in enumerate(articles):
        paragraphs = [
            (context, spans, [qa for q, qa in enumerate(qas) if (a, p, q) in chosen])
            for p, (context, spans, qas) in enumerate(article.paragraphs)
        ]
        sampled.append(_Article(article.title, paragraphs, article.entities, article.vocabulary))
    return sampled


def make(
    seed: int = 13, questions: int = 56_000, held_out: int = 12, path: Path = SQUAD_TRAIN
) -> tuple[list[Pair], list[Pair]]:
    """(training pairs, validation pairs), reproducibly from the seed."""
    articles = load_articles(path)
    train, validation = split_articles(articles, held_out, seed)
    train = sample_questions(train, questions, seed)
    train_pairs = [
        p for a in train for p in article_pairs(a, random.Random(f"{seed}-{a.title}"), Mix())
    ]
    random.Random(seed).shuffle(train_pairs)
    validation_pairs = [
        p for a in validation for p in article_pairs(a, random.Random(f"{seed}-{a.title}"), Mix())
    ]
    random.Random(seed + 1).shuffle(validation_pairs)
    return train_pairs, validation_pairs


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pairs_sha256(pairs: Sequence[Pair]) -> str:
    digest = hashlib.sha256()
    for pair in pairs:
        digest.update(json.dumps(asdict(pair), sort_keys=True).encode())
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--questions", type=int, default=56_000)
    parser.add_argument("--examples", type=int, default=3, help="examples shown per kind")
    args = parser.parse_args()
    train, validation = make(args.seed, args.questions)
    print(f"training pairs {len(train):,}, validation pairs {len(validation):,}")
    print(f"training pairs sha256 {pairs_sha256(train)}")
    kinds = Counter(p.kind for p in train)
    for kind, count in kinds.most_common():
        print(f"  {kind:16s} {count:7,d}")
    rng = random.Random(0)
    for kind in kinds:
        if kind.startswith("edit-"):
            for pair in rng.sample([p for p in train if p.kind == kind], args.examples):
                print(f"[{kind}] {pair.question}  ||  {pair.sentence[:120]}")


if __name__ == "__main__":
    main()
