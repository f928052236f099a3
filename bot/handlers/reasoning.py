"""/reasoning: whether this chat sees the reasoning of models that think before they answer, folded
above their answers (``/reasoning on``, ``/reasoning off``; admins only in groups)."""

from __future__ import annotations

import logging
from dataclasses import replace

from telegram import Update
from telegram.ext import ContextTypes

from bot import texts
from bot.handlers.common import Deps, command_with_settings, is_group, refused_unless_admin
from bot.state.storage import ChatSettings

logger = logging.getLogger("bot.handlers")

#: What ``/reasoning`` takes.
CHOICES = {"on": True, "off": False}


def describe_reasoning(choice: ChatSettings, max_chars: int) -> str:
    """The chat's reasoning setting as /reasoning and /settings name it."""
    if max_chars == 0:
        return texts.REASONING_OPERATOR_OFF
    if choice.reasoning is False:
        return texts.REASONING_HIDDEN
    return texts.REASONING_SHOWN.format(chars=texts.plural(max_chars, "character"))


class ReasoningHandlers:
    """/reasoning."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def reasoning(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/reasoning``: what is set and how to change it; ``/reasoning on|off``: set it (in groups,
        admins only). Another argument gets the same explanation."""
        started = await command_with_settings(self.deps, update)
        if started is None:
            return
        message, choice, argument = started
        max_chars = self.deps.settings.reasoning_max_chars
        wanted = CHOICES.get(argument.strip().lower())
        if wanted is None:
            state = describe_reasoning(choice, max_chars)
            await message.reply_text(texts.REASONING_NOW.format(state=state), do_quote=is_group(message))
            return
        if await refused_unless_admin(self.deps, update, context.bot):
            return
        choice = replace(choice, reasoning=wanted)
        await self.deps.store.save_chat_settings(message.chat_id, choice)
        logger.info("chat=%s reasoning %s", message.chat_id, "shown" if wanted else "hidden")
        state = describe_reasoning(choice, max_chars)
        await message.reply_text(texts.REASONING_SET.format(state=state), do_quote=is_group(message))
