"""A small fake Telegram Bot API server for end-to-end tests, over real HTTP on 127.0.0.1.

The real python-telegram-bot `Application` talks to it through `TELEGRAM_API_BASE_URL`:

    async with BotApiServer() as server:
        settings = make_settings(telegram_bot_token=server.token,
                                 telegram_api_base_url=server.base_url)
        ...
        server.push_message("Who warned Russia?", chat_id=42)
        call = await server.wait_for("sendMessage", chat_id=42)

It implements what citebot uses, the way Telegram does: getMe, getUpdates (long poll, offset
confirmation), sendMessage and editMessageText (HTML checked as strictly as Telegram: only
its tags, balanced, entities escaped; 4,096 characters at most), answerCallbackQuery,
sendChatAction, getFile and file download (documents, voice notes, audio), answerInlineQuery
(results checked as Telegram checks them; an inline query can be answered once, within
`INLINE_QUERY_TIMEOUT`), setWebhook and deleteWebhook. Telegram adds
`bot_command` and `mention` entities to incoming text itself; so does `push_message`.
A test can make the next call to a method fail (`fail_next`) with Telegram's error shapes.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

TELEGRAM_TAGS = frozenset(
    "b strong i em u ins s strike del a code pre blockquote span tg-spoiler tg-emoji".split()
)
MAX_TEXT = 4096
INLINE_QUERY_TIMEOUT = 10.0  # seconds after which Telegram refuses an inline query's answer
MAX_INLINE_RESULTS = 50
_START_PARAMETER = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Parameters that Telegram takes as plain strings (PTB sends every other one JSON-encoded).
_STRING_PARAMS = frozenset(
    """text caption url secret_token callback_query_id file_id action parse_mode
    inline_message_id business_connection_id ip_address inline_query_id""".split()
)
_COMMAND = re.compile(r"^/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}")
_ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|lt|gt|amp|quot);")


@dataclass
class ApiCall:
    """One request the bot made."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    result: Any = None  # what the server answered, e.g. the Message a sendMessage created
    done: bool = False  # answered (a long poll is recorded while it waits)


@dataclass
class _Failure:
    status: int
    description: str
    retry_after: int | None = None


class ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def check_html(text: str) -> str:
    """The visible text of a Telegram HTML message; ApiError as Telegram's if it is not valid."""
    for match in re.finditer(r"<", text):
        if not re.match(r"</?[a-zA-Z][a-zA-Z-]*[\s>/]", text[match.start() :]):
            raise ApiError(
                400, f"Bad Request: can't parse entities: unexpected '<' at {match.start()}"
            )
    for match in re.finditer(r"&", text):
        if not _ENTITY.match(text, match.start()):
            raise ApiError(
                400, f"Bad Request: can't parse entities: unescaped '&' at {match.start()}"
            )
    parser = _StrictParser()
    parser.feed(text)
    parser.close()
    if parser.problem is None and parser.stack:
        parser.problem = f"unclosed tag <{parser.stack[-1]}>"
    if parser.problem:
        raise ApiError(400, f"Bad Request: can't parse entities: {parser.problem}")
    return "".join(parser.text)


class _StrictParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []
        self.problem: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TELEGRAM_TAGS:
            self.problem = self.problem or f'unsupported start tag "{tag}"'
        if tag == "a" and not any(k == "href" and v for k, v in attrs):
            self.problem = self.problem or "a tag without href"
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problem = self.problem or f'unmatched end tag "{tag}"'
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


class BotApiServer:
    """The fake Bot API: inject updates, then assert on the calls the bot made."""

    def __init__(
        self,
        token: str = "123456789:TEST-fake-token_for-citebot",
        bot_id: int = 123456789,
        username: str = "citebot_test_bot",
    ) -> None:
        self.token = token
        self.bot_id = bot_id
        self.username = username
        self.calls: list[ApiCall] = []
        self.webhook: dict[str, Any] | None = None
        self.sent: dict[tuple[int, int], dict[str, Any]] = {}  # (chat, message id) → message
        self._updates: list[dict[str, Any]] = []
        self._update_id = 0
        self._message_id = 1000
        self._callback_id = 0
        self._chats: dict[int, dict[str, Any]] = {}
        self._files: dict[str, tuple[str, bytes]] = {}
        self._paths: dict[str, str] = {}  # file id → file_path, as getFile gives it
        self._inline_queries: dict[str, float] = {}  # id → when it was sent
        self.inline_answers: dict[str, dict[str, Any]] = {}  # inline query id → answer
        self.supports_inline_queries = False  # inline mode switched on with @BotFather
        self.inline_query_timeout = INLINE_QUERY_TIMEOUT
        self._failures: dict[str, deque[_Failure]] = defaultdict(deque)
        self._delays: dict[str, float] = {}
        self._changed: asyncio.Condition | None = None
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._changed = asyncio.Condition()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(next(iter(self._runner.addresses))[1])

    async def stop(self) -> None:
        self._closing = True
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()  # end long polls now, not at their timeout
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # -- what a test injects --------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates (an `update_id` is added if it has none)."""
        if "update_id" not in update:
            self._update_id += 1
            update = {"update_id": self._update_id, **update}
        self._updates.append(update)
        self._notify()
        return update

    def make_message(
        self,
        text: str | None = None,
        *,
        chat_id: int = 1001,
        user_id: int | None = None,
        chat_type: str = "private",
        from_bot: bool = False,
        reply_to: dict[str, Any] | None = None,
        entities: list[dict[str, Any]] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """A message as Telegram would deliver it (entities detected as Telegram does)."""
        self._message_id += 1
        user_id = chat_id if user_id is None and chat_type == "private" else user_id or 2001
        chat = self._chat(chat_id, chat_type)
        message: dict[str, Any] = {
            "message_id": self._message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": {"id": user_id, "is_bot": from_bot, "first_name": f"User{user_id}"},
            **fields,
        }
        if text is not None:
            message["text"] = text
            found = entities if entities is not None else detect_entities(text)
            if found:
                message["entities"] = found
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        return message

    def push_message(self, text: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """Queue a new message; returns the update."""
        return self.push_update({"message": self.make_message(text, **kwargs)})

    def push_document(
        self, file_id: str, *, caption: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Queue a message carrying a document registered with `add_file`."""
        name, content = self._files[file_id]
        document = {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_name": name,
            "file_size": len(content),
        }
        fields: dict[str, Any] = {"document": document}
        if caption is not None:
            fields["caption"] = caption
            found = detect_entities(caption)
            if found:
                fields["caption_entities"] = found
        return self.push_update({"message": self.make_message(None, **kwargs, **fields)})

    def push_callback(
        self, message: dict[str, Any], data: str, *, user_id: int | None = None
    ) -> dict[str, Any]:
        """Queue a press of an inline button with `data` under one of the bot's messages."""
        self._callback_id += 1
        user = user_id if user_id is not None else message["chat"]["id"]
        return self.push_update(
            {
                "callback_query": {
                    "id": f"cq{self._callback_id}",
                    "from": {"id": user, "is_bot": False, "first_name": f"User{user}"},
                    "chat_instance": f"ci{message['chat']['id']}",
                    "data": data,
                    "message": message,
                }
            }
        )

    def push_voice(
        self,
        file_id: str,
        *,
        duration: int | None = None,
        kind: str = "voice",
        mime_type: str = "audio/ogg",
        caption: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Queue a message carrying a recording registered with `add_file`: a voice note
        (`kind="voice"`), an audio message ("audio") or an audio file ("document", which
        declares no duration). `duration` is what the sender's app declared (whole seconds,
        as Telegram sends it; required for voice and audio)."""
        name, content = self._files[file_id]
        media: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(content),
            "mime_type": mime_type,
        }
        if kind == "document":
            media["file_name"] = name
        else:
            media["duration"] = duration if duration is not None else 1
        if kind == "audio":
            media["file_name"] = name
        self._paths[file_id] = f"{'voice' if kind == 'voice' else 'music'}/{file_id}.oga"
        fields: dict[str, Any] = {kind: media}
        if caption is not None:
            fields["caption"] = caption
            found = detect_entities(caption)
            if found:
                fields["caption_entities"] = found
        return self.push_update({"message": self.make_message(None, **kwargs, **fields)})

    def push_inline_query(
        self, query: str, *, user_id: int = 1001, chat_type: str = "supergroup"
    ) -> dict[str, Any]:
        """Queue an inline query (`@bot query` typed in a chat of `chat_type`)."""
        self._callback_id += 1
        query_id = f"iq{self._callback_id}"
        self._inline_queries[query_id] = time.monotonic()
        return self.push_update(
            {
                "inline_query": {
                    "id": query_id,
                    "from": {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"},
                    "query": query,
                    "offset": "",
                    "chat_type": chat_type,
                }
            }
        )

    def add_file(self, file_id: str, name: str, content: bytes) -> None:
        """Make a file available to getFile and download."""
        self._files[file_id] = (name, content)
        self._paths.setdefault(file_id, f"documents/{file_id}")

    def fail_next(
        self,
        method: str,
        status: int = 400,
        description: str = "Bad Request",
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` calls to `method` fail as Telegram fails them."""
        for _ in range(times):
            self._failures[method].append(_Failure(status, description, retry_after))

    def delay(self, method: str, seconds: float) -> None:
        """Answer calls to `method` only after `seconds` (a slow network or a busy Telegram)."""
        self._delays[method] = seconds

    # -- what a test asserts on -----------------------------------------------------------

    def calls_to(self, method: str, pending: bool = False, **match: Any) -> list[ApiCall]:
        """The answered calls to `method` (with `pending`, also those being answered) whose
        parameters match (a value may be a predicate)."""
        return [
            c
            for c in self.calls
            if c.method == method and (c.done or pending) and _matches(c.params, match)
        ]

    async def wait_for(
        self,
        method: str,
        timeout: float = 15.0,
        count: int = 1,
        pending: bool = False,
        **match: Any,
    ) -> ApiCall:
        """The `count`-th matching answered call (or, with `pending`, started call), waiting
        up to `timeout` seconds for it."""
        assert self._changed is not None
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                found = self.calls_to(method, pending, **match)
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(c.method, _short(c.params)) for c in self.calls[-10:]]
                    raise AssertionError(
                        f"no {method} call #{count} matching {match} within {timeout} s;"
                        f" last calls: {seen}"
                    )
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except TimeoutError:
                    continue

    async def wait_until_fetched(self, update: dict[str, Any], timeout: float = 10.0) -> None:
        """Wait until the bot has confirmed (by a later getUpdates offset) that it got update."""
        await self.wait_for(
            "getUpdates",
            timeout,
            pending=True,
            offset=lambda o: o is not None and o > update["update_id"],
        )

    # -- the API --------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            params = await _params(request)
        except ConnectionResetError:  # the bot hung up mid-request (it is shutting down)
            return _error(400, "Bad Request: connection lost")
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        call = ApiCall(method, params)
        self.calls.append(call)
        self._notify()
        try:
            if method in self._delays:
                await asyncio.sleep(self._delays[method])
            if self._failures[method]:
                failure = self._failures[method].popleft()
                raise ApiError(failure.status, failure.description, failure.retry_after)
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                raise ApiError(404, "Not Found")
            call.result = await handler(params)
        except ApiError as exc:
            call.result = exc
            return _error(exc.status, exc.description, exc.retry_after)
        finally:
            call.done = True
            self._notify()
        return web.json_response({"ok": True, "result": call.result})

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        for file_id, (_, content) in self._files.items():
            if path == self._paths.get(file_id):
                return web.Response(body=content)
        return web.Response(status=404)

    async def _m_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Citebot Test",
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": self.supports_inline_queries,
        }

    async def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = params.get("offset")
        if isinstance(offset, int):
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        limit = params.get("limit") or 100
        timeout = float(params.get("timeout") or 0)
        assert self._changed is not None
        deadline = time.monotonic() + min(timeout, 30.0)
        async with self._changed:
            while not self._updates and not self._closing and time.monotonic() < deadline:
                try:
                    await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
                except TimeoutError:
                    break
        return self._updates[:limit]

    async def _m_setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = params
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        self._message_id += 1
        message = {
            "message_id": self._message_id,
            "date": int(time.time()),
            "chat": self._chat(chat_id, None),
            "from": {"id": self.bot_id, "is_bot": True, "first_name": "Citebot Test"},
            "text": _visible_text(params),
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.sent[(chat_id, self._message_id)] = message
        return message

    async def _m_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if key not in self.sent:
            raise ApiError(400, "Bad Request: message to edit not found")
        message = dict(self.sent[key])
        text = _visible_text(params)
        markup = params.get("reply_markup")
        if text == message["text"] and markup == message.get("reply_markup"):
            raise ApiError(400, "Bad Request: message is not modified")
        message["text"] = text
        message["edit_date"] = int(time.time())
        if markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        self.sent[key] = message
        return message

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        return True

    async def _m_sendChatAction(self, params: dict[str, Any]) -> bool:
        return True

    async def _m_getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = params.get("file_id", "")
        if file_id not in self._files:
            raise ApiError(400, "Bad Request: invalid file_id")
        _, content = self._files[file_id]
        if len(content) > 20 * 1024 * 1024:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(content),
            "file_path": self._paths[file_id],
        }

    async def _m_answerInlineQuery(self, params: dict[str, Any]) -> bool:
        query_id = params.get("inline_query_id", "")
        sent_at = self._inline_queries.pop(query_id, None)
        if sent_at is None or time.monotonic() - sent_at > self.inline_query_timeout:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        results = params.get("results")
        if not isinstance(results, list) or len(results) > MAX_INLINE_RESULTS:
            raise ApiError(400, "Bad Request: RESULTS_TOO_MUCH")
        ids = [str(r.get("id", "")) for r in results]
        if len(set(ids)) != len(ids) or any(not 0 < len(i.encode()) <= 64 for i in ids):
            raise ApiError(400, "Bad Request: RESULT_ID_INVALID")
        for result in results:
            if result.get("type") != "article" or not str(result.get("title", "")).strip():
                raise ApiError(400, "Bad Request: RESULT_TYPE_INVALID")
            content = result.get("input_message_content") or {}
            _visible_text({"text": content.get("message_text", ""), **content})
            for row in (result.get("reply_markup") or {}).get("inline_keyboard", []):
                if any(
                    not b.get("text") or not (b.get("url") or b.get("callback_data")) for b in row
                ):
                    raise ApiError(400, "Bad Request: BUTTON_TYPE_INVALID")
        button = params.get("button")
        if button is not None:
            if not str(button.get("text", "")).strip():
                raise ApiError(400, "Bad Request: BUTTON_TEXT_INVALID")
            if not _START_PARAMETER.fullmatch(str(button.get("start_parameter", ""))):
                raise ApiError(400, "Bad Request: START_PARAM_INVALID")
        self.inline_answers[query_id] = params
        return True

    # -- helpers ----------------------------------------------------------------------------

    def _chat(self, chat_id: int, chat_type: str | None) -> dict[str, Any]:
        if chat_id not in self._chats or chat_type is not None:
            kind = chat_type or "private"
            chat: dict[str, Any] = {"id": chat_id, "type": kind}
            if kind == "private":
                chat["first_name"] = f"User{chat_id}"
            else:
                chat["title"] = f"Group {chat_id}"
            self._chats[chat_id] = chat
        return self._chats[chat_id]

    def _notify(self) -> None:
        if self._changed is None:
            return
        changed = self._changed

        async def wake() -> None:
            async with changed:
                changed.notify_all()

        asyncio.get_running_loop().create_task(wake())


def detect_entities(text: str) -> list[dict[str, Any]]:
    """The bot_command and mention entities Telegram would attach to this text."""
    entities = []
    command = _COMMAND.match(text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command[0])})
    for match in _MENTION.finditer(text):
        entities.append(
            {
                "type": "mention",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match[0]),
            }
        )
    return entities


def buttons(message: dict[str, Any]) -> dict[str, str]:
    """An inline keyboard's buttons: label → callback data."""
    markup = message.get("reply_markup") or {}
    return {
        b["text"]: b["callback_data"]
        for row in markup.get("inline_keyboard", [])
        for b in row
        if "callback_data" in b
    }


def _visible_text(params: dict[str, Any]) -> str:
    text = str(params.get("text", ""))
    if str(params.get("parse_mode", "")).upper() == "HTML":
        text = check_html(text)
    if not text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if utf16_len(text) > MAX_TEXT:
        raise ApiError(400, "Bad Request: message is too long")
    return text


async def _params(request: web.Request) -> dict[str, Any]:
    raw: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            raw.update(await request.json())
        else:
            form = await request.post()
            raw.update({k: v for k, v in form.items() if isinstance(v, str)})
    return {k: v if k in _STRING_PARAMS else _decode(v) for k, v in raw.items()}


def _decode(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


def _matches(params: dict[str, Any], match: dict[str, Any]) -> bool:
    for key, wanted in match.items():
        value = params.get(key)
        if callable(wanted):
            if not wanted(value):
                return False
        elif value != wanted:
            return False
    return True


def _short(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v[:80] if isinstance(v, str) else v) for k, v in params.items()}
