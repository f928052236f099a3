"""ChatPacer with a fake clock."""

from __future__ import annotations

import asyncio
import itertools

from bot.pacing import ChatPacer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_private_chat_gets_one_request_per_interval() -> None:
    clock = Clock()
    pacer = ChatPacer(1.0, 20, 1000, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await pacer.acquire(1, is_group=False)
    assert clock.now == 2.0


async def test_group_rate_is_shared_and_other_chats_are_independent() -> None:
    clock = Clock()
    pacer = ChatPacer(1.0, 20, 1000, clock=clock, sleep=clock.sleep)
    await pacer.acquire(-5, is_group=True)
    assert pacer.delay(-5) == 3.0
    assert pacer.delay(6) < 0.01


async def test_retry_after_blocks_only_that_chat() -> None:
    clock = Clock()
    pacer = ChatPacer(1.0, 20, 1000, clock=clock, sleep=clock.sleep)
    pacer.penalize(1, 7)
    assert pacer.delay(1) == 7
    assert pacer.delay(2) == 0
    await pacer.acquire(1, is_group=False)
    assert clock.now == 7


async def test_global_rate() -> None:
    clock = Clock()
    pacer = ChatPacer(0, 1000, 10, clock=clock, sleep=clock.sleep)
    for chat in range(5):
        await pacer.acquire(chat, is_group=False)
    assert abs(clock.now - 0.4) < 1e-9


async def test_concurrent_waiters_in_one_chat_take_turns() -> None:
    pacer = ChatPacer(0.05, 20, 1000)
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def one() -> None:
        await pacer.acquire(9, is_group=False)
        times.append(loop.time())

    await asyncio.gather(*(one() for _ in range(4)))
    times.sort()
    assert all(b - a >= 0.045 for a, b in itertools.pairwise(times))
