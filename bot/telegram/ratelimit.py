"""Flood control for every Bot API request, in one place: python-telegram-bot's rate-limiter hook.

PTB calls :meth:`ChatRateLimiter.process_request` for each request the bot makes
(``ExtBot(rate_limiter=...)``). Requests that post to a chat (sends, edits,
deletes, drafts) take a slot of that chat's pace and of the global one
(:class:`~bot.telegram.pacing.ChatPacer`: about one a second in a private chat, a group's 20
a minute, 30 a second in all; Bot API FAQ, "My bot is hitting limits"). A reaction
(setMessageReaction) or a chat action (sendChatAction, "typing") is no message: it waits only for
the global pace, and takes none of the chat's slots, so the 👀 on queued group questions and the
typing action never delay answers. A 429 (``RetryAfter``) blocks only that chat for
``retry_after`` seconds and the request is tried again, up to ``max_retries`` times; unlike PTB's
``AIORateLimiter``, other chats go on. A 429 to a reaction or an action holds back only the
chat's further reactions and actions, and is not retried (best effort).

The streamer takes its slot before it computes what to send (:meth:`ChatRateLimiter.slot`), so
an edit carries everything received while it waited and edits merge instead of queueing; the
request it then makes is marked ``rate_limit_args={"paced": True}`` and passes
:meth:`~ChatRateLimiter.process_request` untouched. A 429 to it is handled by :meth:`slot`: the
chat is blocked, and the streamer, told by the ``RetryAfter`` it gets, tries again with its
next slot. This module is the only one that asks the pacer for a slot or blocks a chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.telegram.pacing import ChatPacer, duration_seconds, is_group_chat

logger = logging.getLogger(__name__)

#: Bot API methods that post to a chat and count against its flood limit.
PACED_METHODS = frozenset(
    {
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
        "deleteMessage",
        "sendMessageDraft",
        "sendPhoto",
        "sendDocument",
        "sendSticker",
        "sendVoice",
        "sendAudio",
        "sendVideo",
        "sendAnimation",
        "copyMessage",
        "forwardMessage",
    }
)

#: Bot API methods about a chat that are no message: paced globally, never per chat.
GLOBAL_ONLY_METHODS = frozenset({"setMessageReaction", "sendChatAction"})

#: ``rate_limit_args`` of a request its caller has paced already (the streamer).
PACED = {"paced": True}


class ChatRateLimiter(BaseRateLimiter[dict[str, Any]]):
    """Per-chat and global pacing of every request, and per-chat waits on 429.

    Args:
        pacer: the shared pacer (the streamer uses the same one).
        max_retries: times a request refused with 429 is tried again after its wait.
        sleep: how a request that is not paced waits out a 429 (``asyncio.sleep``; a fake in tests).
    """

    def __init__(
        self,
        pacer: ChatPacer,
        max_retries: int = 3,
        sleep: Callable[[float], Coroutine[Any, Any, Any]] = asyncio.sleep,
    ) -> None:
        self.pacer = pacer
        #: Called with each 429's ``retry_after`` (seconds): a hook for metrics.
        self.on_flood: Callable[[float], None] | None = None
        self.max_retries = max_retries
        self._sleep = sleep

    @contextlib.asynccontextmanager
    async def slot(self, chat_id: int, first: bool = False) -> AsyncIterator[None]:
        """Wait for ``chat_id``'s next slot and hold it for the body, which makes one request to the
        chat marked with :data:`PACED`. A 429 to it blocks the chat for ``retry_after`` seconds
        and propagates (the caller decides what to send with its next slot).

        ``first``: the first message of a reply (see :meth:`~bot.telegram.pacing.ChatPacer.acquire`).
        """
        await self.pacer.acquire(chat_id, is_group=is_group_chat(chat_id), first=first)
        try:
            yield
        except RetryAfter as error:
            self._flooded(chat_id, error, "a streamed reply")
            raise

    def _flooded(self, chat_id: int, error: RetryAfter, what: str, messages: bool = True) -> float:
        """Block ``chat_id`` for the 429's ``retry_after`` (only its requests that are no message,
        when ``messages`` is False); one log line. Returns the seconds."""
        seconds = duration_seconds(error.retry_after)
        self.pacer.penalize(chat_id, seconds, messages=messages)
        if self.on_flood is not None:
            self.on_flood(seconds)
        logger.info("flood control in chat %s: %s waits %.0fs", chat_id, what, seconds)
        return seconds

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Wait for the chat's slot (paced methods), make the request, and on 429 make only
        that chat wait ``retry_after`` before trying again.

        Raises:
            telegram.error.RetryAfter: still refused after ``max_retries`` waits, a request the
                caller paces itself (:meth:`slot` blocks the chat; the caller decides what to
                do), or a reaction or chat action (not retried).
        """
        chat_id = data.get("chat_id")
        chat = chat_id if isinstance(chat_id, int) else None
        if rate_limit_args and rate_limit_args.get("paced"):
            return await callback(*args, **kwargs)  # its slot and its 429 are :meth:`slot`'s
        paced_here = endpoint in PACED_METHODS and chat is not None
        global_only = endpoint in GLOBAL_ONLY_METHODS and chat is not None
        for attempt in range(self.max_retries + 1):
            if paced_here:
                assert chat is not None
                await self.pacer.acquire(chat, is_group=is_group_chat(chat))
            elif global_only:
                assert chat is not None
                await self.pacer.acquire_global(chat)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                if global_only:
                    assert chat is not None
                    self._flooded(chat, error, endpoint, messages=False)
                    raise  # best effort: not retried, and the chat's answers are not held back
                if chat is not None:
                    seconds = self._flooded(chat, error, endpoint)
                else:
                    seconds = duration_seconds(error.retry_after)
                if attempt == self.max_retries:
                    raise
                if not paced_here:
                    await self._sleep(seconds)
        raise AssertionError("unreachable")
