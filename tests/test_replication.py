"""Replicas share provider cooldowns and Telegram's global pace (bot.app.replication), through the store."""

from __future__ import annotations

from pathlib import Path

from bot.app.replication import Replication, SharedHealth
from bot.state.storage import ConversationStore
from bot.telegram.pacing import ChatPacer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_provider_cooling_on_one_replica_cools_on_the_other(tmp_path: Path) -> None:
    a = await ConversationStore.open(tmp_path / "bot.sqlite3")
    b = await ConversationStore.open(tmp_path / "bot.sqlite3")
    clock = Clock()
    wall = lambda: 1_800_000_000.0 + clock.now  # noqa: E731
    here, there = SharedHealth(a, clock=clock, wall=wall), SharedHealth(b, clock=clock, wall=wall)
    for _ in range(2):
        here.failure("ollama")
    await here.settled()
    await there.sync()
    assert not there.is_cooling("ollama"), "two failures: not cooling yet, anywhere"
    here.failure("ollama")  # the third: 60 s of cooldown
    await here.settled()
    await there.sync()
    assert there.is_cooling("ollama") and there.cooldown_remaining("ollama") == 60.0
    clock.now += 61
    assert not there.is_cooling("ollama")
    here.failure("llama", cool_for=300)  # a long Retry-After
    await here.settled()
    await there.sync()
    assert 299 <= there.cooldown_remaining("llama") <= 300
    there.success("llama")
    await there.settled()
    third = SharedHealth(a, clock=clock, wall=wall)
    await third.sync()
    assert not third.is_cooling("llama"), "an answer clears the cooldown for everyone"
    await a.close()
    await b.close()


async def test_each_live_replica_takes_its_share_of_the_global_pace(tmp_path: Path) -> None:
    a = await ConversationStore.open(tmp_path / "bot.sqlite3")
    b = await ConversationStore.open(tmp_path / "bot.sqlite3")
    pacer = ChatPacer(global_per_second=30)
    replication = Replication(a, SharedHealth(a), pacer)
    await replication.step()
    assert replication.replicas == 2 and pacer.global_interval == 2 / 30
    await b.leave()
    await replication.step()
    assert replication.replicas == 1 and pacer.global_interval == 1 / 30
    await a.close()
    await b.close()
