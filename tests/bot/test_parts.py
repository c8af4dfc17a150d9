"""The bot's small parts on their own: follow-ups, access and rate limits, button data,
group addressing, upload checks, the feedback file, error messages, Bot API addresses."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from telegram import Bot, Document, Message, Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import ApplicationBuilder, CommandHandler

from bot.access import AccessPolicy, OncePer, RecentIds
from bot.addressing import addressed_question, command_argument, utf16_slice
from bot.app import add_handlers, file_url
from bot.buttons import ButtonPress, answer_keyboard, decode, passage_keyboard
from bot.delivery import is_entity_error, is_not_modified
from bot.feedback import FeedbackStore, ShownAnswer
from bot.flood import ChatUpdateProcessor
from bot.handlers import APOLOGY, COMMANDS, UNAVAILABLE, may_reply, user_message
from bot.limits import RateLimiter, ReplyBudget
from bot.memory import FollowupMemory
from bot.settings import Settings
from bot.uploads import Upload, check_upload, corpus_name
from retrieval import Answer, Citation, IndexUnavailable, InvalidQuestion
from retrieval.answer.followup import is_followup, resolve
from tests.fakes.botapi_server import BotApiServer, detect_entities

BOT_ID = 123456789
BOT_NAME = "citebot_test_bot"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- follow-ups ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "and when was that?",
        "And who warned them?",
        "what about the embassy?",
        "when was that?",
        "who did it?",
        "why?",
        "what happened there?",
    ],
)
def test_short_continuations_are_follow_ups(text: str) -> None:
    assert is_followup(text)


@pytest.mark.parametrize(
    "text",
    [
        "Who warned Russia that Crocus City Hall was a potential target?",
        "Who is Sergei Naryshkin?",
        "Is there a warning about concerts?",
        "Why is the Kremlin silent about the Washington Post report?",
        "",
        "?!",
    ],
)
def test_questions_of_their_own_are_not_follow_ups(text: str) -> None:
    assert not is_followup(text)


def test_follow_up_is_joined_to_the_previous_question_and_keeps_its_topic() -> None:
    first = "Who warned Russia about Crocus City Hall?"
    resolved = resolve("and  when was that?", first)
    assert resolved.question == f"{first} and when was that?"
    assert resolved.follow_up_of == first and resolved.topic == first
    again = resolve("who did it?", resolved.topic)
    assert again.question == f"{first} who did it?"
    assert resolve("and when?", None) == resolve("and when?", None)
    assert resolve("and when?", None).follow_up_of is None
    assert resolve("and when?", "x" * 100, max_chars=50).question == "and when?"


def test_memory_forgets_after_its_ttl_and_per_chat() -> None:
    clock = Clock()
    memory = FollowupMemory(ttl_seconds=600, clock=clock)
    memory.remember(1, "first")
    memory.remember(2, "second")
    clock.now += 599
    assert memory.recall(1) == "first" and memory.recall(2) == "second"
    clock.now += 2
    assert memory.recall(1) is None
    assert FollowupMemory(ttl_seconds=0, clock=clock).recall(1) is None
    small = FollowupMemory(600, max_chats=2, clock=clock)
    for chat in (1, 2, 3):
        small.remember(chat, f"q{chat}")
    assert small.recall(1) is None and small.recall(3) == "q3"


# -- access ------------------------------------------------------------------------------------


def test_allowlists_restrict_users_and_chats_and_admins_pass() -> None:
    open_bot = AccessPolicy()
    assert open_bot.allows(1, 1) and open_bot.allows(None, -5)
    users = AccessPolicy(allowed_users=frozenset({1}), admins=frozenset({9}))
    assert users.allows(1, 1) and users.allows(1, -100)
    assert not users.allows(2, 2) and not users.allows(None, -100)
    assert users.allows(9, 9) and users.is_admin(9) and not users.is_admin(1)
    chats = AccessPolicy(allowed_chats=frozenset({-100}))
    assert chats.allows(5, -100) and not chats.allows(5, 5)
    both = AccessPolicy(allowed_users=frozenset({1}), allowed_chats=frozenset({-100}))
    assert both.allows(1, -100) and not both.allows(1, 1) and not both.allows(2, -100)


def test_rate_limit_counts_a_sliding_minute_and_says_so_once() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=2, clock=clock)
    assert limiter.check(1).allowed
    clock.now += 10
    assert limiter.check(1).allowed
    clock.now += 5
    refused = limiter.check(1)
    assert not refused.allowed and refused.notify and refused.retry_after == 45
    assert limiter.check(2).allowed  # other users are not affected
    clock.now += 20
    quiet = limiter.check(1)
    assert not quiet.allowed and not quiet.notify and quiet.retry_after == 25
    clock.now += 25.5
    assert limiter.check(1).allowed
    assert all(RateLimiter(0, clock=clock).check(1).allowed for _ in range(100))


def test_refusals_and_repeated_updates_are_remembered() -> None:
    clock = Clock()
    once = OncePer(3600, clock=clock)
    assert once.first((1, 2)) and not once.first((1, 2)) and once.first((1, 3))
    clock.now += 3601
    assert once.first((1, 2))
    seen = RecentIds(size=3)
    assert seen.add(1) and not seen.add(1)
    for update_id in (2, 3, 4):
        seen.add(update_id)
    assert seen.add(1)  # long forgotten


# -- buttons -----------------------------------------------------------------------------------


def test_button_data_round_trips_and_fits_telegrams_64_bytes() -> None:
    answer_id = ShownAnswer.new_id()
    for press in (
        ButtonPress("passage", answer_id, n=12),
        ButtonPress("back", answer_id),
        ButtonPress("vote", answer_id, vote=1),
        ButtonPress("vote", answer_id, vote=-1),
    ):
        data = press.encode()
        assert len(data.encode()) <= 64
        assert decode(data) == press
    for junk in (None, "", "x", "p:abc", "p:abc:x", "v:abc:0", "b:abc:1", "p:" + "a" * 40 + ":1"):
        assert decode(junk) is None


def test_keyboards_offer_each_source_then_votes_or_back() -> None:
    cited = [_citation(n) for n in range(1, 11)]
    rows = answer_keyboard("abc", cited).inline_keyboard
    labels = [[b.text for b in row] for row in rows]
    assert labels[0] == [f"[{n}]" for n in range(1, 9)] and labels[1] == ["[9]", "[10]"]
    assert labels[-1] == ["👍", "👎"]
    back = passage_keyboard("abc", cited[:3], showing=2).inline_keyboard
    assert [b.text for b in back[0]] == ["[1]", "[3]"]
    assert back[-1][0].callback_data == "b:abc"


# -- addressing ---------------------------------------------------------------------------------


def _message(
    text: str, entities: list[dict] | None = None, reply_from: int | None = None
) -> Message:
    api = BotApiServer()
    data = api.make_message(text, chat_id=-100, chat_type="supergroup", entities=entities)
    if reply_from is not None:
        replied = api.make_message("earlier", chat_id=-100, chat_type="supergroup")
        replied["from"] = {"id": reply_from, "is_bot": True, "first_name": "Bot"}
        data["reply_to_message"] = replied
    return Message.de_json(data, Bot("1:x"))


def test_group_messages_are_for_the_bot_only_when_addressed() -> None:
    assert addressed_question(_message("Who warned Russia?"), BOT_NAME, BOT_ID) is None
    mention = _message(f"@{BOT_NAME} who warned Russia?")
    assert addressed_question(mention, BOT_NAME, BOT_ID) == "who warned Russia?"
    shouting = _message(f"hey @{BOT_NAME.upper()}, who warned Russia?")
    assert addressed_question(shouting, BOT_NAME, BOT_ID) == "hey , who warned Russia?"
    other = _message("@someone_else who warned Russia?")
    assert addressed_question(other, BOT_NAME, BOT_ID) is None
    text_mention = _message(
        "😀 Citebot, who warned Russia?",
        entities=[
            {"type": "text_mention", "offset": 3, "length": 7, "user": _user(BOT_ID)},
        ],
    )
    assert addressed_question(text_mention, BOT_NAME, BOT_ID) == "😀 , who warned Russia?"
    reply = _message("and when?", reply_from=BOT_ID)
    assert addressed_question(reply, BOT_NAME, BOT_ID) == "and when?"
    assert addressed_question(_message("and when?", reply_from=42), BOT_NAME, BOT_ID) is None


def test_command_argument_is_the_text_after_the_command() -> None:
    assert command_argument(_message(f"/ask@{BOT_NAME}   who   warned?")) == "who warned?"
    assert command_argument(_message("/ask")) == ""
    assert utf16_slice("😀 @bot", *_offset_of("😀 @bot", "@bot")) == "@bot"
    assert detect_entities("😀 @citebot_x hi")[0] == {"type": "mention", "offset": 3, "length": 10}


# -- uploads ------------------------------------------------------------------------------------


def test_upload_names_are_made_safe_for_the_corpus_folder() -> None:
    assert corpus_name("Report 2024.pdf") == "Report 2024.pdf"
    assert corpus_name("../../etc/passwd.txt") == "passwd.txt"
    assert corpus_name("..\\evil\\notes.md") == "notes.md"
    assert corpus_name(".hidden.md") == "hidden.md"
    assert corpus_name("we<ird>|na:me?.html") == "we_ird_na_me_.html"
    assert corpus_name("...") == "" and corpus_name("") == ""


def test_upload_checks_give_reasons() -> None:
    limit = 20 * 1024 * 1024
    ok = check_upload(_document("notes.md", 1000), limit)
    assert ok == Upload("notes.md", 1000)
    exe = check_upload(_document("setup.exe", 10), limit)
    assert exe == "setup.exe is a .exe file. I can add txt, md, html, pdf or docx files."
    assert "without an extension" in str(check_upload(_document("README", 10), limit))
    assert "is 25.0 MB; the limit is 20 MB" in str(
        check_upload(_document("big.pdf", 25 * 1024 * 1024), limit)
    )
    assert "&lt;b&gt;" in str(check_upload(_document("<b>.exe", 10), limit))


# -- feedback -----------------------------------------------------------------------------------


def test_feedback_store_keeps_answers_across_restarts_and_one_vote_per_user(
    tmp_path: Path,
) -> None:
    path = tmp_path / "data" / "feedback.sqlite3"
    store = FeedbackStore(path)
    shown = ShownAnswer(
        "abc123", 7, replace(_answer(), follow_up_of="earlier question"), "<b>last part</b>"
    )
    assert store.keep(shown)
    reopened = FeedbackStore(path)
    assert reopened.find("abc123") == shown
    assert reopened.find("nope") is None
    assert reopened.record_vote(shown, 1, 1) and reopened.record_vote(shown, 1, -1)
    assert reopened.record_vote(shown, 2, 1)
    votes = reopened.votes()
    assert [(v.user_id, v.vote) for v in votes] == [(2, 1), (1, -1)]  # newest first
    assert votes[1].question == "Who warned Russia?" and votes[0].answer == "They did. [1]"
    assert votes[1].citations[0]["date"] == "2024-04-02"


def test_feedback_store_survives_an_unwritable_or_damaged_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = FeedbackStore(blocker / "feedback.sqlite3")
    shown = ShownAnswer("abc", 7, _answer(), "part")
    assert not store.keep(shown)
    assert store.find("abc") == shown  # still in memory
    assert not store.record_vote(shown, 1, 1)
    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(b"this is not a database" * 100)
    assert not FeedbackStore(damaged).keep(shown)
    with sqlite3.connect(tmp_path / "ok.sqlite3") as db:
        db.execute("CREATE TABLE unrelated (x)")
    assert FeedbackStore(tmp_path / "ok.sqlite3").keep(shown)


# -- errors and addresses ------------------------------------------------------------------------


def test_errors_become_short_user_messages() -> None:
    assert user_message(InvalidQuestion("Please ask a question in words.")) == (
        "Please ask a question in words."
    )
    assert user_message(IndexUnavailable("chroma down at 10.0.0.1")) == UNAVAILABLE
    assert user_message(Forbidden("bot was blocked by the user")) is None
    assert user_message(RuntimeError("Traceback: secret internals")) == APOLOGY
    assert is_entity_error(BadRequest("Can't parse entities: unsupported start tag"))
    assert is_not_modified(BadRequest("Message is not modified: specified new message content"))
    assert not is_entity_error(BadRequest("Chat not found"))


def test_file_url_follows_the_api_base_url(make_settings: Callable[..., Settings]) -> None:
    assert file_url(make_settings()) == "https://api.telegram.org/file/bot"
    local = make_settings(telegram_api_base_url="http://127.0.0.1:8081/bot")
    assert file_url(local) == "http://127.0.0.1:8081/file/bot"
    templated = make_settings(telegram_api_base_url="http://h/bot{token}/test")
    assert file_url(templated) == "http://h/file/bot{token}/test"
    explicit = make_settings(
        telegram_api_base_url="http://h/bot", telegram_api_file_url="http://files/bot"
    )
    assert file_url(explicit) == "http://files/bot"


# -- helpers -------------------------------------------------------------------------------------


def _citation(n: int) -> Citation:
    return Citation(
        n, f"c{n}", "Title", "corpus/x.txt", "They did.", "They did. More.", date(2024, 4, 2)
    )


def _answer() -> Answer:
    return Answer("Who warned Russia?", "They did. [1]", (_citation(1),), 0.8)


def _document(name: str, size: int) -> Document:
    return Document(file_id="f", file_unique_id="u", file_name=name, file_size=size)


def _user(user_id: int) -> dict:
    return {"id": user_id, "is_bot": True, "first_name": "Citebot"}


def _offset_of(text: str, part: str) -> tuple[int, int]:
    start = text.index(part)
    return len(text[:start].encode("utf-16-le")) // 2, len(part.encode("utf-16-le")) // 2


# -- flood: budget of replies, updates per chat ---------------------------------------------------


def test_reply_budget_counts_users_members_and_groups_and_says_so_once() -> None:
    clock = Clock()
    budget = ReplyBudget(per_user=3, per_group=8, clock=clock)
    assert [budget.check(1, 1, group=False).allowed for _ in range(3)] == [True] * 3
    over = budget.check(1, 1, group=False)
    assert not over.allowed and over.notify and over.scope == "user" and over.limit == 3
    assert over.retry_after == 60
    assert not budget.check(1, 1, group=False).notify  # told once, then ignored
    assert budget.check(2, 2, group=False).allowed  # other users are not affected
    # in a group one member may take a quarter of the group's budget
    assert budget.check(10, -100, group=True).allowed
    assert budget.check(10, -100, group=True).allowed
    member = budget.check(10, -100, group=True)
    assert not member.allowed and member.scope == "user" and member.limit == 2
    for user in (11, 11, 12, 12, 13, 13):
        assert budget.check(user, -100, group=True).allowed
    full = budget.check(14, -100, group=True)
    assert not full.allowed and full.notify and full.scope == "group" and full.limit == 8
    assert budget.check(14, -200, group=True).allowed  # refused updates are not counted
    assert budget.check(14, 14, group=False).allowed
    clock.now += 60.5
    assert budget.check(1, 1, group=False).allowed and budget.check(14, -100, group=True).allowed
    unlimited = ReplyBudget(0, 0, clock=clock)
    assert all(unlimited.check(1, -100, group=True).allowed for _ in range(500))


def test_only_updates_that_may_get_a_reply_are_counted() -> None:
    api = BotApiServer()
    place = {"latitude": 51.5, "longitude": -0.1}

    def update(**fields: object) -> Update:
        return Update.de_json({"update_id": 1, **fields}, Bot("1:x"))

    def group(text: str, **kwargs: object) -> Update:
        message = api.make_message(text, chat_id=-100, chat_type="supergroup", **kwargs)
        return update(message=message)

    def counted(u: Update) -> bool:
        return may_reply(u, BOT_NAME, BOT_ID)

    assert counted(update(message=api.make_message("anything", chat_id=5)))
    assert counted(update(message=api.make_message(None, chat_id=5, location=place)))
    assert counted(group("/help")) and counted(group(f"/sources@{BOT_NAME}"))
    assert counted(group(f"@{BOT_NAME} who warned Russia?"))
    assert not counted(group("who warned Russia?"))  # chatter
    assert not counted(group("/help@another_bot")) and not counted(group("/frobnicate"))
    press = {"id": "1", "from": _user(7) | {"is_bot": False}, "chat_instance": "c", "data": "x"}
    assert counted(update(callback_query=press))
    edited = api.make_message("anything", chat_id=5) | {"edit_date": 1}
    assert not counted(update(edited_message=edited))


async def test_one_chat_holds_a_few_update_slots_waits_in_line_and_then_is_dropped() -> None:
    api = BotApiServer()
    processor = ChatUpdateProcessor(max_concurrent_updates=8, per_chat=2, backlog=2)
    release = asyncio.Event()
    started: list[tuple[int, int]] = []

    def update(chat: int) -> Update:
        message = api.make_message("x", chat_id=chat)
        return Update.de_json({"update_id": message["message_id"], "message": message}, Bot("1:x"))

    async def handle(chat: int, n: int) -> None:
        started.append((chat, n))
        await release.wait()

    async def process(chat: int, n: int) -> None:
        await processor.process_update(update(chat), handle(chat, n))

    flood = [asyncio.create_task(process(1, n)) for n in range(6)]
    await asyncio.sleep(0.05)
    assert started == [(1, 0), (1, 1)]  # two running; two waiting in line; two dropped
    assert processor.current_concurrent_updates == 2  # the waiting ones hold no slot
    assert all(task.done() for task in flood[2:])
    other = asyncio.create_task(process(2, 0))
    await asyncio.sleep(0.05)
    assert started[-1] == (2, 0)  # another chat is handled at once
    release.set()
    await asyncio.gather(*flood, other)
    assert sorted(started) == [(1, 0), (1, 1), (1, 2), (1, 3), (2, 0)]
    assert processor.current_concurrent_updates == 0


def test_the_budget_knows_every_command_the_bot_answers() -> None:
    application = ApplicationBuilder().token("1:x").build()
    add_handlers(application)
    routed = {
        command
        for group in application.handlers.values()
        for handler in group
        if isinstance(handler, CommandHandler)
        for command in handler.commands
    }
    assert routed == set(COMMANDS)
