"""Conversation handlers: text messages, /start, /help, /reset, /retry, /stop, and everything else.

Each parses its update and hands the turn to :class:`~bot.turns.service.TurnService`, with a
:class:`~bot.handlers.reply.MessageReply` for what it says."""

from __future__ import annotations

import logging
from dataclasses import replace

from telegram import Bot, Message, Update
from telegram.error import ChatMigrated, Forbidden, TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot import texts
from bot.handlers.common import (
    Deps,
    addressed_text,
    author_name,
    conversation_key,
    is_group,
    refused_unless_admin,
    topic_title,
    unnamed_topic,
)
from bot.handlers.files import FileHandlers
from bot.handlers.gathering import Gatherer, Piece
from bot.handlers.quoting import replied_quote
from bot.handlers.reply import MessageReply, button_request, message_request
from bot.state.storage import ConversationKey, StorageError
from bot.telegram.generation import generation_stopped
from bot.turns.service import Request, StopOutcome

logger = logging.getLogger("bot.handlers")


class ConversationHandlers:
    """Answers people. ``deps`` holds the turn service, the streamer and the rest."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        #: Pastes split into several messages, and albums, gathered into one question each.
        self.gather = Gatherer()
        self.files = FileHandlers(deps, self.ask, self.gather)

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start: what the bot does; in a group also how to address it there (quoting the command,
        as every answer in a group does)."""
        message = update.effective_message
        if message is None:
            return
        text = texts.START
        if is_group(message):
            text += texts.START_GROUP.format(mention=f"@{context.bot.username}")
        await message.reply_text(text, do_quote=is_group(message))

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/help: the commands (quoting the command in a group)."""
        message = update.effective_message
        if message is not None:
            await message.reply_text(texts.HELP, do_quote=is_group(message))

    async def reset(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Forget this conversation (admins only in groups)."""
        message = update.effective_message
        if message is None:
            return
        if await refused_unless_admin(self.deps, update, context.bot):
            return
        await self.deps.turns.reset(conversation_key(message))
        await message.reply_text(texts.RESET_DONE, do_quote=is_group(message))

    async def unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A /command the bot does not have: a pointer to /help in private chats, and in groups when
        it is addressed to this bot (``/foo@thisbot``); a bare ``/foo`` in a group may be another
        bot's, so it gets nothing."""
        message = update.effective_message
        if message is None or not message.text:
            return
        command, _, addressee = message.text.split()[0].partition("@")
        if is_group(message) and addressee.lower() != (context.bot.username or "").lower():
            return
        await message.reply_text(texts.UNKNOWN_COMMAND.format(command=command), do_quote=is_group(message))

    async def other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Photos, files and recordings are read (:class:`~bot.handlers.files.FileHandlers`);
        stickers and the rest get one sentence. In groups only what is addressed to the bot (caption
        mention, reply to it) is answered."""
        message = update.effective_message
        if message is None:
            return
        if is_group(message) and addressed_text(message, context.bot) is None and not self.gather.in_album(message):
            return  # not for the bot (an album's later items are, when its first was)
        if message.photo:
            await self.files.photo(message, context)
        elif message.document:
            await self.files.document(message, context)
        elif message.voice or message.audio:
            await self.files.voice(message, context)
        else:
            await message.reply_text(texts.TEXT_ONLY)

    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer a text message through the provider chain, streaming the reply."""
        message = update.effective_message
        if message is None or not message.text:
            return
        addressed = addressed_text(message, context.bot) if is_group(message) else message.text
        if addressed is None and self.gather.expects_part(message):
            addressed = message.text  # a paste's next part does not mention the bot again
        if addressed is None:  # group chatter: kept for context when GROUP_CONTEXT_MESSAGES asks for it
            await self.deps.turns.note_group_message(conversation_key(message), author_name(message), message.text)
            return
        await self.gather.paste(message, context, addressed, self.ask_pasted)

    async def ask_pasted(self, message: Message, context: ContextTypes.DEFAULT_TYPE, pieces: list[Piece]) -> None:
        """A text question (a paste's parts already joined: :mod:`bot.handlers.gathering`): refused
        over ``MAX_INPUT_CHARS``, help for a bare mention, else asked."""
        text = "\n".join(piece.text for piece in pieces)
        if len(text) > self.deps.settings.max_input_chars:
            await message.reply_text(texts.TOO_LONG.format(length=len(text), limit=self.deps.settings.max_input_chars))
            return
        if not text.strip():  # a bare mention
            await message.reply_text(texts.HELP, do_quote=is_group(message))
            return
        await self.ask(message, context, text)

    async def ask(
        self,
        message: Message,
        context: ContextTypes.DEFAULT_TYPE,
        text: str,
        images: tuple[str, ...] = (),
        thread_id: int | None = None,
    ) -> None:
        """Hand the question (``text``, and the ``file_id`` of images it shows) to the turn service,
        with the message it replies to (:func:`~bot.handlers.quoting.replied_quote`; its image only
        for a chain that sees images). ``thread_id``: the topic it belongs to and is answered in,
        when not the message's own (a question asked with ``/new``, in the topic it opened).

        The first question in a topic of a private chat still named as ``/new`` names new topics is
        its name: a few of its words at once, then, after the answer, a title a model gave within
        ``TOPIC_TITLE_SECONDS`` (:meth:`name_topic`)."""
        request = message_request(self.deps, message, context.bot)
        if thread_id is not None:
            request = replace(request, key=ConversationKey(message.chat_id, thread_id))
        unnamed = thread_id if thread_id is not None else unnamed_topic(message)
        quote = replied_quote(message, context.bot, self.deps.settings.image_max_bytes)
        if quote is not None and quote.image is not None:
            if await self.deps.turns.vision_refusal(message.chat_id) is not None:
                quote = replace(quote, image=None)
            if not quote.text.strip() and quote.image is None:
                quote = None
        if unnamed is not None and thread_id is None:
            self.deps.streamer.later(self.rename_topic(context.bot, message.chat_id, unnamed, topic_title(text)))
        await self.deps.turns.ask(request, text, MessageReply(self.deps, message, thread_id), images, quote)
        if unnamed is not None:
            await self.name_topic(context.bot, request.key, text)

    async def rename_topic(self, bot: Bot, chat_id: int, thread_id: int, name: str) -> None:
        """Name a topic (Bot API editForumTopic); failures are logged."""
        try:
            await bot.edit_forum_topic(chat_id, thread_id, name=name)
        except TelegramError as error:
            logger.info("chat=%s could not name topic %s: %s", chat_id, thread_id, error)

    async def name_topic(self, bot: Bot, key: ConversationKey, question: str) -> None:
        """After a topic's first answer: the title a model gives its first question, within
        ``TOPIC_TITLE_SECONDS`` seconds (0: the first words stay)."""
        seconds = self.deps.settings.topic_title_seconds
        if seconds > 0:
            title = await self.deps.turns.title_for(key, question, seconds)
            if title:
                await self.rename_topic(bot, key.chat_id, key.thread_id, title)

    async def retry(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer the last user message again; the new answer replaces the old one in the history."""
        message = update.effective_message
        if message is not None:
            request = message_request(self.deps, message, context.bot)
            await self.deps.turns.retry(request, MessageReply(self.deps, message))

    async def stop(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/stop: stop the reply being generated in this conversation."""
        message = update.effective_message
        if message is None:
            return
        outcome = await self.deps.turns.stop(message_request(self.deps, message, context.bot))
        if outcome is StopOutcome.NOTHING:
            await message.reply_text(texts.NOTHING_TO_STOP)
        elif outcome is StopOutcome.NOT_YOURS:
            await message.reply_text(texts.STOP_NOT_YOURS)

    async def generation_stopped(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Telegram's own stop button under a draft (a ``stopped_message_generation`` update, Bot API
        10.3): stops the reply that shows that draft, as /stop does; the update goes no further.
        A stop of a draft no reply shows any more stops nothing (logged)."""
        event = generation_stopped(update)
        if event is not None:
            request = Request(
                key=ConversationKey(event.chat_id, event.thread_id or 0), message_id=0, user_id=event.chat_id
            )
            outcome = await self.deps.turns.stop(request, draft_id=event.draft_id)
            if outcome is not StopOutcome.STOPPED:
                logger.info("chat=%s draft %s stopped by the user: %s", event.chat_id, event.draft_id, outcome.value)
        raise ApplicationHandlerStop

    async def stop_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE, key: ConversationKey) -> None:
        """The Stop button of a reply being generated (callback data already checked for this chat).

        A button left behind by a reply that ended without removing it (the bot was killed, or
        blocked and unblocked) stops nothing, not even the reply being written now: it is removed."""
        query = update.callback_query
        assert query is not None and query.message is not None
        request = button_request(self.deps, query, key, context.bot)
        outcome = await self.deps.turns.stop(request, shown_in=query.message.message_id)
        if outcome is StopOutcome.STALE:
            await query.answer(texts.STOP_STALE)
            try:
                await query.edit_message_reply_markup(None)
            except TelegramError as error:
                logger.info("chat=%s could not remove a stale Stop button: %s", key.chat_id, error)
        elif outcome is StopOutcome.NOT_YOURS:
            await query.answer(texts.STOP_NOT_YOURS, show_alert=True)
        else:
            await query.answer(texts.STOPPED)

    async def migrate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A group became a supergroup (service message with ``migrate_to_chat_id``, Bot API "Message"):
        its history, settings and replies in progress move to the new chat id."""
        message = update.effective_message
        if message is None or message.migrate_to_chat_id is None:
            return
        await self.deps.turns.move_chat(message.chat_id, message.migrate_to_chat_id)

    async def error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log any unhandled error and tell the user in one sentence; the bot keeps running.

        A storage failure is one log line (no traceback) and :data:`~bot.texts.STORAGE_ERROR`; a chat
        the bot may no longer write to (403) is logged only; a chat that became a supergroup
        (``ChatMigrated``) has its data moved."""
        error = context.error
        chat = update.effective_chat if isinstance(update, Update) else None
        sentence = texts.INTERNAL_ERROR
        if isinstance(error, Forbidden):
            logger.warning("chat=%s cannot be written to: %s", chat.id if chat else "-", error)
            return
        if isinstance(error, ChatMigrated) and chat is not None:
            await self.deps.turns.move_chat(chat.id, error.new_chat_id)
            return
        if isinstance(error, StorageError):
            logger.error("chat=%s storage failed: %s", chat.id if chat else "-", error)
            sentence = texts.STORAGE_ERROR
        else:
            logger.error("error while handling an update", exc_info=error)
        if isinstance(update, Update) and chat is not None:
            try:
                msg = update.effective_message
                thread = msg.message_thread_id if msg is not None and msg.is_topic_message else None
                await context.bot.send_message(chat.id, sentence, message_thread_id=thread)
            except Exception:  # noqa: BLE001 - nothing more to do
                logger.warning("could not tell chat %s about the error", chat.id)
