"""The replies being written, one per conversation, and the shutdown of the turns.

A reply in progress can be stopped by /stop or its Stop button (by whoever asked, or an admin), and
at shutdown (:meth:`RepliesInProgress.finish`): replies being written get a grace period, the rest
are stopped with a note, and questions still waiting for their turn are not started
(:attr:`RepliesInProgress.closing`). The reply itself is whatever the Telegram side streams it with
(:class:`ReplyInProgress`: ``bot.telegram.streaming.ReplyStream``); nothing here knows Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from bot.state.storage import ConversationKey


class ReplyInProgress(Protocol):
    """A reply being written, as the turns see it."""

    def stop(self, note: str = ...) -> None:
        """Stop reading the answer; what was shown stays, followed by the catalog's sentence ``note``
        (a key of :mod:`bot.texts`), in the reply's language."""

    def shows(self, message_id: int) -> bool:
        """True when the chat's message ``message_id`` shows (part of) this reply."""

    def shows_draft(self, draft_id: int) -> bool:
        """True when the chat's message draft ``draft_id`` shows this reply (Bot API sendMessageDraft)."""


@dataclass(slots=True)
class ActiveReply:
    """A reply being generated: its stream, who asked for it, and whether it has ended."""

    stream: ReplyInProgress
    requester_id: int | None
    finished: asyncio.Event = field(default_factory=asyncio.Event)


class RepliesInProgress:
    """The reply being written in each conversation (at most one: turns are ordered), and whether
    the bot is closing. One per application, built at start-up."""

    def __init__(self) -> None:
        self._active: dict[ConversationKey, ActiveReply] = {}
        #: True once shutdown began: questions still waiting for their turn are not started.
        self.closing = False

    def get(self, key: ConversationKey) -> ActiveReply | None:
        """The reply being written in ``key``, or None."""
        return self._active.get(key)

    def __len__(self) -> int:
        return len(self._active)

    @contextlib.contextmanager
    def running(self, key: ConversationKey, stream: ReplyInProgress, requester_id: int | None) -> Iterator[ActiveReply]:
        """Register ``stream`` as the reply being written in ``key`` for the ``with`` body; it is
        forgotten, and marked finished, when the body ends (however it ends)."""
        active = self._active[key] = ActiveReply(stream, requester_id)
        try:
            yield active
        finally:
            if self._active.get(key) is active:
                del self._active[key]
            active.finished.set()

    async def finish(self, grace: float, note: str) -> None:
        """On shutdown: let the replies being written finish for ``grace`` seconds, then stop the
        rest, each ending with the sentence ``note`` (a catalog key). From now on :attr:`closing` is True."""
        self.closing = True
        waiters = [asyncio.ensure_future(reply.finished.wait()) for reply in self._active.values()]
        if waiters:
            await asyncio.wait(waiters, timeout=grace)
        for waiter in waiters:
            waiter.cancel()
        for reply in list(self._active.values()):
            reply.stream.stop(note=note)
