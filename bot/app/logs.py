"""Logging set-up that never writes a secret.

The bot token is part of every Bot API URL and httpx logs request URLs at
INFO, so the ``httpx``/``httpcore`` loggers are kept at WARNING, and every
record passes through :class:`RedactingFilter` as a second guard.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Mapping

REDACTED = "[REDACTED]"
NOISY_LOGGERS = ("httpx", "httpcore", "aiosqlite", "hpack")


class RedactingFilter(logging.Filter):
    """Replaces each secret in a record's formatted message (and traceback text) with ``[REDACTED]``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``[REDACTED]``."""
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; never drops it."""
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


#: Environment variables whose values are secrets, by suffix: OPENAI_API_KEY, OPENROUTER_API_KEY and
#: every other backend's ``{NAME}_API_KEY``, TELEGRAM_BOT_TOKEN, and proxy URLs (they may hold a password).
SECRET_SUFFIXES = ("_API_KEY", "_TOKEN", "_PROXY", "PROXY")


def secrets_in(environ: Mapping[str, str], known: Iterable[str] = ()) -> list[str]:
    """The values to keep out of the logs: ``known`` ones (from the settings) and every non-empty
    environment value whose name ends in one of :data:`SECRET_SUFFIXES`."""
    found = [value for name, value in environ.items() if name.upper().endswith(SECRET_SUFFIXES) and value]
    return [*known, *found]


def configure_logging(level: str, secrets: Iterable[str]) -> logging.Handler:
    """Log to stderr at ``level`` with secrets redacted; returns the installed handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
