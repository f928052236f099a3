"""Benchmark: a 2,000-character streamed reply through the real bot, fake Bot API and fake provider.

Prints, per run and as medians:

- overhead to first visible text: time from the update's arrival at the Bot API
  (pushed to getUpdates) to the bot's first sendMessage, minus the provider's
  time to first chunk (request received -> first chunk written);
- number of edits and messages, and 429 answers met, with the fake Bot API
  enforcing Telegram's ~1 request per second per chat (0.95 s here);
- total time of the reply.

Then the same with 20 and 100 private chats at once, with the CPU time the process (bot and
fakes) spent per reply, and the answers the usage ledger noted; last, the streamer's CPU per
1,000 characters of answer at 3k, 12k and 48k characters. Uses default pacing (1 s).
Run: ``make bench`` (or ``.venv/bin/python benchmarks/stream_latency.py``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.openai import FakeOpenAI, Reply
from tests.fakes.telegram import FakeBotApi
from tests.harness import BotHarness

ANSWER = ("Streaming replies arrive by edits, paced per chat. " * 40)[:2000]
RUNS = 5


async def one_reply(harness: BotHarness, chat_id: int) -> dict[str, float]:
    telegram, llm = harness.telegram, harness.llm
    calls_before = len(telegram.calls)
    timeline_before = len(llm.timeline)
    flood_before = telegram.flood_hits
    pushed = time.monotonic()
    asked = telegram.user_message(chat_id, "Tell me about streaming")
    await harness.wait_replies(chat_id, after=asked["message_id"], timeout=120)
    done = time.monotonic()
    calls = telegram.calls[calls_before:]
    first_send = next(c.at for c in calls if c.method == "sendMessage" and c.params.get("chat_id") == chat_id)
    events = llm.timeline[timeline_before:]
    request = next(t for t, kind in events if kind == "request")
    first_chunk = next(t for t, kind in events if kind == "first_chunk")
    return {
        "overhead_ms": ((first_send - pushed) - (first_chunk - request)) * 1000,
        "provider_ttfc_ms": (first_chunk - request) * 1000,
        "edits": sum(1 for c in calls if c.method == "editMessageText" and c.params.get("chat_id") == chat_id),
        "messages": len(telegram.bot_messages(chat_id)),
        "flood_429": telegram.flood_hits - flood_before,
        "total_s": done - pushed,
    }


def answered(telegram: FakeBotApi, chats: set[int]) -> bool:
    """Every chat of ``chats`` shows a bot message and none with a Stop button (one pass over all
    messages, so that polling 100 chats does not load the event loop the bot runs on)."""
    shown: set[int] = set()
    writing: set[int] = set()
    for (chat_id, _), message in telegram.messages.items():
        if chat_id in chats and message.from_bot and not message.deleted:
            shown.add(chat_id)
            if message.shows_stop():
                writing.add(chat_id)
    return shown == chats and not writing


def ledger_rows(path: Path) -> int | str:
    """Answers in the usage ledger ("no ledger" for a database without one)."""
    with sqlite3.connect(path) as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM usage").fetchone()[0])
        except sqlite3.OperationalError:
            return "no ledger"


async def main() -> None:
    telegram = FakeBotApi(flood_interval=0.95)
    # 2,000 characters in 100 chunks, 40 ms apart, after 300 ms to first chunk: about 4.3 s of streaming.
    llm = FakeOpenAI(default=Reply(ANSWER, chunk_size=20, delay=0.04, first_delay=0.3))
    await telegram.start()
    await llm.start()
    with tempfile.TemporaryDirectory() as tmp:
        harness = BotHarness(
            telegram,
            llm,
            Path(tmp) / "bench.sqlite3",
            private_edit_interval=1.0,
            group_messages_per_minute=20,
            provider_first_chunk_timeout=30,
            provider_idle_timeout=30,
        )
        await harness.start()
        rows = [await one_reply(harness, 1000 + n) for n in range(RUNS)]
        print("single private chat, 2,000-character reply (fake Bot API enforces 0.95 s per chat):")
        for row in rows:
            print("  " + "  ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        for key in ("overhead_ms", "edits", "flood_429", "total_s"):
            print(f"  median {key}: {statistics.median(r[key] for r in rows):.1f}")

        for count in (20, 100):
            flood_before = telegram.flood_hits
            calls_before = len(telegram.calls)
            started, cpu = time.monotonic(), time.process_time()
            base = 10_000 * count
            for n in range(count):
                telegram.user_message(base + n, "Tell me about streaming")
            chats = {base + n for n in range(count)}
            await telegram.wait_for(lambda: answered(telegram, chats), timeout=600)  # noqa: B023
            elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
            complete = sum(telegram.bot_texts(base + n) == [ANSWER.strip()] for n in range(count))
            requests = sum(1 for c in telegram.calls[calls_before:] if c.method in ("sendMessage", "editMessageText"))
            print(
                f"{count} private chats at once: all done in {elapsed:.1f}s, complete answers {complete}/{count}, "
                f"sends+edits {requests} ({requests / elapsed:.1f}/s), 429s met {telegram.flood_hits - flood_before}, "
                f"CPU {cpu * 1000 / count:.1f} ms per reply"
            )
        await harness.stop()  # every answer is noted once its reply is finished
        print(f"usage ledger: {ledger_rows(harness.db_path)} answers noted")
    await llm.stop()
    await telegram.stop()


async def cpu_per_length() -> None:
    """CPU the streamer spends per 1,000 characters of answer at 3k, 12k and 48k (rendering and
    requests, one private chat, 20 ms pacing): flat when work grows with the answer, not faster."""
    from telegram import Bot

    from bot.telegram.pacing import ChatPacer
    from bot.telegram.ratelimit import ChatRateLimiter
    from bot.telegram.streaming import ReplyStreamer, ReplyTarget

    text = "Streaming **replies** arrive by edits, paced per chat. " * 2000
    rows = []
    for size in (3_000, 12_000, 48_000):
        async with FakeBotApi() as telegram, Bot(telegram.token, base_url=telegram.base_url) as bot:
            streamer = ReplyStreamer(bot, ChatRateLimiter(ChatPacer(private_interval=0.02, global_per_second=1000)))

            async def chunks(answer: str = text[:size]) -> AsyncIterator[str]:
                for start in range(0, len(answer), 40):
                    yield answer[start : start + 40]
                    await asyncio.sleep(0.002)

            cpu = time.process_time()
            await streamer.open(ReplyTarget(1), lambda error: "failed").run(chunks())
            rows.append(f"{size // 1000}k: {(time.process_time() - cpu) * 1000 / (size / 1000):.1f}")
    print("streamer CPU per 1,000 characters (ms): " + "  ".join(rows))


if __name__ == "__main__":
    asyncio.run(main())
    asyncio.run(cpu_per_length())
