"""Conversation handlers: text messages, /start, /help, /reset, /retry, /stop, and everything else."""

from __future__ import annotations

import asyncio
import logging

from telegram import Message, Update
from telegram.error import ChatMigrated, Forbidden, TelegramError
from telegram.ext import ContextTypes

from .. import texts
from ..history import build_prompt
from ..keyboards import stop_keyboard
from ..storage import ConversationKey, StorageError, StoredMessage
from .common import (
    ActiveReply,
    Deps,
    addressed_text,
    author_name,
    conversation_key,
    is_group,
    replies_to_bot,
    reply_target,
)

logger = logging.getLogger("bot.handlers")

#: The reaction on a group question that waits for earlier ones (one of Telegram's standard reactions).
QUEUED_REACTION = "👀"


class ConversationHandlers:
    """Answers people. ``deps`` holds the store, the chain, the streamer and the rest."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._background: set[asyncio.Task[None]] = set()

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start: what the bot does."""
        if update.effective_message:
            await update.effective_message.reply_text(texts.START, do_quote=False)

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/help: the commands."""
        if update.effective_message:
            await update.effective_message.reply_text(texts.HELP, do_quote=False)

    async def reset(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Forget this conversation (admins only in groups)."""
        message = update.effective_message
        if message is None:
            return
        if not await self.deps.admins.can_change_settings(
            context.bot, message.chat, message.from_user, message.sender_chat
        ):
            await message.reply_text(texts.ADMINS_ONLY)
            return
        key = conversation_key(message)
        async with self.deps.queue.turn(key):
            removed = await self.deps.store.clear(key)
        logger.info("chat=%s thread=%s history cleared (%d turns)", key.chat_id, key.thread_id, removed)
        await message.reply_text(texts.RESET_DONE, do_quote=is_group(message))

    async def unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A /command the bot does not have: a pointer to /help in private chats; nothing in groups,
        where the command may be for another bot."""
        message = update.effective_message
        if message is None or not message.text or is_group(message):
            return
        command = message.text.split()[0].split("@")[0]
        await message.reply_text(texts.UNKNOWN_COMMAND.format(command=command), do_quote=False)

    async def other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stickers, photos, voice notes...: say that only text is read (in groups, only when addressed)."""
        message = update.effective_message
        if message is None:
            return
        if is_group(message) and not replies_to_bot(message, context.bot):
            return
        await message.reply_text(texts.TEXT_ONLY)

    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer a text message through the provider chain, streaming the reply."""
        message = update.effective_message
        if message is None or not message.text:
            return
        addressed = addressed_text(message, context.bot) if is_group(message) else message.text
        if addressed is None:
            return
        text: str = addressed
        key = conversation_key(message)
        if len(text) > self.deps.settings.max_input_chars:
            await message.reply_text(texts.TOO_LONG.format(length=len(text), limit=self.deps.settings.max_input_chars))
            return
        if not text.strip():
            await message.reply_text(texts.HELP, do_quote=False)
            return
        member = message.from_user.id if message.from_user else None
        if self.too_many_pending(key, member, is_group(message)):
            await message.reply_text(texts.TOO_MANY_PENDING)
            return
        if not await self.within_limit(message):
            return
        if is_group(message) and self.deps.queue.pending(key):
            # In the background: nothing may be awaited before the turn is taken (turns keep arrival order).
            task = asyncio.create_task(self.acknowledge(message, context))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        async with self.deps.queue.turn(key, member):
            if self.deps.closing:
                await message.reply_text(texts.RESTARTING)
                return
            await self.deps.store.add(key, "user", text, author_name(message), member)
            await self.respond(message, key)

    async def within_limit(self, message: Message) -> bool:
        """Take one of the sender's ``USER_MESSAGES_PER_HOUR``; over the limit, tell them and return False."""
        wait = self.deps.limiter.take(message.from_user.id) if message.from_user else 0.0
        if wait <= 0:
            return True
        minutes = max(1, round(wait / 60))
        limit = self.deps.settings.user_messages_per_hour
        await message.reply_text(texts.USER_LIMIT.format(limit=limit, minutes=minutes))
        return False

    def too_many_pending(self, key: ConversationKey, member: int | None, group: bool) -> bool:
        """A private chat may have ``MAX_PENDING_PER_CHAT`` messages waiting; in a group each person
        may, and the group as a whole ``MAX_PENDING_PER_GROUP`` (a flood by one person is refused,
        a busy group is served)."""
        settings = self.deps.settings
        if not group:
            return self.deps.queue.pending(key) >= settings.max_pending_per_chat
        return (
            self.deps.queue.pending(key) >= settings.max_pending_per_group
            or self.deps.queue.pending(key, member) >= settings.max_pending_per_chat
        )

    async def acknowledge(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Mark a queued group question with a 👀 reaction (Bot API setMessageReaction): the asker
        sees it was received without a message spending the group's budget. Failures are ignored."""
        try:
            await context.bot.set_message_reaction(message.chat_id, message.message_id, QUEUED_REACTION)
        except TelegramError as error:
            logger.debug("chat=%s could not react to a queued message: %s", message.chat_id, error)

    async def retry(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer the last user message again; the new answer replaces the old one in the history."""
        message = update.effective_message
        if message is None:
            return
        key = conversation_key(message)
        async with self.deps.queue.turn(key):
            if self.deps.closing:
                await message.reply_text(texts.RESTARTING)
                return
            history = await self.deps.store.recent(key, 2)
            last_answer = history[-1] if history and history[-1].role == "assistant" else None
            asked = next((turn for turn in reversed(history) if turn.role == "user"), None)
            if asked is None:
                await message.reply_text(texts.NOTHING_TO_RETRY)
                return
            user_id = message.from_user.id if message.from_user else None
            if (
                is_group(message)
                and (asked.user_id is None or asked.user_id != user_id)
                and not await self.deps.admins.can_change_settings(
                    context.bot, message.chat, message.from_user, message.sender_chat
                )
            ):
                await message.reply_text(texts.RETRY_NOT_YOURS)
                return
            if not await self.within_limit(message):
                return
            await self.respond(message, key, replacing=last_answer)

    async def stop(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/stop: stop the reply being generated in this conversation."""
        message = update.effective_message
        if message is None:
            return
        active = self.deps.active.get(conversation_key(message))
        if active is None:
            await message.reply_text(texts.NOTHING_TO_STOP)
            return
        user_id = message.from_user.id if message.from_user else None
        if user_id != active.requester_id and not await self.deps.admins.can_change_settings(
            context.bot, message.chat, message.from_user, message.sender_chat
        ):
            await message.reply_text(texts.STOP_NOT_YOURS)
            return
        active.stream.stop()

    async def stop_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE, key: ConversationKey) -> None:
        """The Stop button of a reply being generated (callback data already checked for this chat)."""
        query = update.callback_query
        assert query is not None and query.message is not None
        active = self.deps.active.get(key)
        if active is None:
            await query.answer(texts.NOTHING_TO_STOP)
            return
        if query.from_user.id != active.requester_id and not await self.deps.admins.can_change_settings(
            context.bot, query.message.chat, query.from_user
        ):
            await query.answer(texts.STOP_NOT_YOURS, show_alert=True)
            return
        active.stream.stop()
        await query.answer(texts.STOPPED)

    async def respond(self, message: Message, key: ConversationKey, replacing: StoredMessage | None = None) -> None:
        """Stream the chain's answer to the conversation's history; store it once complete (or stopped).

        ``replacing`` is an earlier answer that the new one replaces in the history (/retry).
        """
        deps = self.deps
        choice = await deps.store.chat_settings(key.chat_id)
        chain = deps.catalog.chain_for(choice.provider)
        model = await deps.catalog.requested(choice)
        history = await deps.store.recent(key, deps.settings.history_max_messages + (1 if replacing else 0))
        if replacing is not None:
            history = [turn for turn in history if turn.id != replacing.id]
        system = choice.system_prompt or deps.settings.system_prompt
        prompt = build_prompt(system, history, deps.settings.history_max_chars)
        stream = deps.streamer.open(
            reply_target(message),
            texts.error_sentence,
            stop_markup=stop_keyboard(key.chat_id, key.thread_id),
            notes=texts.reply_notes,
        )
        await deps.store.reply_started(key, message.message_id)
        active = deps.active[key] = ActiveReply(stream, message.from_user.id if message.from_user else None)
        try:
            result = await stream.run(chain.create_async_generator(model, prompt))
        finally:
            deps.active.pop(key, None)
            active.finished.set()
        await deps.store.reply_finished(key)
        if result.forbidden is not None:
            pass  # the user can't see it: nothing stored beyond their question (logged by the stream)
        elif result.error is not None:
            logger.warning("chat=%s thread=%s no answer: %s", key.chat_id, key.thread_id, result.error)
        elif result.text.strip():
            if replacing is not None:
                await deps.store.delete(replacing.id)
            await deps.store.add(key, "assistant", result.text)
        info = result.answered_by
        logger.info(
            "chat=%s thread=%s answered provider=%s model=%s requested=%s fallback=%s finish=%s chars=%d messages=%d"
            " sends=%d edits=%d drafts=%d flood_waits=%d resets=%d stopped=%s first_visible=%s",
            key.chat_id,
            key.thread_id,
            info.provider if info else "-",
            (info.model or "-") if info else "-",
            model or "-",
            info.fallback if info else False,
            result.finish or "stop",
            len(result.text),
            len(result.message_ids),
            result.sends,
            result.edits,
            result.drafts,
            result.flood_waits,
            result.resets,
            result.stopped,
            f"{result.first_visible:.3f}s" if result.first_visible is not None else "-",
        )

    async def migrate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A group became a supergroup (service message with ``migrate_to_chat_id``, Bot API "Message"):
        its history, settings and replies in progress move to the new chat id."""
        message = update.effective_message
        if message is None or message.migrate_to_chat_id is None:
            return
        await self.moved(message.chat_id, message.migrate_to_chat_id)

    async def moved(self, old_chat_id: int, new_chat_id: int) -> None:
        """Move a chat's stored data to its new id and log it once (a second call finds nothing to move)."""
        await self.deps.store.move_chat(old_chat_id, new_chat_id)
        logger.info("chat=%s became supergroup %s; its history and settings moved", old_chat_id, new_chat_id)
        if old_chat_id in self.deps.settings.allowed_chat_ids:
            logger.warning("ALLOWED_CHAT_IDS names %s, which is now %s: update the setting", old_chat_id, new_chat_id)

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
            await self.moved(chat.id, error.new_chat_id)
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
