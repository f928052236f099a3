"""Answers the messages of one conversation in order, one at a time.

Different conversations run concurrently (PTB ``concurrent_updates``); within
one, a second message waits for the first answer so the history stays
consistent. ``asyncio.Lock`` wakes waiters first-in first-out, and a handler
enters :meth:`ConversationQueue.turn` before its first ``await``, so turns
follow the order in which updates arrived.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Slot:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    holders: int = 0
    members: Counter[Hashable] = field(default_factory=Counter)


class ConversationQueue:
    """Per-key FIFO turns; entries vanish when no one holds or waits for them."""

    def __init__(self) -> None:
        self._slots: dict[Hashable, _Slot] = {}

    def pending(self, key: Hashable, member: Hashable | None = None) -> int:
        """Messages of ``key`` being answered or waiting (only ``member``'s, when given)."""
        slot = self._slots.get(key)
        if slot is None:
            return 0
        return slot.holders if member is None else slot.members[member]

    def total(self) -> int:
        """Messages being answered or waiting, over every conversation."""
        return sum(slot.holders for slot in self._slots.values())

    @asynccontextmanager
    async def turn(self, key: Hashable, member: Hashable | None = None) -> AsyncIterator[None]:
        """Wait for this conversation's earlier messages, then hold its turn (counted for ``member``)."""
        slot = self._slots.setdefault(key, _Slot())
        slot.holders += 1
        slot.members[member] += 1
        try:
            async with slot.lock:
                yield
        finally:
            slot.holders -= 1
            slot.members[member] -= 1
            if slot.holders == 0:
                self._slots.pop(key, None)
