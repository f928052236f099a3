"""Benchmark: 200 private chats asking at once, by webhook through a round-robin proxy, on
(1) one replica on SQLite, (2) one replica on PostgreSQL, (3) two replicas on PostgreSQL.

Prints, per set-up: exact answers, time to first text and to the end (p50/p95, from the question's
arrival at the fake Bot API), 429s met, the replicas' CPU per answer (the fakes run in this process
and are not counted), and database statements per answer (each a round trip; from each replica's
``bot_store_statements`` metric, after start-up). The fake Bot API enforces ~1 request a second per
chat and 30 a second for the whole bot; the fake model streams 600 characters in 1.2 s.
Run: ``make bench-replicas`` (or ``.venv/bin/python benchmarks/replicas.py``); it needs PostgreSQL's
server binaries (Debian's postgresql package), as the tests do.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.stream_latency import answered
from tests.fakes.openai import FakeOpenAI, Reply
from tests.fakes.telegram import FakeBotApi
from tests.pg import free_port, running_server
from tests.test_e2e_replicas import replicas_behind_proxy

CHATS = 200
ANSWER = ("Replicas share one store and answer each chat in order. " * 12)[:600]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def statements(ports: list[int]) -> int:
    """The replicas' database statements so far (their ``bot_store_statements`` metric)."""
    total = 0
    async with aiohttp.ClientSession() as session:
        for port in ports:
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                for line in (await response.text()).splitlines():
                    if line.startswith("bot_store_statements "):
                        total += int(float(line.split()[1]))
    return total


async def run(label: str, replicas: int, database: dict[str, str], base: int) -> None:
    telegram = FakeBotApi(flood_interval=0.95, global_per_second=30)
    llm = FakeOpenAI(default=Reply(ANSWER, chunk_size=20, delay=0.04, first_delay=0.1))
    await telegram.start()
    await llm.start()
    metrics = [free_port() for _ in range(replicas)]
    settings = {"MAX_PENDING_PER_CHAT": "5", "LOG_LEVEL": "WARNING", **database}
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as folder:
        started = replicas_behind_proxy(
            telegram, llm, Path(folder), replicas, settings, lambda i: {"METRICS_PORT": str(metrics[i])}
        )
        async with started:
            before = await statements(metrics)
            asked: dict[int, float] = {}
            for n in range(CHATS):
                asked[base + n] = time.monotonic()
                telegram.user_message(base + n, "Tell me about replicas")
            chats = set(asked)
            await telegram.wait_for(lambda: answered(telegram, chats), timeout=900)
            used = await statements(metrics) - before
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    first, done = [], []
    for chat, at in asked.items():
        calls = [c for c in telegram.calls if c.params.get("chat_id") == chat]
        first.append(next(c.at for c in calls if c.method == "sendMessage") - at)
        done.append(max(c.at for c in calls if c.method in ("sendMessage", "editMessageText")) - at)
    exact = sum(telegram.bot_texts(chat) == [ANSWER.strip()] for chat in asked)
    print(
        f"{label}: exact {exact}/{CHATS}, first text p50 {statistics.median(first):.2f}s"
        f" p95 {percentile(first, 0.95):.2f}s, done p50 {statistics.median(done):.2f}s"
        f" p95 {percentile(done, 0.95):.2f}s,"
        f" 429s {telegram.flood_hits} ({telegram.global_flood_hits} bot-wide),"
        f" CPU {cpu * 1000 / CHATS:.1f} ms per answer,"
        f" {used / CHATS:.1f} database statements per answer"
    )
    await llm.stop()
    await telegram.stop()


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        await run("1 replica, SQLite    ", 1, {"DATABASE_PATH": str(Path(folder) / "bench.sqlite3")}, 100_000)
    with running_server() as server:
        if server is None:
            print("PostgreSQL is not installed (Debian: apt-get install postgresql): its runs are skipped")
            return
        await run("1 replica, PostgreSQL", 1, {"DATABASE_URL": server.database()}, 200_000)
        await run("2 replicas, PostgreSQL", 2, {"DATABASE_URL": server.database()}, 300_000)


if __name__ == "__main__":
    asyncio.run(main())
