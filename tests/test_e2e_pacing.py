"""Flood control: the fake Bot API answers 429 to any request sooner than Telegram allows."""

from __future__ import annotations

import itertools

from .fakes.openai import Reply
from .harness import BotHarness


async def test_private_chat_edits_are_paced_and_meet_no_429(harness: BotHarness) -> None:
    harness.telegram.flood_interval = 0.9
    harness.overrides["private_edit_interval"] = 1.0
    answer = " ".join(f"w{n}" for n in range(200))
    harness.llm.then(Reply(answer, chunk_size=20, delay=0.03))  # about 1.5 s of streaming
    await harness.start()
    assert await harness.say(7, "go") == [answer]
    assert harness.telegram.flood_hits == 0
    calls = [c for c in harness.telegram.calls if c.method in ("sendMessage", "editMessageText")]
    assert len(calls) >= 2
    gaps = [b.at - a.at for a, b in itertools.pairwise(calls)]
    assert min(gaps) >= 0.9


async def test_concurrent_replies_in_one_group_share_its_rate(harness: BotHarness) -> None:
    group = -100777
    harness.telegram.chat(group, "supergroup", is_forum=True)
    harness.telegram.flood_interval = 0.45
    harness.overrides["group_messages_per_minute"] = 120  # one request per 0.5 s
    harness.llm.default = Reply(" ".join(f"t{n}" for n in range(120)), chunk_size=25, delay=0.03)
    await harness.start()
    mention = [{"type": "mention", "offset": 0, "length": 13}]
    harness.telegram.user_message(group, "@test_llm_bot one", thread_id=11, entities=mention)
    harness.telegram.user_message(group, "@test_llm_bot two", thread_id=22, entities=mention)
    await harness.wait_answers(2, timeout=30)
    assert harness.telegram.flood_hits == 0
    assert len(harness.telegram.bot_messages(group, thread_id=11)) == 1
    assert len(harness.telegram.bot_messages(group, thread_id=22)) == 1
    calls = [c for c in harness.telegram.calls if c.method in ("sendMessage", "editMessageText")]
    gaps = [b.at - a.at for a, b in itertools.pairwise(calls)]
    assert min(gaps) >= 0.45
