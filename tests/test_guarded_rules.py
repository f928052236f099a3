"""Rules a mutation run found unguarded: each test fails when its rule is broken, at the edge."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from telegram import Chat, User
from telegram.error import RetryAfter

from bot.state.storage import MIGRATIONS, ConversationStore, StorageError
from bot.telegram.access import AccessPolicy, AdminChecker
from bot.telegram.media import ImageCache, decode_text
from bot.telegram.pacing import ChatPacer
from bot.telegram.ratelimit import PACED, ChatRateLimiter
from providers import ModelNotSupportedError, OpenAI, ProviderHealth, RetryProvider
from providers.errors import EndpointNotFoundError

from .fakes.openai import FakeOpenAI
from .scripted import Run, ScriptedProvider, collect
from .test_pacing import Clock

MESSAGES = [{"role": "user", "content": "hi"}]


def test_a_file_with_a_nul_byte_anywhere_is_not_text() -> None:
    assert decode_text(b"plain text\n") == "plain text\n"
    assert decode_text(b"\x00abc") is None
    assert decode_text(b"a" * 5000 + b"\x00") is None, "past the first 4 KB too"


def test_the_image_cache_stays_within_its_byte_budget() -> None:
    cache = ImageCache(max_bytes=100)
    cache.put("a", b"x" * 50)
    cache.put("b", b"x" * 50)
    assert set(cache._items) == {"a", "b"}, "exactly at the budget: both kept"
    cache.put("c", b"x" * 1)
    assert set(cache._items) == {"b", "c"} and cache._size == 51, "one byte over: the oldest goes"


class _Bot:
    def __init__(self) -> None:
        self.asked = 0

    async def get_chat_member(self, chat_id: int, user_id: int) -> Any:
        self.asked += 1

        class Member:
            status = "administrator"

        return Member()


async def test_the_admin_cache_expires_after_its_ttl() -> None:
    now = [0.0]
    checker = AdminChecker(AccessPolicy(), ttl=60.0, clock=lambda: now[0])
    bot, group, user = _Bot(), Chat(-5, Chat.SUPERGROUP), User(7, "Ann", False)
    assert await checker.can_change_settings(bot, group, user)  # type: ignore[arg-type]
    now[0] = 59.9
    assert await checker.can_change_settings(bot, group, user)  # type: ignore[arg-type]
    assert bot.asked == 1, "within the ttl: cached"
    now[0] = 60.0
    await checker.can_change_settings(bot, group, user)  # type: ignore[arg-type]
    assert bot.asked == 2, "at the ttl: asked again"


async def test_a_failing_migration_step_leaves_the_last_good_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bot.sqlite3"
    store = await ConversationStore.open(path)
    await store.close()
    monkeypatch.setattr("bot.state.storage.MIGRATIONS", [*MIGRATIONS, "CREATE TABLE broken (;"])
    with pytest.raises(StorageError):
        await ConversationStore.open(path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'broken'").fetchone() is None


async def test_an_error_naming_a_url_drops_its_query_and_user_info(llm: FakeOpenAI) -> None:
    provider = OpenAI(f"http://user:secret-pw@127.0.0.1:{llm.port}/nowhere?api-key=secret-key", None, models=["m"])
    with pytest.raises(EndpointNotFoundError) as raised:
        await collect(provider.create_async_generator("m", MESSAGES))
    assert f"127.0.0.1:{llm.port}/nowhere" in str(raised.value)
    assert "secret-pw" not in str(raised.value) and "secret-key" not in str(raised.value)


async def test_requests_the_streamer_paced_are_not_paced_again_and_others_are() -> None:
    clock = Clock()
    limiter = ChatRateLimiter(ChatPacer(1.0, 20, 1000, clock=clock, sleep=clock.sleep), sleep=clock.sleep)

    async def call() -> bool:
        return True

    for _ in range(3):
        await limiter.process_request(call, (), {}, "editMessageText", {"chat_id": 5}, PACED)
    assert clock.now == 0.0, "the streamer's own edits: paced by it already"
    await limiter.process_request(call, (), {}, "editMessageText", {"chat_id": 5}, None)  # a button's edit
    await limiter.process_request(call, (), {}, "editMessageText", {"chat_id": 5}, None)
    assert clock.now == 1.0, "a button's edits are paced: one interval apart"


async def test_a_429_on_a_request_that_is_not_paced_waits_its_retry_after() -> None:
    clock = Clock()
    limiter = ChatRateLimiter(ChatPacer(1.0, 20, 1000, clock=clock, sleep=clock.sleep), sleep=clock.sleep)
    answers: list[object] = [RetryAfter(7), True]

    async def call() -> bool:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return True

    assert await limiter.process_request(call, (), {}, "getChatMember", {"chat_id": 5}, None) is True
    assert clock.sleeps == [7.0], "waited exactly retry_after, then asked again"


async def test_the_pacer_never_forgets_a_chat_a_429_still_blocks() -> None:
    clock = Clock()
    pacer = ChatPacer(0.0, 20, 1_000_000, clock=clock, sleep=clock.sleep)
    pacer.penalize(1, 100.0)
    for chat in range(2, 4200):  # past the 4,096 chats after which idle ones are forgotten
        await pacer.acquire(chat, is_group=False)
    assert pacer.delay(1) > 99.0, "still blocked"


async def test_a_model_the_server_just_refused_is_not_asked_again_as_the_fallback_default() -> None:
    class Refuses(ScriptedProvider):
        async def resolve_model(self, model: str) -> str:
            return model or "x"  # its default is the model it refuses

        async def offers(self, model: str) -> bool | None:
            return None

    refusing = Refuses("a", Run(error=ModelNotSupportedError("no x here", provider="a")))
    other = ScriptedProvider("b", default=Run(["from b"]))
    text, _ = await collect(RetryProvider([refusing, other], max_retries=1).create_async_generator("x", MESSAGES))
    assert text == "from b" and len(refusing.calls) == 1, "asked once for x, not again as its default"


def test_when_every_provider_cools_down_the_soonest_to_recover_goes_first() -> None:
    now = [0.0]
    health = ProviderHealth(failures_to_cool=1, cooldown_seconds=60.0, clock=lambda: now[0])
    a, b, c = (ScriptedProvider(n) for n in "abc")
    health.failure("a", cool_for=50.0)
    health.failure("b", cool_for=10.0)
    health.failure("c", cool_for=30.0)
    chain = RetryProvider([a, b, c], health=health, clock=lambda: now[0])
    assert [p.name for p in chain.order()] == ["b", "c", "a"]


async def test_a_persons_waiting_count_drops_once_their_question_is_answered() -> None:
    import asyncio

    from bot.turns.ordering import ConversationQueue

    queue = ConversationQueue()
    release = asyncio.Event()
    entered = asyncio.Event()

    async def ask() -> None:
        async with queue.turn("group", "ann"):
            entered.set()
            await release.wait()

    first = asyncio.create_task(ask())
    await entered.wait()
    second = asyncio.create_task(ask())
    await asyncio.sleep(0)  # the second one registers and waits
    assert queue.pending("group", "ann") == 2 and queue.pending("group") == 2
    release.set()
    await asyncio.gather(first, second)
    assert queue.pending("group", "ann") == 0 and queue.pending("group") == 0, "answered: nothing waits"


async def test_a_supergroup_upgrade_keeps_settings_already_stored_under_the_new_id(tmp_path: Path) -> None:
    from bot.state.storage import ChatSettings

    store = await ConversationStore.open(tmp_path / "db.sqlite3")
    await store.save_chat_settings(-5, ChatSettings("old", "old-model"))
    await store.save_chat_settings(-1005, ChatSettings("new", "new-model"))  # set after the upgrade already
    await store.move_chat(-5, -1005)
    assert await store.chat_settings(-1005) == ChatSettings("new", "new-model")
    assert await store.chat_settings(-5) == ChatSettings()
    await store.close()


def test_settings_changes_are_refused_in_one_place() -> None:
    """Every admin-only change goes through handlers.common.refused_unless_admin: the refusal is
    written nowhere else (six copies of check-then-refuse drifted apart before)."""
    root = Path(__file__).resolve().parent.parent / "bot"
    users = sorted(str(p.relative_to(root)) for p in root.rglob("*.py") if "ADMINS_ONLY" in p.read_text())
    assert users == ["handlers/common.py"]
    assert 'msgid "ADMINS_ONLY"' in (root / "texts" / "locales" / "en.po").read_text(), "the sentence: in the catalog"
