"""The Telegram side of a turn: a :class:`~bot.turns.port.ReplyPort` for the message being answered,
and the :class:`~bot.turns.service.Request` a message or a button press makes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from telegram import Bot, CallbackQuery, Message
from telegram.error import TelegramError

from bot import texts
from bot.handlers.common import Deps, author_name, conversation_key, is_group, reply_target, sender_id
from bot.state.storage import ConversationKey
from bot.telegram.keyboards import stop_keyboard
from bot.telegram.media import data_url
from bot.telegram.streaming import ReplyStream
from bot.turns.service import Request

logger = logging.getLogger("bot.handlers")

#: The reaction on a group question that waits for earlier ones (one of Telegram's standard reactions).
QUEUED_REACTION = "👀"


class MessageReply:
    """Answers one Telegram message: sentences as replies to it (quoting it in groups, PTB's
    ``reply_text`` default), the answer streamed below it with a Stop button, earlier images from
    the image cache (else downloaded again: getFile). ``thread_id``: the topic the answer goes to,
    when not the message's own (a question asked with /new, answered in the topic it opened)."""

    def __init__(self, deps: Deps, message: Message, thread_id: int | None = None) -> None:
        self.deps = deps
        self.message = message
        self.thread_id = thread_id

    async def say(self, text: str) -> None:
        """sendMessage ``text`` in reply to the message."""
        await self.message.reply_text(text)

    async def acknowledge(self) -> None:
        """Mark a queued group question with a 👀 reaction (Bot API setMessageReaction): the asker
        sees it was received without a message spending the group's budget. Failures are ignored."""
        message = self.message
        try:
            await message.get_bot().set_message_reaction(message.chat_id, message.message_id, QUEUED_REACTION)
        except TelegramError as error:
            logger.debug("chat=%s could not react to a queued message: %s", message.chat_id, error)

    def stream(
        self, key: ConversationKey, on_message: Callable[[int], Awaitable[object]], reasoning_chars: int = 0
    ) -> ReplyStream:
        """The streamed reply (:class:`~bot.telegram.streaming.ReplyStream`) in the message's chat and topic."""
        target = reply_target(self.message)
        if self.thread_id is not None:
            target = replace(target, thread_id=self.thread_id)
        return self.deps.streamer.open(
            target,
            texts.error_sentence,
            stop_markup=stop_keyboard(key.chat_id, key.thread_id),
            notes=texts.reply_notes,
            on_message=on_message,
            reasoning_chars=reasoning_chars,
        )

    async def image_url(self, file_id: str) -> str | None:
        """``file_id`` -> ``data:`` URL of a stored image (cached, else downloaded again); None when
        Telegram no longer has it."""
        try:
            data, mime = await self.deps.images.get(self.message.get_bot(), file_id)
        except TelegramError as error:
            logger.info("chat=%s an earlier image is no longer available: %s", self.message.chat_id, error)
            return None
        return data_url(data, mime)


def message_request(deps: Deps, message: Message, bot: Bot) -> Request:
    """The turn ``message`` asks for: its conversation, its sender, and whether the sender is an
    admin of the chat (asked of Telegram only when a turn needs it: getChatMember)."""
    user = message.from_user

    async def is_admin() -> bool:
        return await deps.admins.can_change_settings(bot, message.chat, user, message.sender_chat)

    return Request(
        key=conversation_key(message),
        message_id=message.message_id,
        user_id=sender_id(message),
        group=is_group(message),
        author=author_name(message),
        name=user.full_name if user else author_name(message),
        is_admin=is_admin,
        language=user.language_code if user else None,
    )


def button_request(deps: Deps, query: CallbackQuery, key: ConversationKey, bot: Bot) -> Request:
    """The turn a button press (on a message of ``key``) asks for: its presser may be an admin."""
    assert query.message is not None
    chat = query.message.chat

    async def is_admin() -> bool:
        return await deps.admins.can_change_settings(bot, chat, query.from_user)

    return Request(key=key, message_id=query.message.message_id, user_id=query.from_user.id, is_admin=is_admin)
