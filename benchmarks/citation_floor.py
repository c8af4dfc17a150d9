"""Where to put the support floor of the citation checker (retrieval/citecheck.py).

A cited sentence must share real content with its passage. This measures the checker's score
(the IDF-weighted share of the sentence's content terms found in the passage) on SQuAD v1.1
dev (../shared/eval/squad/dev-v1.1.json):

- faithful pairs: a sentence that the paragraph supports, paired with that paragraph, of three
  kinds: "qa" (a crowd-written question about the paragraph, turned into a statement with its
  answer: "Denver Broncos: NFL team represented the AFC at Super Bowl 50."), "para" (a
  sentence of the paragraph, lightly paraphrased: about a quarter of its words dropped and
  filler words of its own added) and "reworded" (a third of a sentence's content words
  swapped for words the paragraph does not use, a stand-in for synonyms);
- wrong pairs: the same sentences paired with another paragraph of the same article (hard: same
  topic, the LLM cited the wrong passage) and with a paragraph of another article (easy).

It prints, for each floor, the share of faithful sentences kept and of wrong citations
rejected, the unweighted share alongside for comparison, with --embedding the cosine
similarity of the bundled MiniLM as a third score, and how many ordinary sentences (SQuAD and
SciFact) the prompt-injection detector would mistake for instructions to an AI:

    .venv/bin/python benchmarks/citation_floor.py [--pairs 3000] [--embedding]
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from common import SCIFACT, SQUAD

from retrieval.answer.citecheck import SUPPORT_FLOOR, looks_like_instructions, support
from retrieval.text import sentences, terms

FILLER = (
    "notably",
    "overall",
    "essentially",
    "subsequently",
    "particularly",
    "approximately",
    "considerable",
    "eventually",
    "indeed",
    "ultimately",
)
_WH = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how"}


@dataclass(frozen=True)
class Pair:
    sentence: str
    paragraph: int  # index into the paragraph list
    kind: str  # qa | para | reworded
    truth: str  # faithful | same-article | other-article


def load(path: Path) -> tuple[list[str], list[int], list[list[tuple[str, str]]]]:
    """Paragraphs (with their article title), article index per paragraph, Q&A per paragraph."""
    paragraphs, articles, qas = [], [], []
    for a, article in enumerate(json.loads(path.read_text(encoding="utf-8"))["data"]):
        title = article["title"].replace("_", " ")
        for paragraph in article["paragraphs"]:
            paragraphs.append(f"{title}\n{paragraph['context']}")
            articles.append(a)
            qas.append([(q["question"], q["answers"][0]["text"]) for q in paragraph["qas"]])
    return paragraphs, articles, qas


def qa_statement(question: str, answer: str) -> str:
    words = question.rstrip(" ?").split()
    while words and words[0].lower() in _WH:
        words = words[1:]
    return f"{answer}: {' '.join(words)}."


def paraphrase(sentence: str, rng: random.Random) -> str:
    words = sentence.split()
    kept = [w for w in words if rng.random() > 0.25] or words[:1]
    for _ in range(1 + len(kept) // 12):
        kept.insert(rng.randrange(len(kept) + 1), rng.choice(FILLER))
    return " ".join(kept)


def reword(sentence: str, vocabulary: Sequence[str], rng: random.Random) -> str:
    """A heavier paraphrase: a third of the content words swapped for words from elsewhere
    (stand-ins for synonyms the paragraph does not use)."""
    out = []
    for word in sentence.split():
        if terms(word) and rng.random() < 0.33:
            out.append(rng.choice(vocabulary))
        else:
            out.append(word)
    return " ".join(out)


def make_pairs(
    paragraphs: list[str], articles: list[int], qas: list[list[tuple[str, str]]], n: int
) -> list[Pair]:
    rng = random.Random(7)
    by_article: dict[int, list[int]] = {}
    for i, a in enumerate(articles):
        by_article.setdefault(a, []).append(i)
    vocabulary = sorted({w for p in paragraphs[::7] for w in p.split() if w.isalpha()})
    pairs: list[Pair] = []
    for _ in range(n // 3):
        i = rng.randrange(len(paragraphs))
        question, answer = rng.choice(qas[i])
        body = paragraphs[i].split("\n", 1)[1]
        candidates = [s for s in sentences(body) if len(s.split()) >= 6] or [body]
        for kind, sentence in (
            ("qa", qa_statement(question, answer)),
            ("para", paraphrase(rng.choice(candidates), rng)),
            ("reworded", reword(rng.choice(candidates), vocabulary, rng)),
        ):
            pairs.append(Pair(sentence, i, kind, "faithful"))
            same = [j for j in by_article[articles[i]] if j != i]
            pairs.append(Pair(sentence, rng.choice(same), kind, "same-article"))
            other = rng.randrange(len(paragraphs))
            while articles[other] == articles[i]:
                other = rng.randrange(len(paragraphs))
            pairs.append(Pair(sentence, other, kind, "other-article"))
    return pairs


def auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """Probability that a faithful pair outscores a wrong one (ties count half)."""
    ranked = sorted([(s, 1) for s in positive] + [(s, 0) for s in negative])
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        rank_sum += sum(1 for k in range(i, j) if ranked[k][1]) * (i + j + 1) / 2
        i = j
    n_pos, n_neg = len(positive), len(negative)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def report(name: str, pairs: list[Pair], score: Callable[[Pair], float]) -> None:
    scores = [score(p) for p in pairs]
    groups: dict[tuple[str, str], list[float]] = {}
    for pair, s in zip(pairs, scores, strict=True):
        groups.setdefault((pair.kind, pair.truth), []).append(s)
    faithful = [s for p, s in zip(pairs, scores, strict=True) if p.truth == "faithful"]
    same = [s for p, s in zip(pairs, scores, strict=True) if p.truth == "same-article"]
    other = [s for p, s in zip(pairs, scores, strict=True) if p.truth == "other-article"]
    print(f"\n== {name} ==")
    print(
        f"AUC faithful vs same-article {auc(faithful, same):.3f}, vs other-article"
        f" {auc(faithful, other):.3f}"
    )
    print("floor  kept:qa  kept:para  kept:reworded  rejected:same-article  rejected:other-article")
    for step in range(0, 20):
        floor = step / 20
        kept_qa = _share(groups[("qa", "faithful")], floor, above=True)
        kept_para = _share(groups[("para", "faithful")], floor, above=True)
        kept_reworded = _share(groups[("reworded", "faithful")], floor, above=True)
        print(
            f"{floor:5.2f}  {kept_qa:7.1%}  {kept_para:9.1%}  {kept_reworded:13.1%}"
            f"  {_share(same, floor, above=False):21.1%}"
            f"  {_share(other, floor, above=False):22.1%}"
        )


def _share(values: Sequence[float], floor: float, above: bool) -> float:
    hits = sum(1 for v in values if (v >= floor) == above)
    return hits / len(values) if values else 0.0


def false_alarms(paragraphs: list[str]) -> None:
    """How often ordinary prose is mistaken for instructions to an AI (and cut from prompts)."""
    texts = [p.split("\n", 1)[1] for p in paragraphs]
    if (SCIFACT / "corpus.jsonl").exists():
        with (SCIFACT / "corpus.jsonl").open(encoding="utf-8") as lines:
            texts += [json.loads(line)["text"] for line in lines]
    all_sentences = [s for text in texts for s in sentences(text)]
    flagged = [s for s in all_sentences if looks_like_instructions(s)]
    print(
        f"\ninstruction-like sentences cut from prompts in SQuAD dev + SciFact prose:"
        f" {len(flagged)} of {len(all_sentences)}"
    )
    for sentence in flagged[:10]:
        print(f"  {sentence[:120]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=3000, help="faithful sentences to draw")
    parser.add_argument("--embedding", action="store_true", help="also score MiniLM cosine")
    args = parser.parse_args()

    paragraphs, articles, qas = load(SQUAD)
    paragraph_terms = [set(terms(p)) for p in paragraphs]
    df = Counter(t for ts in paragraph_terms for t in ts)
    n = len(paragraphs)

    def idf(term: str) -> float:
        d = df.get(term, 0)
        return math.log(1 + (n - d + 0.5) / (d + 0.5))

    pairs = make_pairs(paragraphs, articles, qas, args.pairs)
    sentence_terms = {p.sentence: terms(p.sentence) for p in pairs}
    print(
        f"SQuAD dev: {n} paragraphs; {len(pairs)} pairs"
        f" ({sum(p.truth == 'faithful' for p in pairs)} faithful); current floor {SUPPORT_FLOOR}"
    )
    report(
        "IDF-weighted term share (the checker's score)",
        pairs,
        lambda p: support(sentence_terms[p.sentence], paragraph_terms[p.paragraph], idf),
    )
    report(
        "unweighted term share",
        pairs,
        lambda p: support(sentence_terms[p.sentence], paragraph_terms[p.paragraph], lambda _: 1.0),
    )
    false_alarms(paragraphs)
    if args.embedding:
        from retrieval.index.embedding import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder()
        texts = sorted({p.sentence for p in pairs})
        wanted = sorted({p.paragraph for p in pairs})
        sentence_vectors = dict(zip(texts, embedder.embed(texts), strict=True))
        paragraph_vectors = dict(
            zip(wanted, embedder.embed([paragraphs[i] for i in wanted]), strict=True)
        )
        report(
            "MiniLM cosine similarity",
            pairs,
            lambda p: float(sentence_vectors[p.sentence] @ paragraph_vectors[p.paragraph]),
        )


if __name__ == "__main__":
    main()
