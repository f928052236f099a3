"""The whole bot on PostgreSQL (DATABASE_URL): a real server, the real Application, the fake Bot API."""

from __future__ import annotations

from .fakes.openai import Reply
from .harness import BotHarness

CHAT, GROUP = 4242, -100777


async def test_a_conversation_on_postgresql_keeps_history_settings_and_usage_across_a_restart(
    harness: BotHarness, postgres_url: str
) -> None:
    harness.overrides["database_url"] = postgres_url
    harness.llm.then(Reply("Nice to meet you, Bob."), Reply("Your name is Bob."))
    await harness.start()
    assert await harness.say(CHAT, "My name is Bob") == ["Nice to meet you, Bob."]
    harness.telegram.user_message(CHAT, "/prompt Answer like a pirate.")
    await harness.telegram.wait_for(lambda: len(harness.telegram.bot_texts(CHAT)) >= 2)
    await harness.restart()
    assert await harness.say(CHAT, "What is my name?") == ["Your name is Bob."]
    sent = harness.llm.requests[-1]["messages"]
    assert sent[0] == {"role": "system", "content": "Answer like a pirate."}
    assert [m["content"] for m in sent[1:]] == ["My name is Bob", "Nice to meet you, Bob.", "What is my name?"]
    assert not harness.db_path.exists(), "nothing went to SQLite"
    harness.telegram.user_message(CHAT, "/usage")
    await harness.telegram.wait_for(lambda: any(t.startswith("Usage") for t in harness.telegram.bot_texts(CHAT)))
    usage = next(t for t in harness.telegram.bot_texts(CHAT) if t.startswith("Usage"))
    assert "You — today: 0 tokens" not in usage and "tokens" in usage, "both answers are in the shared ledger"
