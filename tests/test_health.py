"""The container's HEALTHCHECK: a heartbeat while long polls complete, and python -m bot --health."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from bot.app.health import heartbeat, is_alive

from .fakes.server import wait_until


async def test_the_heartbeat_follows_completed_polls_and_goes_with_a_clean_stop(tmp_path: Path) -> None:
    path = tmp_path / "alive"
    polls = [0]
    beating = asyncio.create_task(heartbeat(lambda: polls[0], path, interval=0.01))
    await wait_until(path.exists, 5, lambda: "no heartbeat written")
    assert is_alive(path)[0]
    os.utime(path, (time.time() - 1000, time.time() - 1000))  # no poll completes for a long while
    await asyncio.sleep(0.05)  # a few heartbeat intervals pass
    assert not is_alive(path, max_age=120)[0], "no completed poll: not touched again"
    polls[0] += 1
    await wait_until(lambda: is_alive(path, max_age=120)[0], 5, lambda: "not touched after a poll")
    beating.cancel()
    await asyncio.gather(beating, return_exceptions=True)
    assert not path.exists() and not is_alive(path)[0]


def test_health_is_read_at_its_edge(tmp_path: Path) -> None:
    path = tmp_path / "alive"
    assert is_alive(path) == (False, f"no heartbeat at {path}: the bot is not running, or has not completed a poll yet")
    path.touch()
    os.utime(path, (time.time() - 119, time.time() - 119))
    assert is_alive(path, max_age=120)[0]
    os.utime(path, (time.time() - 122, time.time() - 122))
    assert not is_alive(path, max_age=120)[0]
