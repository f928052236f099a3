"""Benchmark: the two ways of streaming a private reply, ``STREAM_MODE=edit`` and ``draft``, side by side.

Through the real bot, the fake Bot API (holding each chat to Telegram's ~1 request a second: 0.95 s
here) and a fake OpenAI-compatible server, for each mode and each case, the median of a few runs:

- ``sign_s``: seconds from the question to the first sign of life (a "typing" action in edit
  mode; the "Thinking…" draft in draft mode);
- ``thought_s``: seconds to the first sign that the model thinks ("💭 Thinking…"), in the thinking case;
- ``text_s``: seconds to the first text of the answer on screen (a message, an edit, or a draft);
- ``requests``: Bot API requests of the reply (sendMessage, editMessageText, sendMessageDraft,
  deleteMessage, editMessageReplyMarkup); ``flood_429``: 429 answers met;
- ``done_s``: seconds until the whole answer stands as messages; ``exact``: runs whose final messages
  are exactly the answer.

Cases: a short answer (300 characters), a long one (12,000 characters: three messages), a model that
thinks 3 s first, a failover (the first provider's stream cut after 600 characters, the backup's
answer shown instead).
Run: ``.venv/bin/python benchmarks/draft_vs_edit.py``.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.openai import FakeOpenAI, Reply
from tests.fakes.telegram import FakeBotApi
from tests.harness import BotHarness

SHORT = ("Drafts or edits, the answer is the same. " * 8)[:300].strip()
LONG = ("A long answer grows into several messages as it is written. " * 200)[:12_000].strip()
RUNS = 3
REPLY_METHODS = {"sendMessage", "editMessageText", "sendMessageDraft", "deleteMessage", "editMessageReplyMarkup"}


def cases() -> dict[str, tuple[str, list[Reply]]]:
    return {
        "short": (SHORT, [Reply(SHORT, chunk_size=10, delay=0.03, first_delay=0.3)]),
        "long": (LONG, [Reply(LONG, chunk_size=60, delay=0.02, first_delay=0.3)]),
        "thinking": (SHORT, [Reply(SHORT, chunk_size=10, delay=0.03, reasoning=["hmm "] * 10, reasoning_delay=0.3)]),
        # last: the failures put the first provider in its cooldown, so the backup answers from then on
        "failover": (SHORT, [Reply(SHORT * 3, chunk_size=10, delay=0.02, cut_after=60)]),  # then the backup's
    }


async def one_reply(harness: BotHarness, chat_id: int, answer: str) -> dict[str, float]:
    telegram = harness.telegram
    before = len(telegram.calls)
    flood_before = telegram.flood_hits
    pushed = time.monotonic()
    telegram.user_message(chat_id, "Tell me")

    def finished() -> bool:
        shown = [m for m in telegram.bot_messages(chat_id)]
        writing = chat_id in telegram.live_drafts or any(m.shows_stop() for m in shown)
        return not writing and squash("".join(m.text for m in shown)) == squash(answer)

    try:
        await telegram.wait_for(finished, timeout=60)
    except AssertionError:
        pass  # counted as not exact
    done = time.monotonic()
    calls = [c for c in telegram.calls[before:] if c.params.get("chat_id") == chat_id]
    sign = next(c.at for c in calls if c.method in ("sendChatAction", "sendMessageDraft", "sendMessage"))
    text = next(
        c.at
        for c in calls
        if c.method in ("sendMessage", "editMessageText", "sendMessageDraft")
        and c.params.get("text")
        and not c.params["text"].startswith("💭")
    )
    shown = "\n".join(telegram.bot_texts(chat_id))
    thought = [c.at for c in calls if str(c.params.get("text") or "").startswith("💭")]
    return {
        "sign_s": sign - pushed,
        "thought_s": (thought[0] - pushed) if thought else float("nan"),
        "text_s": text - pushed,
        "requests": sum(1 for c in calls if c.method in REPLY_METHODS),
        "flood_429": telegram.flood_hits - flood_before,
        "done_s": done - pushed,
        "exact": float(squash(shown) == squash(answer)),
    }


def squash(text: str) -> str:
    """``text`` without white space (a long answer's parts are split at it)."""
    return "".join(text.split())


async def run_mode(mode: str) -> dict[str, dict[str, float]]:
    telegram = FakeBotApi(flood_interval=0.95)
    llm = FakeOpenAI()
    backup = FakeOpenAI(default=Reply(SHORT, chunk_size=10, delay=0.03))
    await telegram.start()
    await llm.start()
    await backup.start()
    results: dict[str, dict[str, float]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            harness = BotHarness(
                telegram, llm, Path(tmp) / "bench.sqlite3", stream_mode=mode, private_edit_interval=1.0,
                reasoning_max_chars=0, providers="openai,backup", provider_max_retries=1,
            )  # fmt: skip
            harness.environ = {"BACKUP_BASE_URL": backup.base_url}
            await harness.start()
            chat = 100
            for name, (answer, replies) in cases().items():
                rows: list[dict[str, float]] = []
                for _ in range(RUNS):
                    chat += 1
                    llm.then(*replies)
                    rows.append(await one_reply(harness, chat, answer))
                results[name] = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
                results[name]["exact"] = sum(row["exact"] for row in rows)
            await harness.stop()
    finally:
        await backup.stop()
        await llm.stop()
        await telegram.stop()
    return results


def show(mode: str, results: dict[str, dict[str, Any]]) -> None:
    for name, row in results.items():
        cells = "  ".join(
            f"{key}={value:.2f}" if key.endswith("_s") else f"{key}={value:g}" for key, value in row.items()
        )
        print(f"  {mode:5} {name:9} {cells}")


async def main() -> None:
    print(f"medians of {RUNS} runs (exact: runs of {RUNS}); the fake Bot API holds a chat to 0.95 s per request")
    for mode in ("edit", "draft"):
        show(mode, await run_mode(mode))


if __name__ == "__main__":
    asyncio.run(main())
