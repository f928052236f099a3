"""Benchmark: model routing under faults. What the consumer ends with, and how long until the kept answer starts.

A chain of two OpenAI-compatible fakes on loopback that refuse models they do not list:
the primary lists ``shared`` and ``primary-only``, the backup ``backup-own`` and ``shared``.
The primary fails every request in the given way (a backend that is down); the backup
always answers. For each model choice (none, offered by both, offered by the primary only)
and each fault, one request goes through a ``RetryProvider`` with the bot's defaults
(PROVIDER_MAX_RETRIES=2, 30 s first-chunk and idle timeouts, 0.5 s backoff base,
MODEL_FALLBACK on), or other values:

    .venv/bin/python benchmarks/routing.py [--max-retries N] [--first-chunk S] [--idle S]

Prints one row per case: who wrote the kept answer (and with which model, and whether
it is a fallback from the chosen model), Reset events, the time from the request to the
first text of the kept answer, and the requests each server got.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.chain_run import chain_arguments, trial
from tests.fakes.openai import Behaviour, Fail, FakeOpenAI, Hang, Reply

PRIMARY = "primary answer " * 8
BACKUP = "backup answer " * 8

MODELS = {"none": "", "offered by all": "shared", "offered by the first only": "primary-only"}
FAULTS: dict[str, Behaviour | None] = {
    "none": None,
    "HTTP 500": Fail(500, "boom"),
    "hang": Hang(),
    "cut mid-stream": Reply(PRIMARY, chunk_size=8, cut_after=3),
}


async def run(choice: str, fault: str, args: argparse.Namespace) -> str:
    behaviour = FAULTS[fault]
    primary = FakeOpenAI(default=behaviour or Reply(PRIMARY, chunk_size=8), models=["shared", "primary-only"])
    backup = FakeOpenAI(default=Reply(BACKUP, chunk_size=8), models=["backup-own", "shared"])
    result = await trial(primary, backup, MODELS[choice], args)
    info = result.outcome.info
    if result.error is not None or info is None:
        source = f"error: {type(result.error).__name__}"
    elif result.outcome.text in (PRIMARY, BACKUP):
        source = f"{info.provider} ({info.model}{', fallback' if info.fallback else ''})"
    else:
        source = "MIXED"
    return (
        f"{choice:<26} {fault:<15} {source:<32} resets={result.outcome.resets}"
        f"  starts after {result.starts_after}  requests: {result.requests}"
    )


async def main() -> None:
    args = chain_arguments()
    print(f"{'model chosen':<26} {'fault':<15} {'kept answer':<32}")
    for choice in MODELS:
        for fault in FAULTS:
            print(await run(choice, fault, args), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
