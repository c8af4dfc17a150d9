"""What the handlers share: the archive (model and index loaded once), the access rules, the
rate limiter, the LLM quota, the follow-up memory and the feedback store. One instance per
application, kept in `application.bot_data`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from telegram.ext import Application, CallbackContext

from bot.access import AccessPolicy, OncePer, RateLimiter, RecentIds
from bot.feedback import FeedbackStore
from bot.memory import FollowupMemory
from bot.quota import LLMQuota
from bot.settings import Settings
from bot.streaming import EDIT_EVERY
from retrieval import Archive

KEY = "citebot"
REFUSAL_REPEAT_SECONDS = 3600.0


@dataclass
class Services:
    """The bot's state and collaborators."""

    settings: Settings
    archive: Archive
    access: AccessPolicy
    rate_limiter: RateLimiter
    memory: FollowupMemory
    feedback: FeedbackStore
    refused: OncePer  # (chat, user) pairs already told they are not allowed
    quota: LLMQuota  # LLM calls per user and hour (admins are not counted)
    seen_updates: RecentIds = field(default_factory=RecentIds)
    typing_every: float = 4.0
    stream_every: float = EDIT_EVERY  # seconds between edits of a streamed answer

    @classmethod
    def create(
        cls,
        settings: Settings,
        archive: Archive,
        clock: Callable[[], float] = time.monotonic,
        typing_every: float = 4.0,
        stream_every: float = EDIT_EVERY,
    ) -> Services:
        return cls(
            settings=settings,
            archive=archive,
            access=AccessPolicy(
                allowed_users=settings.allowed_user_ids,
                allowed_chats=settings.allowed_chat_ids,
                admins=settings.admin_user_ids,
            ),
            rate_limiter=RateLimiter(settings.rate_limit_per_minute, clock=clock),
            memory=FollowupMemory(settings.followup_ttl_seconds, clock=clock),
            feedback=FeedbackStore(settings.feedback_db),
            refused=OncePer(REFUSAL_REPEAT_SECONDS, clock=clock),
            quota=LLMQuota(settings.llm_calls_per_hour, clock=clock),
            typing_every=typing_every,
            stream_every=stream_every,
        )

    def warm_up(self) -> None:
        """Load the embedding model now, not on the first question (blocking)."""
        self.archive.embedder.embed(["warm up"])

    def attach(self, application: Application) -> None:  # type: ignore[type-arg]
        application.bot_data[KEY] = self


def services(context: CallbackContext) -> Services:  # type: ignore[type-arg]
    """The Services of the application that is handling this update."""
    found = context.bot_data[KEY]
    assert isinstance(found, Services)
    return found
