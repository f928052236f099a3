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


async def test_history_is_sent_across_turns_and_survives_restart(harness: BotHarness) -> None:
    harness.llm.then(Reply("Nice to meet you, Bob."), Reply("Your name is Bob."), Reply("Still Bob."))
    await harness.start()
    await harness.say(CHAT, "My name is Bob")
    await harness.say(CHAT, "What is my name?")
    second = harness.llm.requests[1]["messages"]
    assert second[0]["role"] == "system"
    assert [(m["role"], m["content"]) for m in second[1:]] == [
        ("user", "My name is Bob"),
        ("assistant", "Nice to meet you, Bob."),
        ("user", "What is my name?"),
    ]
    await harness.restart()
    await harness.say(CHAT, "And now?")
    third = harness.llm.requests[2]["messages"]
    assert [m["content"] for m in third[1:]] == [
        "My name is Bob",
        "Nice to meet you, Bob.",
        "What is my name?",
        "Your name is Bob.",
        "And now?",
    ]


async def test_reset_forgets_the_conversation(harness: BotHarness) -> None:
    await harness.start()
    await harness.say(CHAT, "Remember the number 42")
    harness.telegram.user_message(CHAT, "/reset")
    await harness.telegram.wait_for(lambda: any("forgotten" in t for t in harness.telegram.bot_texts(CHAT)))
    harness.telegram.user_message(CHAT, "/new")  # nothing to keep: /new (which keeps) says so
    await harness.telegram.wait_for(lambda: any("new already" in t for t in harness.telegram.bot_texts(CHAT)))
    await harness.say(CHAT, "What number?")
    last = harness.llm.requests[-1]["messages"]
    assert [m["role"] for m in last] == ["system", "user"]
    assert last[1]["content"] == "What number?"


async def test_long_reply_is_split_into_messages_that_fit(harness: BotHarness) -> None:
    paragraph = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 8).strip()
    answer = "\n\n".join([paragraph] * 22)[:10_000]
    assert len(answer) == 10_000
    harness.llm.then(Reply(answer, chunk_size=400))
    await harness.start()
    texts = await harness.say(CHAT, "Write a lot")
    assert len(texts) == 3
    assert all(len(t.encode("utf-16-le")) // 2 <= 4096 for t in texts)
    assert "".join(texts).replace("\n", "").replace(" ", "") == answer.replace("\n", "").replace(" ", "")
    # Split at paragraph or word boundaries, never inside a word: every message starts and ends
    # with a whole word of the answer.
    words = set(paragraph.split()) | {answer.split()[-1]}  # the answer itself ends cut at 10,000 characters
    for text in texts:
        assert text.split()[0] in words and text.split()[-1] in words, (text[:20], text[-20:])
    assert all(not t.startswith(" ") for t in texts)


async def test_markdown_is_rendered_as_entities(harness: BotHarness) -> None:
    harness.llm.then(Reply("Use **bold** and `code` here", chunk_size=4))
    await harness.start()
    assert await harness.say(CHAT, "format please") == ["Use bold and code here"]
    [message] = harness.telegram.bot_messages(CHAT)
    assert {"type": "bold", "offset": 4, "length": 4} in message.entities
    assert {"type": "code", "offset": 13, "length": 4} in message.entities


async def test_refused_entities_fall_back_to_plain_text(harness: BotHarness) -> None:
    harness.telegram.reject_entities = True
    harness.llm.then(Reply("Some **bold** claim", chunk_size=4))
    await harness.start()
    # The model's own text, unformatted: nothing is lost (a link keeps its URL).
    assert await harness.say(CHAT, "hi") == ["Some **bold** claim"]
    [message] = harness.telegram.bot_messages(CHAT)
    assert message.entities == []


async def test_flood_wait_mid_stream_delays_only_that_chat(harness: BotHarness) -> None:
    slow = "word " * 60
    harness.llm.default = Reply(slow.strip(), chunk_size=15, delay=0.02)
    await harness.start()
    harness.telegram.fail("editMessageText", 429, "Too Many Requests: retry after 2", retry_after=2)
    harness.telegram.user_message(CHAT, "first chat")
    await harness.telegram.wait_for(
        lambda: harness.telegram.flood_hits > 0 or any(c.method == "editMessageText" for c in harness.telegram.calls)
    )
    harness.telegram.user_message(5151, "second chat")
    await harness.wait_replies(5151, timeout=20)
    assert harness.telegram.writing(CHAT), "the other chat is not held up by the flood wait"
    assert await harness.wait_replies(CHAT, timeout=20) == [slow.strip()]
    assert [e for e in harness.telegram.errors if "Too Many Requests" in e[1]] == [
        ("editMessageText", "Too Many Requests: retry after 2")
    ]
    edits = harness.telegram.calls_of("editMessageText", CHAT)
    failed_at = edits[0].at
    assert all(c.at - failed_at >= 1.9 for c in edits[1:]), "the chat waits retry_after before editing again"


async def test_provider_error_is_one_sentence_and_not_stored(harness: BotHarness) -> None:
    from .fakes.openai import Fail

    harness.llm.then(Fail(500, "boom"), Reply("Recovered."))
    await harness.start()
    [text] = await harness.say(CHAT, "hello?")
    assert text == "Sorry, I couldn't get an answer from the language model. Please try again in a moment."
    await harness.say(CHAT, "again")
    last = harness.llm.requests[-1]["messages"]
    assert [m["role"] for m in last] == ["system", "user", "user"], "the failure is not an assistant turn"


async def test_sticker_gets_text_only_reply(harness: BotHarness) -> None:
    await harness.start()
    harness.telegram.user_message(
        CHAT,
        extra={
            "sticker": {
                "file_id": "s1",
                "file_unique_id": "u1",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            }
        },
    )
    await harness.telegram.wait_for(lambda: bool(harness.telegram.bot_texts(CHAT)))
    assert harness.telegram.bot_texts(CHAT) == [
        "Sorry, I can read text, photos, text files and voice messages, but not this kind of message."
    ]
    assert harness.llm.requests == []


async def test_over_long_message_is_refused_without_a_provider_call(harness: BotHarness) -> None:
    harness.overrides["max_input_chars"] = 100
    await harness.start()
    harness.telegram.user_message(CHAT, "x" * 101)
    await harness.telegram.wait_for(lambda: bool(harness.telegram.bot_texts(CHAT)))
    [text] = harness.telegram.bot_texts(CHAT)
    assert "too long" in text and "101" in text and "100" in text
    assert harness.llm.requests == []


async def test_messages_in_one_chat_are_answered_in_order(harness: BotHarness) -> None:
    harness.llm.default = lambda body: Reply(f"answer to {body['messages'][-1]['content']}", delay=0.02)
    await harness.start()
    for n in range(3):
        harness.telegram.user_message(CHAT, f"q{n}")
    assert await harness.wait_replies(CHAT, 3) == ["answer to q0", "answer to q1", "answer to q2"]
    last = harness.llm.requests[-1]["messages"]
    assert [m["content"] for m in last[1:]] == ["q0", "answer to q0", "q1", "answer to q1", "q2"]


async def test_draft_stream_mode(harness: BotHarness) -> None:
    harness.overrides["stream_mode"] = "draft"
    answer = "Drafts animate the answer as it is written. " * 4
    harness.llm.then(Reply(answer.strip(), chunk_size=12, delay=0.03))
    await harness.start()
    assert await harness.say(CHAT, "draft please") == [answer.strip()]
    assert len(harness.telegram.drafts[CHAT]) >= 2
    assert not harness.telegram.calls_of("editMessageText", CHAT)
    harness.telegram.user_message(CHAT, "/settings")
    await harness.telegram.wait_for(lambda: len(harness.telegram.bot_texts(CHAT)) == 2)
    assert "Stream mode: an animated draft" in harness.telegram.bot_texts(CHAT)[-1]


async def test_drafts_show_thinking_first_and_telegrams_own_stop_button_ends_the_reply(harness: BotHarness) -> None:
    """Draft mode: Telegram's "Thinking…" placeholder as soon as the question is taken, every draft
    stoppable, and its stop button (a ``stopped_message_generation`` update, delivered only because
    the bot asks for it in ``allowed_updates``) ends the reply as /stop does."""
    harness.overrides["stream_mode"] = "draft"
    whole = "word " * 400
    harness.llm.then(Reply(whole, chunk_size=5, delay=0.02, first_delay=0.5), Reply("next"))
    await harness.start()
    telegram = harness.telegram
    telegram.user_message(CHAT, "write forever")
    await telegram.wait_for(lambda: CHAT in telegram.live_drafts)
    assert telegram.drafts[CHAT] == [""], "the first draft is the Thinking… placeholder, before any text"
    await telegram.wait_for(lambda: telegram.live_drafts.get(CHAT, {}).get("text", "").count("word") >= 3)
    assert not telegram.writing(CHAT), "no message carries the bot's own Stop button"
    assert all(c.params["can_stop"] and c.params["keep_on_stop"] for c in telegram.calls_of("sendMessageDraft"))
    telegram.stop_draft(CHAT)
    [final] = await harness.wait_replies(CHAT)
    [kept] = telegram.kept_drafts[CHAT]
    assert final.startswith(kept) and final.endswith("⏹ Stopped.") and len(final) < len(whole) / 2, final
    await harness.say(CHAT, "next")
    stored = harness.llm.requests[-1]["messages"][2]
    assert stored["role"] == "assistant" and stored["content"].startswith("word") and "Stopped" not in stored["content"]
    assert len(stored["content"]) < len(whole), "the chain stopped reading"


async def test_bot_api_requests_can_go_through_a_socks_proxy(harness: BotHarness) -> None:
    from .fakes.proxies import Socks5Proxy

    proxy = Socks5Proxy()
    await proxy.start()
    try:
        harness.overrides["telegram_proxy"] = proxy.url
        await harness.start()
        assert await harness.say(CHAT, "through the proxy") == ["Hello from the fake model."]
        await harness.stop()
    finally:
        await proxy.stop()
    assert ("127.0.0.1", harness.telegram.port) in proxy.tunnels
