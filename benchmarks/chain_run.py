"""What the failover benchmarks share: the chain settings from the command line, and a consumer that
keeps what a display would (text, cleared by Reset) with the time the kept answer started."""

from __future__ import annotations

import argparse
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from providers import Chunk, ProviderInfo, Reset


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


async def consume(stream: AsyncIterator[Chunk]) -> Outcome:
    """Read a chain's stream as a display would."""
    started = time.monotonic()
    outcome = Outcome()
    async for chunk in stream:
        if isinstance(chunk, ProviderInfo):
            outcome.info = chunk
        elif isinstance(chunk, Reset):
            outcome.text, outcome.resets, outcome.starts_after = "", outcome.resets + 1, None
        elif isinstance(chunk, str) and chunk:
            outcome.starts_after = outcome.starts_after or time.monotonic() - started
            outcome.text += chunk
    return outcome
