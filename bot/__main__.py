"""``python -m bot``: run the bot with long polling until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from telegram.error import InvalidToken, NetworkError

from providers.registry import environment

from .app import run_bot
from .chain import ChainConfigError
from .logs import configure_logging
from .settings import load_settings


async def _main() -> int:
    settings = load_settings()
    environ = environment()
    secrets = settings.secrets() + [v for k, v in environ.items() if k.endswith(("_API_KEY", "_TOKEN")) and v]
    configure_logging(settings.log_level, secrets)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log = logging.getLogger("bot")
    try:
        await run_bot(settings, stop, environ)
    except ChainConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    except InvalidToken:
        print("Configuration error: Telegram rejected TELEGRAM_BOT_TOKEN", file=sys.stderr)
        return 2
    except NetworkError as error:
        log.error("cannot reach the Bot API at TELEGRAM_BASE_URL: %s", error)
        return 1
    return 0


def main() -> None:
    """Entry point of ``python -m bot`` and the ``telegram-llm-bot`` script."""
    sys.exit(asyncio.run(_main()))


if __name__ == "__main__":
    main()
