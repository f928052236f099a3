"""The end-to-end path in a private chat: the real Application against the fake Bot API."""

from __future__ import annotations

from .fakes.openai import Reply
from .harness import BotHarness

CHAT = 4242


async def test_reply_streams_by_edits_then_final_text(harness: BotHarness) -> None:
    answer = "The quick brown fox jumps over the lazy dog. " * 6
    harness.llm.then(Reply(answer.strip(), chunk_size=10, delay=0.03))
    await harness.start()
    texts = await harness.say(CHAT, "Tell me about foxes")
    assert texts == [answer.strip()]
    [message] = harness.telegram.bot_messages(CHAT)
    assert message.edits >= 2, "the reply should grow by edits"
    assert harness.telegram.calls_of("sendChatAction", CHAT), "typing is shown before the first text"
    assert len(harness.telegram.calls_of("sendMessage", CHAT)) == 1
