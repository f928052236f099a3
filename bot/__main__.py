"""``python -m bot`` (or ``telegram-llm-bot``): run the bot with long polling until SIGINT or SIGTERM.

python -m bot                  # run
python -m bot --check-config   # validate the settings and the provider chain, then exit
python -m bot --hold-on-config-error   # as the image runs it: a configuration error waits for SIGTERM
python -m bot backup PATH      # copy the history database safely, even while the bot runs
python -m bot --version
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import logging
import signal
import sys

from telegram.error import InvalidToken, NetworkError

from bot.app.chain import ChainConfigError, build_chain
from bot.app.health import heartbeat_file, is_alive
from bot.app.logs import configure_logging, secrets_in
from bot.app.polling import AnotherInstanceError
from bot.app.webhook import WebhookError
from bot.app.wiring import run_bot
from bot.config.settings import DatabaseSettings, load_settings, use_ptb_timedeltas
from bot.state.backup import BackupError, backup_database
from bot.state.copying import copy_store, open_url
from bot.state.postgres import safe_url
from bot.state.storage import StorageError


def version() -> str:
    """The installed distribution's version (``pyproject.toml``)."""
    try:
        return importlib.metadata.version("telegram-llm-bot")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def check_config() -> int:
    """Validate every setting and build the provider chain, without network; print one line.

    Returns 0 when the configuration is usable; a bad setting prints one line and exits 2.
    """
    settings = load_settings()
    try:
        chain = build_chain(settings)
    except ChainConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    names = " -> ".join(p.name for p in chain.providers)
    database = safe_url(settings.database_url.get_secret_value()) if settings.database_url else settings.database_path
    print(f"Configuration OK: provider chain {names}; database {database}")
    return 0


async def _main() -> int:
    settings = load_settings()
    configure_logging(settings.log_level, secrets_in(settings.backends, settings.secrets()))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log = logging.getLogger("bot")
    try:
        await run_bot(settings, stop)
    except ChainConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    except StorageError as error:  # its message names DATABASE_URL or DATABASE_PATH
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    except WebhookError as error:  # its message names the WEBHOOK_* setting
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    except AnotherInstanceError as error:
        print(f"Cannot start: {error}", file=sys.stderr)
        return 2
    except InvalidToken:
        print(
            f"Configuration error: the Bot API at TELEGRAM_BASE_URL ({settings.telegram_base_url}) rejected"
            " TELEGRAM_BOT_TOKEN (401 or 404): check the token, and TELEGRAM_BASE_URL if you changed it",
            file=sys.stderr,
        )
        return 2
    except NetworkError as error:
        log.error("cannot reach the Bot API at TELEGRAM_BASE_URL: %s", error)
        return 1
    return 0


def backup(target: str) -> int:
    """``backup TARGET``: copy ``DATABASE_PATH`` (from the environment or .env) with SQLite's online
    backup API; print one line; 0 on success, 2 when it cannot be made."""
    source = DatabaseSettings().database_path
    try:
        result = backup_database(source, target)  # as typed: a trailing "/" names a folder
    except BackupError as error:
        print(f"Backup failed: {error}", file=sys.stderr)
        return 2
    print(
        f"Backed up {source} to {result.path}: {result.size} bytes, {result.messages} messages,"
        f" schema version {result.schema_version}"
    )
    return 0


async def copy_stores(source_url: str, target_url: str) -> int:
    """``copy-store SOURCE TARGET``: one line saying what was copied; 2 (one line) when a store
    cannot be opened or the target is not empty. Passwords are never printed."""
    source = target = None
    try:
        source = await open_url(source_url)
        target = await open_url(target_url)
        result = await copy_store(source, target)
    except StorageError as error:
        print(f"Copy failed: {error}", file=sys.stderr)
        return 2
    finally:
        for store in (source, target):
            if store is not None:
                await store.close()
    counts = result.counts
    print(
        f"Copied {counts['messages']} messages, {counts['chat_settings']} chat settings and {counts['usage']}"
        f" usage records from {_shown(source_url)} to {_shown(target_url)}"
    )
    return 0


def _shown(url: str) -> str:
    """A store URL as it may be printed: a PostgreSQL password replaced by ***."""
    return url if url.startswith("sqlite:") else safe_url(url)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m bot`` and the ``telegram-llm-bot`` script; exits with the code
    (0 after a clean stop, 2 for a configuration error, an unusable database or another instance
    polling with the same token, 1 when the Bot API is unreachable)."""
    parser = argparse.ArgumentParser(
        prog="telegram-llm-bot",
        description="Telegram chat bot that streams LLM answers through a retrying chain of providers. "
        "Settings come from the environment and .env (see .env.example).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    parser.add_argument("--check-config", action="store_true", help="validate the settings and exit")
    parser.add_argument(
        "--hold-on-config-error",
        action="store_true",
        help="on exit code 2 (a configuration error) wait for SIGTERM instead of exiting, so a container "
        "restart policy does not restart a bot that cannot start (the image runs with it)",
    )
    parser.add_argument(
        "--health", action="store_true", help="exit 0 when a running bot polls Telegram (for a HEALTHCHECK), else 1"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    saving = commands.add_parser(
        "backup", help="copy the history database (DATABASE_PATH) safely, even while the bot runs"
    )
    saving.add_argument("target", help="a new file, or a folder for bot-YYYYMMDD-HHMMSS.sqlite3")
    moving = commands.add_parser(
        "copy-store",
        help="copy history, chat settings and usage into an empty store (SQLite to PostgreSQL and back)",
    )
    moving.add_argument("source", help="sqlite:///relative/path, sqlite:////absolute/path or postgresql://...")
    moving.add_argument("target", help="an empty store, named the same way")
    args = parser.parse_args(argv)
    if args.command == "backup":
        sys.exit(backup(args.target))
    if args.command == "copy-store":
        sys.exit(asyncio.run(copy_stores(args.source, args.target)))
    use_ptb_timedeltas()
    if args.check_config:
        sys.exit(check_config())
    if args.health:
        settings = load_settings()
        token = settings.telegram_bot_token.get_secret_value()
        alive, line = is_alive(heartbeat_file(token, configured=settings.health_file))
        print(line, file=sys.stdout if alive else sys.stderr)
        sys.exit(0 if alive else 1)
    try:
        code: int | str | None = asyncio.run(_main())
    except SystemExit as stop:
        code = stop.code
    if code == 2 and args.hold_on_config_error:
        code = hold()
    sys.exit(code)


def hold() -> int:
    """Wait for SIGTERM or SIGINT after a configuration error, then return 2.

    Docker's restart policies cannot tell exit codes apart: a container that exits 2 is restarted
    again and again (with a growing delay), each time printing the same line. Held, it stays up
    doing nothing, its HEALTHCHECK reports it unhealthy, ``docker compose logs`` shows the line
    once, and ``docker compose up -d`` after the fix (or ``docker compose stop``) ends it."""
    waited = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, waited)
    print("Not restarting: fix the setting above, then run `docker compose up -d`.", file=sys.stderr, flush=True)
    signal.sigwait(waited)
    return 2


if __name__ == "__main__":
    main()
