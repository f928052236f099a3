"""Conversations (issue 31): the message a question replies to is context, as the model sees it."""

from __future__ import annotations

import base64
import sqlite3
from typing import Any

from bot.turns.quotes import QUOTE_MAX_CHARS

from .fakes.openai import Reply
from .fakes.telegram import BOT_USERNAME
from .harness import BotHarness, Lines

CHAT = 6100
GROUP = -100610
PHOTO = b"\xff\xd8a-cat-photo" * 20


def asked(harness: BotHarness) -> Any:
    """The content of the last user message of the last request to the model."""
    return harness.llm.requests[-1]["messages"][-1]["content"]


async def test_a_reply_to_an_older_answer_gives_it_to_the_model_and_to_the_latest_repeats_nothing(
    harness: BotHarness,
) -> None:
    harness.llm.then(Reply("Paris is the capital."), Reply("Berlin is the capital."), Reply("a"), Reply("b"))
    await harness.start()
    await harness.say(CHAT, "France?")
    await harness.say(CHAT, "Germany?")
    first, _ = harness.telegram.bot_messages(CHAT)
    await harness.say(CHAT, "How big is it?", reply_to=first.message_id)
    assert asked(harness) == "Quoting your earlier answer:\n> Paris is the capital.\n\nHow big is it?"
    await harness.say(CHAT, "And now?", reply_to=harness.telegram.bot_messages(CHAT)[-1].message_id)
    assert asked(harness) == "And now?", "the latest answer is the model's last turn already"
    stored = [m["content"] for m in harness.llm.requests[-1]["messages"][1:]]
    assert stored[-3] == "Quoting your earlier answer:\n> Paris is the capital.\n\nHow big is it?", "kept as asked"


async def test_only_the_part_the_user_quoted_is_given(harness: BotHarness) -> None:
    harness.llm.then(Reply("Paris is the capital. Lyon is the third city."), Reply("ok"))
    await harness.start()
    await harness.say(CHAT, "France?")
    [answer] = harness.telegram.bot_messages(CHAT)
    quote = {"text": "Lyon is the third city.", "position": 22, "is_manual": True}
    await harness.say(CHAT, "Why third?", reply_to=answer.message_id, extra={"quote": quote})
    assert asked(harness) == "Quoting your earlier answer:\n> Lyon is the third city.\n\nWhy third?"


async def test_in_a_group_the_quoted_author_is_named_and_a_replied_photo_is_seen(harness: BotHarness) -> None:
    harness.llm.then(Reply("A tabby."))
    harness.telegram.chat(GROUP, "supergroup")
    await harness.start()
    photo = harness.telegram.user_photo(GROUP, [PHOTO], caption="my cat", user_id=77, first_name="Carol")
    mention = f"@{BOT_USERNAME}"
    entities = [{"type": "mention", "offset": 0, "length": len(mention)}]
    harness.telegram.user_message(
        GROUP,
        f"{mention} what breed?",
        user_id=78,
        first_name="Bob",
        entities=entities,
        extra={"reply_to_message": photo},
    )
    await harness.wait_replies(GROUP)
    parts = asked(harness)
    assert parts[0] == {"type": "text", "text": "Bob: Quoting Carol:\n> my cat\n\nwhat breed?"}
    [image] = [p for p in parts if p["type"] == "image_url"]
    assert base64.b64decode(image["image_url"]["url"].split(",", 1)[1]) == PHOTO


async def test_a_forwarded_text_is_named_by_its_origin_and_a_long_one_is_cut(harness: BotHarness) -> None:
    harness.llm.then(Reply("ok"))
    await harness.start()
    forwarded = harness.telegram.user_message(
        CHAT,
        "x" * (QUOTE_MAX_CHARS + 1),
        extra={"forward_origin": {"type": "hidden_user", "date": 0, "sender_user_name": "Dave"}},
    )
    harness.llm.then(Reply("ok"))
    await harness.wait_replies(CHAT)
    await harness.say(CHAT, "Summarise", reply_to=forwarded["message_id"], extra={"reply_to_message": forwarded})
    assert asked(harness) == f"Quoting Dave:\n> {'x' * QUOTE_MAX_CHARS}…\n\nSummarise"


async def test_in_a_forum_topic_the_topics_first_message_is_not_a_quote(harness: BotHarness) -> None:
    harness.llm.then(Reply("ok"))
    harness.telegram.chat(GROUP, "supergroup", is_forum=True)
    await harness.start()
    created = {
        "message_id": 40,
        "date": 0,
        "chat": {"id": GROUP, "type": "supergroup", "title": "G", "is_forum": True},
        "forum_topic_created": {"name": "Ideas", "icon_color": 7322096},
        "message_thread_id": 40,
        "is_topic_message": True,
    }
    mention = f"@{BOT_USERNAME}"
    entities = [{"type": "mention", "offset": 0, "length": len(mention)}]
    harness.telegram.user_message(
        GROUP, f"{mention} hello", thread_id=40, entities=entities, extra={"reply_to_message": created}
    )
    await harness.wait_replies(GROUP, thread_id=40)
    assert asked(harness).endswith("hello") and "Quoting" not in asked(harness)


async def test_a_9000_character_paste_in_three_messages_is_answered_and_charged_once(harness: BotHarness) -> None:
    harness.llm.then(Reply("One answer."), Reply("Two."))
    await harness.start()
    paste = "".join(f"line {n:04d} of the pasted log\n" for n in range(350))[:9000]
    parts = [paste[:4096], paste[4096:8192], paste[8192:]]
    for part in parts:
        harness.telegram.user_message(CHAT, part)
    assert await harness.wait_replies(CHAT) == ["One answer."]
    assert len(harness.llm.requests) == 1 and asked(harness) == "\n".join(parts)
    await harness.stop()  # the ledger is written once the reply is finished
    with sqlite3.connect(harness.db_path) as db:
        assert db.execute("SELECT COUNT(*) FROM usage").fetchone()[0] == 1, "charged once"


async def test_a_short_follow_up_stays_its_own_question(harness: BotHarness) -> None:
    harness.llm.then(Reply("About the paste."), Reply("About the follow-up."))
    await harness.start()
    paste = "p" * 4096
    harness.telegram.user_message(CHAT, paste)
    assert await harness.wait_replies(CHAT) == ["About the paste."]
    await harness.say(CHAT, "and shorter?")
    assert [r["messages"][-1]["content"] for r in harness.llm.requests] == [paste, "and shorter?"]
    harness.llm.then(Reply("one"), Reply("two"))
    harness.telegram.user_message(CHAT, "hello")
    harness.telegram.user_message(CHAT, "world")
    await harness.wait_replies(CHAT, 4)
    assert [r["messages"][-1]["content"] for r in harness.llm.requests[2:]] == ["hello", "world"]


async def test_an_album_of_three_photos_is_one_question_with_every_image(harness: BotHarness) -> None:
    harness.llm.then(Reply("Three cats."))
    await harness.start()
    photos = [b"\xff\xd8cat-%d" % n * 20 for n in range(3)]
    for n, photo in enumerate(photos):
        extra = {"media_group_id": "album-1"}
        harness.telegram.user_photo(CHAT, [photo], caption="my cats" if n == 0 else None, extra=extra)
    assert await harness.wait_replies(CHAT) == ["Three cats."]
    assert len(harness.llm.requests) == 1
    parts = asked(harness)
    assert parts[0] == {"type": "text", "text": "my cats"}
    sent = [base64.b64decode(p["image_url"]["url"].split(",", 1)[1]) for p in parts if p["type"] == "image_url"]
    assert sent == photos


def catalog(key: str, **values: object) -> str:
    from bot.texts import CATALOG

    return CATALOG.text("en", key, **values)


async def test_new_keeps_the_conversation_and_conversations_goes_back_to_it(harness: BotHarness) -> None:
    harness.llm.then(Reply("A language."), Reply("Margherita."), Reply("It checks borrows."))
    await harness.start()
    telegram = harness.telegram
    await harness.say(CHAT, "What is Rust?")
    assert await harness.say(CHAT, "/new") == [catalog("NEW_DONE")]
    assert await harness.say(CHAT, "/new") == [catalog("NEW_ALREADY")], "nothing said in it yet"
    await harness.say(CHAT, "Best pizza?")
    assert [m["content"] for m in harness.llm.requests[-1]["messages"][1:]] == ["Best pizza?"], "a fresh history"
    listing = await harness.say(CHAT, "/conversations")
    assert listing[0].splitlines()[1:] == ["✅ Best pizza? — 2 messages", "• What is Rust? — 2 messages"]
    menu = telegram.bot_messages(CHAT)[-1]
    assert menu.labels() == ["✅ Best pizza?", "What is Rust?"]
    back = next(b for row in menu.reply_markup["inline_keyboard"] for b in row if b["text"] == "What is Rust?")
    telegram.press(CHAT, menu.message_id, back["callback_data"], user_id=CHAT)
    await telegram.wait_for(lambda: telegram.messages[(CHAT, menu.message_id)].text.startswith("Back to"))
    await harness.say(CHAT, "And its borrow checker?")
    sent = [m["content"] for m in harness.llm.requests[-1]["messages"][1:]]
    assert sent == ["What is Rust?", "A language.", "And its borrow checker?"]
    assert await harness.say(CHAT, "/reset") == [catalog("RESET_DONE")]
    listed = await harness.say(CHAT, "/conversations")
    assert listed == [catalog("CONVERSATIONS_LIST", list="• Best pizza? — 2 messages")], (
        "/reset deletes only the current one"
    )


async def test_in_a_group_only_admins_start_a_new_conversation(harness: BotHarness) -> None:
    harness.telegram.chat(GROUP, "supergroup")
    await harness.start()
    harness.telegram.user_message(GROUP, "/new", user_id=78)
    await harness.telegram.wait_for(lambda: bool(harness.telegram.bot_texts(GROUP)))
    assert harness.telegram.bot_texts(GROUP) == [catalog("ADMINS_ONLY")]


async def test_new_opens_a_topic_in_a_private_chat_named_by_the_question_then_by_a_model(
    harness: BotHarness,
) -> None:
    harness.telegram.private_topics = True
    harness.llm.then(Reply("Flour, water, salt, yeast."), Reply("Bread basics"), Reply("Sure."), Reply("x"))
    await harness.start()
    telegram = harness.telegram
    telegram.user_message(CHAT, "/new How do I bake bread?")
    await telegram.wait_for(lambda: bool(telegram.topics.get(CHAT)))
    [(thread, name)] = telegram.topics[CHAT].items()
    assert name == "How do I bake bread?", "named by the question's first words at once"
    assert await harness.wait_replies(CHAT, thread_id=thread, after=thread) == ["Flour, water, salt, yeast."]
    await telegram.wait_for(lambda: telegram.topics[CHAT][thread] == "Bread basics")
    assert harness.llm.requests[1]["messages"][-1]["content"] == "How do I bake bread?", "the title's request"
    telegram.user_message(CHAT, "And rye?", thread_id=thread)
    await harness.wait_replies(CHAT, 2, thread_id=thread, after=thread)
    sent = [m["content"] for m in harness.llm.requests[2]["messages"][1:]]
    assert sent == ["How do I bake bread?", "Flour, water, salt, yeast.", "And rye?"], "the topic's history"
    await harness.say(CHAT, "Elsewhere?")
    assert [m["content"] for m in harness.llm.requests[3]["messages"][1:]] == ["Elsewhere?"], "outside: its own"


async def test_a_bare_new_topic_is_named_by_its_first_question_and_a_slow_title_changes_nothing(
    harness: BotHarness, lines: Lines
) -> None:
    harness.telegram.private_topics = True
    harness.overrides["topic_title_seconds"] = 0.5
    harness.llm.then(Reply("Neapolitan."), Reply("Pizza", first_delay=3.0))
    await harness.start()
    telegram = harness.telegram
    telegram.user_message(CHAT, "/new")
    await telegram.wait_for(lambda: bool(telegram.topics.get(CHAT)))
    [(thread, name)] = telegram.topics[CHAT].items()
    assert name == catalog("NEW_TOPIC_TITLE")
    await telegram.wait_for(lambda: telegram.bot_texts(CHAT, thread) == [catalog("NEW_TOPIC_HELLO")])
    telegram.user_message(CHAT, "Which pizza style is the best one in Naples today?", thread_id=thread)
    await telegram.wait_for(lambda: telegram.topics[CHAT][thread] == "Which pizza style is the best…")
    await harness.wait_replies(CHAT, 2, thread_id=thread, after=thread)
    await lines.wait_for("no title within 0.5s")  # the model was still silent: the first words stay
    assert telegram.topics[CHAT][thread] == "Which pizza style is the best…"


async def test_group_context_gives_the_last_messages_not_addressed_to_the_bot_once(harness: BotHarness) -> None:
    harness.overrides["group_context_messages"] = 2
    harness.llm.then(Reply("Pizza at eight."), Reply("ok"), Reply("fine"))
    harness.telegram.chat(GROUP, "supergroup")
    harness.telegram.chat_members[(GROUP, 90)] = "administrator"
    await harness.start()
    telegram = harness.telegram
    for name, text in [("Carol", "dinner tonight?"), ("Dave", "pizza?"), ("Carol", "at " + "eight " * 100)]:
        telegram.user_message(GROUP, text, user_id=77 if name == "Carol" else 79, first_name=name)
    mention = f"@{BOT_USERNAME}"
    entities = [{"type": "mention", "offset": 0, "length": len(mention)}]
    await telegram.wait_for(lambda: telegram.last_update_id in telegram.delivered)
    telegram.user_message(GROUP, f"{mention} what did we decide?", user_id=78, first_name="Bob", entities=entities)
    await harness.wait_replies(GROUP)
    cut = " ".join(("at " + "eight " * 100)[:500].split())
    assert asked(harness) == (
        f"Bob: Recent messages in this chat, for context:\n> Dave: pizza?\n> Carol: {cut}…\n\nwhat did we decide?"
    ), "the last two, each cut to 500 characters"
    telegram.user_message(GROUP, f"{mention} and now?", user_id=78, first_name="Bob", entities=entities)
    await harness.wait_replies(GROUP, 2)
    assert asked(harness) == "Bob: and now?", "given once"
    telegram.user_message(GROUP, "more chatter", user_id=77, first_name="Carol")
    telegram.user_message(GROUP, "/reset", user_id=90)
    await telegram.wait_for(lambda: any("forgotten" in t for t in telegram.bot_texts(GROUP)))
    telegram.user_message(GROUP, f"{mention} hi", user_id=78, first_name="Bob", entities=entities)
    await harness.wait_replies(GROUP, 4)
    assert asked(harness) == "Bob: hi", "/reset forgot the kept chatter"
