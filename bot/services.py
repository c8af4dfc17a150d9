"""What the handlers share: the archive (model and index loaded once), the access rules, the
rate limit, the LLM quota, the follow-up memory, the feedback store, the transcription worker,
the recent inline answers and the timing of replies;
and the typed context through which a handler reaches them (`context.services`), installed
with `ContextTypes(context=BotContext, bot_data=BotData)`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.access import AccessPolicy, OncePer, RecentIds
from bot.feedback import FeedbackStore, ShownAnswer
from bot.limits import LLMQuota, RateLimiter
from bot.memory import FollowupMemory, RecentAnswers
from bot.settings import Settings
from bot.streaming import Timing
from bot.worker import BoundedWorker
from retrieval import Archive

# The transcriber thread (and the speech model's threads it starts) runs this much nicer than
# the bot, so that a burst of voice notes leaves the cores to text questions first.
TRANSCRIBER_NICE = 10
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
    transcriber: BoundedWorker  # voice notes, one at a time, a short line
    inline_answers: RecentAnswers[ShownAnswer]  # answers offered inline, by question
    seen_updates: RecentIds = field(default_factory=RecentIds)
    timing: Timing = field(default_factory=Timing)

    @classmethod
    def create(
        cls,
        settings: Settings,
        archive: Archive,
        clock: Callable[[], float] = time.monotonic,
        timing: Timing | None = None,
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
            feedback=FeedbackStore(
                settings.feedback_path, keep_answers=settings.feedback_keep_answers
            ),
            refused=OncePer(REFUSAL_REPEAT_SECONDS, clock=clock),
            quota=LLMQuota(settings.llm_calls_per_hour, clock=clock),
            transcriber=BoundedWorker(
                settings.voice_queue, name="transcriber", nice=TRANSCRIBER_NICE
            ),
            inline_answers=RecentAnswers(settings.inline_cache_seconds, clock=clock),
            timing=timing or Timing(),
        )


class BotData:
    """The application's own state (`context.bot_data`): its services, set at build time."""

    services: Services


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """The context every handler of this bot receives."""

    @property
    def services(self) -> Services:
        return self.bot_data.services


def attach(application: Application[Any, Any, Any, Any, BotData, Any], services: Services) -> None:
    """Give the application its services (after `ContextTypes(bot_data=BotData)`)."""
    application.bot_data.services = services
