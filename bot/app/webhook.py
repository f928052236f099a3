"""Webhook mode (``WEBHOOK_URL``): Telegram POSTs each update to the bot, which keeps it before it
answers 200, then handles it; several replicas may share one store behind a load balancer.

:class:`WebhookServer` (aiohttp) serves ``WEBHOOK_LISTEN:WEBHOOK_PORT`` at the URL's path:

- a request without the ``X-Telegram-Bot-Api-Secret-Token`` header gets 401, one with another
  value 403 (Bot API setWebhook ``secret_token``); neither is read further;
- a body over :data:`MAX_BODY` bytes gets 413, one that is not a JSON object with an integer
  ``update_id`` 400; each is one log line, without the body;
- an update is kept in the store's inbox (:class:`~bot.state.protocols.UpdateInbox`) *before* the
  200: a crash after the answer loses nothing. One Telegram sends again (same ``update_id``, after
  a timeout, or to another replica) is answered 200 and not handled twice. A store that cannot
  keep it answers 503: Telegram sends it again later.

:class:`UpdateReceiver` claims updates from the inbox (each chat's updates go to one replica at a
time, in ``update_id`` order, whichever replica received them) and hands each to
python-telegram-bot's ``Application``, as its ``customwebhookbot`` example feeds one. Every
:data:`~bot.state.storage.BEAT_INTERVAL` seconds it notes its replica alive and takes over what a
replica that is gone left: its cut replies are announced, its questions not started are answered
here, its updates not handled are handled here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application
from yarl import URL

from bot.app.serving import HttpServer
from bot.state.protocols import Store
from bot.state.storage import BEAT_INTERVAL, InterruptedReply, StorageError
from bot.telegram.generation import STOPPED_GENERATION

logger = logging.getLogger(__name__)

#: Header Telegram sends the webhook's ``secret_token`` in (Bot API setWebhook).
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: Largest update body taken, bytes; Telegram's updates are far smaller.
MAX_BODY = 1024 * 1024


class WebhookError(RuntimeError):
    """A server of the bot cannot start (the webhook's or the metrics' address cannot be bound), or
    Telegram refused the webhook. The message names the setting to fix."""


#: Update fields that carry a message, and those that carry a chat (Bot API "Update").
_MESSAGE_FIELDS = ("message", "edited_message", "channel_post", "edited_channel_post", "business_message")
_CHAT_FIELDS = (
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "message_reaction",
    "message_reaction_count",
    STOPPED_GENERATION,
)


def update_chat(data: dict[str, Any]) -> tuple[int, int | None]:
    """The chat an update concerns (0 when none: an inline query...) and its message's id, if any.
    A chat's updates are handled by one replica at a time, in order."""
    for name in _MESSAGE_FIELDS:
        message = data.get(name)
        if isinstance(message, dict) and isinstance(message.get("chat"), dict):
            return int(message["chat"].get("id") or 0), _int(message.get("message_id"))
    query = data.get("callback_query")
    if isinstance(query, dict) and isinstance(query.get("message"), dict):
        chat = query["message"].get("chat")
        return (int(chat.get("id") or 0) if isinstance(chat, dict) else 0), None
    for name in _CHAT_FIELDS:
        value = data.get(name)
        if isinstance(value, dict) and isinstance(value.get("chat"), dict):
            return int(value["chat"].get("id") or 0), None
    return 0, None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


#: Seconds between two looks at the inbox for updates kept by another replica (the replica that
#: received an update looks at once).
CLAIM_INTERVAL = 0.5


class UpdateReceiver:
    """Handles the updates kept in the inbox that this replica claims (the store gives each chat to
    one replica at a time): each once, started in ``update_id`` order, as PTB's ``Application``
    handles a polled update. Every :data:`~bot.state.storage.BEAT_INTERVAL` seconds it notes the
    replica alive and takes over what a replica that is gone left (``on_interrupted`` announces its
    cut replies)."""

    def __init__(
        self,
        app: Application[Any, Any, Any, Any, Any, Any],
        inbox: Store,
        on_interrupted: Callable[[list[InterruptedReply]], Awaitable[None]],
    ) -> None:
        self.app = app
        self.inbox = inbox
        self.on_interrupted = on_interrupted
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        #: True once the replica stops: updates still being handled are left for another replica.
        self.closing = False
        #: Looks at the inbox that the store answered (the heartbeat's sign of life).
        self.sweeps = 0

    def wake(self) -> None:
        """Look at the inbox now (an update was kept)."""
        self._wake.set()

    async def run(self) -> None:
        """Claim and handle updates until cancelled; take over a gone replica's work now and then."""
        swept = 0.0
        while True:
            now = time.monotonic()
            try:
                if now - swept >= BEAT_INTERVAL:
                    swept = now
                    await self.inbox.beat()
                    interrupted = await self.inbox.take_interrupted()
                    if interrupted:
                        logger.info("took over %d replies cut short by a replica that is gone", len(interrupted))
                        await self.on_interrupted(interrupted)
                claimed = await self.inbox.claim_updates()
                self.sweeps += 1
                for update_id, body in claimed:
                    try:
                        data = json.loads(body)
                    except ValueError:
                        data = {}
                    task = asyncio.create_task(self._process(update_id, data if isinstance(data, dict) else {}))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            except StorageError as error:
                logger.warning("the inbox cannot be read (%s); trying again", error)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLAIM_INTERVAL):
                    await self._wake.wait()

    async def _process(self, update_id: int, data: dict[str, Any]) -> None:
        try:
            update = Update.de_json(data, self.app.bot)
        except Exception as error:  # noqa: BLE001 - one update PTB cannot read is skipped, not fatal
            logger.warning("update %s cannot be read (%s); skipped", update_id, type(error).__name__)
            update = None
        if update is not None:
            await self.app.process_update(update)  # errors go to the application's error handler
        if self.closing:
            return  # handed over: another replica takes it (a question already answered is not again)
        try:
            await self.inbox.update_done(update_id)
        except StorageError as error:
            logger.warning("could not note update %s as handled (%s); it may be handled again", update_id, error)

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the updates being handled (at shutdown)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)


class WebhookServer(HttpServer):
    """The HTTP endpoint Telegram POSTs updates to (see the module's docstring).

    Args:
        url: ``WEBHOOK_URL``; only its path is served.
        secret: ``WEBHOOK_SECRET``.
        inbox: where an update is kept before the 200.
        receiver: what handles each new update.
        listen, port: ``WEBHOOK_LISTEN``, ``WEBHOOK_PORT``.
    """

    def __init__(self, url: str, secret: str, inbox: Store, receiver: UpdateReceiver, listen: str, port: int) -> None:
        super().__init__(listen, port)
        self.path = URL(url).path or "/"
        self._secret = secret.encode()
        self.inbox = inbox
        self.receiver = receiver

    def application(self) -> web.Application:
        """The aiohttp application (its one route)."""
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(self.path, self._post)
        return app

    async def start(self) -> None:
        """Listen.

        Raises:
            WebhookError: the address is taken or cannot be bound (names WEBHOOK_LISTEN and WEBHOOK_PORT).
        """
        try:
            await super().start()
        except OSError as error:
            raise WebhookError(
                f"WEBHOOK_LISTEN:WEBHOOK_PORT {self.listen}:{self.port} cannot be listened on:"
                f" {error.strerror or error}"
            ) from None
        logger.info("webhook server listening on %s:%s%s", self.listen, self.port, self.path)

    async def _post(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            logger.warning("webhook request from %s without the secret token: refused (401)", request.remote)
            return web.Response(status=401)
        if not hmac.compare_digest(given.encode(), self._secret):
            logger.warning("webhook request from %s with a wrong secret token: refused (403)", request.remote)
            return web.Response(status=403)
        if request.content_length is not None and request.content_length > MAX_BODY:
            logger.warning("webhook request of %d bytes: over %d, refused (413)", request.content_length, MAX_BODY)
            return web.Response(status=413)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            logger.warning("webhook request over %d bytes: refused (413)", MAX_BODY)
            return web.Response(status=413)
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            logger.warning("webhook request of %d bytes that is not a JSON update: refused (400)", len(body))
            return web.Response(status=400)
        chat_id, message_id = update_chat(data)
        try:
            new = await self.inbox.put_update(update_id, body.decode("utf-8", "replace"), chat_id, message_id)
        except StorageError as error:
            logger.error("update %s could not be kept (%s): Telegram will send it again (503)", update_id, error)
            return web.Response(status=503)
        if new:
            self.receiver.wake()
        return web.Response(status=200)
