"""Secrets never reach the log: each layer of redaction on its own (the subprocess test in
test_main.py checks them together, as a person runs the bot)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot.app.logs import REDACTED, RedactingFilter, configure_logging, secrets_in

TOKEN = "123456789:AAE-very-secret-bot-token"
KEY = "sk-or-v1-secret-openrouter-key"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """configure_logging as the bot runs it, writing to a buffer instead of stderr."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, {n: logging.getLogger(n).level for n in ("httpx", "httpcore")})
    handler = configure_logging("DEBUG", [TOKEN, KEY])
    buffer = io.StringIO()
    handler.setStream(buffer)  # type: ignore[attr-defined]
    yield buffer
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


def test_httpx_request_lines_are_muted_even_at_debug(captured: io.StringIO) -> None:
    # httpx logs every request URL at INFO, and a Bot API URL holds the token. Redaction would hide
    # the token; muting keeps 2 lines a second of noise out as well, so test it alone with no secret.
    logging.getLogger("httpx").info('HTTP Request: POST https://api.telegram.org/bot.../getUpdates "200 OK"')
    logging.getLogger("httpcore").debug("send_request_headers.complete")
    assert captured.getvalue() == ""


def test_a_secret_in_a_message_or_its_arguments_is_redacted(captured: io.StringIO) -> None:
    log = logging.getLogger("bot.test")
    log.warning("request to https://api.telegram.org/bot%s/sendMessage failed", TOKEN)
    log.error("backend said: invalid key %s", KEY)
    text = captured.getvalue()
    assert TOKEN not in text and KEY not in text and text.count(REDACTED) == 2


def test_a_secret_inside_a_traceback_is_redacted(captured: io.StringIO) -> None:
    try:
        raise RuntimeError(f"Authorization: Bearer {KEY} refused")
    except RuntimeError:
        logging.getLogger("bot.test").exception("provider failed")
    text = captured.getvalue()
    assert "Traceback" in text and KEY not in text and REDACTED in text


def test_short_values_are_not_treated_as_secrets() -> None:
    # A 1-5 character value ("1", "true") would blank out ordinary words all over the log.
    assert RedactingFilter(["abc", TOKEN]).redact("abc and " + TOKEN) == f"abc and {REDACTED}"


def test_every_backends_api_key_token_and_proxy_from_the_environment_is_a_secret() -> None:
    environ = {
        "OPENAI_API_KEY": "sk-openai",
        "OLLAMA_API_KEY": "ollama-local-key",
        "GROQ_API_KEY": "gsk_groq",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "OPENROUTER_PROXY": "socks5://user:pass@host:1080",
        "PROXY": "http://user:pw@proxy:3128",
        "OLLAMA_BASE_URL": "http://localhost:11434/v1",
        "EMPTY_API_KEY": "",
    }
    found = secrets_in(environ, ["from-settings"])
    assert sorted(found) == sorted(
        [
            "from-settings",
            "sk-openai",
            "ollama-local-key",
            "gsk_groq",
            TOKEN,
            "socks5://user:pass@host:1080",
            "http://user:pw@proxy:3128",
        ]
    )
