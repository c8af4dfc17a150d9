"""The application's one Settings object: the retrieval settings plus Telegram's.

Loaded once at start-up (`Settings()` reads the environment and `.env`) and passed down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import NoDecode

from retrieval.settings import RetrievalSettings


class Settings(RetrievalSettings):
    """Everything citebot can be configured with; see `.env.example`."""

    telegram_bot_token: str = ""
    telegram_api_base_url: str = ""  # e.g. http://127.0.0.1:8081/bot; empty = Telegram's own
    # python-telegram-bot's `base_file_url`, where files (voice notes, uploads) are downloaded
    # from; empty = derived from the base url. TELEGRAM_API_FILE_URL is its earlier name.
    telegram_api_base_file_url: str = Field(
        default="",
        validation_alias=AliasChoices("telegram_api_base_file_url", "telegram_api_file_url"),
    )
    allowed_user_ids: Annotated[frozenset[int], NoDecode] = frozenset()  # empty = everyone
    allowed_chat_ids: Annotated[frozenset[int], NoDecode] = frozenset()  # empty = every chat
    admin_user_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    rate_limit_per_minute: int = Field(default=10, ge=0)  # questions per user; 0 = unlimited
    # Updates that may get a reply (questions, commands, buttons, stickers…) per minute, per
    # user and per group (one member at most a quarter of it); over it, one "slow down"
    # notice, then silence. 0 = unlimited; admins are not counted.
    replies_per_user_per_minute: int = Field(default=20, ge=0)
    replies_per_group_per_minute: int = Field(default=20, ge=0)
    feedback_db: Path | None = None  # default: DATA_DIR/feedback.sqlite3
    # Answers nobody voted on that the feedback file keeps (the most recent; older ones are
    # pruned as new ones come). Voted answers are always kept. 0 = voted answers only.
    feedback_keep_answers: int = Field(default=2000, ge=0)
    followup_ttl_seconds: int = Field(default=600, ge=0)
    max_upload_mb: float = Field(default=20.0, gt=0)
    # Voice notes waiting for the transcriber beyond the one it works on; a note arriving when
    # they are all taken is told the bot is busy (text questions are never held up by them).
    voice_queue: int = Field(default=4, ge=0)
    # How long an inline answer (`@bot question` in any chat) is reused for the same question,
    # by the bot and by Telegram's servers (seconds).
    inline_cache_seconds: int = Field(default=60, ge=0, le=3600)

    webhook_url: str = ""
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    webhook_secret: str = ""
    drop_pending_updates: bool = False

    @property
    def feedback_path(self) -> Path:
        return self.feedback_db or self.data_dir / "feedback.sqlite3"

    @field_validator("allowed_user_ids", "allowed_chat_ids", "admin_user_ids", mode="before")
    @classmethod
    def _id_list(cls, value: object) -> object:
        """Accept "1,2,3" (as written in .env) as well as a JSON list."""
        if isinstance(value, str):
            return frozenset(
                int(part) for part in value.replace(";", ",").split(",") if part.strip()
            )
        if isinstance(value, int):
            return frozenset([value])
        return value
