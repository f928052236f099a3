"""One contract for every store (bot.state.protocols.Store): SQLite and PostgreSQL behave the same.

SQLite-only behaviour (migrations of old files, locks, a deleted file, backups) is in test_storage.py;
PostgreSQL-only behaviour (several replicas migrating at once, a lost server) is at the end here.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.state.postgres import MIGRATIONS as POSTGRES_MIGRATIONS
from bot.state.postgres import PostgresStore
from bot.state.protocols import Store
from bot.state.storage import ChatSettings, ConversationKey, ConversationStore, StorageError, UsageRecord

from .pg import PostgresServer, free_port

CHAT, GROUP, SUPERGROUP = 5, -10, -1000010
NOW = 1_800_000_000.0


@pytest.fixture(params=["sqlite", "postgres"])
async def replicas(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Store]]]:
    """Opens another replica's store on the same database (the first one is ``store``);
    ``replica_id`` names it (default: a new one, as a new process gets)."""
    opened: list[Store] = []
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else ""

    async def open_replica(replica_id: str | None = None) -> Store:
        replica: Store
        if request.param == "sqlite":
            replica = await ConversationStore.open(tmp_path / "bot.sqlite3", replica_id=replica_id)
        else:
            replica = await PostgresStore.open(url, replica_id=replica_id)
        opened.append(replica)
        return replica

    yield open_replica
    for replica in opened:
        await replica.close()


@pytest.fixture
async def store(replicas: Callable[..., Awaitable[Store]]) -> Store:
    return await replicas()


async def test_the_schema_is_migrated(store: Store) -> None:
    assert await store.schema_version() >= 1


async def test_history_is_per_chat_and_per_topic_oldest_first(store: Store) -> None:
    topic = ConversationKey(GROUP, 7)
    first = await store.add(ConversationKey(CHAT), "user", "hi", None, 1)
    await store.add(ConversationKey(CHAT), "assistant", "hello")
    await store.add(topic, "user", "in a topic", "Ann", 2, images=("file-1", "file-2"))
    turns = await store.recent(ConversationKey(CHAT), 10)
    assert [(t.role, t.content, t.user_id) for t in turns] == [("user", "hi", 1), ("assistant", "hello", None)]
    assert turns[0].id == first and turns[1].id > first
    (in_topic,) = await store.recent(topic, 10)
    assert (in_topic.author, in_topic.images) == ("Ann", ("file-1", "file-2"))
    assert await store.recent(ConversationKey(GROUP), 10) == []
    assert await store.count(ConversationKey(CHAT)) == 2


async def test_recent_keeps_the_newest_at_its_limit_and_one_past_it(store: Store) -> None:
    key = ConversationKey(CHAT)
    for n in range(5):
        await store.add(key, "user", f"m{n}")
    assert [t.content for t in await store.recent(key, 3)] == ["m2", "m3", "m4"]
    assert [t.content for t in await store.recent(key, 5)] == ["m0", "m1", "m2", "m3", "m4"]
    assert len(await store.recent(key, 6)) == 5
    assert await store.recent(key, 0) == []


async def test_replace_delete_and_clear(store: Store) -> None:
    key = ConversationKey(CHAT)
    await store.add(key, "user", "q")
    old = await store.add(key, "assistant", "first answer")
    new = await store.replace(old, key, "assistant", "second answer")
    assert new != old
    assert [t.content for t in await store.recent(key, 10)] == ["q", "second answer"]
    await store.delete(new)
    assert [t.content for t in await store.recent(key, 10)] == ["q"]
    await store.add(ConversationKey(CHAT, 3), "user", "another topic")
    assert await store.clear(key) == 1
    assert await store.count(key) == 0 and await store.count(ConversationKey(CHAT, 3)) == 1


async def test_chat_settings_default_saved_and_replaced(store: Store) -> None:
    assert await store.chat_settings(CHAT) == ChatSettings()
    await store.save_chat_settings(CHAT, ChatSettings("openai", "gpt-4o-mini", "Be brief."))
    await store.save_chat_settings(CHAT, ChatSettings("ollama", None, "Be brief.", "ru"))
    assert await store.chat_settings(CHAT) == ChatSettings("ollama", None, "Be brief.", "ru")
    assert await store.chat_settings(GROUP) == ChatSettings()
    chosen = ChatSettings(reasoning=False, conversation=-1_800_000_000)
    await store.save_chat_settings(GROUP, chosen)
    assert await store.chat_settings(GROUP) == chosen


async def test_conversations_outside_topics_are_listed_newest_first_and_named_by_their_first_question(
    store: Store,
) -> None:
    first, second = ConversationKey(CHAT, 0), ConversationKey(CHAT, -1_800_000_000)
    await store.add(first, "assistant", "a greeting before any question")
    await store.add(first, "user", "What is Rust?")
    await store.add(first, "assistant", "A language.")
    await store.add(second, "user", "Best pizza?")
    await store.add(ConversationKey(CHAT, 7), "user", "in a topic: not listed")
    await store.add(ConversationKey(GROUP, 0), "user", "another chat")
    listed = await store.conversations(CHAT, 10)
    assert [(c.thread_id, c.first_question, c.turns) for c in listed] == [
        (second.thread_id, "Best pizza?", 1),
        (0, "What is Rust?", 3),
    ]
    assert [c.thread_id for c in await store.conversations(CHAT, 1)] == [second.thread_id], "at its limit"
    await store.add(first, "user", "And now?")
    assert [c.thread_id for c in await store.conversations(CHAT, 10)] == [0, second.thread_id], "most recent first"


async def test_replies_cut_short_and_questions_left_waiting_are_taken_once(
    store: Store, replicas: Callable[[], Awaitable[Store]]
) -> None:
    asked, waiting_one = ConversationKey(CHAT), ConversationKey(GROUP, 4)
    assert await store.receive(asked, 100)
    await store.reply_started(asked, 100)
    await store.reply_shown(asked, 101)
    assert await store.receive(waiting_one, 200)
    await store.waiting(waiting_one, 200)
    done = ConversationKey(CHAT, 9)
    await store.reply_started(done, 300)
    await store.reply_finished(done)
    assert await store.take_interrupted(alone=True) == [], "its own replies are no one else's to take"
    restarted = await replicas()  # this process after a restart: alone, as in polling mode
    taken = await restarted.take_interrupted(alone=True)
    assert [(t.key, t.message_id, t.reply_message_id, t.started) for t in taken] == [
        (asked, 100, 101, True),
        (waiting_one, 200, None, False),
    ]
    assert await restarted.take_interrupted(alone=True) == []


async def test_a_question_whose_turn_ended_is_not_left_waiting(
    store: Store, replicas: Callable[[], Awaitable[Store]]
) -> None:
    key = ConversationKey(CHAT)
    assert await store.receive(key, 1)
    await store.waiting(key, 1)
    await store.waiting(key, 1, False)
    assert await (await replicas()).take_interrupted(alone=True) == []


async def test_a_message_received_twice_is_handled_once(store: Store) -> None:
    key = ConversationKey(CHAT)
    assert await store.receive(key, 42) is True
    assert await store.receive(key, 42) is False
    assert await store.receive(ConversationKey(GROUP), 42) is True, "message ids are per chat"


async def test_an_update_is_kept_once_until_it_is_handled(store: Store) -> None:
    assert await store.put_update(7, '{"update_id": 7}') is True
    assert await store.put_update(7, '{"update_id": 7}') is False, "delivered again: kept once"
    assert await store.put_update(5, '{"update_id": 5}') is True
    assert await store.pending_updates() == [(5, '{"update_id": 5}'), (7, '{"update_id": 7}')]
    await store.update_done(5)
    assert await store.pending_updates() == [(7, '{"update_id": 7}')]
    assert await store.pending_updates(limit=0) == []
    assert await store.put_update(5, "{}") is False, "a handled update delivered again is not handled again"


async def test_a_chats_updates_go_to_one_replica_at_a_time_in_order(
    store: Store, replicas: Callable[[], Awaitable[Store]]
) -> None:
    a, b = store, await replicas()
    x, y = CHAT, GROUP
    for update_id, chat in ((1, x), (2, y), (3, x)):
        assert await a.put_update(update_id, f"u{update_id}", chat, update_id)
    assert await a.claim_updates() == [(1, "u1"), (2, "u2"), (3, "u3")]
    assert await b.claim_updates() == [], "both chats are held by the other replica"
    await a.update_done(1)
    assert await b.put_update(4, "u4", x, 4)  # received by the other replica while the chat is held
    assert await b.claim_updates() == [], "the chat's updates stay with the replica that holds it"
    assert await a.claim_updates() == [(4, "u4")]
    for update_id in (2, 3, 4):
        await a.update_done(update_id)
    assert await b.put_update(5, "u5", x, 5)
    assert await b.claim_updates() == [(5, "u5")], "a chat with nothing left is free again"
    assert await a.claim_updates() == []


async def test_a_replica_gone_hands_its_updates_and_waiting_questions_over(
    store: Store, replicas: Callable[[], Awaitable[Store]]
) -> None:
    a, b = store, await replicas()
    key = ConversationKey(CHAT)
    for update_id in (10, 11, 12):
        assert await a.put_update(update_id, f"u{update_id}", CHAT, update_id)
    assert [u for u, _ in await a.claim_updates()] == [10, 11, 12]
    assert await a.receive(key, 10) and await a.receive(key, 11) and await a.receive(key, 12)
    await a.waiting(key, 10)  # being answered when the replica died
    await a.reply_started(key, 10)
    await a.reply_shown(key, 100)
    await a.waiting(key, 11)  # waiting for its turn
    assert await b.take_interrupted() == [], "a live replica's work is its own"
    assert await b.claim_updates() == []
    await a.leave()  # as gone as a replica not seen for REPLICA_TIMEOUT seconds
    taken = await b.take_interrupted()
    assert [(t.message_id, t.reply_message_id, t.started) for t in taken] == [(10, 100, True)]
    assert [u for u, _ in await b.claim_updates()] == [10, 11, 12], "every update not handled is handled here"
    assert await b.receive(key, 10) is False, "the interrupted answer is not started again"
    assert await b.receive(key, 11) is True, "the waiting question is answered here"
    assert await b.receive(key, 12) is False, "received, never waited: it was handled (a command, a button)"


async def test_provider_cooldowns_and_live_replicas_are_shared(
    store: Store, replicas: Callable[[], Awaitable[Store]]
) -> None:
    a, b = store, await replicas()
    assert await a.alive_count() == 2
    await a.set_cooldown("ollama", 4_000_000_000.0)
    await a.set_cooldown("ollama", 10.0)  # an older news never shortens it
    await a.set_cooldown("gone", 10.0)  # long over
    assert await b.cooldowns() == {"ollama": 4_000_000_000.0}
    await b.clear_cooldown("ollama")
    assert await a.cooldowns() == {}
    await b.leave()
    assert await a.alive_count() == 1


async def test_an_earlier_run_on_this_host_is_taken_over_at_once_not_after_the_timeout(
    replicas: Callable[..., Awaitable[Store]],
) -> None:
    import socket
    import sys

    child = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await child.wait()
    dead_pid = child.pid  # a process of this host that is gone
    host = socket.gethostname()[:40]
    crashed = await replicas(f"{host}-{dead_pid}-before")
    await crashed.reply_started(ConversationKey(CHAT), 10)
    await replicas(f"{host}-{os.getpid()}-earlier")  # this process id's earlier run (a container's PID 1)
    alive = await replicas(f"{host}-{os.getppid()}-running")  # a process still running here
    elsewhere = await replicas(f"another-host-{dead_pid}-x")  # another host's: left to time out
    restarted = await replicas()
    gone = await restarted.forget_gone_here()
    assert sorted(gone) == sorted([f"{host}-{dead_pid}-before", f"{host}-{os.getpid()}-earlier"])
    taken = await restarted.take_interrupted()
    assert [(t.key, t.message_id) for t in taken] == [(ConversationKey(CHAT), 10)], "taken over at once"
    assert await restarted.alive_count() == 3  # alive, elsewhere, restarted
    assert alive.replica_id != elsewhere.replica_id


def record(chat: int, user: int | None, tokens: int, *, cost: float | None = 0.01, at: float = NOW) -> UsageRecord:
    return UsageRecord(ConversationKey(chat), user, f"user {user}", "openai", "gpt-4o-mini", tokens, 1, False, cost, at)


async def test_the_usage_ledger_sums_per_user_chat_and_model(store: Store) -> None:
    await store.record_usage(record(GROUP, 1, 100))
    await store.record_usage(record(GROUP, 2, 300, cost=None))
    await store.record_usage(record(CHAT, 1, 50))
    await store.record_usage(record(CHAT, 1, 1000, at=NOW - 100))  # before the period
    ann = await store.usage_totals(NOW - 10, user_id=1)
    assert (ann.answers, ann.prompt_tokens, ann.completion_tokens, ann.unpriced) == (2, 150, 2, False)
    assert ann.cost == pytest.approx(0.02) and ann.first_at == NOW
    group = await store.usage_totals(NOW - 10, chat_id=GROUP)
    assert (group.answers, group.tokens, group.unpriced) == (2, 402, True)
    everything = await store.usage_totals(0)
    assert everything.answers == 4
    assert (await store.usage_totals(NOW + 1)).answers == 0
    top = await store.top_users(GROUP, NOW - 10)
    assert [(t.label, t.tokens) for t in top] == [("user 2", 301), ("user 1", 101)]
    assert [(t.label, t.answers) for t in await store.usage_by_model(0)] == [("openai/gpt-4o-mini", 4)]


async def test_a_group_upgraded_to_a_supergroup_keeps_everything(store: Store) -> None:
    await store.add(ConversationKey(GROUP), "user", "before the upgrade")
    await store.save_chat_settings(GROUP, ChatSettings("openai"))
    await store.record_usage(record(GROUP, 1, 10))
    assert await store.receive(ConversationKey(GROUP), 7)
    await store.move_chat(GROUP, SUPERGROUP)
    assert [t.content for t in await store.recent(ConversationKey(SUPERGROUP), 5)] == ["before the upgrade"]
    assert await store.chat_settings(SUPERGROUP) == ChatSettings("openai")
    assert await store.chat_settings(GROUP) == ChatSettings()
    assert (await store.usage_totals(0, chat_id=SUPERGROUP)).answers == 1
    assert await store.receive(ConversationKey(SUPERGROUP), 7) is False


async def test_settings_made_after_the_upgrade_are_kept(store: Store) -> None:
    await store.save_chat_settings(GROUP, ChatSettings("old", "old-model"))
    await store.save_chat_settings(SUPERGROUP, ChatSettings("new", "new-model"))
    await store.move_chat(GROUP, SUPERGROUP)
    assert await store.chat_settings(SUPERGROUP) == ChatSettings("new", "new-model")
    assert await store.chat_settings(GROUP) == ChatSettings()


# -- PostgreSQL only ----------------------------------------------------------------------------


async def test_replicas_starting_together_migrate_once(postgres_url: str) -> None:
    stores = await asyncio.gather(*(PostgresStore.open(postgres_url) for _ in range(4)))
    try:
        assert {await s.schema_version() for s in stores} == {len(POSTGRES_MIGRATIONS)}
        await stores[0].add(ConversationKey(CHAT), "user", "shared")
        assert [t.content for t in await stores[3].recent(ConversationKey(CHAT), 5)] == ["shared"]
    finally:
        for opened in stores:
            await opened.close()


@pytest.mark.parametrize(
    ("mangle", "words"),
    [
        (lambda url: url.replace("bot@", "nobody:secret-pw@"), "refused the user name or password"),
        (lambda url: url.rsplit("/", 1)[0] + "/no_such_db", "no such database"),
        (lambda url: f"postgresql://bot:secret-pw@127.0.0.1:{free_port()}/bot", "connection refused"),
    ],
)
async def test_a_wrong_url_is_one_storage_error_naming_the_setting_never_the_password(
    postgres_url: str, mangle: object, words: str
) -> None:
    url = mangle(postgres_url)  # type: ignore[operator]
    with pytest.raises(StorageError) as raised:
        await PostgresStore.open(url)
    message = str(raised.value)
    assert message.startswith("DATABASE_URL ") and words in message, message
    assert "secret-pw" not in message and "\n" not in message


async def test_a_server_lost_while_running_is_waited_for_and_nothing_stored_is_lost(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    opened = await PostgresStore.open(postgres_url, reconnect_seconds=60)
    try:
        key = ConversationKey(CHAT)
        await opened.add(key, "user", "before")
        postgres_server.kill()
        restarting = asyncio.get_running_loop().run_in_executor(None, postgres_server.restart)
        await opened.add(key, "assistant", "while it was down")  # waits for the server, then goes in
        await restarting
        assert [t.content for t in await opened.recent(key, 5)] == ["before", "while it was down"]
    finally:
        await opened.close()


async def test_a_server_gone_for_longer_than_the_wait_is_one_storage_error(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    opened = await PostgresStore.open(postgres_url, reconnect_seconds=1)
    try:
        postgres_server.kill()
        with pytest.raises(StorageError, match="cannot be reached"):
            await opened.count(ConversationKey(CHAT))
    finally:
        postgres_server.restart()
        await opened.close()


async def test_group_messages_kept_for_context_are_bounded_taken_once_and_cleared(store: Store) -> None:
    key, topic = ConversationKey(GROUP), ConversationKey(GROUP, 7)
    for n in range(3):
        await store.note_group_message(key, f"member{n}", f"message {n}", keep=2)
    await store.note_group_message(topic, None, "in a topic", keep=2)
    assert await store.take_group_context(key) == [("member1", "message 1"), ("member2", "message 2")]
    assert await store.take_group_context(key) == [], "taken once"
    await store.note_group_message(topic, "Ann", "again", keep=2)
    await store.clear(topic)
    assert await store.take_group_context(topic) == [], "/reset forgets them"
