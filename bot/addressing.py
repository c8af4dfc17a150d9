"""Whether a group message is meant for the bot, and the question it asks.

In groups the bot answers only when addressed: `/ask QUESTION` (also `/ask@BotName`), a
mention of the bot (an @username or a text mention), or a reply to one of its messages.
"""

from __future__ import annotations

from telegram import Message, MessageEntity


def addressed_question(message: Message, bot_username: str, bot_id: int) -> str | None:
    """The question in a message addressed to the bot (mention removed); None if the
    message is not addressed to it. May return "" for a bare mention."""
    text = message.text or message.caption or ""
    entities = message.entities if message.text else message.caption_entities
    mention = f"@{bot_username}".lower()
    spans: list[tuple[int, int]] = []
    for entity in entities or ():
        if entity.type == MessageEntity.MENTION:
            if utf16_slice(text, entity.offset, entity.length).lower() == mention:
                spans.append((entity.offset, entity.length))
        elif entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot_id:
            spans.append((entity.offset, entity.length))
    if spans:
        return " ".join(remove_utf16_spans(text, spans).split())
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot_id:
        return " ".join(text.split())
    return None


def command_argument(message: Message) -> str:
    """The text after a leading bot command (`/ask@Bot  the question` → "the question")."""
    text = message.text or ""
    for entity in message.entities or ():
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            return " ".join(remove_utf16_spans(text, [(0, entity.length)]).split())
    return " ".join(text.split())


def utf16_slice(text: str, offset: int, length: int) -> str:
    """text[offset:offset+length] where offset and length count UTF-16 code units, as
    Telegram's message entities do."""
    encoded = text.encode("utf-16-le")
    return encoded[2 * offset : 2 * (offset + length)].decode("utf-16-le", errors="ignore")


def remove_utf16_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """text without the (offset, length) spans, counted in UTF-16 code units."""
    encoded = text.encode("utf-16-le")
    kept = bytearray()
    position = 0
    for offset, length in sorted(spans):
        start = max(2 * offset, position)
        kept += encoded[position:start] + b" \x00"
        position = max(position, 2 * (offset + length))
    kept += encoded[position:]
    return bytes(kept).decode("utf-16-le", errors="ignore")
