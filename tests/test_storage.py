"""Conversation store: schema, WAL, per-topic history, and the prompt budget."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from bot.state.storage import (
    MIGRATIONS,
    ChatSettings,
    ConversationKey,
    ConversationStore,
    SchemaTooNewError,
    StorageError,
    StoredMessage,
)
from bot.turns.history import build_prompt

from .fakes.server import wait_until


async def test_open_creates_folders_migrates_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "bot.sqlite3"
    store = await ConversationStore.open(path)
    assert await store.schema_version() == len(MIGRATIONS)
    await store.close()
    async with aiosqlite.connect(path) as db, db.execute("PRAGMA journal_mode") as cursor:
        assert (await cursor.fetchone())[0] == "wal"
    store = await ConversationStore.open(path)  # re-opening applies nothing twice
    assert await store.schema_version() == len(MIGRATIONS)
    await store.close()


async def test_history_is_per_chat_and_per_topic(tmp_path: Path) -> None:
    store = await ConversationStore.open(tmp_path / "db.sqlite3")
    general, topic, other = ConversationKey(-1), ConversationKey(-1, 7), ConversationKey(2)
    await store.add(general, "user", "g1", author="Ann")
    await store.add(topic, "user", "t1")
    await store.add(other, "user", "o1")
    await store.add(general, "assistant", "g2")
    assert [(m.role, m.content, m.author) for m in await store.recent(general, 10)] == [
        ("user", "g1", "Ann"),
        ("assistant", "g2", None),
    ]
    assert [m.content for m in await store.recent(topic, 10)] == ["t1"]
    assert await store.clear(general) == 2
    assert await store.recent(general, 10) == []
    assert [m.content for m in await store.recent(topic, 10)] == ["t1"]
    await store.close()


async def test_recent_keeps_the_newest(tmp_path: Path) -> None:
    store = await ConversationStore.open(":memory:")
    key = ConversationKey(1)
    for n in range(10):
        await store.add(key, "user", str(n))
    assert [m.content for m in await store.recent(key, 3)] == ["7", "8", "9"]
    await store.close()


def _turn(n: int, content: str, role: str = "user", author: str | None = None) -> StoredMessage:
    return StoredMessage(n, role, content, author, 0.0)  # type: ignore[arg-type]


def test_prompt_keeps_system_first_and_newest_within_budget() -> None:
    history = [_turn(1, "a" * 50), _turn(2, "b" * 50, "assistant"), _turn(3, "c" * 50)]
    prompt = build_prompt("sys", history, max_tokens=3 + 5 + 2 * 17)  # "sys" 5 tokens, each turn 4 + 13
    assert [m["role"] for m in prompt] == ["system", "assistant", "user"]
    assert prompt[0]["content"] == "sys"


def test_prompt_always_keeps_the_message_being_answered() -> None:
    prompt = build_prompt("sys", [_turn(1, "old"), _turn(2, "x" * 1000)], max_tokens=100)
    assert [m["content"] for m in prompt] == ["sys", "x" * 1000]


def test_group_turns_name_their_author() -> None:
    prompt = build_prompt("", [_turn(1, "hi", author="Ann"), _turn(2, "hello Ann", "assistant")], 1000)
    assert prompt == [{"role": "user", "content": "Ann: hi"}, {"role": "assistant", "content": "hello Ann"}]


@pytest.mark.parametrize("version", range(len(MIGRATIONS)))
async def test_a_database_of_every_earlier_schema_is_upgraded_keeping_its_history(tmp_path: Path, version: int) -> None:
    import sqlite3

    path = tmp_path / f"v{version}.sqlite3"
    with sqlite3.connect(path) as db:  # a database as an older bot left it
        for target, script in enumerate(MIGRATIONS[:version], start=1):
            db.executescript(f"{script}\nPRAGMA user_version = {target};")
        if version >= 1:
            db.execute(
                "INSERT INTO messages (chat_id, thread_id, role, content, author, created_at)"
                " VALUES (5, 0, 'user', 'kept', 'Ann', 1.0)"
            )
    store = await ConversationStore.open(path)
    try:
        assert await store.schema_version() == len(MIGRATIONS)
        history = await store.recent(ConversationKey(5), 10)
        assert [(t.content, t.author, t.user_id) for t in history] == ([("kept", "Ann", None)] if version >= 1 else [])
        await store.add(ConversationKey(5), "user", "new", "Bob", user_id=7)
        assert (await store.recent(ConversationKey(5), 1))[0].user_id == 7
    finally:
        await store.close()


async def test_a_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "future.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(SchemaTooNewError, match="newer than this bot knows"):
        await ConversationStore.open(path)


async def test_a_full_disk_refuses_the_write_with_a_storage_error_and_keeps_what_was_stored(tmp_path: Path) -> None:
    from bot.state.storage import StorageError

    store = await ConversationStore.open(tmp_path / "db.sqlite3")
    key = ConversationKey(9)
    await store.add(key, "user", "kept")
    async with store._db.execute("PRAGMA page_count") as cursor:
        pages = (await cursor.fetchone())[0]
    await store._db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own "database or disk is full"
    with pytest.raises(StorageError, match="full"):
        await store.add(key, "user", "x" * 100_000)
    assert [m.content for m in await store.recent(key, 10)] == ["kept"]
    await store.add(key, "assistant", "small")  # the connection still works where there is room
    await store.close()


async def test_a_read_only_database_refuses_writes_with_a_storage_error(tmp_path: Path) -> None:
    from bot.state.storage import StorageError

    store = await ConversationStore.open(tmp_path / "db.sqlite3")
    key = ConversationKey(9)
    await store.add(key, "user", "kept")
    await store._db.execute("PRAGMA query_only = ON")
    with pytest.raises(StorageError, match="readonly"):
        await store.add(key, "user", "lost")
    with pytest.raises(StorageError):
        await store.move_chat(9, 10)
    assert [m.content for m in await store.recent(key, 10)] == ["kept"]
    await store.close()


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: p.write_bytes(b"this is not sqlite" * 100), "not a database"),
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: (p.parent.rmdir(), p.parent.write_text("a file where a folder should be")), "cannot create"),
    ],
    ids=["corrupt", "folder", "file-in-the-way"],
)
async def test_an_unusable_database_path_is_one_storage_error(tmp_path: Path, make: object, words: str) -> None:
    from bot.state.storage import StorageError

    path = tmp_path / "sub" / "db.sqlite3"
    path.parent.mkdir()
    make(path)  # type: ignore[operator]
    with pytest.raises(StorageError, match=words):
        await ConversationStore.open(path / "deeper" if words == "cannot create" else path)


async def test_a_migrated_group_keeps_its_history_and_settings(tmp_path: Path) -> None:
    from bot.state.storage import ChatSettings

    store = await ConversationStore.open(tmp_path / "db.sqlite3")
    await store.add(ConversationKey(-5), "user", "before the upgrade")
    await store.save_chat_settings(-5, ChatSettings("ollama", "llama3.2"))
    await store.reply_started(ConversationKey(-5), 12)
    await store.move_chat(-5, -1005)
    assert [m.content for m in await store.recent(ConversationKey(-1005), 10)] == ["before the upgrade"]
    assert await store.chat_settings(-1005) == ChatSettings("ollama", "llama3.2")
    assert await store.recent(ConversationKey(-5), 10) == [] and await store.chat_settings(-5) == ChatSettings()
    restarted = await ConversationStore.open(tmp_path / "db.sqlite3")  # the reply was this process's
    assert [(r.key, r.message_id) for r in await restarted.take_interrupted(alone=True)] == [
        (ConversationKey(-1005), 12)
    ]
    await restarted.close()
    await store.close()


async def test_replies_never_finished_are_reported_once_after_a_restart(tmp_path: Path) -> None:
    store = await ConversationStore.open(tmp_path / "db.sqlite3")
    await store.reply_started(ConversationKey(1), 3)
    await store.reply_started(ConversationKey(2, 7), 4)
    await store.reply_shown(ConversationKey(2, 7), 5)
    await store.reply_shown(ConversationKey(2, 7), 6)  # its second part, which has the Stop button
    await store.reply_finished(ConversationKey(1))
    await store.close()  # as if killed: the second reply never finished
    store = await ConversationStore.open(tmp_path / "db.sqlite3")
    assert [(r.key, r.message_id, r.reply_message_id) for r in await store.take_interrupted(alone=True)] == [
        (ConversationKey(2, 7), 4, 6)
    ]
    assert await store.take_interrupted(alone=True) == []
    await store.close()


async def test_backup_while_the_bot_writes_is_a_complete_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    from bot.__main__ import main

    path = tmp_path / "bot.sqlite3"
    store = await ConversationStore.open(path)  # open, in WAL mode, as while the bot runs
    for n in range(50):
        await store.add(ConversationKey(1), "user", f"turn {n}")
    assert (tmp_path / "bot.sqlite3-wal").stat().st_size > 0  # the newest turns are still in the WAL
    monkeypatch.setenv("DATABASE_PATH", str(path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "backups").mkdir()
    with pytest.raises(SystemExit) as done:
        main(["backup", "backups"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Backed up {path} to backups/bot-") and "50 messages" in out
    [copy] = (tmp_path / "backups").iterdir()
    with sqlite3.connect(copy) as db:
        assert db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 50
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one file, complete on its own
    await store.add(ConversationKey(1), "user", "the bot keeps writing")
    await store.close()
    with pytest.raises(SystemExit) as done:
        main(["backup", str(copy)])
    assert done.value.code == 2 and "exists already" in capsys.readouterr().err


async def test_replacing_an_answer_is_one_transaction(tmp_path: Path) -> None:
    store = await ConversationStore.open(tmp_path / "bot.sqlite3")
    key = ConversationKey(5)
    await store.add(key, "user", "question")
    old = await store.add(key, "assistant", "old answer")
    await store._db.execute(  # the insert of the new answer fails (as a full disk would make it)
        "CREATE TRIGGER refuse BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    with pytest.raises(StorageError, match="disk full"):
        await store.replace(old, key, "assistant", "new answer")
    assert [t.content for t in await store.recent(key, 5)] == ["question", "old answer"], "nothing half done"
    await store._db.execute("DROP TRIGGER refuse")
    await store.replace(old, key, "assistant", "new answer")
    assert [t.content for t in await store.recent(key, 5)] == ["question", "new answer"]
    await store.close()


async def test_a_database_file_deleted_while_running_is_put_back_with_every_row(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The open connection still holds every row: the file is put back from it (SQLite's online
    backup), said once in the log, and the bot goes on writing there; a restart finds it all."""
    path = tmp_path / "bot.sqlite3"
    store = await ConversationStore.open(path)
    key = ConversationKey(5)
    for i in range(4):
        await store.add(key, "user", f"kept {i}")
    await store.save_chat_settings(5, ChatSettings(model="m"))
    for suffix in ("", "-wal", "-shm"):  # rm bot.sqlite3* (the -wal and -shm too, or not)
        (tmp_path / f"bot.sqlite3{suffix}").unlink(missing_ok=suffix != "")
    await store.add(key, "user", "after")
    assert path.is_file()
    path.unlink()  # deleted again: put back again
    await store.add(key, "user", "again")
    restored = [r for r in caplog.records if "was deleted while the bot runs" in r.getMessage()]
    assert len(restored) == 2 and all(r.levelname == "WARNING" for r in restored)
    await store.close()
    reopened = await ConversationStore.open(path)
    assert [m.content for m in await reopened.recent(key, 10)] == [*(f"kept {i}" for i in range(4)), "after", "again"]
    assert (await reopened.chat_settings(5)).model == "m"
    assert not [name for name in os.listdir(tmp_path) if "restoring" in name], "no copy left beside it"
    await reopened.close()


async def test_a_database_file_replaced_while_running_is_noticed_once_and_nothing_is_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another file at the path (an operator restoring a backup) is not overwritten."""
    path = tmp_path / "bot.sqlite3"
    store = await ConversationStore.open(path)
    key = ConversationKey(5)
    await store.add(key, "user", "kept")
    path.unlink()
    path.write_bytes(b"")  # another file at the same path
    for _ in range(3):
        with pytest.raises(StorageError, match="was deleted or replaced while the bot runs"):
            await store.add(key, "user", "lost")
    assert len([r for r in caplog.records if "deleted or replaced" in r.getMessage()]) == 1, "one error line"
    assert path.read_bytes() == b""
    await store.close()


def test_a_backup_into_a_folder_that_does_not_exist_yet(tmp_path: Path) -> None:
    import asyncio as _asyncio

    from bot.state.backup import backup_database

    path = tmp_path / "bot.sqlite3"

    async def fill() -> None:
        store = await ConversationStore.open(path)
        await store.add(ConversationKey(1), "user", "kept")
        await store.close()

    _asyncio.run(fill())
    made = backup_database(path, f"{tmp_path}/new-folder/")  # a trailing slash names a folder
    assert made.path.parent == tmp_path / "new-folder" and made.path.name.startswith("bot-") and made.messages == 1
    nested = backup_database(path, tmp_path / "deeper" / "still" / "copy.sqlite3")  # folders on the way
    assert nested.path == tmp_path / "deeper" / "still" / "copy.sqlite3" and nested.path.is_file()
    plain = backup_database(path, tmp_path / "plain-name")
    assert plain.path == tmp_path / "plain-name" and plain.path.is_file(), "without a slash: a file"


# -- another process holding the write lock (issue 27, item 2) ------------------------------------


def hold_write_lock(path: Path) -> sqlite3.Connection:
    """Another process's write lock, as an operator's ``sqlite3`` shell inside BEGIN IMMEDIATE holds it."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


def contents(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return [(r[0], r[1]) for r in db.execute("SELECT role, content FROM messages ORDER BY id")]


async def drained(store: ConversationStore) -> None:
    await wait_until(lambda: store.waiting_writes == 0, 10, lambda: f"{store.waiting_writes} writes still wait")


async def test_writes_during_another_process_lock_wait_in_order_and_reads_see_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "bot.sqlite3"
    store = await ConversationStore.open(path, busy_timeout=0.1)
    key = ConversationKey(5)
    await store.add(key, "user", "before")
    other = hold_write_lock(path)
    question = await store.add(key, "user", "question")
    assert question < 0 and store.waiting_writes == 1, "kept in memory, with a provisional id"
    answer = await store.add(key, "assistant", "first answer")
    await store.replace(answer, key, "assistant", "better answer")  # /retry, on a provisional id
    await store.save_chat_settings(5, ChatSettings(model="m"))
    assert await store.receive(key, 77) and not await store.receive(key, 77), "a duplicate is still known"
    assert [m.content for m in await store.recent(key, 10)] == ["before", "question", "better answer"]
    assert [m.content for m in await store.recent(key, 2)] == ["question", "better answer"]
    assert await store.count(key) == 3 and (await store.chat_settings(5)).model == "m"
    assert contents(path) == [("user", "before")], "nothing written while the lock is held"
    other.rollback()
    other.close()
    await drained(store)
    assert contents(path) == [("user", "before"), ("user", "question"), ("assistant", "better answer")]
    assert [m.id > 0 for m in await store.recent(key, 10)] == [True] * 3
    await store.delete(question)  # a provisional id given out while locked still names its turn
    assert contents(path) == [("user", "before"), ("assistant", "better answer")]
    assert (await store.chat_settings(5)).model == "m" and not await store.receive(key, 77)
    assert len([r for r in caplog.records if "is locked by another process" in r.getMessage()]) == 1
    assert [r for r in caplog.records if "free again: 5 writes" in r.getMessage()]
    await store.close()


async def test_a_reset_and_a_delete_wait_in_order_too(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    store = await ConversationStore.open(path, busy_timeout=0.1)
    key, other_key = ConversationKey(5), ConversationKey(6)
    await store.add(key, "user", "old")
    await store.add(other_key, "user", "another chat")
    lock = hold_write_lock(path)
    assert await store.clear(key) == 1
    kept = await store.add(key, "user", "after the reset")
    dropped = await store.add(key, "user", "too long, deleted")
    await store.delete(dropped)
    assert [m.content for m in await store.recent(key, 10)] == ["after the reset"]
    assert [m.content for m in await store.recent(other_key, 10)] == ["another chat"]
    lock.rollback()
    lock.close()
    await drained(store)
    assert contents(path) == [("user", "another chat"), ("user", "after the reset")] and kept < 0
    await store.close()


async def test_a_lock_held_long_is_reported_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.state import storage

    monkeypatch.setattr(storage, "LOCK_REPORT_AFTER", 0.3)
    path = tmp_path / "bot.sqlite3"
    store = await ConversationStore.open(path, busy_timeout=0.05)
    lock = hold_write_lock(path)
    await store.add(ConversationKey(5), "user", "waits")
    reported = lambda: [r for r in caplog.records if "has been locked by another process" in r.getMessage()]  # noqa: E731
    await wait_until(reported, 10, lambda: "not reported")
    assert reported()[0].levelname == "ERROR" and "1 writes wait" in reported()[0].getMessage()
    await asyncio.sleep(0.5)
    assert len(reported()) == 1
    lock.rollback()
    lock.close()
    await drained(store)
    await store.close()


async def test_writes_still_waiting_at_the_stop_are_saved_and_written_at_the_next_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.state import storage

    monkeypatch.setattr(storage, "CLOSE_FLUSH_SECONDS", 0.2)
    path = tmp_path / "bot.sqlite3"
    store = await ConversationStore.open(path, busy_timeout=0.05)
    key = ConversationKey(5)
    lock = hold_write_lock(path)
    question = await store.add(key, "user", "answered while locked")
    await store.add(key, "assistant", "the answer")
    await store.delete(question)
    await store.add(key, "user", "kept")
    await store.close()
    pending = tmp_path / "bot.sqlite3.pending.json"
    assert pending.is_file() and [r for r in caplog.records if "4 writes are saved" in r.getMessage()]
    lock.rollback()
    lock.close()
    reopened = await ConversationStore.open(path, busy_timeout=0.05)
    await drained(reopened)
    assert contents(path) == [("assistant", "the answer"), ("user", "kept")]
    assert not pending.exists()
    await reopened.close()


async def test_a_failed_write_never_takes_a_concurrent_one_down_with_it(tmp_path: Path) -> None:
    """Writes share one connection: a write that fails is rolled back alone (the writes are one at a
    time), so another written at the same moment is kept, not rolled back with it."""
    store = await ConversationStore.open(tmp_path / "bot.sqlite3")
    await store._db.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.content = 'refused'"
        " BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"
    )
    key = ConversationKey(5)
    outcomes = await asyncio.gather(
        store.add(key, "user", "refused"), store.add(key, "user", "kept"), return_exceptions=True
    )
    assert isinstance(outcomes[0], StorageError) and isinstance(outcomes[1], int)
    assert [m.content for m in await store.recent(key, 10)] == ["kept"]
    await store.close()
    assert contents(tmp_path / "bot.sqlite3") == [("user", "kept")]
