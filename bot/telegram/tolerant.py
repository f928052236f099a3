"""The PTB bot with two robustness fixes: an update it cannot parse is skipped, not retried forever;
an answer that is not JSON is a network error.

:class:`TolerantRequest`: a 200 answer whose body is not JSON (a proxy cutting it short, a captive
portal) makes PTB raise the base ``TelegramError("Invalid server response")``, which no caller
retries; it is a transport failure, so it becomes ``NetworkError`` for every request (the
streamer and the Updater retry those).

PTB parses a getUpdates batch as a whole; one update it cannot parse (a Bot API
change PTB does not know yet, a malformed object) makes the Updater log the
batch as "not processed" and ask for the same offset again, at once and
forever, so the bot stops answering everyone. :class:`TolerantBot` re-reads
such a batch raw and parses each update on its own; one that still fails is
replaced by an empty ``Update`` with its ``update_id`` (so the offset moves past
it), and logged.

It also remembers the messages it has sent (:class:`SentMessages`): a send whose answer was lost
(Telegram carried it out, the response never came) leaves a message whose id nobody knows; the
streamer finds it among the ids it does not know (see :mod:`bot.telegram.streaming`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import warnings
from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import Any

from telegram import Update
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import JSONDict, ODVInput
from telegram.error import NetworkError, TelegramError
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest
from telegram.warnings import PTBUserWarning

logger = logging.getLogger(__name__)

#: Seconds an empty long poll takes at least (a server that returns it at once is asked again after this).
MIN_EMPTY_POLL_SECONDS = 0.5


class TolerantRequest(HTTPXRequest):
    """PTB's HTTPX request whose answers that are not JSON raise ``NetworkError`` (retried like a cut
    connection), not the base ``TelegramError`` (see the module's docstring)."""

    __slots__ = ()

    @staticmethod
    def parse_json_payload(payload: bytes) -> JSONDict:
        """The JSON of a Bot API answer (PTB's ``BaseRequest.parse_json_payload``).

        Raises:
            telegram.error.NetworkError: the body is not JSON; the message gives its size, not its content.
        """
        try:
            return json.loads(payload.decode("utf-8", "replace"))  # as PTB's own, which logs a traceback
        except ValueError:
            raise NetworkError(f"Invalid server response ({len(payload)} bytes that are not JSON)") from None


class SentMessages:
    """The ids of the messages the bot sent and got an answer for, the newest ``per_chat`` of each of
    the ``chats`` chats written to most recently (memory stays bounded)."""

    def __init__(self, per_chat: int = 64, chats: int = 10_000) -> None:
        self._per_chat = per_chat
        self._chats = chats
        self._ids: OrderedDict[int, deque[int]] = OrderedDict()

    def note(self, result: object) -> None:
        """Note the message(s) a Bot API method returned (a Message object, or a list of them)."""
        for message in result if isinstance(result, list) else [result]:
            if isinstance(message, dict) and isinstance(message.get("chat"), dict) and "message_id" in message:
                chat_id = int(message["chat"]["id"])
                ids = self._ids.pop(chat_id, None) or deque(maxlen=self._per_chat)
                ids.append(int(message["message_id"]))
                self._ids[chat_id] = ids
                while len(self._ids) > self._chats:
                    self._ids.popitem(last=False)

    def __contains__(self, key: tuple[int, int]) -> bool:
        """``(chat_id, message_id) in sent``: the bot sent that message and knows it did."""
        chat_id, message_id = key
        return message_id in self._ids.get(chat_id, ())


class TolerantBot(ExtBot[dict[str, Any]]):
    """An ``ExtBot`` whose :meth:`get_updates` survives unparsable updates and counts completed polls
    (``polls_completed``, for :class:`~bot.app.polling.PollingWatch`), and which notes the messages it
    sends (``sent``)."""

    __slots__ = ("_polls", "sent")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        with self._unfrozen():  # a PTB Bot refuses new attributes once built
            self._polls = [0]
            self.sent = SentMessages()

    def _insert_defaults(self, data: dict[str, object]) -> None:
        """PTB's, but an empty string stays one: with ``Defaults`` set, ExtBot 22.8 takes ``""`` for an
        empty sequence of poll options and sends ``[]`` (so sendMessageDraft's empty ``text``, Telegram's
        "Thinking…" placeholder, would arrive as the text "[]")."""
        empty = [key for key, value in data.items() if value == ""]
        super()._insert_defaults(data)
        data.update(dict.fromkeys(empty, ""))

    async def _do_post(self, endpoint: str, data: JSONDict, *args: Any, **kwargs: Any) -> Any:
        result = await super()._do_post(endpoint, data, *args, **kwargs)
        if endpoint.startswith(("send", "copy", "forward")):
            self.sent.note(result)
        return result

    @property
    def polls_completed(self) -> int:
        """getUpdates requests that returned (with or without updates) since start."""
        return self._polls[0]

    async def get_updates(
        self,
        offset: int | None = None,
        limit: int | None = None,
        timeout: Any = None,
        allowed_updates: Sequence[str] | None = None,
        *,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
        api_kwargs: dict[str, Any] | None = None,
    ) -> tuple[Update, ...]:
        """Bot API getUpdates; a batch PTB cannot parse is re-read and parsed update by update.

        A server that answers a long poll at once with nothing (ignoring ``timeout``, as some Bot API
        proxies do) is not asked again sooner than :data:`MIN_EMPTY_POLL_SECONDS` after the last
        ask: without updates the bot polls at most twice a second, never in a tight loop; with
        updates it polls again at once."""
        started = time.monotonic()
        try:
            updates = await super().get_updates(
                offset=offset,
                limit=limit,
                timeout=timeout,
                allowed_updates=allowed_updates,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
                api_kwargs=api_kwargs,
            )
        except TelegramError:
            raise
        except Exception:  # noqa: BLE001 - a parsing failure: re-read the same batch and parse one by one
            with warnings.catch_warnings():
                # PTB suggests get_updates() here, which is exactly what cannot parse this batch.
                warnings.filterwarnings("ignore", message=".*getUpdates", category=PTBUserWarning)
                raw = await self.do_api_request(
                    "getUpdates",
                    api_kwargs={"offset": offset, "limit": limit, "timeout": 0, "allowed_updates": allowed_updates},
                )
            updates = tuple(update for item in raw or [] if (update := self._parse(item)) is not None)
        self._polls[0] += 1
        if not updates and timeout:
            await asyncio.sleep(max(0.0, MIN_EMPTY_POLL_SECONDS - (time.monotonic() - started)))
        return updates

    def _parse(self, data: Any) -> Update | None:
        try:
            return Update.de_json(data, self)
        except Exception as error:  # noqa: BLE001 - logged and skipped
            update_id = data.get("update_id") if isinstance(data, dict) else None
            logger.error("skipping malformed update %s: %s: %s", update_id, type(error).__name__, error)
            return Update(update_id=int(update_id)) if isinstance(update_id, int) else None
