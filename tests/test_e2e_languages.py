"""Texts in the user's language: the person's Telegram language, a chat's /language choice, groups."""

from __future__ import annotations

from bot.texts import CATALOG

from .harness import BotHarness

CHAT, GROUP = 4242, -100555
ADMIN, MEMBER = 1, 2


def russian(key: str, **values: object) -> str:
    return CATALOG.text("ru", key, **values)


def english(key: str, **values: object) -> str:
    return CATALOG.text("en", key, **values)


async def test_a_person_is_answered_in_their_telegram_language_until_they_choose_another(harness: BotHarness) -> None:
    await harness.start()
    assert await harness.say(CHAT, "/start", language_code="ru-RU") == [russian("START")]
    asked = harness.telegram.user_message(CHAT, "/language", language_code="ru")
    await harness.wait_replies(CHAT, 1, after=asked["message_id"])
    [menu] = harness.telegram.bot_messages(CHAT)[-1:]
    shown = menu.text
    assert shown == russian("LANGUAGE_CHOOSE", current=russian("LANGUAGE_AUTO_PRIVATE"))
    assert {"English", "Русский", "✅ " + russian("LANGUAGE_AUTO")} <= set(menu.labels())
    harness.telegram.press(CHAT, menu.message_id, f"l:{CHAT}:en", user_id=CHAT, language_code="ru")
    await harness.telegram.wait_for(lambda: harness.telegram.bot_messages(CHAT)[-1].text != shown)
    assert harness.telegram.bot_messages(CHAT)[-1].text == english("LANGUAGE_SET", language="English")
    assert await harness.say(CHAT, "/help", language_code="ru") == [english("HELP")], "the choice wins"
    settings = await harness.say(CHAT, "/settings", language_code="ru")
    assert "Language: English" in settings[0]
    assert await harness.say(CHAT, "/language auto", language_code="ru") == [
        russian("LANGUAGE_SET", language=russian("LANGUAGE_AUTO_PRIVATE"))
    ]
    assert await harness.say(CHAT, "/stop", language_code="ru") == [russian("NOTHING_TO_STOP")]
    assert await harness.say(CHAT, "/stop", language_code="xx") == [english("NOTHING_TO_STOP")], "unknown: the default"


async def test_a_person_whose_language_the_bot_does_not_speak_gets_the_default(harness: BotHarness) -> None:
    harness.overrides["default_language"] = "ru"
    await harness.start()
    assert await harness.say(CHAT, "/stop", language_code="xx") == [russian("NOTHING_TO_STOP")]
    assert await harness.say(CHAT + 1, "/stop", language_code="en-GB") == [english("NOTHING_TO_STOP")]


async def test_a_group_speaks_its_admins_choice_and_a_refusal_speaks_to_the_person(harness: BotHarness) -> None:
    harness.telegram.chat_members[(GROUP, ADMIN)] = "administrator"
    await harness.start()
    bot = "@test_llm_bot"
    asked = harness.telegram.user_message(GROUP, f"/stop{bot}", user_id=MEMBER, language_code="ru")
    await harness.wait_replies(GROUP, 1, after=asked["message_id"])
    assert harness.telegram.bot_texts(GROUP)[-1] == english("NOTHING_TO_STOP"), "a group: the default"
    asked = harness.telegram.user_message(GROUP, f"/language{bot} ru", user_id=MEMBER, language_code="ru")
    await harness.wait_replies(GROUP, 1, after=asked["message_id"])
    assert harness.telegram.bot_texts(GROUP)[-1] == russian("ADMINS_ONLY"), "not an admin: told in their language"
    asked = harness.telegram.user_message(GROUP, f"/language{bot} ru", user_id=ADMIN, language_code="en")
    await harness.wait_replies(GROUP, 1, after=asked["message_id"])
    assert harness.telegram.bot_texts(GROUP)[-1] == russian("LANGUAGE_SET", language="Русский")
    asked = harness.telegram.user_message(GROUP, f"/stop{bot}", user_id=ADMIN, language_code="en")
    await harness.wait_replies(GROUP, 1, after=asked["message_id"])
    assert harness.telegram.bot_texts(GROUP)[-1] == russian("NOTHING_TO_STOP"), "the group's language, not the person's"


async def test_the_command_menu_and_descriptions_are_set_in_every_language(harness: BotHarness) -> None:
    harness.overrides["default_language"] = "ru"
    await harness.start()
    menus = harness.telegram.commands_by_language
    assert set(menus) == {None, *CATALOG.languages}
    assert menus[None] == menus["ru"], "the default menu is in DEFAULT_LANGUAGE"
    assert [c["command"] for c in menus["en"]] == [c["command"] for c in menus["ru"]]
    assert {c["description"] for c in menus["ru"]} == {russian(f"COMMAND_{c['command']}") for c in menus["ru"]}
    assert harness.telegram.descriptions["en"] == english("BOT_DESCRIPTION")
    assert harness.telegram.short_descriptions["ru"] == russian("BOT_SHORT_DESCRIPTION")


async def test_the_models_answer_is_not_translated_and_the_prompt_asks_for_the_questions_language(
    harness: BotHarness,
) -> None:
    await harness.start()
    assert await harness.say(CHAT, "Привет!", language_code="ru") == ["Hello from the fake model."]
    system = harness.llm.requests[-1]["messages"][0]["content"]
    assert "in the language of the question" in system
