"""RetryProvider on its own: order, retries, backoff, timeouts, cooldown, exactly-once."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers import (
    AuthenticationError,
    InterruptedStreamError,
    ProviderConnectionError,
    ProviderHealth,
    ProviderInfo,
    ProviderTimeoutError,
    RateLimitError,
    Reset,
    RetryProvider,
    RetryProviderError,
    ServerError,
    Timeouts,
)

from .scripted import Run, ScriptedProvider, collect

MESSAGES = [{"role": "user", "content": "hi"}]


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def chain(*providers: ScriptedProvider, **kwargs: object) -> tuple[RetryProvider, Sleeps]:
    sleeps = Sleeps()
    kwargs.setdefault("max_retries", 1)
    return RetryProvider(list(providers), sleep=sleeps, **kwargs), sleeps  # type: ignore[arg-type]


async def test_first_working_provider_answers() -> None:
    a = ScriptedProvider("a", Run(["Hel", "lo"]))
    b = ScriptedProvider("b")
    retry, _ = chain(a, b)
    text, events = await collect(retry.create_async_generator("m", MESSAGES))
    assert text == "Hello" and events == ["Hel", "lo"]
    assert b.calls == []


async def test_error_before_text_moves_on_without_reset() -> None:
    a = ScriptedProvider("a", Run(error=ServerError("500", status=500)))
    b = ScriptedProvider("b", Run(["fine"]))
    retry, _ = chain(a, b)
    text, events = await collect(retry.create_async_generator("m", MESSAGES))
    assert text == "fine" and events == ["fine"]


async def test_mid_stream_failure_yields_reset_then_the_next_complete_answer() -> None:
    a = ScriptedProvider("a", Run(["partial ", "answ"], error=ProviderConnectionError("cut")))
    b = ScriptedProvider("b", Run(["whole ", "answer"]))
    retry, _ = chain(a, b)
    text, events = await collect(retry.create_async_generator("m", MESSAGES))
    assert text == "whole answer"
    assert events[:2] == ["partial ", "answ"]
    assert isinstance(events[2], Reset) and events[2].provider == "a"
    assert events[3:] == ["whole ", "answer"]


async def test_retrying_the_same_provider_never_duplicates_text() -> None:
    a = ScriptedProvider(
        "a", Run(["one ", "two"], error=ProviderConnectionError("cut")), Run(["one ", "two ", "three"])
    )
    retry, sleeps = chain(a, max_retries=2, single_provider_retry=True)
    text, _ = await collect(retry.create_async_generator("m", MESSAGES))
    assert text == "one two three"
    assert len(sleeps.calls) == 1


async def test_backoff_is_exponential_with_jitter_and_honours_retry_after() -> None:
    a = ScriptedProvider(
        "a",
        Run(error=ServerError("500")),
        Run(error=ServerError("500")),
        Run(error=RateLimitError("429", retry_after=5)),
        Run(["ok"]),
    )
    retry, sleeps = chain(a, max_retries=4, backoff_base=1.0, backoff_max=30)
    text, _ = await collect(retry.create_async_generator("m", MESSAGES))
    assert text == "ok"
    first, second, third = sleeps.calls
    assert 0.5 <= first <= 1.0 and 1.0 <= second <= 2.0
    assert third >= 5


async def test_an_interrupted_stream_waits_longer_before_its_retry() -> None:
    """Another request took the server's slot: retrying at once would cut that one in turn."""
    a = ScriptedProvider("a", Run(["half"], error=InterruptedStreamError("no finish_reason")), Run(["whole"]))
    retry, sleeps = chain(a, max_retries=2, backoff_base=0.5, interrupted_backoff=2.0)
    text, _ = await collect(retry.create_async_generator("m", MESSAGES))
    assert text == "whole" and sleeps.calls[0] >= 2.0


async def test_a_provider_with_one_slot_serves_one_attempt_at_a_time_in_arrival_order() -> None:
    a = ScriptedProvider("a", default=Run(["x", "y"], delay=0.02))
    a.max_parallel = 1
    retry, _ = chain(a)
    running: list[int] = []
    peak = 0

    async def ask(n: int) -> str:
        nonlocal peak
        text = ""
        async for chunk in retry.create_async_generator("m", MESSAGES):
            if isinstance(chunk, str):
                if not text:
                    running.append(n)
                text += chunk
        return text

    async def watch() -> None:
        nonlocal peak
        while True:
            slots = retry._slots.get("a")
            peak = max(peak, slots.busy if slots else 0)
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    texts = await asyncio.gather(*(ask(n) for n in range(3)))
    watcher.cancel()
    assert texts == ["xy"] * 3 and running == [0, 1, 2] and peak == 1


async def test_no_free_slot_within_the_total_timeout_moves_on() -> None:
    from providers.slots import Slots

    a = ScriptedProvider("a", default=Run(["from a"]))
    b = ScriptedProvider("b", default=Run(["from b"]))
    a.max_parallel = 1
    retry, _ = chain(a, b, timeouts=Timeouts(first_chunk=5, idle=5, total=0.2))
    await retry._slots.setdefault("a", Slots(1)).acquire()  # another request holds a's one slot
    infos: list[ProviderInfo] = []
    text, _ = await collect(retry.only(["a", "b"]).create_async_generator("m", MESSAGES), infos)
    assert text == "from b" and not a.calls, "a was never asked: its slot did not come free in time"
    assert [info.provider for info in infos] == ["a", "b"]
    for _ in range(retry.health.failures_to_cool):  # busy with the chain's own requests is no failure
        await collect(retry.only(["a", "b"]).create_async_generator("m", MESSAGES))
    assert not retry.health.is_cooling("a")
    retry._slots["a"].release()
    text, _ = await collect(retry.create_async_generator("m", MESSAGES))
    assert text == "from a"


async def test_long_retry_after_moves_on_and_cools_the_provider_down() -> None:
    a = ScriptedProvider("a", Run(error=RateLimitError("429", retry_after=120)))
    b = ScriptedProvider("b", default=Run(["from b"]))
    retry, sleeps = chain(a, b, max_retries=3, max_retry_after=20)
    assert (await collect(retry.create_async_generator("m", MESSAGES)))[0] == "from b"
    assert sleeps.calls == []
    assert retry.health.is_cooling("a")
    assert (await collect(retry.create_async_generator("m", MESSAGES)))[0] == "from b"
    assert len(a.calls) == 1, "a is skipped while cooling down"


async def test_non_retryable_error_moves_on_at_once() -> None:
    a = ScriptedProvider("a", Run(error=AuthenticationError("401")))
    b = ScriptedProvider("b", Run(["ok"]))
    retry, sleeps = chain(a, b, max_retries=5)
    assert (await collect(retry.create_async_generator("m", MESSAGES)))[0] == "ok"
    assert len(a.calls) == 1 and sleeps.calls == []


async def test_all_failing_reports_every_attempt() -> None:
    a = ScriptedProvider("a", default=Run(error=ServerError("boom", status=502)))
    b = ScriptedProvider("b", default=Run(["par"], error=ProviderConnectionError("cut")))
    retry, _ = chain(a, b, max_retries=2)
    events = []
    with pytest.raises(RetryProviderError) as caught:
        async for event in retry.create_async_generator("m", MESSAGES):
            events.append(event)
    attempts = caught.value.attempts
    assert [(x.provider, x.outcome) for x in attempts] == [
        ("a", "ServerError"),
        ("a", "ServerError"),
        ("b", "ProviderConnectionError"),
        ("b", "ProviderConnectionError"),
    ]
    assert all(x.elapsed >= 0 and x.model == "m" for x in attempts)
    assert events[-1] == Reset("b", "cut"), "partial text is always discarded before the error"


async def test_first_chunk_timeout() -> None:
    a = ScriptedProvider("a", Run(hang=True))
    b = ScriptedProvider("b", Run(["ok"]))
    retry, _ = chain(a, b, timeouts=Timeouts(first_chunk=0.05, idle=5, total=5))
    assert (await collect(retry.create_async_generator("m", MESSAGES)))[0] == "ok"


async def test_idle_timeout_mid_stream_resets() -> None:
    a = ScriptedProvider("a", Run(["so far"], hang=True))
    b = ScriptedProvider("b", Run(["ok"]))
    retry, _ = chain(a, b, timeouts=Timeouts(first_chunk=5, idle=0.05, total=5))
    text, events = await collect(retry.create_async_generator("m", MESSAGES))
    assert text == "ok" and isinstance(events[1], Reset)


async def test_total_timeout() -> None:
    a = ScriptedProvider("a", Run(["x"] * 100, delay=0.02))
    b = ScriptedProvider("b", Run(["ok"]))
    retry, _ = chain(a, b, timeouts=Timeouts(first_chunk=1, idle=1, total=0.2))
    with pytest.raises(RetryProviderError):
        await collect(RetryProvider([a], timeouts=Timeouts(1, 1, 0.2), max_retries=1).create_async_generator("m", []))
    a.runs.append(Run(["x"] * 100, delay=0.02))
    text, _ = await collect(retry.create_async_generator("m", MESSAGES))
    assert text == "ok"


async def test_timeout_error_is_typed_with_its_phase() -> None:
    a = ScriptedProvider("a", Run(hang=True))
    retry, _ = chain(a, timeouts=Timeouts(first_chunk=0.05, idle=1, total=1))
    with pytest.raises(RetryProviderError) as caught:
        await collect(retry.create_async_generator("m", MESSAGES))
    error = caught.value.attempts[0].error
    assert isinstance(error, ProviderTimeoutError) and error.phase == "first_chunk"


async def test_single_provider_retry_uses_only_the_first_provider() -> None:
    a = ScriptedProvider("a", default=Run(error=ServerError("x")))
    b = ScriptedProvider("b")
    retry, _ = chain(a, b, single_provider_retry=True, max_retries=5)
    with pytest.raises(RetryProviderError) as caught:
        await collect(retry.create_async_generator("m", MESSAGES))
    assert len(a.calls) == 5 and b.calls == []
    assert len(caught.value.attempts) == 5


async def test_cooldown_expires_and_the_provider_is_probed_again() -> None:
    now = [0.0]
    health = ProviderHealth(failures_to_cool=2, cooldown_seconds=30, clock=lambda: now[0])
    a = ScriptedProvider("a", Run(error=ServerError("x")), Run(error=ServerError("x")), Run(["back"]))
    b = ScriptedProvider("b", default=Run(["b"]))
    retry = RetryProvider([a, b], max_retries=1, health=health, sleep=Sleeps())
    for _ in range(2):
        assert (await collect(retry.create_async_generator("m", MESSAGES)))[0] == "b"
    assert health.is_cooling("a")
    assert (await collect(retry.create_async_generator("m", MESSAGES)))[0] == "b"
    assert len(a.calls) == 2
    now[0] = 31
    assert (await collect(retry.create_async_generator("m", MESSAGES)))[0] == "back"
    assert not health.is_cooling("a")


async def test_every_provider_cooling_down_still_tries_them() -> None:
    health = ProviderHealth(failures_to_cool=1, cooldown_seconds=60)
    a = ScriptedProvider("a", Run(error=ServerError("x")), Run(["recovered"]))
    retry = RetryProvider([a], max_retries=1, health=health, sleep=Sleeps())
    with pytest.raises(RetryProviderError):
        await collect(retry.create_async_generator("m", MESSAGES))
    assert (await collect(retry.create_async_generator("m", MESSAGES)))[0] == "recovered"


async def test_consumer_closing_early_closes_the_provider_stream() -> None:
    closed = asyncio.Event()

    class Endless(ScriptedProvider):
        async def stream(self, model, messages, proxy=None, **kwargs):  # type: ignore[no-untyped-def]
            try:
                while True:
                    yield "x"
                    await asyncio.sleep(0)
            finally:
                closed.set()

    retry = RetryProvider([Endless("e")])
    stream = retry.create_async_generator("m", MESSAGES)
    assert await stream.__anext__() == ProviderInfo("e", "m", "m")
    assert await stream.__anext__() == "x"
    await stream.aclose()
    assert closed.is_set()


FAULTS = st.sampled_from(["ok", "error_before", "error_mid", "auth", "rate_limit"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    scripts=st.lists(st.lists(FAULTS, min_size=1, max_size=4), min_size=1, max_size=4),
    max_retries=st.integers(1, 3),
    single=st.booleans(),
)
def test_property_consumer_ends_with_exactly_one_complete_answer_or_the_error(
    scripts: list[list[str]], max_retries: int, single: bool
) -> None:
    providers = []
    answers = {}
    for index, script in enumerate(scripts):
        name = f"p{index}"
        answer = [f"{name}-", "answer-", "complete"]
        answers[name] = "".join(answer)
        runs = []
        for fault in script:
            if fault == "ok":
                runs.append(Run(list(answer)))
            elif fault == "error_before":
                runs.append(Run(error=ServerError("500")))
            elif fault == "error_mid":
                runs.append(Run(answer[:2], error=ProviderConnectionError("cut")))
            elif fault == "auth":
                runs.append(Run(error=AuthenticationError("401")))
            else:
                runs.append(Run(answer[:1], error=RateLimitError("429", retry_after=1)))
        providers.append(ScriptedProvider(name, *runs, default=Run(error=ServerError("exhausted"))))

    async def scenario() -> None:
        retry = RetryProvider(providers, single_provider_retry=single, max_retries=max_retries, sleep=Sleeps())
        try:
            text, events = await collect(retry.create_async_generator("m", MESSAGES))
        except RetryProviderError as error:
            assert error.attempts and all(a.error is not None for a in error.attempts)
            return
        assert text in answers.values(), f"spliced or duplicated: {text!r}"
        tail = events[max((i for i, e in enumerate(events) if isinstance(e, Reset)), default=-1) + 1 :]
        assert "".join(tail) == text

    asyncio.run(scenario())


async def test_refused_requests_do_not_cool_a_provider_down() -> None:
    from providers import ModelNotSupportedError

    health = ProviderHealth(failures_to_cool=2, cooldown_seconds=60)
    a = ScriptedProvider("a", default=Run(error=ModelNotSupportedError("no such model")))
    b = ScriptedProvider("b", default=Run(["b"]))
    retry = RetryProvider([a, b], max_retries=1, health=health, sleep=Sleeps())
    for _ in range(5):
        assert (await collect(retry.create_async_generator("exotic", MESSAGES)))[0] == "b"
    assert not health.is_cooling("a") and len(a.calls) == 5


async def test_a_timeout_moves_on_when_another_provider_is_left_and_retries_the_last_one() -> None:
    a = ScriptedProvider("a", Run(hang=True), Run(["a answers"]))
    b = ScriptedProvider("b", Run(hang=True), Run(["b answers"]))
    retry, sleeps = chain(a, b, max_retries=2, timeouts=Timeouts(first_chunk=0.05, idle=1, total=5))
    assert (await collect(retry.create_async_generator("m", MESSAGES)))[0] == "b answers"
    assert len(a.calls) == 1 and len(b.calls) == 2 and len(sleeps.calls) == 1


async def test_shuffle_changes_the_order_and_still_tries_everyone() -> None:
    import random

    firsts = set()
    for seed in range(20):
        providers = [ScriptedProvider(n, default=Run(error=ServerError("x"))) for n in "abcd"]
        retry = RetryProvider(providers, shuffle=True, max_retries=1, rng=random.Random(seed), sleep=Sleeps())
        with pytest.raises(RetryProviderError) as caught:
            await collect(retry.create_async_generator("m", MESSAGES))
        order = [a.provider for a in caught.value.attempts]
        assert sorted(order) == ["a", "b", "c", "d"]
        firsts.add(order[0])
    assert len(firsts) > 1


async def test_one_log_line_per_attempt(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="providers.retry")
    a = ScriptedProvider("a", Run(error=ServerError("boom")))
    b = ScriptedProvider("b", Run(["ok"]))
    retry, _ = chain(a, b)
    await collect(retry.create_async_generator("gpt-x", MESSAGES))
    lines = [r.getMessage() for r in caplog.records if r.name == "providers.retry"]
    assert len(lines) == 2
    assert lines[0].startswith("provider=a model=gpt-x outcome=ServerError latency=")
    assert lines[1].startswith("provider=b model=gpt-x outcome=ok latency=")
