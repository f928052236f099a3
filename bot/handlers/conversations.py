"""/new and /conversations: several conversations in one chat, the earlier ones kept.

Outside forum topics, a chat's messages go to its current conversation. ``/new`` starts another
(the one before is kept, unlike ``/reset``, which deletes it); ``/conversations`` lists the recent
ones, named by their first question, with a button to go back to each. In a forum topic, the topic
is the conversation: ``/new`` there starts it afresh, as ``/reset`` does. In groups only admins may.
In a private chat with topics (the bot's topic mode, Bot API 9.3), ``/new`` opens a new topic.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import texts
from bot.handlers.common import (
    Deps,
    command_argument,
    confirm_choice,
    conversation_key,
    first_words,
    is_group,
    refused_unless_admin,
    topic_title,
)
from bot.state.storage import Conversation, ConversationKey
from bot.telegram.keyboards import conversations_keyboard

logger = logging.getLogger("bot.handlers")

#: How a question is asked in a topic: ``ask(message, context, text, images, thread_id)``.
AskIn = Callable[[Message, ContextTypes.DEFAULT_TYPE, str, tuple[str, ...], int | None], Awaitable[None]]

#: A conversation's title at most, characters (a button's label stays on one line).
TITLE_CHARS = 40


def title_of(conversation: Conversation) -> str:
    """A conversation's name: the first words of its first question (:func:`first_words`, at most
    :data:`TITLE_CHARS` characters)."""
    return first_words(conversation.first_question, TITLE_CHARS) or texts.CONVERSATION_UNTITLED


class ConversationsHandlers:
    """/new, /conversations and the buttons of /conversations."""

    def __init__(self, deps: Deps, ask: AskIn) -> None:
        self.deps = deps
        self.turns = deps.turns
        self.ask = ask

    async def new(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/new: a new conversation, the current one kept (in a forum topic: the topic afresh)."""
        message = update.effective_message
        if message is None or await refused_unless_admin(self.deps, update, context.bot):
            return
        if not is_group(message) and getattr(context.bot.bot, "has_topics_enabled", False):
            await self.new_topic(message, context)
            return
        key = conversation_key(message)
        if key.thread_id:
            await self.turns.reset(key)
            await message.reply_text(texts.RESET_DONE, do_quote=is_group(message))
            return
        started = await self.turns.new_conversation(key)
        await message.reply_text(texts.NEW_DONE if started else texts.NEW_ALREADY, do_quote=is_group(message))

    async def new_topic(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/new in a private chat with topics (getMe ``has_topics_enabled``, Bot API 9.3): a new topic
        (createForumTopic), named by the question after ``/new`` and answered there, or, without
        one, named ``NEW_TOPIC_TITLE`` until its first question names it."""
        question = command_argument(message)
        title = topic_title(question)
        try:
            topic = await context.bot.create_forum_topic(message.chat_id, name=title)
        except TelegramError as error:
            logger.warning("chat=%s could not open a topic: %s", message.chat_id, error)
            started = await self.turns.new_conversation(conversation_key(message))
            await message.reply_text(texts.NEW_DONE if started else texts.NEW_ALREADY)
            return
        thread = topic.message_thread_id
        logger.info("chat=%s opened topic %s", message.chat_id, thread)
        if question:
            await self.ask(message, context, question, (), thread)
        else:
            await context.bot.send_message(message.chat_id, texts.NEW_TOPIC_HELLO, message_thread_id=thread)

    async def conversations(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/conversations: the recent conversations, each with a button to go back to it."""
        message = update.effective_message
        if message is None:
            return
        key = conversation_key(message)
        if key.thread_id:
            await message.reply_text(texts.CONVERSATIONS_TOPIC, do_quote=is_group(message))
            return
        listed, current = await self.turns.conversations(key)
        if not listed or (len(listed) == 1 and listed[0].thread_id == current):
            await message.reply_text(texts.CONVERSATIONS_NONE, do_quote=is_group(message))
            return
        lines = [
            f"{'✅' if c.thread_id == current else '•'} {title_of(c)} — {texts.plural(c.turns, 'message')}"
            for c in listed
        ]
        await message.reply_text(
            texts.CONVERSATIONS_LIST.format(list="\n".join(lines)),
            reply_markup=conversations_keyboard(message.chat_id, [(c.thread_id, title_of(c)) for c in listed], current),
            do_quote=is_group(message),
        )

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE, value: str) -> None:
        """A /conversations button (callback data already checked for this chat): go back there."""
        query = update.callback_query
        assert query is not None and query.message is not None
        if await refused_unless_admin(self.deps, update, context.bot):
            return
        try:
            thread = int(value)
        except ValueError:
            thread = 1
        key = ConversationKey(query.message.chat.id, 0)
        listed, _ = await self.turns.conversations(key)
        chosen = next((c for c in listed if c.thread_id == thread), None)
        if chosen is None:  # forged, or no longer among the recent ones
            await query.answer(texts.STALE_BUTTON, show_alert=True)
            return
        await self.turns.switch_conversation(key, thread)
        await confirm_choice(query, texts.CONVERSATION_CHOSEN.format(title=title_of(chosen)))
