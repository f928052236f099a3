"""``Slots``: at most N requests to one backend at a time, the rest waiting in arrival order.

Local servers have few parallel slots: llama-server serves ``--parallel`` requests at once (its
``GET /props`` says ``total_slots``), llama-cpp-python one, and with ``interrupt_requests`` (its
default) a second request *cancels* the running one; Ollama queues past ``OLLAMA_NUM_PARALLEL``.
Sending such a server more requests than it has slots only makes them cut each other, so the chain
holds a slot of the backend for the whole of each attempt (``{NAME}_MAX_PARALLEL``, or what the
server says; none: unlimited).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator


class Slots:
    """A first-come, first-served limit of ``limit`` holders at once (None: no limit).

    Unlike a bare ``asyncio.Semaphore``, the limit can change while requests wait (it is learnt from
    the server after the first requests), a freed slot goes to the longest waiter even when a new
    request arrives at that moment, and a waiter that is cancelled leaves no slot taken.
    """

    def __init__(self, limit: int | None = None) -> None:
        self._limit = limit
        self._busy = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def limit(self) -> int | None:
        """The number of holders allowed at once; None: unlimited."""
        return self._limit

    @limit.setter
    def limit(self, value: int | None) -> None:
        self._limit = value
        self._wake()

    @property
    def busy(self) -> int:
        """Slots held now."""
        return self._busy

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot now."""
        return sum(not w.done() for w in self._waiters)

    def _free(self) -> bool:
        return self._limit is None or self._busy < self._limit

    def _wake(self) -> None:
        """Hand free slots to the longest waiters (the slot is taken for them)."""
        while self._waiters and self._free():
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._busy += 1
                waiter.set_result(None)

    async def acquire(self) -> None:
        """Wait for a slot, behind every earlier waiter, and take it; :meth:`release` gives it back.
        Cancelled while waiting (a timeout around it included), it takes none."""
        if self._free() and not self._waiters:
            self._busy += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # granted just as it was cancelled: give it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        """Give back a slot taken with :meth:`acquire`; the longest waiter gets it."""
        self._busy -= 1
        self._wake()

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Hold a slot (:meth:`acquire`) for the ``async with`` body."""
        await self.acquire()
        try:
            yield
        finally:
            self.release()
