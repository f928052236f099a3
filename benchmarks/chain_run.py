"""What the failover benchmarks share: the chain settings from the command line, one request through
a chain of two fake servers, and a consumer that keeps what a display would (text, cleared by Reset)
with the time the kept answer started."""

from __future__ import annotations

import argparse
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from providers import Answer, Chunk, Finish, OpenAI, ProviderInfo, Reasoning, Reset, RetryProvider, Timeouts, Usage
from tests.fakes.openai import FakeOpenAI


def chain_arguments() -> argparse.Namespace:
    """``--max-retries`` (2), ``--first-chunk`` and ``--idle`` (30 s): the bot's defaults."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-retries", type=int, default=2)
    parser.add_argument("--first-chunk", type=float, default=30.0)
    parser.add_argument("--idle", type=float, default=30.0)
    args = parser.parse_args()
    print(f"max_retries={args.max_retries} first_chunk={args.first_chunk}s idle={args.idle}s backoff_base=0.5s")
    return args


@dataclass
class Outcome:
    """The kept answer, Reset events seen, seconds from the request to the kept answer's first text,
    and the last ProviderInfo (who wrote it)."""

    text: str = ""
    resets: int = 0
    starts_after: float | None = None
    info: ProviderInfo | None = None


class _Display:
    """When a display would start showing the answer (an AnswerListener): reset by a failover."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.started = time.monotonic()

    def on_text(self, text: str) -> None:
        self.outcome.starts_after = self.outcome.starts_after or time.monotonic() - self.started

    def on_reset(self, reset: Reset) -> None:
        self.outcome.starts_after = None

    def on_info(self, info: ProviderInfo) -> None:
        """Who answered: read from the answer at the end."""

    def on_finish(self, finish: Finish) -> None:
        """Not measured."""

    def on_usage(self, usage: Usage) -> None:
        """Not measured."""

    def on_reasoning(self, reasoning: Reasoning) -> None:
        """Not measured."""


async def consume(stream: AsyncIterator[Chunk]) -> Outcome:
    """Read a chain's stream as a display would."""
    outcome = Outcome()
    answer = Answer(listener=_Display(outcome))
    async for chunk in stream:
        answer.add(chunk)
    outcome.text, outcome.resets, outcome.info = answer.text, answer.resets, answer.info
    return outcome


@dataclass
class Trial:
    """One request through primary -> backup: what the consumer kept (or the error), and the requests
    each server got."""

    outcome: Outcome
    error: BaseException | None
    requests: str

    @property
    def starts_after(self) -> str:
        """Seconds to the kept answer's first text, formatted ("-" when none)."""
        seconds = self.outcome.starts_after
        return f"{seconds:7.3f}s" if seconds is not None else "      -"


async def trial(
    primary: FakeOpenAI, backup: FakeOpenAI, model: str, args: argparse.Namespace, models: list[str] | None = None
) -> Trial:
    """Start both fakes, send one question for ``model`` through a chain over them (``args``' retries
    and timeouts; ``models`` configured on both providers), and stop the fakes."""
    await primary.start()
    await backup.start()
    chain = RetryProvider(
        [
            OpenAI(primary.base_url, "k", name="primary", models=models),
            OpenAI(backup.base_url, "k", name="backup", models=models),
        ],
        max_retries=args.max_retries,
        timeouts=Timeouts(first_chunk=args.first_chunk, idle=args.idle, total=300),
    )
    outcome, error = Outcome(), None
    try:
        outcome = await consume(chain.create_async_generator(model, [{"role": "user", "content": "q"}]))
    except Exception as exc:  # noqa: BLE001 - reported
        error = exc
    finally:
        await primary.stop()
        await backup.stop()
    return Trial(outcome, error, f"primary={len(primary.requests)} backup={len(backup.requests)}")
