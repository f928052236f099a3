"""Flood control: the fake Bot API answers 429 to any request sooner than Telegram allows."""

from __future__ import annotations

import itertools

from bot.texts import HELP

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
    # Paced one request per 0.5 s; the fake refuses two arriving less than 0.35 s apart: the margin
    # covers a request delayed on its way by a busy machine (0.45 failed once while two test runs
    # shared the two cores).
    harness.telegram.flood_interval = 0.35
    harness.overrides["group_messages_per_minute"] = 120  # one request per 0.5 s
    harness.llm.default = Reply(" ".join(f"t{n}" for n in range(120)), chunk_size=25, delay=0.03)
    await harness.start()
    mention = [{"type": "mention", "offset": 0, "length": 13}]
    harness.telegram.user_message(group, "@test_llm_bot one", thread_id=11, entities=mention)
    harness.telegram.user_message(group, "@test_llm_bot two", thread_id=22, entities=mention)
    await harness.wait_replies(group, 2, timeout=30)
    assert harness.telegram.flood_hits == 0
    assert len(harness.telegram.bot_messages(group, thread_id=11)) == 1
    assert len(harness.telegram.bot_messages(group, thread_id=22)) == 1
    calls = [c for c in harness.telegram.calls if c.method in ("sendMessage", "editMessageText")]
    gaps = [b.at - a.at for a, b in itertools.pairwise(calls)]
    assert min(gaps) >= 0.35


async def test_every_request_is_paced_not_only_streamed_replies(harness: BotHarness) -> None:
    """A burst of commands (no streaming) meets no 429: the rate limiter paces every send."""
    harness.telegram.flood_interval = 0.9
    harness.overrides["private_edit_interval"] = 1.0
    await harness.start()
    for _ in range(4):
        harness.telegram.user_message(8, "/help")
    await harness.telegram.wait_for(lambda: len(harness.telegram.bot_texts(8)) == 4, timeout=15)
    assert harness.telegram.flood_hits == 0
    sends = [c.at for c in harness.telegram.calls_of("sendMessage", 8)]
    assert min(b - a for a, b in itertools.pairwise(sends)) >= 0.9


async def test_a_429_makes_only_that_chat_wait_and_the_message_still_arrives(harness: BotHarness) -> None:
    await harness.start()
    telegram = harness.telegram
    telegram.fail("sendMessage", 429, "Too Many Requests: retry after 2", retry_after=2)
    telegram.user_message(61, "/help")
    await telegram.wait_for(lambda: bool(telegram.errors))
    refused_at = telegram.calls_of("sendMessage", 61)[0].at
    telegram.user_message(62, "/help")
    await telegram.wait_for(lambda: len(telegram.bot_texts(62)) == 1)
    other_at = telegram.calls_of("sendMessage", 62)[-1].at
    assert other_at - refused_at < 1.0, "another chat is not held up by chat 61's flood wait"
    await telegram.wait_for(lambda: len(telegram.bot_texts(61)) == 1, timeout=10)
    assert telegram.bot_texts(61) == [HELP], "the refused message itself arrives, not an error"
    retried_at = telegram.calls_of("sendMessage", 61)[-1].at
    assert retried_at - refused_at >= 2.0, "chat 61 waited retry_after before trying again"


async def test_a_command_in_a_busy_group_is_answered_while_a_long_reply_streams(harness: BotHarness) -> None:
    group = -100778
    harness.telegram.chat(group, "supergroup")
    harness.telegram.flood_interval = 0.25
    harness.overrides["group_messages_per_minute"] = 200  # one request per 0.3 s, all replies share it
    harness.llm.default = Reply(" ".join(f"t{n}" for n in range(300)), chunk_size=10, delay=0.02)  # ~3 s
    await harness.start()
    asked = harness.telegram.user_message(group, "@test_llm_bot write a lot")
    await harness.telegram.wait_for(lambda: harness.telegram.writing(group))
    harness.telegram.user_message(group, "/settings")
    await harness.telegram.wait_for(lambda: any(t.startswith("Provider:") for t in harness.telegram.bot_texts(group)))
    assert harness.telegram.writing(group), "the command's reply waited for the whole answer"
    await harness.wait_replies(group, 2, after=asked["message_id"])
    assert harness.telegram.flood_hits == 0
