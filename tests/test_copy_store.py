"""python -m bot copy-store: SQLite to PostgreSQL and back, every row, in order; never into a used store."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.state.copying import copy_store, open_url
from bot.state.storage import ChatSettings, ConversationKey, StorageError, UsageRecord

from .test_main import ROOT, _env, _run

CHAT, GROUP = 5, -10


async def fill(url: str, turns: int) -> None:
    store = await open_url(url)
    for n in range(turns):
        await store.add(ConversationKey(CHAT if n % 2 else GROUP, n % 3), "user", f"turn {n}", f"A{n}", n, (f"f{n}",))
    await store.save_chat_settings(CHAT, ChatSettings("openai", "gpt-4o-mini", "Be brief."))
    await store.record_usage(UsageRecord(ConversationKey(GROUP, 2), 7, "Ann", "openai", "m", 10, 5, True, None, 1e9))
    await store.close()


async def contents(url: str) -> tuple[list[object], ChatSettings, object]:
    store = await open_url(url)
    turns = []
    for key in (ConversationKey(CHAT, t) for t in range(3)):
        turns += [(key, m.role, m.content, m.author, m.user_id, m.images) for m in await store.recent(key, 10_000)]
    for key in (ConversationKey(GROUP, t) for t in range(3)):
        turns += [(key, m.role, m.content, m.author, m.user_id, m.images) for m in await store.recent(key, 10_000)]
    settings = await store.chat_settings(CHAT)
    usage = await store.usage_totals(0, chat_id=GROUP)
    await store.close()
    return (
        turns,
        settings,
        (usage.answers, usage.prompt_tokens, usage.completion_tokens, usage.estimated, usage.unpriced),
    )


async def test_a_store_goes_to_postgresql_and_back_whole_and_in_order(tmp_path: Path, postgres_url: str) -> None:
    sqlite = f"sqlite:///{tmp_path}/bot.sqlite3"  # an absolute path: sqlite:////tmp/...
    assert sqlite.startswith("sqlite:////")
    await fill(sqlite, 2500)  # more than one batch
    source, target = await open_url(sqlite), await open_url(postgres_url)
    result = await copy_store(source, target)
    await source.close()
    await target.close()
    assert result.counts == {"messages": 2500, "chat_settings": 1, "usage": 1}
    assert await contents(postgres_url) == await contents(sqlite)
    back = f"sqlite:///{tmp_path}/back.sqlite3"
    source, target = await open_url(postgres_url), await open_url(back)
    await copy_store(source, target)
    await source.close()
    await target.close()
    assert await contents(back) == await contents(sqlite)


async def test_a_target_that_holds_anything_is_refused_and_left_alone(tmp_path: Path) -> None:
    used = f"sqlite:///{tmp_path}/used.sqlite3"
    await fill(used, 1)
    await fill(f"sqlite:///{tmp_path}/source.sqlite3", 3)
    source, target = await open_url(f"sqlite:///{tmp_path}/source.sqlite3"), await open_url(used)
    with pytest.raises(StorageError, match="empty store"):
        await copy_store(source, target)
    assert await target.count(ConversationKey(GROUP)) == 1
    await source.close()
    await target.close()


async def test_the_command_prints_one_line_and_never_a_password(tmp_path: Path, postgres_url: str) -> None:
    await fill(f"sqlite:///{tmp_path}/bot.sqlite3", 4)
    env = _env(PYTHONPATH=str(ROOT))
    code, out = await _run(env, tmp_path, "copy-store", "sqlite:///bot.sqlite3", postgres_url)  # relative to the cwd
    assert code == 0 and out.count("\n") == 1, out
    assert out.startswith("Copied 4 messages, 1 chat settings and 1 usage records from sqlite:///bot.sqlite3 to")
    code, out = await _run(env, tmp_path, "copy-store", "sqlite:///bot.sqlite3", postgres_url)
    assert code == 2 and out.startswith("Copy failed: the target already holds"), out
    wrong = postgres_url.replace("bot@", "bot:secret-pw@").rsplit(":", 1)[0] + ":1/x"
    code, out = await _run(env, tmp_path, "copy-store", "sqlite:///bot.sqlite3", wrong)
    assert code == 2 and out.count("\n") == 1 and "secret-pw" not in out and "DATABASE_URL" in out, out
    code, out = await _run(env, tmp_path, "copy-store", "mysql://x:secret-pw@h/db", postgres_url)
    assert code == 2 and "no store URL" in out and "secret-pw" not in out, out
