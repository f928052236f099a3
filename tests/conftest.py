from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from .fakes.openai import FakeOpenAI
from .fakes.telegram import FakeBotApi
from .harness import BotHarness, Lines
from .pg import PostgresServer, running_server

# Durations from PTB are timedeltas, as in the running bot (bot.__main__ opts in the same way).
os.environ.setdefault("PTB_TIMEDELTA", "true")

# Locally, hypothesis explores new examples each run; in CI it replays a fixed sequence, so a
# landing is never decided by chance (a failure found locally is kept in .hypothesis/ and replayed).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    root = logging.getLogger()
    root.addHandler(handler)
    old = root.level
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old)


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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole run (see tests/pg.py); never skipped under CI."""
    with running_server() as server:
        if server is None:
            if os.environ.get("CI"):
                pytest.fail("PostgreSQL is not installed: .ci/run installs Debian's postgresql package")
            pytest.skip("PostgreSQL is not installed (Debian's postgresql package): its tests are skipped here")
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a new empty database on the test server."""
    return postgres_server.database()
