"""What each retrieval change did: SciFact nDCG@10 and SQuAD-dev paragraph recall, one
configuration at a time, on the tuning half (even-numbered questions), the held-out half
(odd) and all of them.

    .venv/bin/python benchmarks/eval_ablation.py [--cache /tmp/citebot-eval-cache]

It opens (or builds, once: ~25 min on 2 cores) the same cached indexes as
`citebot eval ... --cache DIR`, then only re-ranks: every configuration runs the product's
`Searcher` with other `SearchParams`, and a BM25 index rebuilt with other k1/b.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path

from common import EVAL

from retrieval.eval.data import EvalSet, load_beir, load_squad
from retrieval.eval.run import EvalIndex, RankingScores, evaluate_beir, select
from retrieval.search.hybrid import SearchParams
from retrieval.settings import RetrievalSettings


@dataclass(frozen=True)
class Config:
    name: str
    params: SearchParams
    k1: float
    b: float


CONFIGS = (
    Config("plain RRF (k=60), BM25 k1=1.2 b=0.75", SearchParams(fusion="rrf"), 1.2, 0.75),
    Config(
        "cosine + 0.5 × BM25/max, BM25 1.2/0.75",
        SearchParams(title_weight=0.0),
        1.2,
        0.75,
    ),
    Config("… and BM25 k1=0.4 b=0.4", SearchParams(title_weight=0.0), 0.4, 0.4),
    Config("… and title coverage × 0.1 (citebot)", SearchParams(), 0.4, 0.4),
)


def open_index(data: EvalSet, cache: Path, params: SearchParams) -> EvalIndex:
    """The cached evaluation index, searched with `params` (its BM25 built with their k1/b)."""
    settings = RetrievalSettings(_env_file=None)  # type: ignore[call-arg]
    return EvalIndex(data, settings, cache_dir=cache, params=params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/citebot-eval-cache"))
    args = parser.parse_args()
    scifact = load_beir(EVAL / "scifact", split="train")
    squad = load_squad(EVAL / "squad" / "dev-v1.1.json", every=5)
    data = {"scifact": scifact, "squad": squad}
    questions = {"scifact": scifact.questions, "squad": squad.questions}
    print(
        "| configuration | SciFact nDCG@10 tune / held-out / all"
        " | SQuAD R@1 tune / held-out / all | SQuAD R@5 all |"
    )
    print("|---|---|---|---|")
    for config in CONFIGS:
        cells = []
        recall5 = 0.0
        for name, eval_set in data.items():
            params = replace(config.params, bm25_k1=config.k1, bm25_b=config.b)
            index = open_index(eval_set, args.cache, params)
            halves = {
                subset: evaluate_beir(index, select(questions[name], subset)).stages["final"]
                for subset in ("even", "odd")
            }
            n_even = len(select(questions[name], "even"))
            n_odd = len(questions[name]) - n_even

            def figure(scores: RankingScores, dataset: str = name) -> float:
                return scores.ndcg_at_10 if dataset == "scifact" else scores.recall_at_1

            both = (n_even * figure(halves["even"]) + n_odd * figure(halves["odd"])) / (
                n_even + n_odd
            )
            figures = [figure(halves["even"]), figure(halves["odd"]), both]
            if name == "squad":
                recall5 = (
                    n_even * halves["even"].recall_at_5 + n_odd * halves["odd"].recall_at_5
                ) / (n_even + n_odd)
            cells.append(" / ".join(f"{v:.3f}" for v in figures))
        print(f"| {config.name} | {cells[0]} | {cells[1]} | {recall5:.3f} |", flush=True)


if __name__ == "__main__":
    main()
