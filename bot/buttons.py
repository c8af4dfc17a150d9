"""The inline buttons under an answer, and the short callback data they carry.

Telegram allows 64 bytes of callback data, so a button names the shown answer by a short id
(`feedback.ShownAnswer.id`) instead of carrying chunk ids:

    p:<answer id>:<n>   show passage [n] in place
    b:<answer id>       back to the answer
    v:<answer id>:+|-   record 👍 / 👎
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from retrieval import Citation

Action = Literal["passage", "back", "vote"]

_DATA = re.compile(r"(?P<kind>[pbv]):(?P<id>[0-9a-zA-Z]{1,32})(?::(?P<arg>\d{1,3}|[+-]))?")
_KINDS: dict[str, Action] = {"p": "passage", "b": "back", "v": "vote"}
_PER_ROW = 8


@dataclass(frozen=True)
class ButtonPress:
    """What a pressed button asks for."""

    action: Action
    answer_id: str
    n: int = 0  # the citation, for "passage"
    vote: int = 0  # +1 or -1, for "vote"

    def encode(self) -> str:
        if self.action == "passage":
            return f"p:{self.answer_id}:{self.n}"
        if self.action == "vote":
            return f"v:{self.answer_id}:{'+' if self.vote > 0 else '-'}"
        return f"b:{self.answer_id}"


def decode(data: object) -> ButtonPress | None:
    """The press that callback data stands for; None for anything this bot did not send."""
    if not isinstance(data, str):
        return None
    match = _DATA.fullmatch(data)
    if not match:
        return None
    action, answer_id, arg = _KINDS[match["kind"]], match["id"], match["arg"]
    if action == "passage" and arg and arg.isdigit():
        return ButtonPress(action, answer_id, n=int(arg))
    if action == "vote" and arg in ("+", "-"):
        return ButtonPress(action, answer_id, vote=1 if arg == "+" else -1)
    if action == "back" and arg is None:
        return ButtonPress(action, answer_id)
    return None


def answer_keyboard(answer_id: str, citations: Sequence[Citation]) -> InlineKeyboardMarkup:
    """One "[n]" button per citation, then 👍 and 👎."""
    rows = _citation_rows(answer_id, citations)
    rows.append(
        [
            InlineKeyboardButton(
                "👍", callback_data=ButtonPress("vote", answer_id, vote=1).encode()
            ),
            InlineKeyboardButton(
                "👎", callback_data=ButtonPress("vote", answer_id, vote=-1).encode()
            ),
        ]
    )
    return InlineKeyboardMarkup(rows)


def passage_keyboard(
    answer_id: str, citations: Sequence[Citation], showing: int
) -> InlineKeyboardMarkup:
    """The other sources' buttons and a way back to the answer."""
    rows = _citation_rows(answer_id, [c for c in citations if c.n != showing])
    rows.append(
        [
            InlineKeyboardButton(
                "« Back to the answer", callback_data=ButtonPress("back", answer_id).encode()
            )
        ]
    )
    return InlineKeyboardMarkup(rows)


def _citation_rows(
    answer_id: str, citations: Sequence[Citation]
) -> list[list[InlineKeyboardButton]]:
    buttons = [
        InlineKeyboardButton(
            f"[{c.n}]", callback_data=ButtonPress("passage", answer_id, n=c.n).encode()
        )
        for c in citations
    ]
    return [buttons[i : i + _PER_ROW] for i in range(0, len(buttons), _PER_ROW)]
