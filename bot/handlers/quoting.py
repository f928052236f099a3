"""The message a question replies to, read from the Telegram update (:class:`~bot.turns.quotes.Quote`)."""

from __future__ import annotations

from telegram import (
    Bot,
    Message,
    MessageOrigin,
    MessageOriginChannel,
    MessageOriginChat,
    MessageOriginHiddenUser,
    MessageOriginUser,
)

from bot.telegram.media import document_kind, pick_photo
from bot.turns.quotes import ASSISTANT, Quote


def origin_name(origin: MessageOrigin | None) -> str | None:
    """Who first wrote a forwarded message (Bot API MessageOrigin), or None."""
    if isinstance(origin, MessageOriginUser):
        return origin.sender_user.full_name
    if isinstance(origin, MessageOriginHiddenUser):
        return origin.sender_user_name
    if isinstance(origin, MessageOriginChat):
        return origin.sender_chat.title
    if isinstance(origin, MessageOriginChannel):
        return origin.chat.title
    return None


def replied_quote(message: Message, bot: Bot, image_max_bytes: int) -> Quote | None:
    """The message ``message`` replies to, as a :class:`~bot.turns.quotes.Quote`: only the part the
    user quoted when they did (``Message.quote``, Bot API TextQuote), else the whole text or caption;
    its author (the bot's own answer is the ``assistant``'s; a forwarded message is its origin's);
    its photo (the largest size within ``image_max_bytes``) or image file. None when it replies to
    nothing, to the first message of its forum topic (every topic message does), or to a message
    with neither text nor image. A reply to a message of another chat (``external_reply``) gives
    its quoted part only."""
    replied = message.reply_to_message
    if replied is not None and (
        replied.forum_topic_created is not None
        or (message.is_topic_message and replied.message_id == message.message_thread_id)
    ):
        replied = None
    partial = message.quote.text if message.quote is not None and message.quote.text.strip() else None
    if replied is None:
        if partial is None:
            return None
        external = message.external_reply
        return Quote(partial, origin_name(external.origin if external else None), partial=True)
    from_bot = replied.from_user is not None and replied.from_user.id == bot.id
    if from_bot:
        author: str | None = ASSISTANT
    elif replied.forward_origin is not None:
        author = origin_name(replied.forward_origin)
    elif replied.from_user is not None:
        author = replied.from_user.full_name
    else:
        author = replied.sender_chat.title if replied.sender_chat else None
    image = None
    if replied.photo:
        size = pick_photo(replied.photo, image_max_bytes)
        image = size.file_id if size is not None else None
    elif replied.document is not None and document_kind(replied.document) == "image":
        if (replied.document.file_size or 0) <= image_max_bytes:
            image = replied.document.file_id
    text = partial if partial is not None else (replied.text or replied.caption or "")
    if not text.strip() and image is None:
        return None
    return Quote(text, author, partial is not None, from_bot, image)
