"""What replicas share besides the store's rows: provider cooldowns, and Telegram's bot-wide pace.

- :class:`SharedHealth` is the chain's :class:`~providers.ProviderHealth` whose cooldowns every
  replica sees: a provider that cools down on one replica is written to the store, and the others
  read it within :data:`SYNC_INTERVAL` seconds, so a dead backend is not tried by each in turn.
- :class:`Replication` keeps that in step and gives each replica its share of Telegram's global
  limit (30 messages a second per bot: each of N live replicas paces itself at 30/N); a chat's own
  pace is kept by the one replica handling the chat (the inbox's leases).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from bot.state.protocols import ProviderCooldowns, Replicas
from bot.state.storage import StorageError
from bot.telegram.pacing import ChatPacer
from providers import ProviderHealth

logger = logging.getLogger(__name__)

#: Seconds between two looks at the replicas' shared state.
SYNC_INTERVAL = 5.0


class SharedHealth(ProviderHealth):
    """A :class:`~providers.ProviderHealth` whose cooldowns go to ``store`` and come from it
    (:meth:`sync`); a failure to write one is logged, the cooldown still holds here."""

    def __init__(
        self,
        store: ProviderCooldowns,
        failures_to_cool: int = 3,
        cooldown_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(failures_to_cool, cooldown_seconds, clock)
        self.store = store
        self._wall = wall
        self._writes: set[asyncio.Task[None]] = set()

    def failure(self, name: str, cool_for: float | None = None) -> None:
        """Count a failure; a cooldown it starts (or lengthens) is written for the other replicas."""
        before = self.cooldown_remaining(name)
        super().failure(name, cool_for)
        remaining = self.cooldown_remaining(name)
        if remaining > before:
            self._write(self.store.set_cooldown(name, self._wall() + remaining))

    def success(self, name: str) -> None:
        """A success clears the cooldown here and, if there was one, for the others too."""
        had = self.cooldown_remaining(name) > 0
        super().success(name)
        if had:
            self._write(self.store.clear_cooldown(name))

    async def sync(self) -> None:
        """Take the cooldowns other replicas wrote."""
        now = self._wall()
        for name, until in (await self.store.cooldowns()).items():
            if until - now > self.cooldown_remaining(name):
                self.cool(name, until - now)

    async def settled(self) -> None:
        """Wait for the writes in flight (tests, shutdown)."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    def _write(self, work: Coroutine[Any, Any, None]) -> None:
        async def write() -> None:
            try:
                await work
            except StorageError as error:
                logger.warning("a provider's cooldown could not be shared: %s", error)

        task = asyncio.create_task(write())
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)


class Replication:
    """Every :data:`SYNC_INTERVAL` seconds: the other replicas' cooldowns, and this replica's share of
    the global pace (``pacer.global_interval`` = one replica's interval x live replicas)."""

    def __init__(self, store: Replicas, health: SharedHealth, pacer: ChatPacer) -> None:
        self.store = store
        self.health = health
        self.pacer = pacer
        self._interval = pacer.global_interval
        #: Live replicas at the last look.
        self.replicas = 1

    async def step(self) -> None:
        """One look (errors are logged; the last known state stays)."""
        try:
            await self.health.sync()
            self.replicas = await self.store.alive_count()
        except StorageError as error:
            logger.warning("the replicas' shared state cannot be read: %s", error)
            return
        self.pacer.global_interval = self._interval * self.replicas

    async def run(self) -> None:
        """Look every :data:`SYNC_INTERVAL` seconds until cancelled."""
        while True:
            await self.step()
            await asyncio.sleep(SYNC_INTERVAL)
