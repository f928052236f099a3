"""Private chats: /model, /provider, /settings across restarts, access control, /stop and /retry."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .fakes.openai import Fail, FakeOpenAI, Reply
from .harness import BotHarness

CHAT = 808


@pytest.fixture
async def backup() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(default=Reply("from backup"), models=["b-model"]) as fake:
        yield fake


async def command(harness: BotHarness, text: str, chat: int = CHAT, **kw: object) -> str:
    """Send ``text``; the bot's last new message once it is done."""
    return (await harness.say(chat, text, **kw))[-1]


async def test_model_by_name_and_unknown_names(harness: BotHarness) -> None:
    await harness.start()
    assert await command(harness, "/model gpt-9") == (
        'No provider here offers the model "gpt-9". /model lists the models you can choose.'
    )
    assert (
        await command(harness, "/model LARGE") == 'No provider here offers the model "LARGE". Did you mean: fake-large?'
    )
    assert await command(harness, "/model fake-large") == "Model for this chat: fake-large."
    await harness.say(CHAT, "hi")
    assert harness.llm.requests[-1]["model"] == "fake-large"


async def test_provider_keyboard_pins_a_provider_and_failover_stays_within_it(
    harness: BotHarness, backup: FakeOpenAI
) -> None:
    harness.overrides["providers"] = "openai,backup"
    harness.environ = {"BACKUP_BASE_URL": backup.base_url}
    await harness.start()
    assert (await command(harness, "/provider")).startswith("Choose the provider for this chat. Current: Auto")
    keyboard = harness.telegram.bot_messages(CHAT)[-1]
    labels = [row[0]["text"] for row in keyboard.reply_markup["inline_keyboard"]]
    assert labels == ["✅ Auto (openai → backup)", "openai", "backup"]
    harness.telegram.press(CHAT, keyboard.message_id, f"p:{CHAT}:backup", user_id=CHAT)
    await harness.telegram.wait_for(
        lambda: harness.telegram.messages[(CHAT, keyboard.message_id)].text == "Provider for this chat: backup."
    )
    assert await command(harness, "/model") == "Choose the model for this chat. Current: default (b-model)"
    backup.then(Fail(500, "down"))
    harness.overrides["provider_max_retries"] = 2
    texts = await harness.say(CHAT, "question")
    assert texts == ["Sorry, I couldn't get an answer from the language model. Please try again in a moment."]
    assert harness.llm.requests == [], "a pinned provider's failures never go to the others"
    assert "Provider: backup" in await command(harness, "/settings")
    assert await command(harness, "/provider auto") == "Provider for this chat: Auto."
    assert await harness.say(CHAT, "again") == ["Hello from the fake model."]


async def test_a_saved_choice_is_confirmed_even_when_the_button_answer_fails(
    harness: BotHarness, backup: FakeOpenAI
) -> None:
    harness.overrides["providers"] = "openai,backup"
    harness.environ = {"BACKUP_BASE_URL": backup.base_url}
    await harness.start()
    await command(harness, "/provider")
    keyboard = harness.telegram.bot_messages(CHAT)[-1]
    harness.telegram.fail("answerCallbackQuery", 400, "Bad Request: query is too old and response timeout expired")
    harness.telegram.press(CHAT, keyboard.message_id, f"p:{CHAT}:backup", user_id=CHAT)
    await harness.telegram.wait_for(
        lambda: harness.telegram.messages[(CHAT, keyboard.message_id)].text == "Provider for this chat: backup."
    )
    assert harness.telegram.messages[(CHAT, keyboard.message_id)].reply_markup is None, "no stale keyboard"
    assert "Provider: backup" in await command(harness, "/settings")
    assert not any("went wrong" in t for t in harness.telegram.bot_texts(CHAT))


async def test_settings_survive_a_restart(harness: BotHarness) -> None:
    await harness.start()
    await command(harness, "/model fake-small")
    await harness.say(CHAT, "one")
    await harness.restart()
    shown = await command(harness, "/settings")
    assert "Model: fake-small" in shown and "History: 2 messages stored here" in shown
    assert f"Ids (for ALLOWED_USER_IDS, ALLOWED_CHAT_IDS, BOT_ADMIN_IDS): this chat {CHAT}, you {CHAT}" in shown
    await command(harness, "/reset")
    assert "History: 0 messages stored" in await command(harness, "/settings")
    harness.overrides["history_max_messages"] = 1
    await harness.restart()
    assert "up to 1 message and" in await command(harness, "/settings")
    await harness.say(CHAT, "two")
    assert harness.llm.requests[-1]["model"] == "fake-small"


async def test_stranger_gets_one_refusal_and_costs_no_provider_call(harness: BotHarness) -> None:
    harness.overrides["allowed_user_ids"] = "5"
    harness.overrides["allowed_chat_ids"] = "-100900"
    await harness.start()
    harness.telegram.user_message(666, "let me in")
    harness.telegram.user_message(666, "please")
    await harness.telegram.wait_for(lambda: bool(harness.telegram.bot_texts(666)))
    assert await harness.say(5, "I am allowed") == ["Hello from the fake model."]
    assert harness.telegram.bot_texts(666) == [
        "Sorry, this bot is private. Ask its owner for access, giving them your user id: 666."
    ]
    harness.telegram.user_message(-100777, "@test_llm_bot hello?", user_id=666, chat_type="supergroup")
    await harness.telegram.wait_for(lambda: bool(harness.telegram.bot_texts(-100777)))
    assert harness.telegram.bot_texts(-100777) == [
        "Sorry, this bot is private. Ask its owner for access, giving them this chat's id (-100777)"
        " or your user id (666)."
    ]
    harness.telegram.chat(-100900, "supergroup")
    mention = [{"type": "mention", "offset": 0, "length": 13}]
    await harness.say(-100900, "@test_llm_bot hi", user_id=666, entities=mention)
    assert len(harness.llm.requests) == 2, "one for the allowed user, one in the allowed chat"


async def test_stop_button_keeps_what_was_shown(harness: BotHarness) -> None:
    harness.llm.then(Reply("word " * 400, chunk_size=5, delay=0.02), Reply("next"))
    await harness.start()
    harness.telegram.user_message(CHAT, "write forever")
    await harness.telegram.wait_for(lambda: bool(harness.telegram.bot_messages(CHAT)))
    reply = harness.telegram.bot_messages(CHAT)[0]
    [[button]] = reply.reply_markup["inline_keyboard"]
    assert button["text"] == "⏹ Stop"
    harness.telegram.press(CHAT, reply.message_id, button["callback_data"], user_id=CHAT)
    await harness.wait_replies(CHAT)
    final = harness.telegram.messages[(CHAT, reply.message_id)]
    assert final.text.startswith("word") and final.text.endswith("⏹ Stopped.")
    assert final.reply_markup is None and len(final.text) < 2000
    await harness.say(CHAT, "next")
    stored = harness.llm.requests[-1]["messages"][2]
    assert stored["role"] == "assistant" and stored["content"].startswith("word") and "Stopped" not in stored["content"]


async def test_stop_command_and_buttons_of_others(harness: BotHarness) -> None:
    harness.llm.then(Reply("word " * 400, chunk_size=5, delay=0.02))
    await harness.start()
    assert await command(harness, "/stop") == "Nothing is being written right now."
    harness.telegram.user_message(CHAT, "write forever")
    await harness.telegram.wait_for(lambda: len(harness.telegram.bot_messages(CHAT)) == 2)
    harness.telegram.user_message(CHAT, "/stop")
    await harness.wait_replies(CHAT, 2)
    assert harness.telegram.bot_texts(CHAT)[-1].endswith("⏹ Stopped.")


async def test_retry_replaces_the_last_answer_in_history(harness: BotHarness) -> None:
    harness.llm.then(Reply("first try"), Reply("second try"), Reply("ok"))
    await harness.start()
    assert await command(harness, "/retry") == "There is nothing to retry yet."
    await harness.say(CHAT, "tell me a joke")
    await harness.say(CHAT, "/retry")
    assert harness.telegram.bot_texts(CHAT)[-1] == "second try"
    assert [m["content"] for m in harness.llm.requests[1]["messages"][1:]] == ["tell me a joke"]
    await harness.say(CHAT, "another")
    assert [m["content"] for m in harness.llm.requests[2]["messages"][1:]] == [
        "tell me a joke",
        "second try",
        "another",
    ]


async def test_model_command_when_the_provider_lists_no_models(harness: BotHarness) -> None:
    harness.llm.models = ["text-embedding-3-small"]  # nothing to chat with: the list is empty
    await harness.start()
    assert await command(harness, "/model") == (
        "The provider did not list its models. Current: the provider's default. Use /model NAME to choose one."
    )
    assert await command(harness, "/model my-local-model") == (
        "Model for this chat: my-local-model. openai could not list its models, so the name goes to it as it is."
    )


async def test_an_unknown_command_points_to_help_in_private_and_is_ignored_in_groups(harness: BotHarness) -> None:
    await harness.start()
    assert await command(harness, "/weather tomorrow") == "I don't know /weather. /help lists what I can do."
    harness.telegram.user_message(-100555, "/weather@other_bot", chat_type="supergroup")
    harness.telegram.user_message(-100555, "/help@test_llm_bot", chat_type="supergroup")
    await harness.telegram.wait_for(lambda: bool(harness.telegram.bot_texts(-100555)))
    assert len(harness.telegram.bot_texts(-100555)) == 1 and harness.telegram.bot_texts(-100555)[0].startswith(
        "Commands:"
    )
    asked = harness.telegram.user_message(-100555, "/weather@test_llm_bot", chat_type="supergroup")
    await harness.telegram.wait_for(lambda: len(harness.telegram.bot_texts(-100555)) == 2)
    [_, pointer] = harness.telegram.bot_messages(-100555)
    assert pointer.text == "I don't know /weather. /help lists what I can do."
    assert pointer.reply_to == asked["message_id"], "in a group the answer quotes the command it answers"
    assert harness.llm.requests == []


async def test_start_in_a_group_says_how_to_address_the_bot_and_quotes_the_command(harness: BotHarness) -> None:
    await harness.start()
    asked = harness.telegram.user_message(-100555, "/start@test_llm_bot", chat_type="supergroup")
    await harness.telegram.wait_for(lambda: bool(harness.telegram.bot_texts(-100555)))
    [answer] = harness.telegram.bot_messages(-100555)
    assert answer.reply_to == asked["message_id"]
    assert answer.text.endswith(
        "In this group, mention me (@test_llm_bot) or reply to one of my messages, and I'll answer."
        " Only the group's admins can change my settings."
    )
    [private] = await harness.say(CHAT, "/start")
    assert "In this group" not in private


async def test_a_model_of_another_provider_while_pinned_says_which_offers_it(
    harness: BotHarness, backup: FakeOpenAI
) -> None:
    harness.overrides["providers"] = "openai,backup"
    harness.environ = {"BACKUP_BASE_URL": backup.base_url}
    await harness.start()
    await command(harness, "/provider backup")
    assert await command(harness, "/model fake-large") == (
        '"fake-large" is offered by openai, not by backup, the provider this chat is pinned to.'
        " Send /provider auto (or /provider with one of them) first."
    )
    assert "Model: default" in await command(harness, "/settings"), "nothing changed"
