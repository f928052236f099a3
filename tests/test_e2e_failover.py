"""A provider that dies mid-answer leaves no trace in what the user sees."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .fakes.openai import FakeOpenAI, Reply
from .harness import BotHarness, Lines


@pytest.fixture
async def backup() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(default=Reply("Backup answer, complete and alone.", chunk_size=6, delay=0.01)) as fake:
        yield fake


async def test_mid_stream_failure_shows_only_the_next_providers_answer(
    harness: BotHarness, backup: FakeOpenAI, lines: Lines
) -> None:
    harness.overrides["providers"] = "openai,backup"
    harness.environ = {"BACKUP_BASE_URL": backup.base_url}
    harness.llm.then(Reply("PRIMARY PARTIAL TEXT THAT DIES", chunk_size=4, delay=0.05, cut_after=5))
    await harness.start()
    assert await harness.say(9, "question") == ["Backup answer, complete and alone."]
    assert "resets=1" in (await lines.wait_for(" answered ")).getMessage()
    shown = [c.params["text"] for c in harness.telegram.calls if c.method in ("sendMessage", "editMessageText")]
    assert any("PRIMARY" in t for t in shown), "the partial answer was visible before the failover"
    assert harness.telegram.bot_texts(9) == ["Backup answer, complete and alone."]
    # The stored history holds only the complete answer.
    harness.llm.then(Reply("ok"))
    await harness.say(9, "next")
    last = harness.llm.requests[-1]["messages"]
    assert last[2] == {"role": "assistant", "content": "Backup answer, complete and alone."}


async def test_every_provider_failing_gives_one_sentence(harness: BotHarness, backup: FakeOpenAI) -> None:
    from .fakes.openai import Fail

    harness.overrides["providers"] = "openai,backup"
    harness.environ = {"BACKUP_BASE_URL": backup.base_url}
    harness.llm.then(Fail(429, "slow down", retry_after=60))
    backup.then(Fail(429, "slow down too", retry_after=60))
    await harness.start()
    assert await harness.say(9, "question") == ["The language model is busy right now. Please try again in a minute."]


async def test_seed_providers_answer_in_the_bot(harness: BotHarness) -> None:
    from .fakes.sites import FakeAichatSite, FakeAiEngine

    async with FakeAiEngine(mode="error") as engine, FakeAichatSite(answer="Aichat answers.") as site:
        harness.overrides["providers"] = "opchatgpts,aichat"
        harness.environ = {"OPCHATGPTS_URL": engine.url, "AICHAT_URL": site.url}
        await harness.start()
        assert await harness.say(9, "hello") == ["Aichat answers."]
        assert len(engine.requests) == 1 and site.requests[0]["message"].startswith("System: ")
        await harness.stop()
