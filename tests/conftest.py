from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from .fakes.openai import FakeOpenAI
from .fakes.telegram import FakeBotApi
from .harness import BotHarness


@pytest.fixture
async def telegram() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as fake:
        yield fake


@pytest.fixture
async def llm() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def harness(telegram: FakeBotApi, llm: FakeOpenAI, tmp_path: Path) -> AsyncIterator[BotHarness]:
    bot = BotHarness(telegram, llm, tmp_path / "bot.sqlite3")
    yield bot
    await bot.stop()
    bot.close()
