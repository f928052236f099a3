"""/prompt: a chat's own system prompt, typed or chosen from the operator's presets."""

from __future__ import annotations

import logging
from dataclasses import replace

from telegram import Update
from telegram.ext import ContextTypes

from bot import texts
from bot.config.prompts import describe_prompt, preset_name
from bot.handlers.common import Deps, command_with_settings, confirm_choice, is_group, refused_unless_admin
from bot.state.storage import ChatSettings
from bot.telegram.keyboards import prompt_keyboard

logger = logging.getLogger("bot.handlers")

#: ``/prompt reset`` and ``/prompt default`` go back to ``SYSTEM_PROMPT``.
RESET_WORDS = ("reset", "default")
#: At most this many characters of a prompt are shown by /prompt (a Telegram message holds 4096).
SHOWN_CHARS = 3000


class PromptHandlers:
    """``/prompt`` shows the chat's system prompt (and the presets as buttons); ``/prompt TEXT``
    sets it; ``/prompt reset`` returns to ``SYSTEM_PROMPT``. Changes are for admins in groups."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def describe(self, choice: ChatSettings) -> str:
        """How /prompt names the chat's prompt: the default, a preset, or custom."""
        return describe_prompt(self.deps.presets, choice.system_prompt)

    def preset_name(self, prompt: str | None) -> str | None:
        """The preset whose text is ``prompt``, or None."""
        return preset_name(self.deps.presets, prompt)

    async def prompt(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/prompt [TEXT | reset]."""
        command = await command_with_settings(self.deps, update)
        if command is None:
            return
        message, choice, wanted = command
        if not wanted:
            current = choice.system_prompt or self.deps.settings.system_prompt
            shown = current if len(current) <= SHOWN_CHARS else current[:SHOWN_CHARS] + "…"
            names = list(self.deps.presets)
            await message.reply_text(
                texts.PROMPT_SHOW.format(which=self.describe(choice), prompt=shown)
                + (texts.PROMPT_PRESETS if names else texts.PROMPT_HOW),
                reply_markup=prompt_keyboard(
                    message.chat_id, names, self.preset_name(choice.system_prompt), choice.system_prompt is None
                )
                if names
                else None,
                do_quote=is_group(message),
            )
            return
        if await refused_unless_admin(self.deps, update, context.bot):
            return
        if wanted.lower() in RESET_WORDS:
            said = await self.set_prompt(message.chat_id, None)
        elif len(wanted) > self.deps.settings.max_prompt_chars:
            said = texts.PROMPT_TOO_LONG.format(length=len(wanted), limit=self.deps.settings.max_prompt_chars)
        else:
            said = await self.set_prompt(message.chat_id, wanted)
        await message.reply_text(said, do_quote=is_group(message))

    async def set_prompt(self, chat_id: int, prompt: str | None) -> str:
        """Store the chat's system prompt (None: back to ``SYSTEM_PROMPT``); returns the confirmation."""
        choice = await self.deps.store.chat_settings(chat_id)
        await self.deps.store.save_chat_settings(chat_id, replace(choice, system_prompt=prompt))
        logger.info("chat=%s system prompt set to %s", chat_id, self.describe(replace(choice, system_prompt=prompt)))
        if prompt is None:
            return texts.PROMPT_RESET
        name = self.preset_name(prompt)
        return texts.PROMPT_PRESET_SET.format(name=name) if name else texts.PROMPT_SET

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE, value: str) -> None:
        """A preset button (``r:{chat_id}:{index}``) or "Default" (``r:{chat_id}:default``)."""
        query = update.callback_query
        assert query is not None and query.message is not None
        if await refused_unless_admin(self.deps, update, context.bot):
            return
        names = list(self.deps.presets)
        if value == "default":
            prompt = None
        elif value.isdigit() and int(value) < len(names):
            prompt = self.deps.presets[names[int(value)]]
        else:
            await query.answer(texts.STALE_BUTTON, show_alert=True)
            return
        said = await self.set_prompt(query.message.chat.id, prompt)
        await confirm_choice(query, said)
