"""The gates every update passes first: a message delivered twice is dropped, and updates from
strangers are stopped."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot import texts
from bot.handlers.common import Deps, conversation_key, is_addressed, is_group
from bot.state.storage import StorageError

logger = logging.getLogger("bot.access")


class LanguageGate:
    """Chooses the language of each update before any other handler sees it (:func:`bot.texts.use_language`):
    the chat's /language choice; else, in a private chat, the person's Telegram language
    (``language_code``); else ``DEFAULT_LANGUAGE``. A store that cannot tell: the default."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def __call__(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, user = update.effective_chat, update.effective_user
        default = self.deps.settings.default_language
        chosen = None
        if chat is not None:
            try:
                chosen = (await self.deps.store.chat_settings(chat.id)).language
            except StorageError as error:
                logger.warning("update %s: the chat's language cannot be read: %s", update.update_id, error)
        if chosen is None and (chat is None or chat.type == ChatType.PRIVATE) and user is not None:
            chosen = user.language_code
        texts.use_language(chosen, default)


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


class DuplicateGate:
    """Drops a message delivered a second time (the same chat and ``message_id``, in one getUpdates
    batch or a later one, before a restart too: :meth:`~bot.state.storage.ConversationStore.receive`), so
    it is answered and stored once. When the store cannot tell, the message goes on (logged)."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def __call__(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None:
            return
        try:
            first = await self.deps.store.receive(conversation_key(message), message.message_id)
        except StorageError as error:
            logger.warning("update %s: cannot tell whether it was delivered before: %s", update.update_id, error)
            return
        if not first:
            logger.info(
                "update %s: message %s of chat %s delivered again; skipped",
                update.update_id,
                message.message_id,
                message.chat_id,
            )
            raise ApplicationHandlerStop
