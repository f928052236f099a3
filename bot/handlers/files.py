"""What comes besides text: photos and image files for models that see images, text files read as
text, voice notes and audio transcribed; each refused in one sentence when it cannot be read."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import Message, MessageEntity
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import texts
from bot.handlers.common import Deps, addressed_text, is_group
from bot.handlers.gathering import Gatherer, Piece
from bot.telegram.media import DOWNLOAD_LIMIT, FileTooBigError, decode_text, document_kind, download, pick_photo
from bot.telegram.pacing import duration_seconds
from bot.telegram.rendering import utf16_len
from providers import ProviderError

logger = logging.getLogger("bot.handlers")

#: Characters of a transcript shown back to the user (the model gets all of it).
TRANSCRIPT_SHOWN = 3500

#: How a read message is asked: ``ask(message, context, text, images)``.
Ask = Callable[[Message, ContextTypes.DEFAULT_TYPE, str, tuple[str, ...]], Awaitable[None]]


class FileHandlers:
    """Turns a photo, a file or a recording into a question for ``ask``, or one sentence."""

    def __init__(self, deps: Deps, ask: Ask, gather: Gatherer) -> None:
        self.deps = deps
        self.ask = ask
        self.gather = gather

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
        name = document.file_name or texts.FILE_UNNAMED
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
        read = self.read_text_file(message, context, document.file_id, name, limit)
        if message.media_group_id:
            await self.gather.album(message, context, read, self.ask_album)
            return
        piece = await read
        if piece is not None:
            await self.ask(message, context, piece.text, ())

    async def read_text_file(
        self, message: Message, context: ContextTypes.DEFAULT_TYPE, file_id: str, name: str, limit: int
    ) -> Piece | None:
        """A text file's content, with its name and the caption, or None after saying why not."""
        data = await self.fetch(message, context, file_id, limit)
        if data is None:
            return None
        content = decode_text(data)
        if content is None:
            await message.reply_text(texts.NOT_UTF8.format(name=name))
            return None
        return Piece(self.with_caption(message, context, f"File {name}:\n```\n{content}\n```"))

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
        cut = heard if len(heard) <= TRANSCRIPT_SHOWN else heard[:TRANSCRIPT_SHOWN] + "…"
        shown = texts.TRANSCRIPT.format(text=cut)
        quote = MessageEntity(MessageEntity.BLOCKQUOTE, 0, utf16_len(shown))
        await message.reply_text(shown, entities=[quote], do_quote=is_group(message))
        await self.ask(message, context, self.with_caption(message, context, heard), ())

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
        sees images; otherwise downloaded (kept in the image cache) and answered. An album's image
        is gathered with the album's other items (:meth:`ask_album`)."""
        read = self.read_image(message, context, file_id, mime)
        if message.media_group_id:
            await self.gather.album(message, context, read, self.ask_album)
            return
        refusal = await self.deps.turns.vision_refusal(message.chat_id)
        if refusal is not None:
            read.close()
            await message.reply_text(refusal)
            return
        piece = await read
        if piece is not None:
            await self.ask(message, context, piece.text, piece.images)

    async def read_image(
        self, message: Message, context: ContextTypes.DEFAULT_TYPE, file_id: str, mime: str
    ) -> Piece | None:
        """The image downloaded (kept in the image cache) with the caption, or None after saying why not."""
        data = await self.fetch(message, context, file_id, self.deps.settings.image_max_bytes, texts.IMAGE_TOO_BIG)
        if data is None:
            return None
        self.deps.images.put(file_id, data, mime)
        return Piece(self.caption(message, context), (file_id,))

    async def ask_album(self, first: Message, context: ContextTypes.DEFAULT_TYPE, pieces: list[Piece]) -> None:
        """An album's items as one question, answering its first message: every image and the
        captions and files' texts; refused once when it has images and no provider sees them."""
        images = tuple(image for piece in pieces for image in piece.images)
        if images:
            refusal = await self.deps.turns.vision_refusal(first.chat_id)
            if refusal is not None:
                await first.reply_text(refusal)
                return
        await self.ask(first, context, "\n\n".join(piece.text for piece in pieces if piece.text), images)
