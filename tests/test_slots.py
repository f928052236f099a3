"""``providers.slots.Slots``: a per-backend limit of parallel requests, first come first served."""

from __future__ import annotations

import asyncio

import pytest

from providers.slots import Slots


async def holders(slots: Slots, names: list[str], order: list[str], release: dict[str, asyncio.Event]) -> None:
    async def one(name: str) -> None:
        async with slots.hold():
            order.append(name)
            await release[name].wait()

    await asyncio.gather(*(one(name) for name in names))


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_at_most_the_limit_hold_at_once_and_the_rest_go_in_arrival_order() -> None:
    slots = Slots(1)
    names = ["a", "b", "c", "d"]
    release = {name: asyncio.Event() for name in names}
    order: list[str] = []
    running = asyncio.create_task(holders(slots, names, order, release))
    await settle()
    assert order == ["a"] and slots.busy == 1 and slots.waiting == 3
    for i, name in enumerate(names):
        release[name].set()
        await settle()
        assert order == names[: min(i + 2, len(names))]
        assert slots.busy == (1 if i < 3 else 0)
    await running


async def test_exactly_at_the_limit_nobody_waits_and_one_past_it_waits() -> None:
    slots = Slots(2)
    release = {name: asyncio.Event() for name in "abc"}
    order: list[str] = []
    running = asyncio.create_task(holders(slots, ["a", "b", "c"], order, release))
    await settle()
    assert order == ["a", "b"] and slots.waiting == 1
    release["b"].set()
    await settle()
    assert order == ["a", "b", "c"]
    release["a"].set()
    release["c"].set()
    await running
    assert slots.busy == 0


async def test_a_limit_learnt_later_applies_to_those_waiting_and_none_means_unlimited() -> None:
    slots = Slots(1)
    release = {name: asyncio.Event() for name in "abc"}
    order: list[str] = []
    running = asyncio.create_task(holders(slots, ["a", "b", "c"], order, release))
    await settle()
    assert order == ["a"]
    slots.limit = 2  # the server said it has two slots
    await settle()
    assert order == ["a", "b"]
    slots.limit = None
    await settle()
    assert order == ["a", "b", "c"] and slots.busy == 3
    for event in release.values():
        event.set()
    await running


async def test_a_waiter_cancelled_takes_no_slot_and_keeps_no_one_waiting() -> None:
    slots = Slots(1)
    release = asyncio.Event()
    order: list[str] = []

    async def one(name: str) -> None:
        async with slots.hold():
            order.append(name)
            await release.wait()

    first = asyncio.create_task(one("a"))
    await settle()
    cancelled = asyncio.create_task(one("b"))
    third = asyncio.create_task(one("c"))
    await settle()
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    release.set()
    await asyncio.gather(first, third)
    assert order == ["a", "c"] and slots.busy == 0 and slots.waiting == 0
