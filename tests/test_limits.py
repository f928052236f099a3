"""Per-user hourly limits."""

from __future__ import annotations

from bot.limits import UserLimiter

from .harness import BotHarness


def test_sliding_window() -> None:
    now = [0.0]
    limiter = UserLimiter(2, exempt=[9], clock=lambda: now[0])
    assert limiter.take(1) == 0 and limiter.take(1) == 0
    assert limiter.take(1) == 3600
    assert limiter.take(2) == 0, "other users are independent"
    assert all(limiter.take(9) == 0 for _ in range(10)), "owners are exempt"
    now[0] = 1800
    assert limiter.take(1) == 1800
    now[0] = 3600.5
    assert limiter.take(1) == 0


def test_zero_means_no_limit() -> None:
    limiter = UserLimiter(0)
    assert all(limiter.take(1) == 0 for _ in range(100))


async def test_user_over_the_limit_is_told_and_costs_no_provider_call(harness: BotHarness) -> None:
    harness.overrides["user_messages_per_hour"] = 2
    await harness.start()
    await harness.say(5, "one")
    await harness.say(5, "two")
    harness.telegram.user_message(5, "three")
    await harness.telegram.wait_for(lambda: len(harness.telegram.bot_texts(5)) == 3)
    assert harness.telegram.bot_texts(5)[-1] == (
        "You've reached the limit of 2 messages an hour. Please try again in 60 min."
    )
    assert len(harness.llm.requests) == 2
