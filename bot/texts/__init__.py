"""Everything the bot says to people, in one place. Imports nothing of ``bot`` at run time (the
layering test holds it); its type hints name a few types of the packages that use it."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from telegram.helpers import escape_markdown

from providers import (
    AuthenticationError,
    BlockedError,
    ContentFilterError,
    ContextLengthError,
    EmptyAnswerError,
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
    from bot.state.storage import UsageTotals
    from bot.turns.budgets import BudgetState
    from bot.turns.port import StreamResult

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
    "/usage - tokens and cost: yours and this chat's, and the budgets\n"
    "/settings - show this chat's settings\n\n"
    "In groups, mention me or reply to one of my messages. Only group admins can change settings or reset."
)
START_GROUP = (
    "\n\nIn this group, mention me ({mention}) or reply to one of my messages, and I'll answer."
    " Only the group's admins can change my settings."
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
NO_VISION_PINNED = (
    "Sorry, {pinned}, the provider this chat is pinned to, cannot see images; {providers} can."
    " Send /provider auto to let them answer images."
)
NO_VISION = (
    "Sorry, none of the language models I use here can see images. Describe it in words, or ask the bot's"
    " owner for a model that takes images."
)
TOO_LONG = "That message is too long for me ({length} characters; the limit is {limit}). Please shorten it."
TOO_MANY_PENDING = (
    "I'm still answering earlier messages in this chat, so I didn't take your last {count} messages."
    " Please send them again once I've answered."
)
TOO_MANY_PENDING_ONE = (
    "I'm still answering earlier messages in this chat, so I didn't take your last message."
    " Please send it again once I've answered."
)
USER_LIMIT = "You've reached the limit of {limit} an hour. Please try again in {wait}."
USER_TOKENS_LIMIT = "You've used your {limit} for today. Your budget starts again at 00:00 UTC, in {wait}."
USER_COST_LIMIT = "You've used your {limit} budget for this month. It starts again on {date} (UTC), in {wait}."
CHAT_TOKENS_LIMIT = "This chat has used its {limit} for today. Its budget starts again at 00:00 UTC, in {wait}."
INTERNAL_ERROR = "Sorry, something went wrong on my side. Please try again."
STRANGER = "Sorry, this bot is private. Ask its owner for access, giving them your user id: {user_id}."
STRANGER_GROUP = (
    "Sorry, this bot is private. Ask its owner for access, giving them this chat's id ({chat_id})"
    " or your user id ({user_id})."
)
UNKNOWN_COMMAND = "I don't know {command}. /help lists what I can do."
ADMINS_ONLY = "Only chat admins can change this."
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
NOT_ANSWERED = "⚠️ I was restarted before I could answer this. Please send it again."
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
MODEL_ELSEWHERE = (
    '"{name}" is offered by {providers}, not by {pinned}, the provider this chat is pinned to.'
    " Send /provider auto (or /provider with one of them) first."
)
UNKNOWN_PROVIDER = 'Unknown provider "{name}". Available: {providers}'
MODEL_SET = "Model for this chat: {model}."
MODEL_UNLISTED = " {providers} could not list its models, so the name goes to it as it is."
MODEL_DEFAULT_SET = "Model for this chat: the default ({model})."
PROVIDER_SET = "Provider for this chat: {provider}."
MODEL_RESET = " {provider} does not offer {old}, so this chat now uses its default model, {new}."
FALLBACK_NOTE = "_↪ Answered by {model} via {provider}: {requested} {reason}._"
LENGTH_NOTE = "_✂️ The model stopped here: it reached its length limit._"
CAPPED_NOTE = "_✂️ I stopped the answer here: it was longer than the {limit} characters I show._"
LEFT_OUT_NOTE = "_📜 The conversation was too long for the model: it did not see the earliest {messages}._"
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
    "History: {stored} stored here; up to {max_messages} and {max_tokens} go to the model\n"
    "Context window: {window} tokens ({window_source}), {reserve} kept for the answer\n"
    "Budgets: {budgets}\n"
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
    ("usage", "Tokens and cost, and the budgets"),
    ("settings", "Show this chat's settings"),
]


def duration_text(seconds: int) -> str:
    """A duration for people: ``45 s``, ``6 min 40 s``."""
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if minutes and rest else f"{minutes} min" if minutes else f"{rest} s"


def size_text(size: int) -> str:
    """A file size for people: ``1,001 bytes`` (below 10 KB, where rounding would hide the difference),
    ``850 KB``, ``2.4 MB``."""
    if size < 10_000:
        return plural(size, "byte")
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{round(size / 1000)} KB"


def plural(count: int, one: str, many: str | None = None) -> str:
    """``1 message``, ``2 messages``, ``0 messages``, ``1,200 tokens`` (English: the singular only for
    exactly one; thousands separated)."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def reply_notes(result: StreamResult) -> list[str]:
    """The Markdown lines ending a reply: why it ended early, what the model did not see, and who
    answered if not the chosen model."""
    notes = []
    if result.answered_by is not None and result.answered_by.left_out:
        notes.append(LEFT_OUT_NOTE.format(messages=plural(result.answered_by.left_out, "message")))
    if result.capped is not None:
        notes.append(CAPPED_NOTE.format(limit=f"{result.capped:,}"))
    elif result.finish == "length":
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
    ((ContentFilterError,), "The provider's content filter withheld the answer. Try rephrasing your message."),
    ((EmptyAnswerError,), "The model returned an empty answer. Please try again or rephrase your message."),
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
    causes = _causes(error)
    if is_context_overflow(error):
        return too_long_sentence([c for c in causes if isinstance(c, ContextLengthError)])
    for kinds, sentence in _SHARED_CAUSES:
        if causes and all(isinstance(c, kinds) for c in causes):
            return sentence
    if isinstance(error, ProviderError):
        return "Sorry, I couldn't get an answer from the language model. Please try again in a moment."
    return INTERNAL_ERROR


def is_context_overflow(error: BaseException | None) -> bool:
    """True when every attempt failed because the conversation exceeds the model's context even
    after the chain left out older messages: the question alone is too long."""
    causes = _causes(error)
    return bool(causes) and all(isinstance(c, ContextLengthError) for c in causes)


def _causes(error: BaseException | None) -> list[BaseException | None]:
    """The error of every attempt of a chain's failure, or the failure itself."""
    return [a.error for a in error.attempts if a.error] if isinstance(error, RetryProviderError) else [error]


def too_long_sentence(errors: list[ContextLengthError]) -> str:
    """The sentence for a question no model of the chain can take, with the largest window a server named."""
    limits = [e.limit for e in errors if e.limit]
    if limits:
        return QUESTION_TOO_LONG_FOR.format(limit=tokens_text(max(limits)))
    return QUESTION_TOO_LONG


QUESTION_TOO_LONG_FOR = (
    "Your message is too long for the language model: it takes at most {limit} tokens (a token is about"
    " 4 characters of English). Please shorten it or send it in parts. Nothing of it was kept."
)
QUESTION_TOO_LONG = (
    "Your message is too long for the language model. Please shorten it or send it in parts. Nothing of it was kept."
)


def tokens_text(count: int) -> str:
    """A token count for people: ``12,345``."""
    return f"{count:,}"


def cost_text(dollars: float) -> str:
    """US dollars for people: ``$0``, ``$0.0042`` (4 decimals below a cent), ``$1.25``."""
    if dollars == 0:
        return "$0"
    return f"${dollars:,.4f}" if dollars < 0.01 else f"${dollars:,.2f}"


def wait_text(seconds: float) -> str:
    """A wait for people: ``1 min``, ``45 min``, ``3 h 20 min``, ``2 days``."""
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    return plural(round(hours / 24), "day")


def totals_text(totals: UsageTotals) -> str:
    """``12,345 tokens, $0.0123`` — "≈" before estimated tokens; "(some unpriced)" when a cost is
    missing, and no cost at all when none is known."""
    tokens = ("≈" if totals.estimated else "") + plural(totals.tokens, "token")
    if totals.answers == 0:
        return "nothing yet"
    if totals.unpriced and totals.cost == 0:
        return f"{tokens} (no price known)"
    cost = cost_text(totals.cost) + (" + unpriced answers" if totals.unpriced else "")
    return f"{tokens}, {cost}"


_BUDGET_TEXTS: dict[str, str] = {
    "user_messages_per_hour": USER_LIMIT,
    "user_tokens_per_day": USER_TOKENS_LIMIT,
    "user_cost_per_month": USER_COST_LIMIT,
    "chat_tokens_per_day": CHAT_TOKENS_LIMIT,
}

_BUDGET_NAMES: dict[str, str] = {
    "user_messages_per_hour": "your messages this hour",
    "user_tokens_per_day": "your tokens today",
    "user_cost_per_month": "your spending this month",
    "chat_tokens_per_day": "this chat's tokens today",
}


def budget_amount(state: BudgetState, value: float) -> str:
    """An amount of ``state``'s budget in its unit: messages, tokens or dollars."""
    if state.name == "user_cost_per_month":
        return cost_text(value)
    if state.name == "user_messages_per_hour":
        return plural(int(value), "message")
    return plural(int(value), "token")


def budget_refusal(state: BudgetState, now: float) -> str:
    """The one sentence refusing a question over ``state``'s budget: which budget, and when it starts again."""
    when = datetime.datetime.fromtimestamp(state.resets_at, datetime.UTC)
    return _BUDGET_TEXTS[state.name].format(
        limit=budget_amount(state, state.limit),
        wait=wait_text(state.resets_at - now),
        date=f"{when:%B} {when.day}",
    )


def budgets_text(states: list[BudgetState]) -> str:
    """The budgets and what is left of each, on one line: "none" when none applies."""
    if not states:
        return "none"
    return "; ".join(
        f"{_BUDGET_NAMES[s.name]}: {budget_amount(s, s.left)} left of {budget_amount(s, s.limit)}" for s in states
    )


USAGE_HEADER = "Usage (UTC days and months):"
USAGE_YOU = "You — today: {today}; this month: {month}"
USAGE_CHAT = "This chat — today: {today}; this month: {month}"
USAGE_BUDGETS = "Budgets: {budgets}"
USAGE_TOP = "Top users here this month:"
USAGE_BOT = "The whole bot this month, by model:"
USAGE_ROW = "{rank}. {label}: {totals}"
USAGE_ESTIMATE = "≈: estimated (the server did not count the tokens)."
