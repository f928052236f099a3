"""Telegram update handlers, registered on the Application by :func:`register`: thin PTB callbacks.
May import: ``bot.texts``, ``bot.config``, ``bot.state``, ``bot.turns``, ``bot.telegram``, ``providers``,
``telegram``."""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import texts
from bot.handlers.choices import ChoiceHandlers
from bot.handlers.common import Deps
from bot.handlers.conversation import ConversationHandlers
from bot.handlers.conversations import ConversationsHandlers
from bot.handlers.gate import AccessGate, DuplicateGate, LanguageGate
from bot.handlers.language import LanguageHandlers
from bot.handlers.prompts import PromptHandlers
from bot.handlers.reasoning import ReasoningHandlers
from bot.handlers.usage import UsageHandlers
from bot.state.storage import ConversationKey
from bot.telegram.generation import GenerationStoppedHandler
from bot.telegram.keyboards import parse_callback

__all__ = [
    "ChoiceHandlers",
    "ConversationHandlers",
    "ConversationsHandlers",
    "Deps",
    "LanguageHandlers",
    "PromptHandlers",
    "ReasoningHandlers",
    "UsageHandlers",
    "register",
]


def register(app: Application, deps: Deps) -> None:
    """Add every handler to ``app``: the access gate first (group -1), then commands, buttons, messages."""
    conversation = ConversationHandlers(deps)
    choices = ChoiceHandlers(deps)
    prompts = PromptHandlers(deps)
    usage = UsageHandlers(deps)
    language = LanguageHandlers(deps)
    reasoning = ReasoningHandlers(deps)
    conversations = ConversationsHandlers(deps, conversation.ask)

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Every inline button: check the callback data and its chat, then dispatch by kind."""
        query = update.callback_query
        assert query is not None
        callback = parse_callback(query.data)
        if callback is None or query.message is None:
            await query.answer(texts.STALE_BUTTON, show_alert=True)
            return
        if callback.chat_id != query.message.chat.id:
            await query.answer(texts.FOREIGN_BUTTON, show_alert=True)
            return
        if callback.kind == "s":
            try:
                key = ConversationKey(callback.chat_id, int(callback.value))
            except ValueError:
                await query.answer(texts.STALE_BUTTON, show_alert=True)
                return
            await conversation.stop_button(update, context, key)
        elif callback.kind == "r":
            await prompts.button(update, context, callback.value)
        elif callback.kind == "l":
            await language.button(update, context, callback.value)
        elif callback.kind == "c":
            await conversations.button(update, context, callback.value)
        else:
            await choices.button(update, context, callback.kind, callback.value)

    app.add_handler(TypeHandler(Update, LanguageGate(deps)), group=-5)  # before any sentence is said
    # Telegram's own stop under a draft: stops a reply of this chat (matched by draft id), nothing
    # else, so it needs neither gate after it; first in its group, it runs instead of the next.
    app.add_handler(GenerationStoppedHandler(conversation.generation_stopped), group=-3)
    app.add_handler(TypeHandler(Update, DuplicateGate(deps)), group=-3)
    # Before the access gate: a group's new id after an upgrade is not in ALLOWED_CHAT_IDS yet.
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, conversation.migrate), group=-2)
    app.add_handler(TypeHandler(Update, AccessGate(deps)), group=-1)
    app.add_handler(CommandHandler("start", conversation.start))
    app.add_handler(CommandHandler("help", conversation.help))
    app.add_handler(CommandHandler("reset", conversation.reset))
    app.add_handler(CommandHandler("new", conversations.new))
    app.add_handler(CommandHandler("conversations", conversations.conversations))
    app.add_handler(CommandHandler("retry", conversation.retry))
    app.add_handler(CommandHandler("stop", conversation.stop))
    app.add_handler(CommandHandler("model", choices.model))
    app.add_handler(CommandHandler("provider", choices.provider))
    app.add_handler(CommandHandler("prompt", prompts.prompt))
    app.add_handler(CommandHandler("settings", choices.show))
    app.add_handler(CommandHandler("usage", usage.usage))
    app.add_handler(CommandHandler("language", language.language))
    app.add_handler(CommandHandler("reasoning", reasoning.reasoning))
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, conversation.text))
    app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.COMMAND, conversation.unknown_command))
    app.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & ~filters.TEXT & ~filters.StatusUpdate.ALL, conversation.other)
    )
    app.add_error_handler(conversation.error)
