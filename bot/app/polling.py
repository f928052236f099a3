"""Watching getUpdates: one log line per polling failure, and a second instance on one token stops.

Telegram serves one getUpdates long poll per bot token: a new request ends the pending one with
``409 Conflict: terminated by other getUpdates request`` (Bot API, "getUpdates"). Two instances on
one token would take turns ending each other's polls forever, each answering some messages. The
instance that meets a Conflict before its first completed poll is the one that just started; it
stops and says why (:class:`AnotherInstanceError`). An instance that had been polling logs the
Conflict and keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from telegram.error import Conflict, TelegramError

logger = logging.getLogger(__name__)

#: Seconds between two warnings about conflicts from another instance.
CONFLICT_LOG_INTERVAL = 60.0


class AnotherInstanceError(RuntimeError):
    """Another process is polling getUpdates with this bot token (HTTP 409 Conflict)."""


class PollingWatch:
    """The Updater's ``error_callback``: logs each getUpdates failure in one line (PTB retries it with
    a growing pause up to 30 s) and sets ``stop`` when this instance is the second one on its token.

    Args:
        stop: set to end the bot.
        polls_completed: how many getUpdates long polls this instance has completed so far.
    """

    def __init__(self, stop: asyncio.Event, polls_completed: Callable[[], int]) -> None:
        self._stop = stop
        self._polls_completed = polls_completed
        self._last_conflict_log = -CONFLICT_LOG_INTERVAL
        self.conflict: Conflict | None = None

    def __call__(self, error: TelegramError) -> None:
        if isinstance(error, Conflict):
            if self._polls_completed() == 0:
                self.conflict = error
                self._stop.set()
                return
            now = time.monotonic()
            if now - self._last_conflict_log >= CONFLICT_LOG_INTERVAL:
                self._last_conflict_log = now
                logger.warning("another instance polls with this bot token; this one keeps serving: %s", error)
            return
        logger.warning("getUpdates failed, retrying: %s: %s", type(error).__name__, error)

    def check(self) -> None:
        """Raise :class:`AnotherInstanceError` if polling stopped because of another instance."""
        if self.conflict is not None:
            raise AnotherInstanceError(
                "another instance of the bot is already running with this TELEGRAM_BOT_TOKEN"
                f" (Telegram: {self.conflict.message}); stop it first"
            )
