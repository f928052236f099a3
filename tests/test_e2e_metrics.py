"""GET /metrics and GET /healthz (METRICS_PORT), as Prometheus and a load balancer read them."""

from __future__ import annotations

import asyncio

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from .fakes.openai import Fail, Reply
from .harness import BotHarness
from .pg import PostgresServer, free_port

CHAT = 4242


async def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scraped(port: int, name: str, labels: tuple[tuple[str, str], ...], value: float) -> dict[object, float]:
    """Scrape until the sample ``name{labels}`` reaches ``value`` (a reply's metrics are noted just
    after the user sees it); the last scrape."""
    for _ in range(200):
        samples = await scrape(port)
        if samples.get((name, labels), 0) >= value:
            return samples  # type: ignore[return-value]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name}{dict(labels)} never reached {value}: {samples.get((name, labels))}")


async def health(port: int) -> int:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/healthz") as response:
        return response.status


async def test_metrics_count_updates_answers_errors_tokens_and_times(harness: BotHarness) -> None:
    port = free_port()
    harness.overrides["metrics_port"] = port
    harness.llm.then(Reply("The first answer."), Fail(status=500), Fail(status=500))
    await harness.start()
    await harness.say(CHAT, "first question")
    await harness.say(CHAT, "second question")  # the provider fails: one sentence
    samples = await scraped(port, "bot_answers_total", (("outcome", "failed"),), 1)
    assert samples[("bot_updates_received_total", ())] == 2
    assert samples[("bot_answers_total", (("outcome", "answered"),))] == 1
    assert samples[("bot_answers_total", (("outcome", "failed"),))] == 1
    assert samples[("bot_provider_attempts_total", (("outcome", "ok"), ("provider", "openai")))] == 1
    assert samples[("bot_provider_errors_total", (("error", "ServerError"), ("provider", "openai")))] >= 1
    assert samples[("bot_tokens_total", (("kind", "completion"),))] > 0
    assert samples[("bot_reply_seconds_count", ())] == 2 and samples[("bot_first_text_seconds_count", ())] >= 1
    assert samples[("bot_turns_waiting", ())] == 0 and samples[("bot_flood_waits_total", ())] == 0
    assert await health(port) == 200


async def test_health_is_503_while_the_store_does_not_answer(
    harness: BotHarness, postgres_server: PostgresServer, postgres_url: str
) -> None:
    port = free_port()
    harness.overrides.update(metrics_port=port, database_url=postgres_url)
    await harness.start()
    assert await health(port) == 200
    postgres_server.kill()
    try:
        assert await health(port) == 503
    finally:
        postgres_server.restart()
    assert await health(port) == 200
