"""Per-user message limits: at most N answered messages per user in any hour (sliding window)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable

WINDOW = 3600.0  # seconds


class UserLimiter:
    """Sliding-window limit of ``per_hour`` messages per user; ``per_hour == 0`` means no limit.

    ``exempt`` user ids (the bot owners) are never limited. Counts live in memory:
    a restart forgives everyone.
    """

    def __init__(self, per_hour: int, exempt: Iterable[int] = (), clock: Callable[[], float] = time.monotonic) -> None:
        self.per_hour = per_hour
        self.exempt = frozenset(exempt)
        self._clock = clock
        self._seen: dict[int, deque[float]] = {}

    def take(self, user_id: int) -> float:
        """Count one message of ``user_id``; returns 0 when allowed, else seconds until it will be."""
        if self.per_hour <= 0 or user_id in self.exempt:
            return 0.0
        now = self._clock()
        times = self._seen.setdefault(user_id, deque())
        while times and times[0] <= now - WINDOW:
            times.popleft()
        if len(times) >= self.per_hour:
            return times[0] + WINDOW - now
        times.append(now)
        if len(self._seen) > 10_000:
            self._seen = {u: t for u, t in self._seen.items() if t and t[-1] > now - WINDOW}
        return 0.0
