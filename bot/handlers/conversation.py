"""Conversation handlers: text messages, /start, /help, /reset, /retry, /stop, and everything else."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from telegram import Message, MessageEntity, Update
from telegram.error import ChatMigrated, Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot import texts
from bot.handlers.common import (
    Deps,
    addressed_text,
    author_name,
    conversation_key,
    is_group,
    refused_unless_admin,
    reply_target,
    sender_id,
)
from bot.state.storage import ConversationKey, StorageError, StoredMessage, UsageRecord
from bot.telegram.keyboards import stop_keyboard
from bot.telegram.media import (
    DOWNLOAD_LIMIT,
    FileTooBigError,
    data_url,
    decode_text,
    document_kind,
    download,
    pick_photo,
)
from bot.telegram.pacing import duration_seconds
from bot.telegram.rendering import utf16_len
from bot.telegram.streaming import StreamResult
from bot.turns.history import attach_images, build_prompt
from providers import ProviderError
from providers.tokens import answer_reserve

logger = logging.getLogger("bot.handlers")


#: The reaction on a group question that waits for earlier ones (one of Telegram's standard reactions).
QUEUED_REACTION = "👀"
#: Seconds without another refused message that end a burst; then its one refusal is sent.
BURST_QUIET = 1.0


@dataclass(slots=True)
class _Burst:
    """Messages refused in a row: the last one (the refusal answers it), how many, and an event set by
    each further one."""

    message: Message
    count: int
    more: asyncio.Event = field(default_factory=asyncio.Event)


class ConversationHandlers:
    """Answers people. ``deps`` holds the store, the chain, the streamer and the rest."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._background: set[asyncio.Task[None]] = set()
        #: Messages refused because too many wait, per conversation (and person, in groups).
        self._bursts: dict[tuple[ConversationKey, int | None], _Burst] = {}

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
        key = conversation_key(message)
        async with self.deps.queue.turn(key):
            removed = await self.deps.store.clear(key)
        logger.info("chat=%s thread=%s history cleared (%d turns)", key.chat_id, key.thread_id, removed)
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
        """Photos and files are read (:meth:`photo`, :meth:`document`); stickers, voice notes and
        the rest get one sentence. In groups only what is addressed to the bot (caption mention,
        reply to it) is answered."""
        message = update.effective_message
        if message is None:
            return
        if is_group(message) and addressed_text(message, context.bot) is None:
            return
        if message.photo:
            await self.photo(message, context)
        elif message.document:
            await self.document(message, context)
        elif message.voice or message.audio:
            await self.voice(message, context)
        else:
            await message.reply_text(texts.TEXT_ONLY)

    async def photo(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A photo: the largest size within ``IMAGE_MAX_BYTES`` goes to a model that sees images."""
        limit = self.deps.settings.image_max_bytes
        size = pick_photo(message.photo, limit)
        if size is None:
            await self.too_big(message, texts.IMAGE_TOO_BIG, min((s.file_size or 0) for s in message.photo), limit)
            return
        await self.ask_with_image(message, context, size.file_id)

    async def document(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A file: an image is read as a photo, a text file (by MIME type or extension) as text
        with its name, anything else gets one sentence."""
        document = message.document
        assert document is not None
        kind = document_kind(document)
        name = document.file_name or "the file"
        if kind is None:
            await message.reply_text(texts.CANT_READ_FILE.format(kind=document.mime_type or name))
            return
        limit = self.deps.settings.image_max_bytes if kind == "image" else self.deps.settings.document_max_bytes
        if (document.file_size or 0) > limit:
            refusal = texts.IMAGE_TOO_BIG if kind == "image" else texts.FILE_TOO_BIG
            await self.too_big(message, refusal, document.file_size or 0, limit)
            return
        if kind == "image":
            await self.ask_with_image(message, context, document.file_id, document.mime_type or "image/jpeg")
            return
        data = await self.fetch(message, context, document.file_id, limit)
        if data is None:
            return
        content = decode_text(data)
        if content is None:
            await message.reply_text(texts.NOT_UTF8.format(name=name))
            return
        await self.ask(message, context, self.with_caption(message, context, f"File {name}:\n```\n{content}\n```"))

    async def voice(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A voice note or audio file: transcribed by the ``TRANSCRIPTION_*`` backend, the transcript
        shown (quoted) and answered like text. Without a backend, too long, or when transcription
        fails: one sentence, nothing stored."""
        recording = message.voice or message.audio
        assert recording is not None
        transcriber = self.deps.transcriber
        if transcriber is None:
            await message.reply_text(texts.VOICE_NOT_CONFIGURED)
            return
        limit = self.deps.settings.voice_max_seconds
        length = int(duration_seconds(recording.duration or 0))
        if length > limit:
            too_long = texts.VOICE_TOO_LONG.format(length=texts.duration_text(length), limit=texts.duration_text(limit))
            await message.reply_text(too_long)
            return
        if (recording.file_size or 0) > DOWNLOAD_LIMIT:
            await self.too_big(message, texts.FILE_TOO_BIG, recording.file_size or 0, DOWNLOAD_LIMIT)
            return
        data = await self.fetch(message, context, recording.file_id)
        if data is None:
            return
        name = getattr(recording, "file_name", None) or "voice.ogg"
        try:
            heard = await transcriber.transcribe(data, name, recording.mime_type or "audio/ogg")
        except ProviderError as error:
            logger.warning("chat=%s transcription failed: %s", message.chat_id, error)
            await message.reply_text(texts.TRANSCRIPTION_FAILED)
            return
        if not heard:
            await message.reply_text(texts.NOTHING_HEARD)
            return
        shown = texts.TRANSCRIPT.format(text=heard if len(heard) <= 3500 else heard[:3500] + "…")
        quote = MessageEntity(MessageEntity.BLOCKQUOTE, 0, utf16_len(shown))
        await message.reply_text(shown, entities=[quote], do_quote=is_group(message))
        await self.ask(message, context, self.with_caption(message, context, heard))

    async def too_big(self, message: Message, refusal: str, size: int, limit: int) -> None:
        """Refuse a file or image over its limit (both in bytes), saying both sizes."""
        await message.reply_text(refusal.format(size=texts.size_text(size), limit=texts.size_text(limit)))

    def with_caption(self, message: Message, context: ContextTypes.DEFAULT_TYPE, body: str) -> str:
        """``body`` (a file's text, a transcript) after the caption meant for the bot, if any."""
        return "\n\n".join(part for part in (self.caption(message, context), body) if part)

    def caption(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> str:
        """The caption meant for the bot (its @mention removed in groups), "" when none."""
        if is_group(message):
            return (addressed_text(message, context.bot) or "").strip()
        return (message.caption or "").strip()

    async def fetch(
        self,
        message: Message,
        context: ContextTypes.DEFAULT_TYPE,
        file_id: str,
        limit: int = DOWNLOAD_LIMIT,
        refusal: str = texts.FILE_TOO_BIG,
    ) -> bytes | None:
        """The file's bytes (at most ``limit``), or None after telling the user it is too big
        (``refusal``, with both sizes) or that the download failed (getFile)."""
        try:
            return await download(context.bot, file_id, limit)
        except FileTooBigError as error:
            await self.too_big(message, refusal, error.size, limit)
            return None
        except TelegramError as error:
            logger.warning("chat=%s download of a file failed: %s", message.chat_id, error)
            await message.reply_text(texts.DOWNLOAD_FAILED)
            return None

    async def ask_with_image(
        self, message: Message, context: ContextTypes.DEFAULT_TYPE, file_id: str, mime: str = "image/jpeg"
    ) -> None:
        """An image turn: refused at once (nothing stored) when no provider of the chat's chain
        sees images; otherwise downloaded (kept in the image cache) and answered."""
        catalog = self.deps.catalog
        choice = await self.deps.store.chat_settings(message.chat_id)
        chain = catalog.chain_for(choice.provider)
        if not await chain.image_routes(await catalog.requested(choice)):
            seeing = await catalog.chain.image_routes(await catalog.requested(replace(choice, provider=None)))
            names = list(dict.fromkeys(route.provider.name for route in seeing))
            refusal = texts.NO_VISION
            if choice.provider is not None and names:
                refusal = texts.NO_VISION_PINNED.format(pinned=choice.provider, providers=", ".join(names))
            await message.reply_text(refusal)
            return
        data = await self.fetch(message, context, file_id, self.deps.settings.image_max_bytes, texts.IMAGE_TOO_BIG)
        if data is None:
            return
        self.deps.images.put(file_id, data, mime)
        await self.ask(message, context, self.caption(message, context), images=(file_id,))

    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer a text message through the provider chain, streaming the reply."""
        message = update.effective_message
        if message is None or not message.text:
            return
        addressed = addressed_text(message, context.bot) if is_group(message) else message.text
        if addressed is None:
            return
        text: str = addressed
        if len(text) > self.deps.settings.max_input_chars:
            await message.reply_text(texts.TOO_LONG.format(length=len(text), limit=self.deps.settings.max_input_chars))
            return
        if not text.strip():  # a bare mention
            await message.reply_text(texts.HELP, do_quote=is_group(message))
            return
        await self.ask(message, context, text)

    async def ask(
        self, message: Message, context: ContextTypes.DEFAULT_TYPE, text: str, images: tuple[str, ...] = ()
    ) -> None:
        """Queue a question (text, and the ``file_id`` of images it shows) in its conversation:
        bounded per person and group; when its turn comes, checked against the budgets (over one:
        a sentence, nothing stored, no provider asked), stored, then answered."""
        key = conversation_key(message)
        member = sender_id(message)
        if self.too_many_pending(key, member, is_group(message)):
            self.refuse_in_burst(message, key, member)
            return
        if is_group(message) and self.deps.queue.pending(key):
            # In the background: nothing may be awaited before the turn is taken (turns keep arrival order).
            task = asyncio.create_task(self.acknowledge(message, context))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        # Until its turn ends, a question killed with the bot is announced after the restart. Noted in
        # the background: nothing may be awaited before the turn is taken (turns keep arrival order).
        noted = asyncio.create_task(self.deps.store.waiting(key, message.message_id))
        try:
            async with self.deps.queue.turn(key, member):
                if self.deps.replies.closing:
                    await message.reply_text(texts.RESTARTING)
                    return
                if not await self.within_budget(message):
                    return
                question = await self.deps.store.add(key, "user", text, author_name(message), member, images)
                await self.respond(message, key, question_id=question)
        finally:
            await self.turn_ended(noted, key, message.message_id)

    async def turn_ended(self, noted: asyncio.Task[None], key: ConversationKey, message_id: int) -> None:
        """The question's turn ended: it no longer waits (after the note that it did, so the two
        writes never cross). A failure to write either is logged; the turn's outcome stands."""
        try:
            await noted
            await self.deps.store.waiting(key, message_id, False)
        except StorageError as error:
            logger.warning("chat=%s could not note the end of a question's turn: %s", key.chat_id, error)

    async def within_budget(self, message: Message) -> bool:
        """True when no budget of the sender or the chat is used up (:class:`~bot.turns.budgets.Budgets`);
        else tell them which, and when it starts again, and return False."""
        user_id = sender_id(message)
        refusal = await self.deps.budgets.refusal(user_id, message.chat_id)
        if refusal is None:
            return True
        logger.info("chat=%s user=%s refused: %s used up", message.chat_id, user_id, refusal.name)
        await message.reply_text(texts.budget_refusal(refusal, self.deps.budgets.clock()))
        return False

    def refuse_in_burst(self, message: Message, key: ConversationKey, member: int | None) -> None:
        """Count a message not taken because too many wait; a burst of them (a forwarded batch) gets one
        refusal saying how many, once :data:`BURST_QUIET` seconds pass without another, as a reply to
        the last (one sentence instead of one per message, each paced at a second)."""
        who = (key, member if is_group(message) else None)
        burst = self._bursts.get(who)
        if burst is not None:
            burst.message, burst.count = message, burst.count + 1
            burst.more.set()
            return
        self._bursts[who] = _Burst(message, 1)
        task = asyncio.create_task(self._refuse_burst(who))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _refuse_burst(self, who: tuple[ConversationKey, int | None]) -> None:
        burst = self._bursts[who]
        while True:
            try:
                async with asyncio.timeout(BURST_QUIET):
                    await burst.more.wait()
            except TimeoutError:
                break  # quiet: the burst is over
            burst.more.clear()
        del self._bursts[who]
        logger.info("chat=%s %d messages not taken: too many waiting", who[0].chat_id, burst.count)
        refusal = texts.TOO_MANY_PENDING_ONE if burst.count == 1 else texts.TOO_MANY_PENDING
        try:
            await burst.message.reply_text(refusal.format(count=burst.count))
        except TelegramError as error:
            logger.warning("chat=%s could not refuse a burst: %s", who[0].chat_id, error)

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
            if self.deps.replies.closing:
                await message.reply_text(texts.RESTARTING)
                return
            history = await self.deps.store.recent(key, 2)
            last_answer = history[-1] if history and history[-1].role == "assistant" else None
            asked = next((turn for turn in reversed(history) if turn.role == "user"), None)
            if asked is None:
                await message.reply_text(texts.NOTHING_TO_RETRY)
                return
            user_id = sender_id(message)
            if (
                is_group(message)
                and (asked.user_id is None or asked.user_id != user_id)
                and not await self.deps.admins.can_change_settings(
                    context.bot, message.chat, message.from_user, message.sender_chat
                )
            ):
                await message.reply_text(texts.RETRY_NOT_YOURS)
                return
            if not await self.within_budget(message):
                return
            await self.respond(message, key, replacing=last_answer, question_id=asked.id)

    async def stop(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/stop: stop the reply being generated in this conversation."""
        message = update.effective_message
        if message is None:
            return
        active = self.deps.replies.get(conversation_key(message))
        if active is None:
            await message.reply_text(texts.NOTHING_TO_STOP)
            return
        user_id = sender_id(message)
        if user_id != active.requester_id and not await self.deps.admins.can_change_settings(
            context.bot, message.chat, message.from_user, message.sender_chat
        ):
            await message.reply_text(texts.STOP_NOT_YOURS)
            return
        active.stream.stop()

    async def stop_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE, key: ConversationKey) -> None:
        """The Stop button of a reply being generated (callback data already checked for this chat).

        A button left behind by a reply that ended without removing it (the bot was killed, or
        blocked and unblocked) stops nothing, not even the reply being written now: it is removed."""
        query = update.callback_query
        assert query is not None and query.message is not None
        active = self.deps.replies.get(key)
        if active is None or not active.stream.shows(query.message.message_id):
            await query.answer(texts.STOP_STALE)
            try:
                await query.edit_message_reply_markup(None)
            except TelegramError as error:
                logger.info("chat=%s could not remove a stale Stop button: %s", key.chat_id, error)
            return
        if query.from_user.id != active.requester_id and not await self.deps.admins.can_change_settings(
            context.bot, query.message.chat, query.from_user
        ):
            await query.answer(texts.STOP_NOT_YOURS, show_alert=True)
            return
        active.stream.stop()
        await query.answer(texts.STOPPED)

    def image_url_fetcher(self, message: Message) -> Callable[[str], Awaitable[str | None]]:
        """``file_id`` -> ``data:`` URL of a stored image (cached, else downloaded again); None when
        Telegram no longer has it."""

        async def fetch(file_id: str) -> str | None:
            try:
                data, mime = await self.deps.images.get(message.get_bot(), file_id)
            except TelegramError as error:
                logger.info("chat=%s an earlier image is no longer available: %s", message.chat_id, error)
                return None
            return data_url(data, mime)

        return fetch

    async def respond(
        self,
        message: Message,
        key: ConversationKey,
        replacing: StoredMessage | None = None,
        question_id: int | None = None,
    ) -> None:
        """Stream the chain's answer to the conversation's history; store it once complete (or stopped)
        and note its usage in the ledger. The history sent fits the answering model's context window
        (:meth:`~bot.turns.models.ModelCatalog.context_window`) with room for the answer.

        ``replacing`` is an earlier answer that the new one replaces in the history (/retry);
        ``question_id`` the stored question, removed when it alone is too long for every model (so
        it does not fail every later turn).
        """
        deps = self.deps
        settings = deps.settings
        choice = await deps.store.chat_settings(key.chat_id)
        chain = deps.catalog.chain_for(choice.provider)
        model = await deps.catalog.requested(choice)
        history = await deps.store.recent(key, settings.history_max_messages + (1 if replacing else 0))
        if replacing is not None:
            history = [turn for turn in history if turn.id != replacing.id]
        system = choice.system_prompt or settings.system_prompt
        window = (await deps.catalog.context_window(choice, settings.context_tokens)).tokens
        budget = min(settings.history_max_tokens, window - answer_reserve(window, settings.answer_reserve_tokens))
        prompt = build_prompt(system, history, budget)
        prompt = await attach_images(prompt, self.image_url_fetcher(message), deps.settings.history_max_images)
        stream = deps.streamer.open(
            reply_target(message),
            texts.error_sentence,
            stop_markup=stop_keyboard(key.chat_id, key.thread_id),
            notes=texts.reply_notes,
            on_message=lambda message_id: deps.store.reply_shown(key, message_id),
        )
        await deps.store.reply_started(key, message.message_id)
        with deps.replies.running(key, stream, sender_id(message)):
            result = await stream.run(chain.create_async_generator(model, prompt), prompt)
        await deps.store.reply_finished(key)
        if result.forbidden is not None:
            pass  # the user can't see it: nothing stored beyond their question (logged by the stream)
        elif result.error is not None:
            logger.warning("chat=%s thread=%s no answer: %s", key.chat_id, key.thread_id, result.error)
            if question_id is not None and texts.is_context_overflow(result.error):
                await deps.store.delete(question_id)  # alone too long for every model: not kept to fail again
            elif result.text.strip() and replacing is None:
                await deps.store.add(key, "assistant", result.text)  # cut for good: kept as the user saw it
        elif result.text.strip():
            if replacing is not None:
                await deps.store.replace(replacing.id, key, "assistant", result.text)
            else:
                await deps.store.add(key, "assistant", result.text)
            await self.record_usage(message, key, result)
        info = result.answered_by
        logger.info(
            "chat=%s thread=%s answered provider=%s model=%s requested=%s fallback=%s finish=%s chars=%d messages=%d"
            " sends=%d edits=%d drafts=%d flood_waits=%d resets=%d stopped=%s first_visible=%s tokens=%s",
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
            _tokens_field(result),
        )

    async def record_usage(self, message: Message, key: ConversationKey, result: StreamResult) -> None:
        """Note an answer's tokens and cost in the usage ledger (a failure is logged: the answer stands)."""
        info, usage = result.answered_by, result.usage
        if usage is None:
            return
        provider, model = (info.provider, info.model) if info else ("-", "-")
        user = message.from_user
        record = UsageRecord(
            key=key,
            user_id=user.id if user else None,
            user_name=user.full_name if user else author_name(message),
            provider=provider,
            model=model,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            estimated=usage.estimated,
            cost=self.deps.prices.cost(provider, model, usage),
            created_at=self.deps.budgets.clock(),
        )
        try:
            await self.deps.store.record_usage(record)
        except StorageError as error:
            logger.error("chat=%s could not note an answer's usage: %s", key.chat_id, error)

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


def _tokens_field(result: StreamResult) -> str:
    """``prompt+completion`` tokens for the reply's log line, "~" before an estimate; "-" without usage."""
    usage = result.usage
    if usage is None:
        return "-"
    return f"{'~' if usage.estimated else ''}{usage.prompt_tokens}+{usage.completion_tokens}"
