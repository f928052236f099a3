"""Per-chat pacing of Bot API sends and edits.

Telegram's flood control (Bot API FAQ, "My bot is hitting limits"): about one
message per second in a chat, 20 per minute in a group, about 30 per second
overall; edits count like sends. Past that comes HTTP 429 with
``parameters.retry_after``. PTB's ``AIORateLimiter`` would pause every request
of the bot on one 429; this pacer pauses only the chat that got it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from telegram.constants import FloodLimit


def is_group_chat(chat_id: int) -> bool:
    """True for a chat paced at a group's rate: every chat but a private one (Bot API: a private
    chat's id is the user's, positive; groups, supergroups and channels have negative ids)."""
    return chat_id < 0


@dataclass(slots=True)
class _ChatState:
    next_slot: float = 0.0
    blocked_until: float = 0.0
    #: Until when requests that are no message (chat actions, reactions) wait, after a 429 of theirs.
    actions_until: float = 0.0
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)


class ChatPacer:
    """Spaces requests per chat and overall; honours ``retry_after`` per chat.

    Args:
        private_interval: seconds between two requests in a private chat.
        group_per_minute: requests per minute in a group (all replies in it share them).
        global_per_second: requests per second over all chats.
    """

    def __init__(
        self,
        private_interval: float = 1.0 / FloodLimit.MESSAGES_PER_SECOND_PER_CHAT,
        group_per_minute: float = FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP,
        global_per_second: float = FloodLimit.MESSAGES_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.private_interval = private_interval
        self.group_interval = 60.0 / group_per_minute
        self.global_interval = 1.0 / global_per_second
        self._clock = clock
        self._sleep = sleep
        self._chats: dict[int, _ChatState] = {}
        self._global_next = 0.0
        #: First messages of replies waiting for a slot: other requests let them go first.
        self._firsts = 0

    def interval(self, is_group: bool) -> float:
        """Seconds between two requests in one chat of that kind."""
        return self.group_interval if is_group else self.private_interval

    def delay(self, chat_id: int) -> float:
        """Seconds until ``chat_id`` may send again (0 when it may now)."""
        state = self._chats.get(chat_id)
        now = self._clock()
        chat_ready = max(state.next_slot, state.blocked_until) if state else 0.0
        return max(0.0, chat_ready - now, self._global_next - now)

    async def acquire(self, chat_id: int, is_group: bool, first: bool = False) -> None:
        """Wait until a request to ``chat_id`` is allowed, and take that slot.

        First come, first served within a chat (an ``asyncio.Lock``, which wakes its waiters in
        order): a request is never overtaken by a streaming reply that keeps asking, which would
        otherwise make it wait for the whole answer. The slot is taken when the request may go,
        so the spacing holds however long the global pace kept it waiting.

        ``first``: the first message of a reply. While one waits for the global pace, other
        requests (the growing replies' edits) let it go first, so a busy bot shows every chat its
        first text as early as 30 requests a second allow, and merges edits meanwhile.
        """
        state = self._chats.setdefault(chat_id, _ChatState())
        async with state.turn:
            while True:
                now = self._clock()
                chat_wait = max(state.next_slot, state.blocked_until) - now
                global_wait = self._global_next - now
                if chat_wait > 0:  # its own chat's pace: no one else is held for it
                    await self._sleep(chat_wait)
                elif first and global_wait > 0:
                    self._firsts += 1
                    try:
                        await self._sleep(global_wait)
                    finally:
                        self._firsts -= 1
                elif not first and (global_wait > 0 or self._firsts):
                    await self._sleep(max(global_wait, self.global_interval))
                else:
                    break
            state.next_slot = now + self.interval(is_group)
            self._global_next = now + self.global_interval
        self._prune(now)

    async def acquire_global(self, chat_id: int) -> None:
        """Wait for a request to ``chat_id`` that is no message (a reaction, a chat action): only the
        global pace and a 429 that blocks the chat (or such requests of it) hold it; it takes no slot
        of the chat, so it never delays the chat's answers."""
        while True:
            state = self._chats.get(chat_id)
            now = self._clock()
            blocked = max(state.blocked_until, state.actions_until) if state else 0.0
            wait = max(0.0, self._global_next - now, blocked - now)
            if wait <= 0:
                break
            await self._sleep(wait)
        self._global_next = now + self.global_interval

    def penalize(self, chat_id: int, retry_after: float, messages: bool = True) -> None:
        """Block ``chat_id`` for ``retry_after`` seconds (a 429's ``retry_after``); other chats go on.
        ``messages=False``: the 429 answered a request that is no message (a chat action, a
        reaction): only such requests wait (:meth:`acquire_global`), the chat's answers do not."""
        state = self._chats.setdefault(chat_id, _ChatState())
        until = self._clock() + retry_after
        if messages:
            state.blocked_until = max(state.blocked_until, until)
        else:
            state.actions_until = max(state.actions_until, until)

    def _prune(self, now: float) -> None:
        if len(self._chats) > 4096:
            idle = [
                c
                for c, s in self._chats.items()
                if max(s.next_slot, s.blocked_until, s.actions_until) < now and not s.turn.locked()
            ]
            for chat_id in idle:
                del self._chats[chat_id]


def duration_seconds(value: object) -> float:
    """A PTB duration (``RetryAfter.retry_after``, a voice note's ``duration``) as seconds: a
    ``timedelta`` (PTB 22 with ``PTB_TIMEDELTA``) or a number."""
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]
