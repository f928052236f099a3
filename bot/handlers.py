"""Telegram update handlers: commands, text messages, everything else."""

from __future__ import annotations

import logging

from telegram import Bot, Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from providers import RetryProvider

from . import texts
from .history import build_prompt
from .ordering import ConversationQueue
from .settings import Settings
from .storage import ConversationKey, ConversationStore
from .streaming import ReplyStreamer, ReplyTarget

logger = logging.getLogger(__name__)

GROUP_TYPES = (ChatType.GROUP, ChatType.SUPERGROUP)


def conversation_key(message: Message) -> ConversationKey:
    """The conversation a message belongs to: its chat, and its forum topic if any."""
    thread = message.message_thread_id if message.is_topic_message and message.message_thread_id else 0
    return ConversationKey(message.chat_id, thread)


def reply_target(message: Message) -> ReplyTarget:
    """Reply in the same chat and forum topic; in groups, as a reply to the triggering message."""
    is_group = message.chat.type in GROUP_TYPES
    return ReplyTarget(
        chat_id=message.chat_id,
        is_group=is_group,
        thread_id=message.message_thread_id if message.is_topic_message else None,
        reply_to=message.message_id if is_group else None,
    )


def author_name(message: Message) -> str | None:
    """Who wrote a group message, for the model; None in private chats."""
    if message.chat.type not in GROUP_TYPES:
        return None
    if message.sender_chat is not None:
        return message.sender_chat.title or "Anonymous"
    if message.from_user is not None:
        return message.from_user.full_name
    return "Someone"


def addressed_text(message: Message, bot: Bot) -> str | None:
    """In a group, the text meant for the bot (its @mention removed), or None when not addressed.

    The bot is addressed when the message mentions it (``mention`` or
    ``text_mention`` entity) or replies to one of its messages.
    """
    text = message.text or ""
    mention = f"@{bot.username}".lower() if bot.username else None
    mentioned = False
    for entity, value in message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION]).items():
        if entity.type == MessageEntity.MENTION and mention and value.lower() == mention:
            mentioned = True
            text = text.replace(value, "", 1)
        elif entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot.id:
            mentioned = True
    replied = bool(
        message.reply_to_message
        and message.reply_to_message.from_user
        and message.reply_to_message.from_user.id == bot.id
    )
    if not (mentioned or replied):
        return None
    return " ".join(text.split()) if mentioned else text


class ChatHandlers:
    """The bot's behaviour, with its dependencies wired in at start-up.

    Args:
        settings: the configuration.
        store: conversation history.
        chain: the provider chain answering every message.
        streamer: shows replies in Telegram.
        queue: per-conversation ordering of answers.
    """

    def __init__(
        self,
        settings: Settings,
        store: ConversationStore,
        chain: RetryProvider,
        streamer: ReplyStreamer,
        queue: ConversationQueue,
    ) -> None:
        self.settings = settings
        self.store = store
        self.chain = chain
        self.streamer = streamer
        self.queue = queue

    def register(self, app: Application) -> None:  # type: ignore[type-arg]
        """Add every handler to ``app``."""
        app.add_handler(CommandHandler("start", self.start))
        app.add_handler(CommandHandler("help", self.help))
        app.add_handler(CommandHandler(["reset", "new"], self.reset))
        app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, self.text))
        app.add_handler(
            MessageHandler(filters.UpdateType.MESSAGE & ~filters.TEXT & ~filters.StatusUpdate.ALL, self.other)
        )
        app.add_error_handler(self.error)

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message:
            await update.effective_message.reply_text(texts.START, do_quote=False)

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message:
            await update.effective_message.reply_text(texts.HELP, do_quote=False)

    async def reset(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        key = conversation_key(message)
        async with self.queue.turn(key):
            removed = await self.store.clear(key)
        logger.info("chat=%s thread=%s history cleared (%d turns)", key.chat_id, key.thread_id, removed)
        await message.reply_text(texts.RESET_DONE, do_quote=False)

    async def other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stickers, photos, voice notes...: say that only text is read (in groups, only when addressed)."""
        message = update.effective_message
        if message is None:
            return
        if message.chat.type in GROUP_TYPES:
            replied = message.reply_to_message and message.reply_to_message.from_user
            if not (replied and message.reply_to_message.from_user.id == context.bot.id):  # type: ignore[union-attr]
                return
        await message.reply_text(texts.TEXT_ONLY)

    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer a text message through the provider chain, streaming the reply."""
        message = update.effective_message
        if message is None or not message.text:
            return
        text: str | None = message.text
        if message.chat.type in GROUP_TYPES:
            text = addressed_text(message, context.bot)
            if text is None:
                return
        key = conversation_key(message)
        if len(text) > self.settings.max_input_chars:
            await message.reply_text(texts.TOO_LONG.format(length=len(text), limit=self.settings.max_input_chars))
            return
        if not text.strip():
            await message.reply_text(texts.HELP, do_quote=False)
            return
        if self.queue.pending(key) >= self.settings.max_pending_per_chat:
            await message.reply_text(texts.TOO_MANY_PENDING)
            return
        async with self.queue.turn(key):
            await self.answer(message, key, text)

    async def answer(self, message: Message, key: ConversationKey, text: str) -> None:
        """Store the user's turn, stream the chain's answer, store the answer once complete."""
        await self.store.add(key, "user", text, author_name(message))
        history = await self.store.recent(key, self.settings.history_max_messages)
        prompt = build_prompt(self.settings.system_prompt, history, self.settings.history_max_chars)
        stream = self.streamer.open(reply_target(message), texts.error_sentence)
        result = await stream.run(self.chain.create_async_generator(self.settings.default_model, prompt))
        if result.error is not None:
            logger.warning("chat=%s thread=%s no answer: %s", key.chat_id, key.thread_id, result.error)
        elif result.text:
            await self.store.add(key, "assistant", result.text)
        logger.info(
            "chat=%s thread=%s answered chars=%d messages=%d sends=%d edits=%d flood_waits=%d resets=%d"
            " first_visible=%s",
            key.chat_id,
            key.thread_id,
            len(result.text),
            len(result.message_ids),
            result.sends,
            result.edits,
            result.flood_waits,
            result.resets,
            f"{result.first_visible:.3f}s" if result.first_visible is not None else "-",
        )

    async def error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log any unhandled error and tell the user in one sentence; the bot keeps running."""
        logger.error("error while handling an update", exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat is not None:
            try:
                await context.bot.send_message(update.effective_chat.id, texts.INTERNAL_ERROR)
            except Exception:  # noqa: BLE001 - nothing more to do
                logger.warning("could not tell chat %s about the error", update.effective_chat.id)
