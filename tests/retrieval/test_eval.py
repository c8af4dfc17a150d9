"""`citebot eval`: data loading, metrics, and the harness run on tiny BEIR and SQuAD files that
the tests write themselves (real model, real Chroma, the product's ingest/search/answer)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import Settings
from retrieval.errors import InvalidEvalData
from retrieval.eval import run as evaluation
from retrieval.eval.data import load_beir, load_squad, read_qrels
from retrieval.eval.metrics import mrr_at, ndcg_at, percentile, recall_at, unique
from retrieval.eval.report import render, to_json
from retrieval.index.embedding import Embedder

# -- metrics ------------------------------------------------------------------------------------


def test_ndcg_rewards_relevant_documents_near_the_top() -> None:
    relevant = {"a": 1, "b": 1}
    assert ndcg_at(["a", "b", "x"], relevant, 10) == pytest.approx(1.0)
    assert ndcg_at(["x", "y"], relevant, 10) == 0.0
    one_late = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert ndcg_at(["x", "a", "y"], relevant, 10) == pytest.approx(one_late)
    assert ndcg_at(["x", "a"], relevant, 1) == 0.0  # the cut-off counts
    graded = {"a": 2, "b": 1}
    assert ndcg_at(["b", "a"], graded, 10) < ndcg_at(["a", "b"], graded, 10)


def test_recall_mrr_and_percentiles() -> None:
    relevant = {"a": 1, "b": 1, "c": 0}
    assert recall_at(["a", "x", "b"], relevant, 2) == 0.5
    assert recall_at(["a", "x", "b"], relevant, 3) == 1.0
    assert mrr_at(["x", "y", "b"], relevant, 10) == pytest.approx(1 / 3)
    assert mrr_at(["x", "y", "b"], relevant, 2) == 0.0
    assert mrr_at(["c"], relevant, 10) == 0.0  # grade 0 is not relevant
    assert percentile([5.0, 1.0, 3.0], 50) == 3.0
    assert percentile([1.0, 2.0], 95) == pytest.approx(1.95)
    assert percentile([], 50) == 0.0
    assert unique(["d1", "d2", "d1", "d3"]) == ["d1", "d2", "d3"]


# -- tiny data sets -------------------------------------------------------------------------------

DOCS = [
    (
        "d1",
        "Honey bees",
        "Honey bees collect nectar from flowers and store it as honey in wax combs.",
    ),
    ("d2", "Volcanoes", "A volcano erupts when magma from the mantle rises through the crust."),
    (
        "d3",
        "Penicillin",
        "Alexander Fleming discovered penicillin in 1928 after mould killed bacteria.",
    ),
    ("d4", "Chess openings", "The Sicilian Defence is a chess opening that begins with 1.e4 c5."),
    ("d5", "Coral reefs", "Coral reefs bleach when warm water makes corals expel their algae."),
    ("d6", "Jet engines", "A jet engine compresses air, burns fuel in it and expels the hot gas."),
    ("d7", "Sourdough", "Sourdough bread rises thanks to wild yeast and lactic acid bacteria."),
    ("d8", "Glaciers", "Glaciers carve U-shaped valleys as the ice slowly flows downhill."),
]
QUERIES = {
    "q1": "Who discovered penicillin?",
    "q2": "Why do corals bleach in warm water?",
    "q3": "How do bees make honey?",
    "q4": "What makes sourdough bread rise?",
    "q5": "An unjudged query that is never scored",
}
QRELS = [("q1", "d3", 1), ("q2", "d5", 1), ("q3", "d1", 1), ("q4", "d7", 2)]


def write_beir(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for key, title, text in DOCS:
            fh.write(json.dumps({"_id": key, "title": title, "text": text}) + "\n")
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as fh:
        for key, text in QUERIES.items():
            fh.write(json.dumps({"_id": key, "text": text, "metadata": {}}) + "\n")
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{s}" for q, d, s in QRELS]
    (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "qrels" / "train.tsv").write_text(f"{lines[0]}\nq1\td3\t1\n", encoding="utf-8")
    return folder


SQUAD = {
    "version": "1.1",
    "data": [
        {
            "title": "Super_Bowl_50",
            "paragraphs": [
                {
                    "context": "Super Bowl 50 was an American football game. The Denver Broncos"
                    " defeated the Carolina Panthers 24–10 to earn their third Super Bowl title."
                    " The game was played on February 7, 2016, at Levi's Stadium in Santa Clara.",
                    "qas": [
                        {
                            "id": "s1",
                            "question": "Which team won Super Bowl 50?",
                            "answers": [{"text": "Denver Broncos", "answer_start": 50}],
                        },
                        {
                            "id": "s2",
                            "question": "Where was Super Bowl 50 played?",
                            "answers": [
                                {"text": "Levi's Stadium", "answer_start": 0},
                                {"text": "Santa Clara", "answer_start": 0},
                            ],
                        },
                    ],
                },
                {
                    "context": "The halftime show of Super Bowl 50 was headlined by the British"
                    " rock group Coldplay, with special guest performers Beyoncé and Bruno Mars.",
                    "qas": [
                        {
                            "id": "s3",
                            "question": "Which band headlined the Super Bowl 50 halftime show?",
                            "answers": [{"text": "Coldplay", "answer_start": 0}],
                        }
                    ],
                },
            ],
        },
        {
            "title": "Photosynthesis",
            "paragraphs": [
                {
                    "context": "Photosynthesis is the process by which plants use sunlight, water"
                    " and carbon dioxide to make glucose. Oxygen is released as a by-product.",
                    "qas": [
                        {
                            "id": "p1",
                            "question": "What gas do plants release during photosynthesis?",
                            "answers": [{"text": "Oxygen", "answer_start": 0}],
                        }
                    ],
                },
                {
                    "context": "Chlorophyll, the green pigment in chloroplasts, absorbs red and"
                    " blue light most strongly and reflects green light.",
                    "qas": [
                        {
                            "id": "p2",
                            "question": "Which pigment absorbs light in chloroplasts?",
                            "answers": [{"text": "Chlorophyll", "answer_start": 0}],
                        }
                    ],
                },
            ],
        },
    ],
}


def write_squad(path: Path) -> Path:
    path.write_text(json.dumps(SQUAD), encoding="utf-8")
    return path


# -- loading ----------------------------------------------------------------------------------


def test_beir_loading_keeps_judged_queries_and_reads_qrels_from_anywhere(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "tiny")
    data = load_beir(folder)
    assert len(data.documents) == len(DOCS)
    assert data.documents[2].title == "Penicillin"
    assert [q.id for q in data.questions] == ["q1", "q2", "q3", "q4"]
    assert data.questions[3].relevant == {"d7": 2}
    assert [q.id for q in load_beir(folder, split="train").questions] == ["q1"]
    elsewhere = tmp_path / "my-qrels.tsv"
    elsewhere.write_text("q2\td5\t1\n", encoding="utf-8")  # no header line
    assert [q.id for q in load_beir(folder, qrels=elsewhere).questions] == ["q2"]
    trec = tmp_path / "trec.tsv"
    trec.write_text("q3\t0\td1\t1\n", encoding="utf-8")
    assert read_qrels(trec) == {"q3": {"d1": 1}}


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "corpus.jsonl").unlink(), "no corpus.jsonl"),
        (lambda f: (f / "corpus.jsonl").write_text("{not json\n"), "corpus.jsonl:1: not JSON"),
        (lambda f: (f / "qrels" / "test.tsv").unlink(), "no qrels file"),
        (lambda f: (f / "qrels" / "test.tsv").write_text("q1\td3\n"), "expected query-id"),
        (lambda f: (f / "qrels" / "test.tsv").write_text("q1\td3\thigh\n"), "not a number"),
        (lambda f: (f / "qrels" / "test.tsv").write_text("q9\td3\t1\n"), "not in queries"),
        (lambda f: (f / "qrels" / "test.tsv").write_text("q1\tnope\t1\n"), "no judged query"),
    ],
)
def test_malformed_beir_data_is_named_in_a_clear_error(
    tmp_path: Path, damage: Callable[[Path], object], message: str
) -> None:
    folder = write_beir(tmp_path / "tiny")
    damage(folder)
    with pytest.raises(InvalidEvalData, match=message):
        load_beir(folder)


def test_squad_paragraphs_become_documents_titled_by_their_article(tmp_path: Path) -> None:
    data = load_squad(write_squad(tmp_path / "tiny.json"))
    assert [d.title for d in data.documents] == ["Super Bowl 50"] * 2 + ["Photosynthesis"] * 2
    assert len({d.key for d in data.documents}) == 4
    by_id = {q.id: q for q in data.questions}
    assert by_id["s2"].answers == ("Levi's Stadium", "Santa Clara")
    assert by_id["s1"].relevant == {data.documents[0].key: 1}
    assert by_id["p2"].relevant == {data.documents[3].key: 1}
    assert [q.id for q in load_squad(tmp_path / "tiny.json", every=2).questions] == [
        "s1",
        "s3",
        "p2",
    ]
    assert len(load_squad(tmp_path / "tiny.json", limit=2).questions) == 2


def test_malformed_squad_files_get_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidEvalData, match="no SQuAD file"):
        load_squad(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InvalidEvalData, match="not a SQuAD"):
        load_squad(tmp_path / "bad.json")
    (tmp_path / "odd.json").write_text('{"data": [{"title": "x"}]}', encoding="utf-8")
    with pytest.raises(InvalidEvalData, match="unexpected SQuAD structure"):
        load_squad(tmp_path / "odd.json")


def test_question_subsets_split_into_complementary_halves(tmp_path: Path) -> None:
    questions = load_beir(write_beir(tmp_path / "tiny")).questions
    even = evaluation.select(questions, "even")
    odd = evaluation.select(questions, "odd")
    assert [q.id for q in even] == ["q1", "q3"] and [q.id for q in odd] == ["q2", "q4"]
    assert len(evaluation.select(questions, "all", limit=3)) == 3


# -- the harness, end to end ----------------------------------------------------------------------


def test_beir_evaluation_scores_every_stage_with_the_product_pipeline(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    embedder: Embedder,
) -> None:
    data = load_beir(write_beir(tmp_path / "tiny"))
    cache = tmp_path / "cache"
    with evaluation.eval_index(data, make_settings(), embedder, cache) as index:
        assert index.documents == len(DOCS) and index.chunks == len(DOCS)
        report = evaluation.evaluate_beir(index, data.questions)
    assert set(report.stages) == {"dense", "bm25", "fused", "final"}
    for stage, scores in report.stages.items():
        assert 0.0 <= scores.ndcg_at_10 <= 1.0, stage
        assert scores.recall_at_100 == 1.0, stage  # every document is a candidate
    assert report.stages["final"].ndcg_at_10 >= 0.9
    assert report.stages["final"].mrr_at_10 >= 0.9
    # The cached index is reused: nothing is embedded a second time.
    with evaluation.eval_index(data, make_settings(), embedder, cache) as again:
        assert again.ingest_report.chunks_embedded == 0
        assert again.ingest_report.unchanged
        assert evaluation.evaluate_beir(again, data.questions).stages == report.stages
    text = render(report)
    assert "nDCG@10" in text and "final" in text
    assert json.loads(to_json(report))["stages"]["final"]["ndcg_at_10"] >= 0.9


def test_a_temporary_index_is_removed_when_done(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    embedder: Embedder,
) -> None:
    data = load_beir(write_beir(tmp_path / "tiny"))
    with evaluation.eval_index(data, make_settings(), embedder) as index:
        root = index.root
        assert (root / "corpus").is_dir()
    assert not root.exists()


def test_squad_evaluation_checks_paragraphs_answers_and_latency(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    embedder: Embedder,
) -> None:
    data = load_squad(write_squad(tmp_path / "tiny.json"))
    with evaluation.eval_index(data, make_settings(), embedder) as index:
        report = evaluation.evaluate_squad(index, data.questions)
    assert report.questions == 5 and report.documents == 4
    final = report.stages["final"]
    assert final.recall_at_1 >= 0.8
    assert final.recall_at_5 == 1.0
    assert report.answer_in_citations >= report.answer_in_text >= 0.6
    assert 0.0 < report.latency_p50_ms <= report.latency_p95_ms
    text = render(report)
    assert "recall@1" in text and "p95" in text


def test_refusal_evaluation_asks_questions_whose_article_is_not_indexed(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    embedder: Embedder,
) -> None:
    data = load_squad(write_squad(tmp_path / "tiny.json"))
    corpus, answerable, unanswerable = evaluation.split_for_refusal(data)
    assert {d.title for d in corpus.documents} == {"Super Bowl 50"}
    assert {q.id for q in answerable} == {"s1", "s2", "s3"}
    assert {q.id for q in unanswerable} == {"p1", "p2"}
    with evaluation.eval_index(corpus, make_settings(), embedder) as index:
        report = evaluation.evaluate_refusal(index, answerable, unanswerable)
    curve = {p.threshold: p for p in report.curve}
    assert curve[0.0].refused_unanswerable == 0.0 and curve[0.0].answered_answerable == 1.0
    assert curve[1.0].answered_answerable == 0.0
    refused = [p.refused_unanswerable for p in report.curve]
    assert refused == sorted(refused)  # a higher threshold never refuses less
    assert report.refused_unanswerable == 1.0  # photosynthesis is not about football
    assert report.answered_answerable == 1.0
    assert "REFUSAL_THRESHOLD" in render(report)


def test_citebot_eval_prints_one_json_object_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_beir(tmp_path / "tiny")
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "beir", str(folder), "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out.strip().splitlines()[-1])
    assert report["kind"] == "beir" and report["questions"] == 4
    assert set(report["stages"]) == {"dense", "bm25", "fused", "final"}
    assert "questions asked" in captured.err  # progress goes to stderr

    # the train qrels judge one query: its odd half is empty
    assert main(["eval", "beir", str(folder), "--split", "train", "--subset", "odd"]) == 2
    assert "no questions" in capsys.readouterr().err
    squad = write_squad(tmp_path / "tiny.json")
    assert main(["eval", "squad", str(squad), "--limit", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["kind"] == "squad" and report["questions"] == 2


def test_citebot_eval_reports_bad_input_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "beir", str(tmp_path / "nowhere")]) == 1
    assert "is not a folder" in capsys.readouterr().err
    assert main(["eval", "squad", str(tmp_path / "none.json")]) == 1
    assert "no SQuAD file" in capsys.readouterr().err
    assert main(["eval", "squad", str(tmp_path / "none.json"), "--limit", "0"]) == 2
    assert "positive number" in capsys.readouterr().err


def test_squad2_evaluation_refuses_questions_the_indexed_paragraph_does_not_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(json.dumps(SQUAD))
    paragraph = data["data"][1]["paragraphs"][0]  # photosynthesis: glucose, oxygen
    paragraph["qas"].append(
        {
            "id": "u1",
            "question": "What gas do plants not release during photosynthesis?",
            "answers": [],
            "plausible_answers": [{"text": "Oxygen", "answer_start": 0}],
            "is_impossible": True,
        }
    )
    path = tmp_path / "tiny2.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    questions = load_squad(path).questions
    (impossible,) = [q for q in questions if q.id == "u1"]
    assert not impossible.answerable and impossible.answers == ()

    monkeypatch.chdir(tmp_path)
    assert main(["eval", "squad2", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["kind"] == "squad2"
    assert report["answerable"] == len(questions) - 1 and report["unanswerable"] == 1
    assert report["refused_unanswerable"] == 1.0  # the negated question is not answered
    assert report["answered_answerable"] >= 0.6 and report["answer_in_text"] >= 0.6
    assert len(report["curve"]) == 21
