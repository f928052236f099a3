"""Liveness for a container's HEALTHCHECK: a heartbeat file touched while polling works.

While getUpdates long polls keep completing, :func:`heartbeat` touches the bot's heartbeat file
(:func:`heartbeat_file`: one per bot, named by the id in its token) every
:data:`HEARTBEAT_INTERVAL` seconds; ``python -m bot --health`` (:func:`is_alive`) says whether it
was touched recently. A bot that cannot reach Telegram, or hangs, goes unhealthy within about two
minutes; one that answers nobody because nothing is sent to it stays healthy.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)


def heartbeat_file(token: str, folder: Path | None = None, configured: Path | None = None) -> Path:
    """The heartbeat file of the bot with this token: ``configured`` (the ``HEALTH_FILE`` setting)
    when set, else ``telegram-llm-bot-{bot id}.alive`` in ``folder`` or the temporary folder (the id
    is the token's public part before the colon; the secret never appears)."""
    if configured is not None:
        return configured
    return (folder or Path(tempfile.gettempdir())) / f"telegram-llm-bot-{token.split(':', 1)[0]}.alive"


#: Seconds between two looks at the poll count (and touches of the file).
HEARTBEAT_INTERVAL = 30.0


async def heartbeat(polls_completed: Callable[[], int], path: Path, interval: float = HEARTBEAT_INTERVAL) -> None:
    """Touch ``path`` now and then every ``interval`` seconds in which a long poll completed; runs
    until cancelled, then removes the file. A file that cannot be written is logged once."""
    seen = -1
    warned = False
    try:
        while True:
            count = polls_completed()
            if count != seen:
                seen = count
                try:
                    await asyncio.to_thread(path.touch)
                except OSError as error:
                    if not warned:
                        warned = True
                        logger.warning("cannot write the heartbeat file %s: %s", path, error)
            await asyncio.sleep(interval)
    finally:
        _forget(path)


def _forget(path: Path) -> None:
    """Remove the heartbeat: a bot that stopped cleanly is not alive."""
    path.unlink(missing_ok=True)


def is_alive(path: Path, max_age: float = 4 * HEARTBEAT_INTERVAL) -> tuple[bool, str]:
    """Whether the heartbeat was touched within ``max_age`` seconds: (alive, one line saying so)."""
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        return False, f"no heartbeat at {path}: the bot is not running, or has not completed a poll yet"
    if age > max_age:
        return False, f"the last completed getUpdates poll was {age:.0f}s ago (more than {max_age:.0f}s)"
    return True, f"polling: the last heartbeat was {age:.0f}s ago"
