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
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from providers import OpenAI, Reset, RetryProvider, Timeouts
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
    primary = FakeOpenAI(default=Reply(PRIMARY, chunk_size=8))
    backup = FakeOpenAI(default=Reply(BACKUP, chunk_size=8))
    await primary.start()
    await backup.start()
    primary.then(FAULTS[fault])
    chain = RetryProvider(
        [
            OpenAI(primary.base_url, "k", name="primary", models=["m"]),
            OpenAI(backup.base_url, "k", name="backup", models=["m"]),
        ],
        max_retries=args.max_retries,
        timeouts=Timeouts(first_chunk=args.first_chunk, idle=args.idle, total=300),
    )
    started = time.monotonic()
    text, resets, kept_at = "", 0, None
    try:
        async for chunk in chain.create_async_generator("m", [{"role": "user", "content": "q"}]):
            if isinstance(chunk, Reset):
                text, resets, kept_at = "", resets + 1, None
            else:
                kept_at = kept_at or time.monotonic()
                text += chunk
        source = "primary (retried)" if text == PRIMARY else "backup" if text == BACKUP else f"MIXED {text!r}"
    except Exception as error:  # noqa: BLE001 - reported
        source = f"error: {type(error).__name__}"
    finally:
        await primary.stop()
        await backup.stop()
    wait = f"{kept_at - started:7.3f}s" if kept_at else "      -"
    tries = f"primary={len(primary.requests)} backup={len(backup.requests)}"
    return f"{fault:<28} {source:<20} resets={resets}  answer starts after {wait}  attempts: {tries}"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-retries", type=int, default=2)
    parser.add_argument("--first-chunk", type=float, default=30.0)
    parser.add_argument("--idle", type=float, default=30.0)
    args = parser.parse_args()
    print(f"max_retries={args.max_retries} first_chunk={args.first_chunk}s idle={args.idle}s backoff_base=0.5s")
    for fault in FAULTS:
        print(await run(fault, args), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
