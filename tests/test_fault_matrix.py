"""The fault matrix: each failure class of an OpenAI-compatible backend, over real HTTP on loopback,
through RetryProvider with and without ``single_provider_retry``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from providers import (
    AuthenticationError,
    OpenAI,
    ProtocolError,
    ProviderConnectionError,
    ProviderTimeoutError,
    RateLimitError,
    Reset,
    RetryProvider,
    RetryProviderError,
    ServerError,
    Timeouts,
)

from .fakes.openai import Behaviour, Fail, FakeOpenAI, Hang, Reply
from .scripted import collect

PRIMARY = "The primary backend's complete answer."
BACKUP = "The backup backend's complete answer."
MESSAGES = [{"role": "user", "content": "question"}]

FAULTS: dict[str, tuple[Behaviour, type[Exception], bool]] = {
    # name: (behaviour, error class in the report, shows text before failing)
    "http_500": (Fail(500, "upstream exploded"), ServerError, False),
    "http_429_retry_after": (Fail(429, "rate limited", retry_after=0.2), RateLimitError, False),
    "http_401": (Fail(401, "bad key"), AuthenticationError, False),
    "hang_before_first_chunk": (Hang(), ProviderTimeoutError, False),
    "stall_mid_stream": (Reply(PRIMARY, chunk_size=4, hang_after=3), ProviderTimeoutError, True),
    "cut_mid_stream": (Reply(PRIMARY, chunk_size=4, cut_after=3), ProviderConnectionError, True),
    "malformed_line": (Reply(PRIMARY, chunk_size=4, malformed_after=3), ProtocolError, True),
}


@pytest.fixture
async def primary() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(default=Reply(PRIMARY, chunk_size=4)) as fake:
        yield fake


@pytest.fixture
async def backup() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(default=Reply(BACKUP, chunk_size=4)) as fake:
        yield fake


def make_chain(primary: FakeOpenAI, backup: FakeOpenAI, single: bool, max_retries: int) -> RetryProvider:
    return RetryProvider(
        [OpenAI(primary.base_url, "k", name="primary"), OpenAI(backup.base_url, "k", name="backup")],
        single_provider_retry=single,
        max_retries=max_retries,
        timeouts=Timeouts(first_chunk=0.3, idle=0.3, total=5),
        backoff_base=0.01,
    )


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("single", [False, True], ids=["chain", "single_provider_retry"])
@pytest.mark.parametrize("max_retries", [1, 2])
async def test_fault(primary: FakeOpenAI, backup: FakeOpenAI, fault: str, single: bool, max_retries: int) -> None:
    behaviour, error_class, shows_text = FAULTS[fault]
    primary.then(behaviour)
    chain = make_chain(primary, backup, single, max_retries)
    timeout_with_fallback = error_class is ProviderTimeoutError and not single
    retried = error_class is not AuthenticationError and max_retries > 1 and not timeout_with_fallback
    events: list[object] = []
    if single and not retried:
        with pytest.raises(RetryProviderError) as caught:
            async for event in chain.create_async_generator("", MESSAGES):
                events.append(event)
        [attempt] = caught.value.attempts
        assert attempt.provider == "primary" and isinstance(attempt.error, error_class)
        assert attempt.elapsed > 0
        assert backup.requests == []
        text = ""
    else:
        text, events = await collect(chain.create_async_generator("", MESSAGES))
        expected = PRIMARY if retried else BACKUP
        assert text == expected
        assert len(primary.requests) == (2 if retried else 1)
        assert len(backup.requests) == (0 if retried else 1)
    resets = [e for e in events if isinstance(e, Reset)]
    assert len(resets) == (1 if shows_text else 0)
    if shows_text:
        assert resets[0].provider == "primary"
    if fault == "http_429_retry_after" and retried:
        first, second = (t for t, kind in primary.timeline if kind == "request")
        assert second - first >= 0.2, "Retry-After is honoured"


async def test_a_thinking_model_is_not_timed_out_while_it_reasons(primary: FakeOpenAI, backup: FakeOpenAI) -> None:
    primary.then(Reply(PRIMARY, reasoning=["hmm"] * 6, reasoning_delay=0.1))  # 0.6 s of thinking
    text, _ = await collect(
        make_chain(primary, backup, single=False, max_retries=1).create_async_generator("", MESSAGES)
    )
    assert text == PRIMARY and backup.requests == [], "0.1 s between reasoning deltas stays under the 0.3 s timeout"
