"""The webhook endpoint: Telegram POSTs updates here (usually through a TLS reverse proxy).

A request must carry the secret token given to `setWebhook` in the
`X-Telegram-Bot-Api-Secret-Token` header; it is compared in constant time, and a missing
or wrong token gets 403 without a hint. A body over 1 MB gets 413, one not received within
`BODY_TIMEOUT` seconds 408 (a slowly trickled body does not hold a connection open), one that
is not an update 400. Accepted updates go onto the application's update queue, exactly where
polling puts them.

PTB has a webhook server of its own, but it compares the token with `!=` and logs a wrong
token; this one is small enough to own.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1024 * 1024
BODY_TIMEOUT = 10.0  # seconds to receive a request's body, once its headers are in


class WebhookServer:
    """An aiohttp server with one route: POST `path` → the application's update queue."""

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        secret: str,
        listen: str,
        port: int,
        path: str = "/",
        body_timeout: float = BODY_TIMEOUT,
    ) -> None:
        if not secret:
            raise ValueError("a webhook needs a secret token")
        self._application = application
        self._secret = secret.encode()
        self.listen = listen
        self.port = port
        self.path = path if path.startswith("/") else f"/{path}"
        self.body_timeout = body_timeout
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Start listening; `port` is then the bound port (useful when 0 was asked for)."""
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post(self.path, self._receive)
        # No lingering: a request answered before its body was read in full (403, 408, 413)
        # has its connection closed at once, not read from for another 10 seconds.
        runner = web.AppRunner(app, access_log=None, lingering_time=0)
        await runner.setup()
        site = web.TCPSite(runner, self.listen, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        addresses: list[Any] = list(runner.addresses)
        if addresses and isinstance(addresses[0], tuple):
            self.port = int(addresses[0][1])
        log.info("webhook server listening on %s:%s%s", self.listen, self.port, self.path)

    async def stop(self) -> None:
        """Stop accepting requests; requests already being received are finished."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            log.warning("webhook request from %s without the right secret token", request.remote)
            return web.Response(status=403, text="forbidden")
        try:
            body = await asyncio.wait_for(request.read(), self.body_timeout)
        except web.HTTPRequestEntityTooLarge:
            log.warning("webhook request from %s over %s bytes", request.remote, MAX_BODY_BYTES)
            return web.Response(status=413, text="request body too large")
        except TimeoutError:
            log.warning("webhook request from %s sent its body too slowly", request.remote)
            return web.Response(status=408, text="request body not received in time")
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an update")
            update = Update.de_json(data, self._application.bot)
        except Exception as exc:
            log.warning("webhook request that is not a Telegram update: %s", exc)
            return web.Response(status=400, text="not a Telegram update")
        await self._application.update_queue.put(update)
        return web.Response(status=200, text="ok")
