"""`citebot ingest` against the naive LangChain + Chroma + bm25s peer (`naive_peer.py`) on the
same SQuAD-dev paragraph files, each as a whole process (start-up, imports, model loading,
embedding, writing the vector store and the BM25 index), alternated, median of --rounds:

    .venv/bin/python benchmarks/ingest_vs_peer.py [--docs 600] [--rounds 3]

Both start from an empty folder every round. citebot runs with its default settings (the
ONNX embedder; its one-time export into the model cache is made before the first round and
not timed, as it is made once per installation). Needs `pip install -e '.[bench]'`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT
from ingest_throughput import write_corpus

CITEBOT = Path(sys.executable).with_name("citebot")


def run(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{command[:3]} failed:\n{result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        write_corpus(corpus, args.docs)
        data = Path(tmp) / "data"
        env = {
            **os.environ,
            "CITEBOT_ENV_FILE": "",
            "CORPUS_DIR": str(corpus),
            "DATA_DIR": str(data),
        }
        # The model cache: exported now if this installation has not exported it yet.
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from retrieval.index.embedding import make_embedder as m;"
                "from retrieval.settings import RetrievalSettings as S;"
                "m(S(_env_file=None)).embed(['warm up'])",
            ],
            env=env,
            check=True,
            cwd=ROOT,
        )
        peer = [sys.executable, str(ROOT / "benchmarks" / "naive_peer.py"), str(corpus)]
        times: dict[str, list[float]] = {"citebot": [], "peer": []}
        for round_ in range(args.rounds):
            for name in ("citebot", "peer") if round_ % 2 == 0 else ("peer", "citebot"):
                shutil.rmtree(data, ignore_errors=True)
                if name == "citebot":
                    times[name].append(run([str(CITEBOT), "ingest", "--json"], env))
                else:
                    times[name].append(run([*peer, str(data)], env))
                print(f"round {round_ + 1}: {name} {times[name][-1]:.1f} s", file=sys.stderr)
        if name != "citebot":  # the peer ran last and took the folder: ingest again, untimed
            shutil.rmtree(data, ignore_errors=True)
            run([str(CITEBOT), "ingest", "--json"], env)
        chunks = json.loads(
            subprocess.run(
                [str(CITEBOT), "sources", "--json"],
                env=env,
                capture_output=True,
                text=True,
                cwd=ROOT,
                check=True,
            ).stdout
        ).get("chunks")

    citebot, peer_time = statistics.median(times["citebot"]), statistics.median(times["peer"])
    print(
        f"| {args.docs} SQuAD-dev files ({chunks} chunks in citebot), median of {args.rounds}"
        " | wall time | throughput |"
    )
    print("|---|---|---|")
    print(f"| naive LangChain + Chroma + bm25s | {peer_time:.1f} s | 1.00× |")
    print(f"| citebot ingest | {citebot:.1f} s | **{peer_time / citebot:.2f}×** |")
    print(json.dumps({"citebot_s": times["citebot"], "peer_s": times["peer"]}))


if __name__ == "__main__":
    main()
