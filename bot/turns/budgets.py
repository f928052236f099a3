"""Budgets: how much each person and each chat may use, read from the usage ledger.

Four budgets, each off at 0 (``.env.example``):

- ``USER_MESSAGES_PER_HOUR``: answers per user in any hour (a sliding window);
- ``USER_TOKENS_PER_DAY``: tokens per user per UTC day, all chats together;
- ``USER_COST_PER_MONTH``: US dollars per user per UTC calendar month (priced answers only);
- ``CHAT_TOKENS_PER_DAY``: tokens per chat, all its users together, per UTC day.

Only answers count (a failed question is not in the ledger), and the ledger is in SQLite, so a
restart forgives nobody. A question is refused when a budget is used up (used >= limit); an
answer that crosses a budget while it is written completes. Bot owners (``BOT_ADMIN_IDS``) are exempt.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from bot.state.protocols import UsageLedger

HOUR = 3600.0

BudgetName = Literal["user_messages_per_hour", "user_tokens_per_day", "user_cost_per_month", "chat_tokens_per_day"]


@dataclass(frozen=True, slots=True)
class BudgetState:
    """One budget as it stands.

    Attributes:
        name: which budget (its setting's name in lower case).
        limit: the setting's value (answers, tokens or dollars).
        used: what the period used so far, in the same unit.
        resets_at: Unix time when the period ends (for the hourly window: when the oldest answer
            in it leaves it).
    """

    name: BudgetName
    limit: float
    used: float
    resets_at: float

    @property
    def exhausted(self) -> bool:
        """True when nothing is left: the next question is refused."""
        return self.used >= self.limit

    @property
    def left(self) -> float:
        """What is left before the budget is used up (never negative)."""
        return max(0.0, self.limit - self.used)


def day_start(now: float) -> float:
    """Unix time of the UTC midnight that began the day of ``now``."""
    moment = datetime.datetime.fromtimestamp(now, datetime.UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def month_start(now: float, months_later: int = 0) -> float:
    """Unix time of 00:00 UTC on the 1st of the month of ``now`` (or ``months_later`` months after it)."""
    moment = datetime.datetime.fromtimestamp(now, datetime.UTC)
    month = moment.month - 1 + months_later
    return datetime.datetime(moment.year + month // 12, month % 12 + 1, 1, tzinfo=datetime.UTC).timestamp()


class Budgets:
    """The budgets of one bot.

    Args:
        store: the usage ledger.
        messages_per_hour, tokens_per_day, cost_per_month, chat_tokens_per_day: the settings (0: off).
        exempt: user ids never limited (the bot owners).
        clock: Unix time now, seconds.
    """

    def __init__(
        self,
        store: UsageLedger,
        *,
        messages_per_hour: int = 0,
        tokens_per_day: int = 0,
        cost_per_month: float = 0.0,
        chat_tokens_per_day: int = 0,
        exempt: Iterable[int] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.messages_per_hour = messages_per_hour
        self.tokens_per_day = tokens_per_day
        self.cost_per_month = cost_per_month
        self.chat_tokens_per_day = chat_tokens_per_day
        self.exempt = frozenset(exempt)
        self.clock = clock

    @property
    def any(self) -> bool:
        """True when some budget is set."""
        return bool(self.messages_per_hour or self.tokens_per_day or self.cost_per_month or self.chat_tokens_per_day)

    async def states(self, user_id: int | None, chat_id: int) -> list[BudgetState]:
        """Every budget that applies to ``user_id`` asking in ``chat_id``, as it stands now; none for a
        bot owner, and no per-user budget for a question without a user (an anonymous admin)."""
        if user_id in self.exempt:
            return []
        now = self.clock()
        today, tomorrow = day_start(now), day_start(now) + 24 * HOUR
        states: list[BudgetState] = []
        if user_id is not None and self.messages_per_hour:
            hour = await self.store.usage_totals(now - HOUR, user_id=user_id)
            resets = (hour.first_at + HOUR) if hour.first_at is not None else now
            states.append(BudgetState("user_messages_per_hour", self.messages_per_hour, hour.answers, resets))
        if user_id is not None and self.tokens_per_day:
            day = await self.store.usage_totals(today, user_id=user_id)
            states.append(BudgetState("user_tokens_per_day", self.tokens_per_day, day.tokens, tomorrow))
        if user_id is not None and self.cost_per_month:
            month = await self.store.usage_totals(month_start(now), user_id=user_id)
            states.append(BudgetState("user_cost_per_month", self.cost_per_month, month.cost, month_start(now, 1)))
        if self.chat_tokens_per_day:
            chat = await self.store.usage_totals(today, chat_id=chat_id)
            states.append(BudgetState("chat_tokens_per_day", self.chat_tokens_per_day, chat.tokens, tomorrow))
        return states

    async def refusal(self, user_id: int | None, chat_id: int) -> BudgetState | None:
        """The first used-up budget of a question by ``user_id`` in ``chat_id``; None: it may be asked."""
        if not self.any:
            return None
        return next((state for state in await self.states(user_id, chat_id) if state.exhausted), None)
