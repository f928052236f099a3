"""/prompt: a chat's own system prompt and the operator's presets, through the real Application."""

from __future__ import annotations

from pathlib import Path

import pytest

from .fakes.telegram import BOT_USERNAME
from .harness import BotHarness

CHAT = 8080
GROUP, ADMIN, MEMBER = -100808, 11, 22
DEFAULT_PROMPT = "You are the default assistant."


async def command(harness: BotHarness, text: str, chat: int = CHAT, **kw: object) -> str:
    before = len(harness.telegram.bot_messages(chat))
    harness.telegram.user_message(chat, text, **kw)  # type: ignore[arg-type]
    await harness.telegram.wait_for(lambda: len(harness.telegram.bot_messages(chat)) > before)
    return harness.telegram.bot_texts(chat)[-1]


def system_prompt_sent(harness: BotHarness) -> str:
    first = harness.llm.requests[-1]["messages"][0]
    assert first["role"] == "system"
    return str(first["content"])


async def test_a_chat_sets_shows_and_resets_its_own_prompt_and_it_survives_a_restart(harness: BotHarness) -> None:
    harness.overrides["system_prompt"] = DEFAULT_PROMPT
    await harness.start()
    shown = await command(harness, "/prompt")
    assert shown.startswith(f"System prompt for this chat (the default):\n\n{DEFAULT_PROMPT}")
    assert await command(harness, "/prompt You are a pirate. Answer like one.") == (
        "Done: this chat now uses your system prompt. /prompt reset goes back to the default."
    )
    await harness.say(CHAT, "hello")
    assert system_prompt_sent(harness) == "You are a pirate. Answer like one."
    await harness.restart()
    assert "System prompt: custom (34 characters)" in await command(harness, "/settings")
    await harness.say(CHAT, "still a pirate?")
    assert system_prompt_sent(harness) == "You are a pirate. Answer like one."
    assert await command(harness, "/prompt reset") == "Done: this chat uses the default system prompt again."
    await harness.say(CHAT, "and now?")
    assert system_prompt_sent(harness) == DEFAULT_PROMPT
    await harness.say(8181, "another chat was never changed")
    assert system_prompt_sent(harness) == DEFAULT_PROMPT


async def test_a_prompt_over_the_limit_is_refused_and_changes_nothing(harness: BotHarness) -> None:
    harness.overrides.update(system_prompt=DEFAULT_PROMPT, max_prompt_chars=100)
    await harness.start()
    assert await command(harness, "/prompt " + "x" * 101) == (
        "That prompt is too long (101 characters; the limit is 100). Please shorten it."
    )
    await harness.say(CHAT, "hello")
    assert system_prompt_sent(harness) == DEFAULT_PROMPT


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("prompts.toml", 'pirate = "Talk like a pirate."\ntranslator = "Translate into English."\n'),
        ("prompts.yaml", "prompts:\n  pirate: Talk like a pirate.\n  translator: Translate into English.\n"),
    ],
)
async def test_presets_from_the_operators_file_are_buttons(
    harness: BotHarness, tmp_path: Path, name: str, content: str
) -> None:
    (tmp_path / name).write_text(content)
    harness.overrides["prompts_file"] = str(tmp_path / name)
    await harness.start()
    await command(harness, "/prompt")
    menu = harness.telegram.bot_messages(CHAT)[-1]
    buttons = [b for row in menu.reply_markup["inline_keyboard"] for b in row]  # type: ignore[index]
    assert [b["text"] for b in buttons] == ["pirate", "translator", "✅ Default"]
    harness.telegram.press(CHAT, menu.message_id, buttons[1]["callback_data"], user_id=CHAT)
    await harness.telegram.wait_for(lambda: "Done" in harness.telegram.bot_texts(CHAT)[-1])
    assert (
        harness.telegram.bot_texts(CHAT)[-1] == "Done: this chat now uses the preset “translator”."
    )  # the menu, edited
    await harness.say(CHAT, "Bonjour")
    assert system_prompt_sent(harness) == "Translate into English."
    await command(harness, "/prompt")
    menu = harness.telegram.bot_messages(CHAT)[-1]
    assert menu.labels() == [
        "pirate",
        "✅ translator",
        "Default",
    ]
    assert "System prompt: preset “translator”" in await command(harness, "/settings")


async def test_in_groups_only_admins_change_the_prompt(harness: BotHarness, tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text('pirate = "Talk like a pirate."\n')
    harness.overrides.update(system_prompt=DEFAULT_PROMPT, prompts_file=str(tmp_path / "p.toml"))
    harness.telegram.chat(GROUP, "supergroup")
    harness.telegram.chat_members[(GROUP, ADMIN)] = "administrator"
    await harness.start()
    said = await command(harness, "/prompt Be rude.", chat=GROUP, user_id=MEMBER)
    assert said == "Only chat admins can change this."
    await command(harness, "/prompt", chat=GROUP, user_id=MEMBER)  # anyone may look
    menu = harness.telegram.bot_messages(GROUP)[-1]
    harness.telegram.press(GROUP, menu.message_id, f"r:{GROUP}:0", user_id=MEMBER)
    await harness.telegram.wait_for(lambda: bool(harness.telegram.callback_answers))
    assert harness.telegram.callback_answers[-1]["text"] == "Only chat admins can change this."
    await harness.say(GROUP, f"@{BOT_USERNAME} hi", user_id=MEMBER)
    assert system_prompt_sent(harness) == DEFAULT_PROMPT
    said = await command(harness, "/prompt Be kind and brief.", chat=GROUP, user_id=ADMIN)
    assert said.startswith("Done: this chat now uses your system prompt.")
    await harness.say(GROUP, f"@{BOT_USERNAME} hi again", user_id=MEMBER)
    assert system_prompt_sent(harness) == "Be kind and brief."


async def test_prompt_rules_at_their_edges(harness: BotHarness, tmp_path: Path) -> None:
    """A prompt exactly MAX_PROMPT_CHARS long is taken and shown; /prompt default is /prompt reset; a
    group member cannot reset; a preset button past the end is no longer valid."""
    (tmp_path / "p.toml").write_text('pirate = "Talk like a pirate."\n')
    harness.overrides.update(system_prompt=DEFAULT_PROMPT, max_prompt_chars=100, prompts_file=str(tmp_path / "p.toml"))
    harness.telegram.chat(GROUP, "supergroup")
    harness.telegram.chat_members[(GROUP, ADMIN)] = "administrator"
    await harness.start()
    exact = "y" * 100
    assert (await command(harness, f"/prompt {exact}")).startswith("Done: this chat now uses your system prompt.")
    assert exact in await command(harness, "/prompt"), "a prompt of exactly the limit is shown whole"
    assert await command(harness, "/prompt default") == "Done: this chat uses the default system prompt again."
    await harness.say(CHAT, "hello")
    assert system_prompt_sent(harness) == DEFAULT_PROMPT
    await command(harness, "/prompt Be kind.", chat=GROUP, user_id=ADMIN)
    assert await command(harness, "/prompt reset", chat=GROUP, user_id=MEMBER) == "Only chat admins can change this."
    await harness.say(GROUP, f"@{BOT_USERNAME} hi", user_id=MEMBER)
    assert system_prompt_sent(harness) == "Be kind.", "the member's reset changed nothing"
    await command(harness, "/prompt")
    menu = harness.telegram.bot_messages(CHAT)[-1]
    harness.telegram.press(CHAT, menu.message_id, f"r:{CHAT}:1", user_id=CHAT)  # one past the only preset
    await harness.telegram.wait_for(lambda: bool(harness.telegram.callback_answers))
    assert harness.telegram.callback_answers[-1]["text"] == "This button is no longer valid."


def test_a_preset_longer_than_max_prompt_chars_is_refused_at_its_edge(tmp_path: Path) -> None:
    from bot.config.prompts import PresetsError, load_presets

    (tmp_path / "p.toml").write_text(f'exact = "{"z" * 100}"\n')
    assert load_presets(tmp_path / "p.toml", 100) == {"exact": "z" * 100}
    (tmp_path / "p.toml").write_text(f'over = "{"z" * 101}"\n')
    with pytest.raises(PresetsError, match="longer than MAX_PROMPT_CHARS"):
        load_presets(tmp_path / "p.toml", 100)
