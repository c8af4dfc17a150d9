"""The index: vectors in Chroma (store), BM25 beside them (lexical), the embedder, and the
snapshot protocol that keeps the two consistent across processes (snapshots)."""

from retrieval.index.embedding import Embedder, SentenceTransformerEmbedder
from retrieval.index.lexical import DocumentInfo, LexicalIndex
from retrieval.index.snapshots import IndexState, discard_index_files
from retrieval.index.store import ChromaStore, Store

__all__ = [
    "ChromaStore",
    "DocumentInfo",
    "Embedder",
    "IndexState",
    "LexicalIndex",
    "SentenceTransformerEmbedder",
    "Store",
    "discard_index_files",
]
