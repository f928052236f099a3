"""Everything the bot says to people, in the language of the update being handled.

The sentences live in the text catalog (:mod:`bot.texts.catalog`: ``locales/LANG.po``, keyed by
name). ``texts.START`` (any upper-case name) is that sentence in the current language: the one
:func:`use_language` chose for the update being handled (a context variable, so each update's task,
and the tasks it starts, keep their own), English before any. The helpers below (numbers, sizes,
durations, budgets, error sentences) speak the current language too. Imports nothing of ``bot`` at
run time (the layering test holds it); its type hints name a few types of the packages that use it.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal
from telegram.helpers import escape_markdown

from bot.texts.catalog import FALLBACK, TextCatalog
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
)
from providers.errors import causes, is_context_overflow

if TYPE_CHECKING:
    from bot.state.storage import UsageTotals
    from bot.turns.budgets import BudgetState
    from bot.turns.port import StreamResult

#: Every language's sentences, read once (they do not change while the bot runs).
CATALOG = TextCatalog.load()
_LANGUAGE: ContextVar[str] = ContextVar("language", default=FALLBACK)

#: The bot's commands in the order of Telegram's menu (setMyCommands); their descriptions are the
#: catalog's ``COMMAND_<name>``.
COMMAND_NAMES = [
    "start", "help", "reset", "new", "retry", "stop", "model", "provider", "prompt", "usage", "settings", "language",
    "reasoning", "conversations",
]  # fmt: skip


def use_language(code: str | None, default: str = FALLBACK) -> str:
    """Speak the catalog's language for ``code`` (an IETF tag: ``ru-RU``, ``ru``; else ``default``)
    from now on in this task and the tasks it starts; returns the language chosen."""
    chosen = CATALOG.language(code, default)
    _LANGUAGE.set(chosen)
    return chosen


@contextlib.contextmanager
def speaking(code: str | None) -> Iterator[str]:
    """Speak ``code``'s language (when the catalog has it) for the ``with`` body, then the language
    spoken before: a sentence meant for one person, in a group that speaks another."""
    chosen = CATALOG.language(code, _LANGUAGE.get())
    token = _LANGUAGE.set(chosen)
    try:
        yield chosen
    finally:
        _LANGUAGE.reset(token)


def language_name(code: str) -> str:
    """A language's name in itself, as a person picks it: ``English``, ``Русский``."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


def in_every_language(key: str) -> set[str]:
    """The sentence ``key`` in every language of the catalog (to recognise it, whoever said it)."""
    return {CATALOG.text(code, key) for code in CATALOG.languages}


def language() -> str:
    """The language being spoken (``en`` unless :func:`use_language` chose another)."""
    return _LANGUAGE.get()


def __getattr__(name: str) -> str:
    """``texts.NAME``: the catalog's sentence ``NAME`` in the current language."""
    if name.isupper() and CATALOG.has(name):
        return CATALOG.text(_LANGUAGE.get(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def say(key: str, /, **values: object) -> str:
    """The sentence ``key`` in the current language, its placeholders filled."""
    return CATALOG.text(_LANGUAGE.get(), key, **values)


def commands(language: str) -> list[tuple[str, str]]:
    """``(command, description)`` for Telegram's command menu in ``language``."""
    return [(name, CATALOG.text(language, f"COMMAND_{name}")) for name in COMMAND_NAMES]


def number(value: float) -> str:
    """A number as the current language writes it: ``12,345`` (English), ``12 345`` (Russian)."""
    return format_decimal(value, locale=_LANGUAGE.get())


def plural(count: int, unit: str) -> str:
    """``count`` of a unit (``message``, ``token``, ``byte``, ``day``) in the current language, in the
    form its CLDR plural rule takes: ``1 message``, ``2 messages``; ``21 сообщение``, ``25 сообщений``."""
    return CATALOG.plural(_LANGUAGE.get(), f"UNIT_{unit.upper()}", count)


def duration_text(seconds: int) -> str:
    """A duration for people: ``45 s``, ``6 min 40 s``."""
    minutes, rest = divmod(seconds, 60)
    if minutes and rest:
        return say("TIME_MINUTES_SECONDS", minutes=minutes, seconds=rest)
    return say("TIME_MINUTES", minutes=minutes) if minutes else say("TIME_SECONDS", seconds=rest)


def size_text(size: int) -> str:
    """A file size for people: ``1,001 bytes`` (below 10 KB, where rounding would hide the difference),
    ``850 KB``, ``2.4 MB``."""
    if size < 10_000:
        return plural(size, "byte")
    if size >= 1_000_000:
        return say("SIZE_MB", size=format_decimal(round(size / 1_000_000, 1), "0.0", locale=_LANGUAGE.get()))
    return say("SIZE_KB", size=number(round(size / 1000)))


def reply_notes(result: StreamResult) -> list[str]:
    """The Markdown lines ending a reply: why it ended early, what the model did not see, and who
    answered if not the chosen model."""
    notes = []
    if result.answered_by is not None and result.answered_by.left_out:
        notes.append(say("LEFT_OUT_NOTE", messages=plural(result.answered_by.left_out, "message")))
    if result.capped is not None:
        notes.append(say("CAPPED_NOTE", limit=number(result.capped)))
    elif result.finish == "length":
        notes.append(say("LENGTH_NOTE"))
    elif result.finish == "content_filter":
        notes.append(say("FILTERED_NOTE"))
    if result.answered_by is not None and result.answered_by.fallback:
        notes.append(fallback_note(result.answered_by))
    return notes


def fallback_note(info: ProviderInfo) -> str:
    """The Markdown line ending an answer that a fallback model wrote (names escaped)."""
    return say(
        "FALLBACK_NOTE",
        model=escape_markdown(info.model or say("FALLBACK_ITS_DEFAULT"), version=2),
        provider=escape_markdown(info.provider, version=2),
        requested=escape_markdown(info.requested or say("FALLBACK_THE_DEFAULT"), version=2),
        reason=escape_markdown(info.reason or say("FALLBACK_UNAVAILABLE"), version=2),
    )


#: The sentence for a cause every attempt shares, the first that fits (a mix of access refusals last).
_SHARED_CAUSES: list[tuple[tuple[type[BaseException], ...], str]] = [
    ((ModelNotSupportedError,), "ERROR_MODEL_NOT_OFFERED"),
    ((EndpointNotFoundError,), "ERROR_ENDPOINT"),
    ((ImagesNotSupportedError,), "NO_VISION"),
    ((ContentFilterError,), "ERROR_FILTERED"),
    ((EmptyAnswerError,), "ERROR_EMPTY"),
    ((QuotaExceededError,), "ERROR_QUOTA"),
    ((RateLimitError,), "ERROR_BUSY"),
    ((ProviderTimeoutError,), "ERROR_SLOW"),
    ((AuthenticationError,), "ERROR_KEY"),
    ((BlockedError,), "ERROR_BLOCKED"),
    ((AuthenticationError, QuotaExceededError, BlockedError), "ERROR_ACCESS"),
]


def error_sentence(error: BaseException) -> str:
    """One short human sentence for a provider failure (never a traceback).

    Judged on every attempt's error: a cause shared by all of them is named (busy, too slow,
    the key, the quota, a conversation too long, a filtered answer, a site that refuses the bot).
    """
    found = causes(error)
    if is_context_overflow(error):
        return too_long_sentence([c for c in found if isinstance(c, ContextLengthError)])
    for kinds, key in _SHARED_CAUSES:
        if found and all(isinstance(c, kinds) for c in found):
            return say(key)
    if isinstance(error, ProviderError):
        return say("ERROR_PROVIDER")
    return say("INTERNAL_ERROR")


def too_long_sentence(errors: list[ContextLengthError]) -> str:
    """The sentence for a question no model of the chain can take, with the largest window a server named."""
    limits = [e.limit for e in errors if e.limit]
    if limits:
        return say("QUESTION_TOO_LONG_FOR", limit=tokens_text(max(limits)))
    return say("QUESTION_TOO_LONG")


def tokens_text(count: int) -> str:
    """A token count for people: ``12,345``."""
    return number(count)


def cost_text(dollars: float) -> str:
    """US dollars for people: ``$0``, ``$0.0042`` (4 decimals below a cent), ``$1.25``."""
    if dollars == 0:
        return "$0"
    return f"${dollars:,.4f}" if dollars < 0.01 else f"${dollars:,.2f}"


def wait_text(seconds: float) -> str:
    """A wait for people: ``1 min``, ``45 min``, ``3 h 20 min``, ``2 days``."""
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return say("TIME_MINUTES", minutes=minutes)
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return say("TIME_HOURS_MINUTES", hours=hours, minutes=rest) if rest else say("TIME_HOURS", hours=hours)
    return plural(round(hours / 24), "day")


def totals_text(totals: UsageTotals) -> str:
    """``12,345 tokens, $0.0123`` — "≈" before estimated tokens; "(some unpriced)" when a cost is
    missing, and no cost at all when none is known."""
    tokens = ("≈" if totals.estimated else "") + plural(totals.tokens, "token")
    if totals.answers == 0:
        return say("TOTALS_NOTHING")
    if totals.unpriced and totals.cost == 0:
        return say("TOTALS_NO_PRICE", tokens=tokens)
    cost = cost_text(totals.cost)
    if totals.unpriced:
        cost = say("TOTALS_UNPRICED", cost=cost)
    return say("TOTALS", tokens=tokens, cost=cost)


#: Each budget's refusal sentence.
_BUDGET_TEXTS: dict[str, str] = {
    "user_messages_per_hour": "USER_LIMIT",
    "user_tokens_per_day": "USER_TOKENS_LIMIT",
    "user_cost_per_month": "USER_COST_LIMIT",
    "chat_tokens_per_day": "CHAT_TOKENS_LIMIT",
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
    return say(
        _BUDGET_TEXTS[state.name],
        limit=budget_amount(state, state.limit),
        wait=wait_text(state.resets_at - now),
        date=format_date(when.date(), "MMMM d", locale=_LANGUAGE.get()),
    )


def budgets_text(states: list[BudgetState]) -> str:
    """The budgets and what is left of each, on one line: "none" when none applies."""
    if not states:
        return say("BUDGETS_NONE")
    return "; ".join(
        say(
            "BUDGET_LEFT",
            name=say(f"BUDGET_{s.name}"),
            left=budget_amount(s, s.left),
            limit=budget_amount(s, s.limit),
        )
        for s in states
    )
