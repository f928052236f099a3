"""Runs the real bot (``bot.app.run_bot``) against the fake Bot API and a fake provider."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from bot.app import run_bot
from bot.settings import Settings

from .fakes.openai import FakeOpenAI
from .fakes.telegram import FakeBotApi


class AnswerCounter(logging.Handler):
    """Counts the handler's one-line reply summaries ("answered ...")."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "bot.handlers" and record.getMessage().split(" ")[2:3] == ["answered"]:
            self.records.append(record)


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
        self.counter = AnswerCounter()
        logging.getLogger("bot.handlers").addHandler(self.counter)
        logging.getLogger("bot.handlers").setLevel(logging.INFO)

    def settings(self) -> Settings:
        values: dict[str, Any] = {
            "telegram_bot_token": self.telegram.token,
            "telegram_base_url": self.telegram.base_url,
            "database_path": self.db_path,
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
        values.update(self.overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    async def start(self) -> None:
        self._stop = asyncio.Event()
        before = len(self.telegram.calls_of("setMyCommands"))
        self._task = asyncio.create_task(run_bot(self.settings(), self._stop, self.environ))
        await self.telegram.wait_for(
            lambda: len(self.telegram.calls_of("setMyCommands")) > before or self._task.done()  # type: ignore[union-attr]
        )
        if self._task.done():
            self._task.result()
        await self.telegram.wait_for(lambda: bool(self.telegram.calls_of("getUpdates")))

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stop.set()
        await asyncio.wait_for(self._task, 15)
        self._task = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    @property
    def answered(self) -> int:
        return len(self.counter.records)

    async def wait_answers(self, count: int, timeout: float = 15.0) -> None:
        await self.telegram.wait_for(lambda: self.answered >= count, timeout)

    async def say(self, chat_id: int, text: str, **kwargs: Any) -> list[str]:
        """Send ``text`` as a user, wait for the bot's answer, return the bot's new message texts."""
        before = self.answered
        known = {m.message_id for m in self.telegram.bot_messages(chat_id)}
        self.telegram.user_message(chat_id, text, **kwargs)
        await self.wait_answers(before + 1)
        return [m.text for m in self.telegram.bot_messages(chat_id) if m.message_id not in known]

    def close(self) -> None:
        logging.getLogger("bot.handlers").removeHandler(self.counter)
