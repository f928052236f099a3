"""Everything the bot says to people, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram.helpers import escape_markdown

from providers import (
    AuthenticationError,
    BlockedError,
    ContentFilterError,
    ContextLengthError,
    EndpointNotFoundError,
    ImagesNotSupportedError,
    ModelNotSupportedError,
    ProviderError,
    ProviderInfo,
    ProviderTimeoutError,
    QuotaExceededError,
    RateLimitError,
    RetryProviderError,
)

if TYPE_CHECKING:
    from .streaming import StreamResult

START = (
    "Hi! I'm an AI assistant. Send me a message and I'll answer, streaming my reply as I write it.\n"
    "I remember our conversation in this chat; /reset starts a new one. /help lists the commands."
)
HELP = (
    "Commands:\n"
    "/start - what this bot does\n"
    "/help - this list\n"
    "/reset - forget this chat's conversation and start over\n"
    "/new - same as /reset\n"
    "/retry - answer your last message again\n"
    "/stop - stop the answer being written\n"
    "/model - choose the model\n"
    "/provider - choose the provider (Auto uses the whole chain)\n"
    "/prompt - show or set this chat's system prompt (/prompt TEXT, /prompt reset)\n"
    "/settings - show this chat's settings\n\n"
    "In groups, mention me or reply to one of my messages. Only group admins can change settings or reset."
)
RESET_DONE = "Done: I've forgotten our conversation. What shall we talk about?"
TEXT_ONLY = "Sorry, I can read text, photos, text files and voice messages, but not this kind of message."
CANT_READ_FILE = (
    "Sorry, I can't read this kind of file ({kind}). Send text files (.txt, .md, .py, .json, .csv...) or images."
)
NOT_UTF8 = "Sorry, I can't read {name}: it is not UTF-8 text."
FILE_TOO_BIG = "That file is too big for me ({size}; the limit is {limit}). Please send a smaller one."
IMAGE_TOO_BIG = "That image is too big for me ({size}; the limit is {limit}). Please send a smaller one."
DOWNLOAD_FAILED = "Sorry, I couldn't download that from Telegram. Please send it again."
VOICE_NOT_CONFIGURED = "Sorry, I can't listen to voice messages here. Please type your message."
VOICE_TOO_LONG = "That recording is too long for me ({length}; the limit is {limit}). Please send a shorter one."
TRANSCRIPTION_FAILED = (
    "Sorry, I couldn't make out that recording (the speech service failed). Please try again or type it."
)
NOTHING_HEARD = "I couldn't hear any words in that recording."
TRANSCRIPT = "🎤 {text}"
NO_VISION = (
    "Sorry, none of the language models I use here can see images. Describe it in words, or ask the bot's"
    " owner for a model that takes images."
)
TOO_LONG = "That message is too long for me ({length} characters; the limit is {limit}). Please shorten it."
TOO_MANY_PENDING = "I'm still answering earlier messages in this chat. Please wait a moment before sending more."
USER_LIMIT = "You've reached the limit of {limit} messages an hour. Please try again in {minutes} min."
INTERNAL_ERROR = "Sorry, something went wrong on my side. Please try again."
STRANGER = "Sorry, this bot is private. Ask its owner for access, giving them your user id: {user_id}."
STRANGER_GROUP = (
    "Sorry, this bot is private. Ask its owner for access, giving them this chat's id ({chat_id})"
    " or your user id ({user_id})."
)
UNKNOWN_COMMAND = "I don't know {command}. /help lists what I can do."
ADMINS_ONLY = "Only chat admins can change this."
ADMINS_ONLY_BUTTON = "Only admins can change this."
STALE_BUTTON = "This button is no longer valid."
FOREIGN_BUTTON = "This button belongs to another chat."
NOTHING_TO_RETRY = "There is nothing to retry yet."
NOTHING_TO_STOP = "Nothing is being written right now."
STOP_STALE = "That answer is no longer being written."
STOP_NOT_YOURS = "Only the person who asked or a chat admin can stop this answer."
RETRY_NOT_YOURS = "Only the person who asked or a chat admin can ask for the last answer again."
STOPPED = "Stopped."
STOPPED_FOR_RESTART = "⏹ Stopped: the bot is restarting. /retry will answer again."
RESTARTING = "I'm restarting and couldn't answer this. Please send it again in a minute."
INTERRUPTED = "⚠️ I was restarted before I could finish answering this. Send /retry and I'll answer it."
STORAGE_ERROR = (
    "Sorry, I can't save our conversation right now (a storage problem on my side), so I can't answer."
    " The bot's owner can see what is wrong in the logs. Please try again later."
)
CHOOSE_MODEL = "Choose the model for this chat. Current: {current}"
MODEL_PAGE = "Models {first}–{last} of {total} ({providers})."
NO_MODEL_LIST = "The provider did not list its models. Current: {current}. Use /model NAME to choose one."
CHOOSE_PROVIDER = "Choose the provider for this chat. Current: {current}"
UNKNOWN_MODEL = 'No provider here offers the model "{name}".'
UNKNOWN_MODEL_SUGGEST = " Did you mean: {models}?"
UNKNOWN_MODEL_HINT = " /model lists the models you can choose."
UNKNOWN_PROVIDER = 'Unknown provider "{name}". Available: {providers}'
MODEL_SET = "Model for this chat: {model}."
MODEL_UNLISTED = " {providers} could not list its models, so the name goes to it as it is."
MODEL_DEFAULT_SET = "Model for this chat: the default ({model})."
PROVIDER_SET = "Provider for this chat: {provider}."
MODEL_RESET = " {provider} does not offer {old}, so this chat now uses its default model, {new}."
FALLBACK_NOTE = "_↪ Answered by {model} via {provider}: {requested} {reason}._"
LENGTH_NOTE = "_✂️ The model stopped here: it reached its length limit._"
FILTERED_NOTE = "_⚠️ The provider's content filter cut this answer short._"
PROMPT_SHOW = "System prompt for this chat ({which}):\n\n{prompt}"
PROMPT_PRESETS = "\n\nChoose a preset below, or send /prompt TEXT to write your own."
PROMPT_HOW = "\n\nSend /prompt TEXT to write your own, /prompt reset to go back to the default."
PROMPT_SET = "Done: this chat now uses your system prompt. /prompt reset goes back to the default."
PROMPT_PRESET_SET = "Done: this chat now uses the preset “{name}”."
PROMPT_RESET = "Done: this chat uses the default system prompt again."
PROMPT_TOO_LONG = "That prompt is too long ({length} characters; the limit is {limit}). Please shorten it."
SETTINGS = (
    "Provider: {provider}\n"
    "Model: {model}\n"
    "System prompt: {prompt}\n"
    "Stream mode: {mode}\n"
    "History: {stored} stored here; up to {max_messages} and {max_chars} characters go to the model\n"
    "Ids (for ALLOWED_USER_IDS, ALLOWED_CHAT_IDS, BOT_ADMIN_IDS): this chat {chat_id}, you {user_id}"
)

#: Command list registered with setMyCommands (Bot API), shown in Telegram's menu.
COMMANDS: list[tuple[str, str]] = [
    ("start", "What this bot does"),
    ("help", "List the commands"),
    ("reset", "Forget this chat's conversation"),
    ("new", "Start a new conversation"),
    ("retry", "Answer the last message again"),
    ("stop", "Stop the answer being written"),
    ("model", "Choose the model"),
    ("provider", "Choose the provider"),
    ("prompt", "Show or set the system prompt"),
    ("settings", "Show this chat's settings"),
]


def duration_text(seconds: int) -> str:
    """A duration for people: ``45 s``, ``6 min 40 s``."""
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if minutes and rest else f"{minutes} min" if minutes else f"{rest} s"


def size_text(size: int) -> str:
    """A file size for people: ``850 KB``, ``2.4 MB``."""
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{max(1, round(size / 1000))} KB"


def plural(count: int, one: str, many: str | None = None) -> str:
    """``1 message``, ``2 messages``, ``0 messages`` (English: the singular only for exactly one)."""
    return f"{count} {one if count == 1 else (many or one + 's')}"


def reply_notes(result: StreamResult) -> list[str]:
    """The Markdown lines ending a reply: why it ended early, and who answered if not the chosen model."""
    notes = []
    if result.finish == "length":
        notes.append(LENGTH_NOTE)
    elif result.finish == "content_filter":
        notes.append(FILTERED_NOTE)
    if result.answered_by is not None and result.answered_by.fallback:
        notes.append(fallback_note(result.answered_by))
    return notes


def fallback_note(info: ProviderInfo) -> str:
    """The Markdown line ending an answer that a fallback model wrote (names escaped)."""
    return FALLBACK_NOTE.format(
        model=escape_markdown(info.model or "its default model", version=2),
        provider=escape_markdown(info.provider, version=2),
        requested=escape_markdown(info.requested or "the default model", version=2),
        reason=escape_markdown(info.reason or "was unavailable", version=2),
    )


#: The sentence for a cause every attempt shares, the first that fits (a mix of access refusals last).
_SHARED_CAUSES: list[tuple[tuple[type[BaseException], ...], str]] = [
    (
        (ModelNotSupportedError,),
        "No provider offers the model chosen for this chat right now. Choose another with /model.",
    ),
    (
        (EndpointNotFoundError,),
        "The bot's address for the language model is wrong; the bot's owner needs to fix it (see the bot's log).",
    ),
    ((ImagesNotSupportedError,), NO_VISION),
    ((ContextLengthError,), "This conversation is now too long for the model. Send /reset to start a new one."),
    ((ContentFilterError,), "The provider's content filter withheld the answer. Try rephrasing your message."),
    ((QuotaExceededError,), "The language model provider's quota is used up; the bot's owner needs to add credit."),
    ((RateLimitError,), "The language model is busy right now. Please try again in a minute."),
    ((ProviderTimeoutError,), "The language model took too long to answer. Please try again."),
    (
        (AuthenticationError,),
        "The language model refused the bot's credentials; the bot's owner needs to fix its API key.",
    ),
    ((BlockedError,), "The language model's site is refusing the bot's requests right now. Please try again later."),
    (
        (AuthenticationError, QuotaExceededError, BlockedError),
        "The language model providers refused the bot's access; the bot's owner needs to check its keys.",
    ),
]


def error_sentence(error: BaseException) -> str:
    """One short human sentence for a provider failure (never a traceback).

    Judged on every attempt's error: a cause shared by all of them is named (busy, too slow,
    the key, the quota, a conversation too long, a filtered answer, a site that refuses the bot).
    """
    causes = [a.error for a in error.attempts if a.error] if isinstance(error, RetryProviderError) else [error]
    for kinds, sentence in _SHARED_CAUSES:
        if causes and all(isinstance(c, kinds) for c in causes):
            return sentence
    if isinstance(error, ProviderError):
        return "Sorry, I couldn't get an answer from the language model. Please try again in a moment."
    return INTERNAL_ERROR
