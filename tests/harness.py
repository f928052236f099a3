"""Runs the real bot (``bot.app.run_bot``) against the fake Bot API and a fake provider."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from bot.app.wiring import run_bot
from bot.config.settings import Settings

from .fakes.openai import FakeOpenAI
from .fakes.server import wait_until
from .fakes.telegram import FakeBotApi, StoredMessage


class Lines(logging.Handler):
    """Every log record of the bot, to check that a fault is logged once and without a traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def matching(self, words: str) -> list[logging.LogRecord]:
        return [r for r in self.records if words in r.getMessage()]

    async def wait_for(self, words: str, timeout: float = 5.0) -> logging.LogRecord:
        """The first record containing ``words``, once logged (a log line written after the user
        already sees the answer, such as the reply summary)."""
        await wait_until(lambda: self.matching(words), timeout, lambda: f"no log line with {words!r}")
        return self.matching(words)[0]


class BotHarness:
    """Start, stop and restart the bot; talk to it as a user through the fake Bot API."""

    def __init__(self, telegram: FakeBotApi, llm: FakeOpenAI, db_path: Path, **overrides: Any) -> None:
        self.telegram = telegram
        self.llm = llm
        self.db_path = db_path
        self.overrides = overrides
        self.environ: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def settings(self) -> Settings:
        values: dict[str, Any] = {
            "telegram_bot_token": self.telegram.token,
            "telegram_base_url": self.telegram.base_url,
            "database_path": self.db_path,
            "health_file": self.db_path.with_suffix(".alive"),  # never a path another test shares
            "providers": "openai",
            "openai_base_url": self.llm.base_url,
            "openai_api_key": "sk-test-secret-key-0123456789",
            "poll_timeout": 1,
            "private_edit_interval": 0.05,
            "group_messages_per_minute": 1200,
            "provider_first_chunk_timeout": 5,
            "provider_idle_timeout": 5,
            "provider_max_retries": 1,
        }
        values["backends"] = dict(self.environ)  # the backends' {NAME}_* settings, never the test's environment
        values.update(self.overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    def use_webhook(self, secret: str = "webhook-secret_0123") -> str:
        """Run the bot in webhook mode on a free loopback port; returns the webhook's URL."""
        from .pg import free_port

        port = free_port()
        url = f"http://127.0.0.1:{port}/telegram/updates"
        self.overrides.update(webhook_url=url, webhook_secret=secret, webhook_listen="127.0.0.1", webhook_port=port)
        return url

    async def start(self) -> None:
        self._stop = asyncio.Event()
        before = len(self.telegram.calls_of("setMyCommands"))
        webhooks = len(self.telegram.calls_of("setWebhook"))
        self._task = asyncio.create_task(run_bot(self.settings(), self._stop))
        await self.telegram.wait_for(
            lambda: len(self.telegram.calls_of("setMyCommands")) > before or self._task.done()  # type: ignore[union-attr]
        )
        if self._task.done():
            self._ended()
        if self.overrides.get("webhook_url"):  # taking updates once Telegram knows where to send them
            ready = lambda: len(self.telegram.calls_of("setWebhook")) > webhooks or self._task.done()  # type: ignore[union-attr]  # noqa: E731
            await self.telegram.wait_for(ready)
            if self._task.done():
                self._ended()
            return
        await self.telegram.wait_for(lambda: bool(self.telegram.calls_of("getUpdates")))

    def _ended(self) -> None:
        """The bot stopped during its start: raise what stopped it (it needs no stop after)."""
        task, self._task = self._task, None
        assert task is not None
        task.result()

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stop.set()
        await asyncio.wait_for(self._task, 15)
        self._task = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def wait_replies(
        self, chat_id: int, count: int = 1, *, after: int = 0, thread_id: int | None = None, timeout: float = 15.0
    ) -> list[str]:
        """Wait until the chat (or topic) shows at least ``count`` bot messages newer than message id
        ``after``, none of them has a Stop button and no draft is shown (the bot writes nothing more there): what a user
        watching the chat sees as "answered". Returns the texts of those messages.

        Raises:
            AssertionError: not so within ``timeout`` seconds; the message says what users see.
        """

        def new() -> list[StoredMessage]:
            return [m for m in self.telegram.bot_messages(chat_id, thread_id) if m.message_id > after]

        def answered() -> bool:
            messages = new()
            drafting = chat_id in self.telegram.live_drafts  # a draft still shows a part being written
            return len(messages) >= count and not any(m.shows_stop() for m in messages) and not drafting

        await self.telegram.wait_for(answered, timeout)
        return [m.text for m in new()]

    async def say(self, chat_id: int, text: str, messages: int = 1, **kwargs: Any) -> list[str]:
        """Send ``text`` as a user and wait for the bot's answer (``messages`` or more new messages,
        nothing still being written); return the texts of the bot's new messages."""
        asked = self.telegram.user_message(chat_id, text, **kwargs)
        return await self.wait_replies(chat_id, messages, after=asked["message_id"], thread_id=kwargs.get("thread_id"))
