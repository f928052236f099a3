"""/language: the language the bot speaks in this chat (admins only in groups), as a command
(``/language ru``, ``/language auto``) or with buttons."""

from __future__ import annotations

import logging
from dataclasses import replace

from telegram import Update
from telegram.ext import ContextTypes

from bot import texts
from bot.handlers.common import Deps, command_with_settings, confirm_choice, is_group, refused_unless_admin
from bot.state.storage import ChatSettings
from bot.telegram.keyboards import language_keyboard

logger = logging.getLogger("bot.handlers")

#: What ``/language`` takes for "no choice": the person's own language (private), the default (groups).
AUTOMATIC = "auto"


def describe_language(choice: ChatSettings, group: bool, default: str) -> str:
    """The chat's language as /language and /settings name it: the one chosen, else what the
    automatic choice is (the person's Telegram language; in groups ``DEFAULT_LANGUAGE``)."""
    if choice.language:
        return texts.language_name(choice.language)
    if group:
        return texts.say("LANGUAGE_AUTO_GROUP", language=texts.language_name(default))
    return texts.LANGUAGE_AUTO_PRIVATE


class LanguageHandlers:
    """/language and its buttons."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def describe(self, choice: ChatSettings, group: bool) -> str:
        """The chat's language as /language names it (see :func:`describe_language`)."""
        return describe_language(choice, group, self.deps.settings.default_language)

    async def language(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/language``: the buttons; ``/language CODE`` or ``/language auto``: set it."""
        started = await command_with_settings(self.deps, update)
        if started is None:
            return
        message, choice, argument = started
        if not argument:
            languages = [(code, texts.language_name(code)) for code in texts.CATALOG.languages]
            await message.reply_text(
                texts.LANGUAGE_CHOOSE.format(current=self.describe(choice, is_group(message))),
                reply_markup=language_keyboard(message.chat_id, languages, choice.language),
                do_quote=is_group(message),
            )
            return
        if await refused_unless_admin(self.deps, update, context.bot):
            return
        code = argument.strip().lower()
        if code != AUTOMATIC and code not in texts.CATALOG.languages:
            names = ", ".join(f"{c} ({texts.language_name(c)})" for c in texts.CATALOG.languages)
            await message.reply_text(texts.UNKNOWN_LANGUAGE.format(code=argument[:20], languages=names))
            return
        await message.reply_text(
            await self.choose(message.chat_id, code, is_group(message), update), do_quote=is_group(message)
        )

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE, value: str) -> None:
        """A language button (callback data already checked for this chat)."""
        query = update.callback_query
        assert query is not None and query.message is not None
        if await refused_unless_admin(self.deps, update, context.bot):
            return
        if value != AUTOMATIC and value not in texts.CATALOG.languages:
            await query.answer(texts.STALE_BUTTON, show_alert=True)
            return
        group = query.message.chat.type != "private"
        await confirm_choice(query, await self.choose(query.message.chat.id, value, group, update))

    async def choose(self, chat_id: int, code: str, group: bool, update: Update) -> str:
        """Store the chat's language (``auto``: none) and say so in it."""
        choice = await self.deps.store.chat_settings(chat_id)
        language = None if code == AUTOMATIC else code
        choice = replace(choice, language=language)
        await self.deps.store.save_chat_settings(chat_id, choice)
        logger.info("chat=%s language set to %s", chat_id, code)
        user = update.effective_user
        own = user.language_code if user is not None and not group else None
        texts.use_language(language or own, self.deps.settings.default_language)
        return texts.LANGUAGE_SET.format(language=self.describe(choice, group))
