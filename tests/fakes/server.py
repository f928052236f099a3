"""Base of the loopback fakes: an aiohttp app on 127.0.0.1 with a free port."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Self

from aiohttp import web


async def wait_until(predicate: Callable[[], object], timeout: float, explain: Callable[[], str]) -> None:
    """Poll ``predicate`` every 10 ms until it is true.

    Raises:
        AssertionError: still false after ``timeout`` seconds; the message ends with ``explain()``.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s\n{explain()}")
        await asyncio.sleep(0.01)


class LoopbackServer:
    """Subclasses add their routes in :meth:`routes`; :attr:`port` is known after :meth:`start`."""

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self.port = 0

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        await self.before_stop()
        if self._runner:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def before_stop(self) -> None:
        """Release anything that would keep a request open (hung responses)."""
