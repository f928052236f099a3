"""The access gate: runs before every other handler and stops updates from strangers."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from .. import texts
from .common import Deps, is_addressed, is_group

logger = logging.getLogger("bot.access")


class AccessGate:
    """Lets allowed updates through; a stranger gets one polite refusal and costs no provider call."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def __call__(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user, chat = update.effective_user, update.effective_chat
        if self.deps.access.allows(user, chat):
            return
        logger.info(
            "refused update %s: user=%s chat=%s", update.update_id, user.id if user else "-", chat.id if chat else "-"
        )
        if update.callback_query is not None:
            await update.callback_query.answer(texts.STRANGER.format(user_id=user.id if user else "-"), show_alert=True)
        else:
            message = update.effective_message
            concerned = message is not None and (not is_group(message) or is_addressed(message, context.bot))
            if concerned and user is not None and chat is not None and self.deps.access.should_tell(user.id, chat.id):
                refusal = texts.STRANGER_GROUP if is_group(message) else texts.STRANGER  # type: ignore[arg-type]
                await message.reply_text(refusal.format(user_id=user.id, chat_id=chat.id))  # type: ignore[union-attr]
        raise ApplicationHandlerStop
