"""Bad input and failures the bot must survive."""

from __future__ import annotations

from .harness import BotHarness

CHAT = 616


async def test_malformed_update_is_survived(harness: BotHarness) -> None:
    await harness.start()
    harness.telegram.push({"message": {"message_id": 1, "text": "no chat, no date"}})
    harness.telegram.push({"edited_message": {"garbage": True}})
    assert await harness.say(CHAT, "still there?") == ["Hello from the fake model."]


async def test_unexpected_error_gets_one_sentence_and_the_bot_keeps_running(harness: BotHarness) -> None:
    await harness.start()
    harness.telegram.fail("sendMessage", 500, "Internal Server Error")
    harness.telegram.user_message(CHAT, "/help")
    await harness.telegram.wait_for(lambda: bool(harness.telegram.bot_texts(CHAT)))
    assert harness.telegram.bot_texts(CHAT) == ["Sorry, something went wrong on my side. Please try again."]
    assert await harness.say(CHAT, "hello") == ["Hello from the fake model."]


async def test_flood_of_messages_in_one_chat_is_bounded(harness: BotHarness) -> None:
    from .fakes.openai import Reply

    harness.overrides["max_pending_per_chat"] = 2
    harness.llm.default = Reply("slow answer", delay=0.05)
    await harness.start()
    for n in range(50):  # a forwarded batch
        harness.telegram.user_message(CHAT, f"m{n}")
    texts = await harness.wait_replies(CHAT, 3)
    refusal = (
        "I'm still answering earlier messages in this chat, so I didn't take your last 48 messages."
        " Please send them again once I've answered."
    )
    assert sorted(texts) == sorted([refusal, "slow answer", "slow answer"]), "one refusal for the whole burst"
    assert len(harness.llm.requests) == 2
    assert await harness.say(CHAT, "after the burst") == ["slow answer"], "the chat is usable at once"


async def test_shutdown_stops_long_replies_after_a_grace_and_does_not_start_new_ones(harness: BotHarness) -> None:
    import time

    from .fakes.openai import Reply

    harness.overrides["shutdown_grace"] = 0.5
    harness.llm.default = Reply("word " * 2000, chunk_size=5, delay=0.02)
    await harness.start()
    harness.telegram.user_message(CHAT, "long one")
    await harness.telegram.wait_for(lambda: bool(harness.telegram.bot_messages(CHAT)))
    harness.telegram.user_message(CHAT, "queued behind it")
    queued = harness.telegram.last_update_id
    await harness.telegram.wait_for(lambda: queued in harness.telegram.delivered)
    started = time.monotonic()
    await harness.stop()
    assert time.monotonic() - started < 5
    texts = harness.telegram.bot_texts(CHAT)
    assert texts[0].endswith("⏹ Stopped: the bot is restarting. /retry will answer again.")
    assert texts[1] == "I'm restarting and couldn't answer this. Please send it again in a minute."
    assert len(harness.llm.requests) == 1
    harness.llm.default = Reply("fresh")
    await harness.start()
    await harness.say(CHAT, "after restart")
    stored = harness.llm.requests[-1]["messages"]
    assert stored[1]["content"] == "long one" and stored[2]["content"].startswith("word word")


async def test_an_answer_is_cut_at_max_answer_chars_and_the_rest_is_not_read(harness: BotHarness) -> None:
    import sqlite3

    from .fakes.openai import Reply

    harness.overrides["max_answer_chars"] = 100
    exact = "a" * 99 + "."
    harness.llm.then(Reply(exact, chunk_size=10))
    await harness.start()
    assert await harness.say(CHAT, "exactly at the cap") == [exact], "100 characters: whole, no note"
    harness.llm.then(Reply("b" * 100 + "c" + " more" * 2000, chunk_size=10, delay=0.005))
    [shown] = await harness.say(CHAT, "one past it")
    assert shown == "b" * 100 + "\n\n✂️ I stopped the answer here: it was longer than the 100 characters I show."
    await harness.telegram.wait_for(lambda: any(kind == "client_gone" for _, kind in harness.llm.timeline))

    def answers() -> list[str]:
        with sqlite3.connect(harness.db_path) as db:
            return [r[0] for r in db.execute("SELECT content FROM messages WHERE role = 'assistant' ORDER BY id")]

    await harness.telegram.wait_for(lambda: answers() == [exact, "b" * 100])  # stored as shown, without the note
