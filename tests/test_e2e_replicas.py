"""Two bot processes behind a round-robin proxy, sharing PostgreSQL, the fake Bot API delivering by
webhook; one replica killed with SIGKILL mid-answer: nothing lost, nothing twice, order kept."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web

from bot.app.webhook import SECRET_HEADER
from bot.texts import INTERRUPTED

from .fakes.openai import FakeOpenAI, Reply
from .fakes.server import LoopbackServer
from .fakes.telegram import FakeBotApi
from .pg import free_port
from .test_main import ROOT, _env, _spawn

CHAT, OTHER_CHAT = 4242, 5151
SECRET = "replica-secret_42"
DEFAULT_ANSWER = "Hello from the fake model."


class RoundRobin(LoopbackServer):
    """A load balancer: each POST goes to the next replica; one that does not answer is skipped."""

    def __init__(self, ports: list[int]) -> None:
        super().__init__()
        self.ports = ports
        self._next = 0
        self.forwarded: list[int] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/{tail:.*}", self._forward)

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k in (SECRET_HEADER, "Content-Type")}
        async with aiohttp.ClientSession() as session:
            for attempt in range(len(self.ports)):
                port = self.ports[(self._next + attempt) % len(self.ports)]
                try:
                    async with session.post(f"http://127.0.0.1:{port}{request.path}", data=body, headers=headers) as r:
                        self._next += attempt + 1
                        self.forwarded.append(port)
                        return web.Response(status=r.status)
                except (aiohttp.ClientError, OSError):
                    continue
        return web.Response(status=502)


@contextlib.asynccontextmanager
async def replicas_behind_proxy(
    telegram: FakeBotApi,
    llm: FakeOpenAI,
    folder: Path,
    count: int,
    settings: dict[str, str],
    per_replica: Callable[[int], dict[str, str]] = lambda _: {},
) -> AsyncIterator[tuple[list[asyncio.subprocess.Process], RoundRobin]]:
    """``count`` ``python -m bot`` processes behind a round-robin proxy, webhook mode, with
    ``settings`` (the store's among them) and each replica's own (``per_replica(index)``), all
    started (each called setWebhook); stopped with SIGTERM afterwards (unless killed)."""
    ports = [free_port() for _ in range(count)]
    proxy = RoundRobin(ports)
    await proxy.start()
    env = _env(
        PYTHONPATH=str(ROOT),
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_BASE_URL=telegram.base_url,
        OPENAI_BASE_URL=llm.base_url,
        OPENAI_API_KEY="sk-test-key",
        WEBHOOK_URL=f"http://127.0.0.1:{proxy.port}/telegram",
        WEBHOOK_SECRET=SECRET,
        WEBHOOK_LISTEN="127.0.0.1",
        **settings,
    )
    processes = []
    for index, port in enumerate(ports):
        replica = folder / f"replica{index}"
        replica.mkdir()
        processes.append(await _spawn({**env, "WEBHOOK_PORT": str(port), **per_replica(index)}, replica))
    try:
        await telegram.wait_for(lambda: len(telegram.calls_of("setWebhook")) == count, timeout=60)
        yield processes, proxy
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.communicate(), 20)
            if process.returncode is None:
                process.kill()
        await proxy.stop()


def two_replicas(
    telegram: FakeBotApi, llm: FakeOpenAI, postgres_url: str, folder: Path
) -> contextlib.AbstractAsyncContextManager[tuple[list[asyncio.subprocess.Process], RoundRobin]]:
    """Two replicas on one PostgreSQL database (see :func:`replicas_behind_proxy`)."""
    settings = {"DATABASE_URL": postgres_url, "PRIVATE_EDIT_INTERVAL": "0.2"}
    return replicas_behind_proxy(telegram, llm, folder, 2, settings)


async def test_two_replicas_one_killed_mid_answer_lose_nothing_and_answer_nothing_twice(
    telegram: FakeBotApi, llm: FakeOpenAI, postgres_url: str, tmp_path: Path
) -> None:
    async with two_replicas(telegram, llm, postgres_url, tmp_path) as (processes, proxy):
        [call] = {(c.params["url"], c.params["secret_token"]) for c in telegram.calls_of("setWebhook")}
        assert call == (f"http://127.0.0.1:{proxy.port}/telegram", SECRET), "every replica sets the same webhook"
        llm.then(Reply("A long answer that is still being written. " * 20, chunk_size=8, delay=0.3))
        first = telegram.user_message(CHAT, "first question")
        await telegram.wait_for(lambda: telegram.writing(CHAT), timeout=20)  # the answer is on screen
        second = telegram.user_message(CHAT, "second question")  # waits for its turn behind the first
        second_update = telegram.last_update_id
        await telegram.wait_for(lambda: second_update in telegram.delivered, timeout=20)
        owner = await _owner_of(postgres_url, CHAT)
        victim = next(p for p in processes if p.pid == int(owner.split("-")[-2]))
        victim.send_signal(signal.SIGKILL)
        await victim.wait()

        def settled() -> bool:
            texts = telegram.bot_texts(CHAT)
            return INTERRUPTED in texts and DEFAULT_ANSWER in texts and not telegram.writing(CHAT)

        await telegram.wait_for(settled, timeout=75)  # taken over within REPLICA_TIMEOUT + BEAT_INTERVAL
        texts = telegram.bot_texts(CHAT)
        assert texts[0].startswith("A long") and texts.count(DEFAULT_ANSWER) == 1, texts
        assert texts.count(INTERRUPTED) == 1 and len(texts) == 3, texts
        assert telegram.stop_buttons[-1] == (CHAT, 0), "the cut answer lost its Stop button"
        answered = next(m for m in telegram.bot_messages(CHAT) if m.text == DEFAULT_ANSWER)
        assert answered.message_id > first["message_id"] and answered.message_id > second["message_id"]
        asked = llm.requests[-1]["messages"]
        assert [m["content"] for m in asked[1:]] == ["first question", "second question"], "in order, once"
        assert len(llm.requests) == 2, "the first question was not asked again"
        survivor = next(p for p in processes if p is not victim)
        telegram.user_message(OTHER_CHAT, "anyone there?")
        await telegram.wait_for(lambda: telegram.bot_texts(OTHER_CHAT) == [DEFAULT_ANSWER], timeout=20)
        assert survivor.returncode is None


async def test_the_stop_button_reaches_the_replica_writing_the_reply(
    telegram: FakeBotApi, llm: FakeOpenAI, postgres_url: str, tmp_path: Path
) -> None:
    async with two_replicas(telegram, llm, postgres_url, tmp_path) as (_, proxy):
        whole = "A long answer that is still being written. " * 20
        llm.then(Reply(whole, chunk_size=8, delay=0.3))
        asked = telegram.user_message(CHAT, "a long question")
        await telegram.wait_for(lambda: telegram.writing(CHAT), timeout=20)
        [shown] = [m for m in telegram.bot_messages(CHAT) if m.shows_stop()]
        telegram.press(CHAT, shown.message_id, f"s:{CHAT}:0", user_id=asked["from"]["id"])
        await telegram.wait_for(lambda: not telegram.writing(CHAT), timeout=20)
        assert proxy.forwarded[0] != proxy.forwarded[1], "the press reached the other replica"
        [stopped] = telegram.bot_texts(CHAT)
        assert stopped.endswith("⏹ Stopped.") and len(stopped) < len(whole.strip()), stopped
        assert telegram.callback_answers[-1].get("text") == "Stopped."


async def _owner_of(url: str, chat_id: int) -> str:
    """The replica holding the chat's lease (``host-pid-random``)."""
    connection = await asyncpg.connect(url)
    try:
        for _ in range(100):
            owner = await connection.fetchval("SELECT owner FROM leases WHERE chat_id = $1", chat_id)
            if owner:
                return str(owner)
            await asyncio.sleep(0.1)
    finally:
        await connection.close()
    raise AssertionError(f"no replica holds chat {chat_id}; pids {os.getpid()}")
