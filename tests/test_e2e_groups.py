"""Groups and forums: trigger rules, authors in history, topics, admin-only settings, forged buttons."""

from __future__ import annotations

from typing import Any

from bot.texts import TOO_MANY_PENDING

from .fakes.openai import Reply
from .fakes.telegram import BOT_USERNAME, FakeBotApi
from .harness import BotHarness

GROUP = -100500
ADMIN, MEMBER = 11, 22
MENTION = f"@{BOT_USERNAME}"


def mention(text: str) -> dict[str, object]:
    return {"entities": [{"type": "mention", "offset": 0, "length": len(MENTION)}]}


def group_message(telegram: FakeBotApi, text: str, user_id: int = MEMBER, name: str = "Bob", **kw: object) -> dict:
    entities = mention(text)["entities"] if text.startswith(MENTION) else None
    return telegram.user_message(GROUP, text, user_id=user_id, first_name=name, entities=entities, **kw)  # type: ignore[arg-type]


async def setup_group(harness: BotHarness, forum: bool = False) -> None:
    harness.telegram.chat(GROUP, "supergroup", is_forum=forum)
    harness.telegram.chat_members[(GROUP, ADMIN)] = "administrator"
    await harness.start()


async def wait_text(harness: BotHarness, count: int, thread_id: int | None = None) -> list[str]:
    await harness.telegram.wait_for(lambda: len(harness.telegram.bot_texts(GROUP, thread_id)) >= count)
    return harness.telegram.bot_texts(GROUP, thread_id)


async def test_bot_answers_mentions_and_replies_and_ignores_chatter(harness: BotHarness) -> None:
    harness.llm.default = lambda body: Reply(f"re: {body['messages'][-1]['content']}")
    await setup_group(harness)
    group_message(harness.telegram, "just people talking")
    asked = group_message(harness.telegram, f"{MENTION} what is 2+2?", user_id=ADMIN, name="Alice")
    await harness.wait_replies(GROUP)
    [answer] = harness.telegram.bot_messages(GROUP)
    assert answer.text == "re: Alice: what is 2+2?"
    assert answer.reply_to == asked["message_id"], "the reply answers the triggering message"
    group_message(harness.telegram, "and times 3?", reply_to=answer.message_id)
    await harness.wait_replies(GROUP, 2)
    assert harness.telegram.bot_texts(GROUP)[-1] == "re: Bob: and times 3?"
    history = harness.llm.requests[-1]["messages"]
    assert [m["content"] for m in history[1:]] == [
        "Alice: what is 2+2?",
        "re: Alice: what is 2+2?",
        "Bob: and times 3?",
    ], "chatter is ignored, and the history names who said what"
    group_message(harness.telegram, f"/help@{BOT_USERNAME}")
    texts = await wait_text(harness, 3)
    assert texts[-1].startswith("Commands:")
    group_message(harness.telegram, "/help@some_other_bot")
    group_message(harness.telegram, f"{MENTION} ping")
    await harness.wait_replies(GROUP, 4)
    assert not any(t.startswith("Commands:") for t in harness.telegram.bot_texts(GROUP)[3:])


async def test_forum_topics_keep_their_own_history_and_share_settings(harness: BotHarness) -> None:
    harness.llm.default = Reply("ok")
    await setup_group(harness, forum=True)
    harness.telegram.user_message(GROUP, "/model fake-large", user_id=ADMIN, thread_id=1)
    await wait_text(harness, 1, thread_id=1)
    for thread, text in ((1, "topic one"), (2, "topic two")):
        harness.telegram.user_message(
            GROUP, f"{MENTION} {text}", user_id=MEMBER, thread_id=thread, entities=mention("")["entities"]
        )
    await harness.wait_replies(GROUP, 3)  # /model's confirmation and one answer in each topic
    by_topic = {r["messages"][-1]["content"]: r for r in harness.llm.requests}
    assert [m["content"] for m in by_topic["Alice: topic two"]["messages"][1:]] == ["Alice: topic two"]
    assert all(r["model"] == "fake-large" for r in harness.llm.requests), "topics inherit the chat's model"
    assert harness.telegram.bot_texts(GROUP, thread_id=2) == ["ok"]
    assert len(harness.telegram.bot_texts(GROUP, thread_id=1)) == 2


async def test_only_admins_change_settings_in_groups(harness: BotHarness) -> None:
    harness.overrides["bot_admin_ids"] = "77"
    await setup_group(harness)
    group_message(harness.telegram, "/model fake-large")
    assert (await wait_text(harness, 1))[-1] == "Only chat admins can change this."
    group_message(harness.telegram, "/reset")
    assert (await wait_text(harness, 2))[-1] == "Only chat admins can change this."
    group_message(harness.telegram, "/provider openai")
    assert (await wait_text(harness, 3))[-1] == "Only chat admins can change this."
    group_message(harness.telegram, "/model fake-large", user_id=ADMIN)
    assert (await wait_text(harness, 4))[-1] == "Model for this chat: fake-large."
    group_message(harness.telegram, "/model fake-small", user_id=77, name="Owner")
    assert (await wait_text(harness, 5))[-1] == "Model for this chat: fake-small."
    anonymous = {"id": GROUP, "type": "supergroup", "title": "Group"}
    group_message(harness.telegram, "/reset", user_id=1087968824, extra={"sender_chat": anonymous})
    assert (await wait_text(harness, 6))[-1].startswith("Done: I've forgotten")
    member_checks = [c for c in harness.telegram.calls_of("getChatMember") if c.params["user_id"] == MEMBER]
    assert len(member_checks) == 1, "admin status is cached"


async def test_buttons_admin_member_and_forged(harness: BotHarness) -> None:
    await setup_group(harness)
    telegram = harness.telegram
    group_message(telegram, "/model", user_id=ADMIN)
    await wait_text(harness, 1)
    [keyboard] = telegram.bot_messages(GROUP)
    buttons = [b for row in keyboard.reply_markup["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == ["fake-small", "fake-large", "✅ Default"]
    large = next(b["callback_data"] for b in buttons if b["text"] == "fake-large")

    telegram.press(GROUP, keyboard.message_id, large, user_id=MEMBER)
    await telegram.wait_for(lambda: len(telegram.callback_answers) == 1)
    assert telegram.callback_answers[-1]["text"] == "Only chat admins can change this."
    assert telegram.callback_answers[-1]["show_alert"] is True

    telegram.press(GROUP, keyboard.message_id, f"m:{GROUP}:0000000000", user_id=ADMIN)
    telegram.press(GROUP, keyboard.message_id, f"m:-999:{large.split(':')[2]}", user_id=ADMIN)
    telegram.press(GROUP, keyboard.message_id, "garbage", user_id=ADMIN)
    telegram.press(GROUP, keyboard.message_id, f"p:{GROUP}:nonexistent", user_id=ADMIN)
    await telegram.wait_for(lambda: len(telegram.callback_answers) == 5)
    assert sorted(a["text"] for a in telegram.callback_answers[1:]) == [
        "This button belongs to another chat.",
        "This button is no longer valid.",
        "This button is no longer valid.",
        "This button is no longer valid.",
    ]
    group_message(telegram, "/settings", user_id=ADMIN)
    assert "Model: default" in (await wait_text(harness, 2))[-1], "nothing changed"

    telegram.press(GROUP, keyboard.message_id, large, user_id=ADMIN)
    await telegram.wait_for(lambda: len(telegram.callback_answers) == 6)
    assert telegram.callback_answers[-1]["text"] == "Model for this chat: fake-large."
    # The keyboard message is edited right after the callback is answered.
    await telegram.wait_for(
        lambda: telegram.messages[(GROUP, keyboard.message_id)].text == "Model for this chat: fake-large."
    )
    group_message(telegram, f"{MENTION} hello", user_id=ADMIN)
    await harness.wait_replies(GROUP, 3)  # the keyboard, /settings, the answer
    assert harness.llm.requests[-1]["model"] == "fake-large"


async def test_only_the_asker_or_an_admin_can_stop_a_reply(harness: BotHarness) -> None:
    harness.llm.default = Reply("word " * 400, chunk_size=5, delay=0.02)
    await setup_group(harness)
    telegram = harness.telegram
    group_message(telegram, f"{MENTION} write a lot", user_id=33, name="Carol")
    await telegram.wait_for(lambda: bool(telegram.bot_messages(GROUP)))
    reply = telegram.bot_messages(GROUP)[0]
    stop = reply.reply_markup["inline_keyboard"][0][0]["callback_data"]
    telegram.press(GROUP, reply.message_id, stop, user_id=MEMBER)
    await telegram.wait_for(lambda: len(telegram.callback_answers) == 1)
    assert telegram.callback_answers[0]["text"] == "Only the person who asked or a chat admin can stop this answer."
    telegram.press(GROUP, reply.message_id, stop, user_id=ADMIN)
    await harness.wait_replies(GROUP)
    assert telegram.messages[(GROUP, reply.message_id)].text.endswith("⏹ Stopped.")


async def test_a_busy_group_is_served_and_queued_questions_are_acknowledged(harness: BotHarness) -> None:
    def answer(body: dict[str, Any]) -> Reply:
        return Reply(f"answer to {body['messages'][-1]['content'].split(': ', 1)[-1]}", delay=0.01)

    harness.llm.default = answer
    harness.overrides["max_pending_per_chat"] = 2  # per person in a group
    await setup_group(harness)
    telegram = harness.telegram
    asked = [group_message(telegram, f"{MENTION} question {n}", user_id=100 + n, name=f"P{n}") for n in range(10)]
    flood = [group_message(telegram, f"{MENTION} again {n}", user_id=100) for n in range(3)]
    texts = await harness.wait_replies(GROUP, 12, timeout=30)  # 11 answers, 1 refusal for the flood
    for n in range(10):
        assert texts.count(f"answer to question {n}") == 1, "each member of a busy group gets their answer"
    assert texts.count("answer to again 0") == 1, "one person may have two waiting"
    assert texts.count(TOO_MANY_PENDING.format(count=2)) == 1, "a flood by one person is refused, once"
    queued = {m["message_id"] for m in [*asked[1:], flood[0]]}
    await telegram.wait_for(lambda: {mid for (_, mid), r in telegram.reactions.items() if r == ["👀"]} >= queued)
    assert (GROUP, asked[0]["message_id"]) not in telegram.reactions, "the first question is answered at once"


async def test_only_the_asker_or_an_admin_can_retry_in_a_group(harness: BotHarness) -> None:
    harness.llm.default = Reply("an answer")
    await setup_group(harness)
    telegram = harness.telegram
    group_message(telegram, f"{MENTION} tell me", user_id=MEMBER)
    await harness.wait_replies(GROUP)
    group_message(telegram, "/retry", user_id=33, name="Stranger")
    texts = await wait_text(harness, 2)
    assert texts[-1] == "Only the person who asked or a chat admin can ask for the last answer again."
    group_message(telegram, "/retry", user_id=MEMBER)
    await harness.wait_replies(GROUP, 3)
    group_message(telegram, "/retry", user_id=ADMIN)
    await harness.wait_replies(GROUP, 4)
    assert len(harness.llm.requests) == 3


async def test_retry_counts_against_the_hourly_limit(harness: BotHarness) -> None:
    harness.overrides["user_messages_per_hour"] = 2
    await harness.start()
    await harness.say(44, "one")
    await harness.say(44, "/retry")
    harness.telegram.user_message(44, "/retry")
    await harness.telegram.wait_for(lambda: harness.telegram.bot_texts(44)[-1].startswith("You've reached the limit"))
    assert len(harness.llm.requests) == 2
