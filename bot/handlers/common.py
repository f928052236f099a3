"""What every handler needs: the wired dependencies and facts about an incoming message."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from telegram import Bot, CallbackQuery, Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot import texts
from bot.config.settings import Settings
from bot.state.protocols import Store
from bot.state.storage import ChatSettings, ConversationKey
from bot.telegram.access import AccessPolicy, AdminChecker
from bot.telegram.media import ImageCache
from bot.telegram.streaming import ReplyStreamer, ReplyTarget
from bot.turns.budgets import Budgets
from bot.turns.models import ModelCatalog
from bot.turns.service import TurnService
from providers import RetryProvider, Transcriber

logger = logging.getLogger("bot.handlers")

GROUP_TYPES = (ChatType.GROUP, ChatType.SUPERGROUP)


@dataclass(slots=True)
class Deps:
    """Everything the handlers use, built once at start-up (see :func:`bot.app.wiring.run_bot`)."""

    settings: Settings
    store: Store
    chain: RetryProvider
    streamer: ReplyStreamer
    access: AccessPolicy
    admins: AdminChecker
    budgets: Budgets
    catalog: ModelCatalog
    #: The turns: questions answered in order, /retry, /stop, /reset, the replies in progress and shutdown.
    turns: TurnService
    presets: dict[str, str] = field(default_factory=dict)
    images: ImageCache = field(default_factory=ImageCache)
    transcriber: Transcriber | None = None


def sender_id(message: Message) -> int | None:
    """The Telegram user id of whoever sent ``message``; None for a channel or an anonymous admin
    (``sender_chat``) and other messages without ``from``."""
    return message.from_user.id if message.from_user else None


def is_group(message: Message) -> bool:
    """True for groups and supergroups."""
    return message.chat.type in GROUP_TYPES


def conversation_key(message: Message) -> ConversationKey:
    """The conversation a message belongs to: its chat, and its forum topic if any."""
    thread = message.message_thread_id if message.is_topic_message and message.message_thread_id else 0
    return ConversationKey(message.chat_id, thread)


#: Words of a question that name its conversation (a topic, a /conversations button).
TITLE_WORDS = 6
#: A topic's name at most (Bot API createForumTopic: 1-128 characters); a title made of a question's
#: first words is kept far shorter.
TOPIC_TITLE_CHARS = 60


def first_words(text: str, chars: int) -> str:
    """A title from ``text``: its first :data:`TITLE_WORDS` words, at most ``chars`` characters,
    ``…`` where cut; "" for a text without words."""
    words = text.split()
    title = " ".join(words[:TITLE_WORDS])
    if len(title) > chars:
        return title[: chars - 1].rstrip() + "…"
    return title + "…" if len(words) > TITLE_WORDS else title


def topic_title(question: str) -> str:
    """A topic's name from its first question (:func:`first_words`, at most :data:`TOPIC_TITLE_CHARS`
    characters); the default name when it has none."""
    return first_words(question, TOPIC_TITLE_CHARS) or texts.NEW_TOPIC_TITLE


def unnamed_topic(message: Message) -> int | None:
    """The topic of a private chat ``message`` is in when it still has the name ``/new`` gives a
    topic before its first question (in any language), else None. Every message of a topic replies
    to the topic's first, ``forum_topic_created``, message, which names it (Bot API Message)."""
    replied = message.reply_to_message
    created = replied.forum_topic_created if replied is not None else None
    if is_group(message) or not message.is_topic_message or created is None or not message.message_thread_id:
        return None
    return message.message_thread_id if created.name in texts.in_every_language("NEW_TOPIC_TITLE") else None


def reply_target(message: Message) -> ReplyTarget:
    """Reply in the same chat and forum topic; in groups, as a reply to the triggering message."""
    group = is_group(message)
    return ReplyTarget(
        chat_id=message.chat_id,
        is_group=group,
        thread_id=message.message_thread_id if message.is_topic_message else None,
        reply_to=message.message_id if group else None,
        after=message.message_id,
    )


def author_name(message: Message) -> str | None:
    """Who wrote a group message, for the model; None in private chats."""
    if not is_group(message):
        return None
    if message.sender_chat is not None:
        return message.sender_chat.title or "Anonymous"
    if message.from_user is not None:
        return message.from_user.full_name
    return "Someone"


def replies_to_bot(message: Message, bot: Bot) -> bool:
    """True when the message replies to one of the bot's messages."""
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == bot.id)


def addressed_text(message: Message, bot: Bot) -> str | None:
    """In a group, the text (or a photo's or file's caption) meant for the bot (its @mention removed),
    or None when not addressed.

    The bot is addressed when the message mentions it (``mention`` or
    ``text_mention`` entity) or replies to one of its messages.
    """
    kinds: list[str | None] = [MessageEntity.MENTION, MessageEntity.TEXT_MENTION]
    if message.text is not None:
        text, entities = message.text, message.parse_entities(kinds)
    else:  # a photo or a file: its caption
        text, entities = message.caption or "", message.parse_caption_entities(kinds)
    mention = f"@{bot.username}".lower() if bot.username else None
    mentioned = False
    for entity, value in entities.items():
        if entity.type == MessageEntity.MENTION and mention and value.lower() == mention:
            mentioned = True
            text = text.replace(value, "", 1)
        elif entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot.id:
            mentioned = True
    if not (mentioned or replies_to_bot(message, bot)):
        return None
    return " ".join(text.split()) if mentioned else text


def is_addressed(message: Message, bot: Bot) -> bool:
    """A command, a mention of the bot, or a reply to it (what a group message must be to concern the bot)."""
    if message.text and message.text.startswith("/"):
        return True
    if (message.text or message.caption) and addressed_text(message, bot) is not None:
        return True
    return replies_to_bot(message, bot)


def command_argument(message: Message) -> str:
    """The text after ``/command`` (or ``/command@bot``), stripped."""
    text = message.text or ""
    return text.split(maxsplit=1)[1].strip() if len(text.split(maxsplit=1)) > 1 else ""


async def command_with_settings(deps: Deps, update: Update) -> tuple[Message, ChatSettings, str] | None:
    """What a settings command starts from: its message, the chat's stored choices, and the text
    after the command; None for an update without a message."""
    message = update.effective_message
    if message is None:
        return None
    return message, await deps.store.chat_settings(message.chat_id), command_argument(message)


async def confirm_choice(query: CallbackQuery, said: str) -> None:
    """After a button's change was saved: the toast (answerCallbackQuery) and the message edited to
    say what is now set. The change stands whatever Telegram answers: a failing toast is logged and
    the message is still edited (it says so), never "something went wrong" over a saved change."""
    try:
        await query.answer(said[:200])
    except TelegramError as error:
        logger.warning("could not answer a button (%s); the change is saved", error)
    await query.edit_message_text(said)


async def refused_unless_admin(deps: Deps, update: Update, bot: Bot) -> bool:
    """The one guard of settings changes (/model, /provider, /prompt, /reset and their buttons):
    False when the sender may change this chat's settings (anyone in a private chat; in groups its
    admins, the group itself posting anonymously, and ``BOT_ADMIN_IDS``: see
    :meth:`~bot.telegram.access.AdminChecker.can_change_settings`, Bot API getChatMember). Else True, after
    telling the sender ``texts.ADMINS_ONLY``: a reply to a command, an alert on a button."""
    query = update.callback_query
    if query is not None and query.message is not None:
        if await deps.admins.can_change_settings(bot, query.message.chat, query.from_user):
            return False
        with texts.speaking(query.from_user.language_code):  # meant for that person, in their language
            await query.answer(texts.ADMINS_ONLY, show_alert=True)
        return True
    message = update.effective_message
    if message is None:
        return True
    if await deps.admins.can_change_settings(bot, message.chat, message.from_user, message.sender_chat):
        return False
    with texts.speaking(message.from_user.language_code if message.from_user else None):
        await message.reply_text(texts.ADMINS_ONLY)
    return True
