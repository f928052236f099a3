"""The base of the bot's own HTTP servers (the webhook's and the metrics'): one aiohttp application
on ``listen:port``, started and stopped the same way."""

from __future__ import annotations

from aiohttp import web


class HttpServer:
    """Serves :meth:`application` on ``listen:port`` between :meth:`start` and :meth:`stop`."""

    def __init__(self, listen: str, port: int) -> None:
        self.listen = listen
        self.port = port
        self._runner: web.AppRunner | None = None

    def application(self) -> web.Application:
        """The routes served (a subclass's)."""
        raise NotImplementedError

    async def start(self) -> None:
        """Listen.

        Raises:
            OSError: the address is taken or cannot be bound (nothing is left open).
        """
        self._runner = web.AppRunner(self.application(), access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.listen, self.port).start()
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise

    async def stop(self) -> None:
        """Stop serving (requests in progress finish first)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
