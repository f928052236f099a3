"""Operations: Prometheus metrics (``GET /metrics``) and a health check (``GET /healthz``), served on
``WEBHOOK_LISTEN:METRICS_PORT`` when ``METRICS_PORT`` is set (polling or webhook mode).

The metrics live in a registry of their own (prometheus-client's ``CollectorRegistry``), built at
start-up: nothing global. Each is fed by a hook of the part that knows it: updates by a handler
ahead of every other, replies by the turn service (:class:`~bot.turns.port.TurnObserver`), provider
attempts by the chain (``RetryProvider(on_attempt=...)``), 429s by the rate limiter.

``/healthz`` answers 200 while the replica's store answers within :data:`HEALTH_TIMEOUT` seconds,
else 503 (for a load balancer or an orchestrator's readiness probe).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.app.serving import HttpServer
from bot.state.protocols import Store
from bot.turns.port import StreamResult
from providers import Attempt

logger = logging.getLogger(__name__)

#: Seconds the store has to answer a health check.
HEALTH_TIMEOUT = 2.0
#: Buckets of the reply-time histograms, seconds.
BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 55.0, 90.0)


def outcome_of(result: StreamResult) -> str:
    """How a reply ended, as the ``outcome`` label: answered, stopped, cut (failed after text was
    shown), failed, forbidden (the bot may no longer write to the chat)."""
    if result.forbidden is not None:
        return "forbidden"
    if result.error is not None:
        return "cut" if result.text.strip() else "failed"
    return "stopped" if result.stopped else "answered"


class Metrics:
    """The bot's metrics (names end in ``_total`` in the exposition for counters).

    Args:
        waiting: the number of questions being answered or waiting for their turn, read at each scrape.
        statements: the statements the store sent to its database since start.
    """

    def __init__(self, waiting: Callable[[], int] = lambda: 0, statements: Callable[[], int] = lambda: 0) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.updates = Counter("bot_updates_received", "Updates received from Telegram.", registry=registry)
        self.answers = Counter("bot_answers", "Replies, by how they ended.", ["outcome"], registry=registry)
        self.attempts = Counter(
            "bot_provider_attempts", "Provider attempts, by provider and outcome.", ["provider", "outcome"],
            registry=registry,
        )  # fmt: skip
        self.provider_errors = Counter(
            "bot_provider_errors", "Failed provider attempts, by provider and error.", ["provider", "error"],
            registry=registry,
        )  # fmt: skip
        self.failovers = Counter(
            "bot_failovers", "Answers started over by another attempt after text was shown.", ["provider"],
            registry=registry,
        )  # fmt: skip
        self.tokens = Counter("bot_tokens", "Tokens of the answers kept.", ["kind"], registry=registry)
        self.cost = Counter(
            "bot_cost_dollars", "Cost of the answers kept, US dollars (known prices).", registry=registry
        )
        self.floods = Counter("bot_flood_waits", "Bot API 429 answers (flood control).", registry=registry)
        self.waiting = Gauge("bot_turns_waiting", "Questions being answered or waiting.", registry=registry)
        self.waiting.set_function(waiting)
        self.statements = Gauge(
            "bot_store_statements", "Statements sent to the database since start (round trips).", registry=registry
        )
        self.statements.set_function(statements)
        self.first_text = Histogram(
            "bot_first_text_seconds", "Seconds from a reply's start to its first text.", buckets=BUCKETS,
            registry=registry,
        )  # fmt: skip
        self.done = Histogram(
            "bot_reply_seconds", "Seconds from a reply's start to its end.", buckets=BUCKETS, registry=registry
        )

    def update_received(self) -> None:
        """One update came in."""
        self.updates.inc()

    def answered(self, result: StreamResult, seconds: float, cost: float | None) -> None:
        """A reply ended (:class:`~bot.turns.port.TurnObserver`)."""
        self.answers.labels(outcome_of(result)).inc()
        self.done.observe(seconds)
        if result.first_visible is not None:
            self.first_text.observe(result.first_visible)
        provider = result.answered_by.provider if result.answered_by else "-"
        if result.resets:
            self.failovers.labels(provider).inc(result.resets)
        if result.usage is not None and result.error is None:
            self.tokens.labels("prompt").inc(result.usage.prompt_tokens)
            self.tokens.labels("completion").inc(result.usage.completion_tokens)
        if cost:
            self.cost.inc(cost)

    def attempted(self, attempt: Attempt) -> None:
        """A provider attempt ended (``RetryProvider(on_attempt=...)``)."""
        if attempt.error is None:
            self.attempts.labels(attempt.provider, "ok").inc()
            return
        self.attempts.labels(attempt.provider, "error").inc()
        self.provider_errors.labels(attempt.provider, type(attempt.error).__name__).inc()

    def flooded(self, seconds: float) -> None:
        """Telegram answered 429."""
        self.floods.inc()


class OpsServer(HttpServer):
    """``GET /metrics`` and ``GET /healthz`` on ``listen:port``."""

    def __init__(self, metrics: Metrics, store: Store, listen: str, port: int) -> None:
        super().__init__(listen, port)
        self.metrics = metrics
        self.store = store

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._health)
        return app

    async def start(self) -> None:
        """Listen.

        Raises:
            OSError: the address is taken or cannot be bound.
        """
        await super().start()
        logger.info("metrics on http://%s:%s/metrics, health on /healthz", self.listen, self.port)

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _health(self, request: web.Request) -> web.Response:
        try:
            await asyncio.wait_for(self.store.schema_version(), HEALTH_TIMEOUT)
        except Exception as error:  # noqa: BLE001 - whatever keeps the store from answering makes it unhealthy
            reason = str(error) or type(error).__name__
            logger.warning("health check: the store does not answer (%s)", reason)
            return web.Response(status=503, text=f"the store does not answer: {reason}\n")
        return web.Response(text="ok\n")
