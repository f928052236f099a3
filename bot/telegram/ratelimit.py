"""Flood control for every Bot API request: python-telegram-bot's rate-limiter hook.

PTB calls :meth:`ChatRateLimiter.process_request` for each request the bot makes
(``ExtBot(rate_limiter=...)``). Requests that post to a chat (sends, edits,
deletes, drafts) take a slot of that chat's pace and of the global one
(:class:`~bot.telegram.pacing.ChatPacer`: about one a second in a private chat, a group's 20
a minute, 30 a second in all; Bot API FAQ, "My bot is hitting limits"). A reaction
(setMessageReaction) is no message: it waits only for the global pace, and takes none of
the chat's slots, so the 👀 on queued group questions never delays their answers. A 429
(``RetryAfter``) blocks only that chat for ``retry_after`` seconds and the request
is tried again, up to ``max_retries`` times; unlike PTB's ``AIORateLimiter``, other
chats go on.

The streamer paces its own requests (it computes an edit's content only once its
slot is granted, so edits merge instead of queueing); it marks them with
``rate_limit_args={"paced": True}``: they are not paced or retried here, but a
429 still blocks their chat for every other request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.telegram.pacing import ChatPacer, duration_seconds

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
GLOBAL_ONLY_METHODS = frozenset({"setMessageReaction"})

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
        self.max_retries = max_retries
        self._sleep = sleep

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
                caller paces itself (it decides what to do), or a reaction (not retried).
        """
        chat_id = data.get("chat_id")
        chat = chat_id if isinstance(chat_id, int) else None
        paced_by_caller = bool(rate_limit_args and rate_limit_args.get("paced"))
        paced_here = endpoint in PACED_METHODS and chat is not None and not paced_by_caller
        global_only = endpoint in GLOBAL_ONLY_METHODS and chat is not None
        for attempt in range(self.max_retries + 1):
            if paced_here:
                assert chat is not None
                await self.pacer.acquire(chat, is_group=chat < 0)
            elif global_only:
                assert chat is not None
                await self.pacer.acquire_global(chat)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                if global_only:
                    raise  # best effort: a reaction refused for flooding neither waits nor blocks the chat
                seconds = duration_seconds(error.retry_after)
                if chat is not None:
                    self.pacer.penalize(chat, seconds)
                if paced_by_caller or attempt == self.max_retries:
                    raise
                logger.info("flood control in chat %s: %s waits %.0fs", chat, endpoint, seconds)
                if not paced_here:
                    await self._sleep(seconds)
        raise AssertionError("unreachable")
