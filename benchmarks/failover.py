"""Benchmark: for each fault class, what the consumer ends with and how long until the next provider answers.

A chain of two OpenAI-compatible fakes on loopback: the primary fails once in the
given way (then would answer), the backup always answers. Run with the bot's
defaults (PROVIDER_MAX_RETRIES=2, 30 s first-chunk and idle timeouts, 0.5 s backoff
base) or other values:

    .venv/bin/python benchmarks/failover.py [--max-retries N] [--first-chunk S] [--idle S]

Prints one row per fault: the final text's source, Reset events seen, the time
from the request to the first text of the answer that was kept, and attempts.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.chain_run import chain_arguments, trial
from tests.fakes.openai import Fail, FakeOpenAI, Hang, Reply

PRIMARY = "primary answer " * 8
BACKUP = "backup answer " * 8

FAULTS = {
    "HTTP 500": Fail(500, "boom"),
    "HTTP 429 Retry-After: 2": Fail(429, "slow down", retry_after=2),
    "HTTP 429 Retry-After: 120": Fail(429, "slow down", retry_after=120),
    "HTTP 401": Fail(401, "bad key"),
    "hang before first chunk": Hang(),
    "stall mid-stream": Reply(PRIMARY, chunk_size=8, hang_after=3),
    "connection cut mid-stream": Reply(PRIMARY, chunk_size=8, cut_after=3),
    "malformed line": Reply(PRIMARY, chunk_size=8, malformed_after=3),
}


async def run(fault: str, args: argparse.Namespace) -> str:
    primary = FakeOpenAI(default=Reply(PRIMARY, chunk_size=8), models=["m"])
    backup = FakeOpenAI(default=Reply(BACKUP, chunk_size=8), models=["m"])
    primary.then(FAULTS[fault])
    result = await trial(primary, backup, "m", args, models=["m"])
    text = result.outcome.text
    if result.error is not None:
        source = f"error: {type(result.error).__name__}"
    else:
        source = "primary (retried)" if text == PRIMARY else "backup" if text == BACKUP else f"MIXED {text!r}"
    return (
        f"{fault:<28} {source:<20} resets={result.outcome.resets}"
        f"  answer starts after {result.starts_after}  attempts: {result.requests}"
    )


async def main() -> None:
    args = chain_arguments()
    for fault in FAULTS:
        print(await run(fault, args), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
