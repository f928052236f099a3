"""Faults a running bot meets, through the real Application: messages deleted, a chat that blocks the
bot, a group upgraded to a supergroup, Bot API errors and slowness, a second instance on the same
token, and a database that stops accepting writes. Each is survived; the user sees one clear thing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from bot import texts
from bot.app import wiring as app_module
from bot.app.polling import AnotherInstanceError
from bot.state.storage import ConversationKey, ConversationStore

from .fakes.openai import FakeOpenAI, Reply
from .fakes.telegram import BOT_USERNAME, FakeBotApi
from .harness import BotHarness, Lines

CHAT = 4711
GROUP = -300
ANSWER = "One two three four five six seven eight nine ten. " * 6


def stored_roles(harness: BotHarness) -> list[str]:
    with sqlite3.connect(harness.db_path) as db:
        return [row[0] for row in db.execute("SELECT role FROM messages WHERE chat_id = ? ORDER BY id", (CHAT,))]


def slow_answer(text: str = ANSWER) -> Reply:
    return Reply(text, chunk_size=12, delay=0.03)


async def test_the_bots_message_deleted_mid_stream_continues_in_a_new_message(harness: BotHarness) -> None:
    harness.llm.default = slow_answer()
    await harness.start()
    harness.telegram.user_message(CHAT, "count to ten")
    await harness.telegram.wait_for(lambda: bool(harness.telegram.bot_messages(CHAT)))
    first = harness.telegram.bot_messages(CHAT)[0]
    harness.telegram.delete(CHAT, first.message_id)
    await harness.wait_replies(CHAT)
    assert harness.telegram.bot_texts(CHAT) == [ANSWER.strip()]
    assert harness.telegram.bot_messages(CHAT)[0].message_id != first.message_id
    harness.llm.default = Reply("ok")
    await harness.say(CHAT, "and again?")
    sent = harness.llm.requests[-1]["messages"]
    assert [m["content"] for m in sent[1:]] == ["count to ten", ANSWER, "and again?"]  # stored once


async def test_a_deleted_question_is_answered_without_the_reply_link(harness: BotHarness) -> None:
    harness.llm.default = Reply("Answer to a deleted question.", first_delay=0.3)
    harness.overrides["max_input_chars"] = 4096
    await harness.start()
    asked = harness.telegram.user_message(-77, f"@{BOT_USERNAME} hello", chat_type="group")
    harness.telegram.delete(-77, asked["message_id"])
    await harness.wait_replies(-77)
    [answer] = harness.telegram.bot_messages(-77)
    assert answer.text == "Answer to a deleted question." and answer.reply_to is None
    # a refusal sent with reply_text (not streamed; it quotes in groups) goes out the same way
    refused = harness.telegram.user_message(-77, f"@{BOT_USERNAME} " + "x" * 5000, chat_type="group")
    harness.telegram.delete(-77, refused["message_id"])
    await harness.telegram.wait_for(lambda: len(harness.telegram.bot_texts(-77)) == 2)
    assert harness.telegram.bot_texts(-77)[1].startswith("That message is too long")
    assert "message to be replied not found" not in [e for _, e in harness.telegram.errors]


async def test_a_user_who_blocks_the_bot_mid_stream_ends_that_reply_without_a_retry_storm(
    harness: BotHarness, lines: Lines
) -> None:
    harness.llm.default = Reply(ANSWER * 4, chunk_size=12, delay=0.03)
    await harness.start()
    harness.telegram.user_message(CHAT, "write a lot")
    await harness.telegram.wait_for(lambda: bool(harness.telegram.bot_messages(CHAT)))
    harness.telegram.block(CHAT)
    blocked_at = len(harness.telegram.calls)
    # The user sees nothing more; the provider sees the bot stop reading the answer.
    await harness.telegram.wait_for(lambda: harness.llm.timeline[-1][1] == "client_gone")
    after = [c for c in harness.telegram.calls[blocked_at:] if c.params.get("chat_id") == CHAT]
    assert len(after) <= 2, [c.method for c in after]  # the request in flight, then nothing
    assert len(lines.matching("cannot write there any more")) == 1
    assert len(harness.llm.requests) == 1
    harness.telegram.blocked.clear()  # unblocked later: the question is still in the history
    harness.llm.default = Reply("welcome back")
    assert await harness.say(CHAT, "I'm back") == ["welcome back"]
    assert [m["content"] for m in harness.llm.requests[-1]["messages"][1:]] == ["write a lot", "I'm back"]
    # The abandoned reply could not remove its Stop button; pressed now, it stops nothing (not even
    # the reply being written) and goes away.
    stale = harness.telegram.bot_messages(CHAT)[0]
    [[button]] = stale.reply_markup["inline_keyboard"]
    harness.llm.default = Reply("word " * 100, chunk_size=5, delay=0.01)
    asked = harness.telegram.user_message(CHAT, "write again")
    await harness.telegram.wait_for(lambda: harness.telegram.writing(CHAT, after=asked["message_id"]))
    harness.telegram.press(CHAT, stale.message_id, button["callback_data"], user_id=CHAT)
    await harness.telegram.wait_for(lambda: bool(harness.telegram.callback_answers))
    assert harness.telegram.callback_answers[-1]["text"] == texts.STOP_STALE
    await harness.telegram.wait_for(lambda: harness.telegram.messages[(CHAT, stale.message_id)].reply_markup is None)
    assert await harness.wait_replies(CHAT, after=asked["message_id"]) == [("word " * 100).strip()]


async def test_a_group_upgraded_to_a_supergroup_keeps_its_history_and_settings(harness: BotHarness) -> None:
    telegram = harness.telegram
    await harness.start()
    old, new = -400, -100400
    telegram.chat_members[(old, 1001)] = "creator"
    await harness.say(old, f"@{BOT_USERNAME} remember the word 'teal'", chat_type="group")
    telegram.user_message(old, "/model fake-large", chat_type="group")
    await telegram.wait_for(lambda: any("Model for this chat" in t for t in telegram.bot_texts(old)))
    telegram.chat(new, "supergroup")
    telegram.user_message(old, chat_type="group", extra={"migrate_to_chat_id": new})
    telegram.user_message(new, chat_type="supergroup", extra={"migrate_from_chat_id": old})
    await telegram.wait_for(lambda: any(c.method == "getUpdates" for c in telegram.calls[-2:]))
    harness.llm.default = Reply("teal")
    assert await harness.say(new, f"@{BOT_USERNAME} which word?") == ["teal"]
    request = harness.llm.requests[-1]
    assert request["model"] == "fake-large"
    assert "remember the word 'teal'" in request["messages"][1]["content"]


async def test_bot_api_errors_during_polling_are_one_line_each_and_the_bot_recovers(
    harness: BotHarness, lines: Lines
) -> None:
    harness.telegram.fail("getUpdates", 502, "Bad Gateway", times=2)
    await harness.start()
    assert await harness.say(CHAT, "still there?") == ["Hello from the fake model."]
    failures = lines.matching("getUpdates failed, retrying")
    assert len(failures) == 2 and all(r.exc_info is None for r in failures)


async def test_bot_api_errors_and_slow_answers_during_edits_still_deliver_the_exact_answer(
    harness: BotHarness,
) -> None:
    harness.llm.default = slow_answer()
    await harness.start()
    harness.telegram.fail("editMessageText", 502, "Bad Gateway")
    harness.telegram.slow("editMessageText", 6.0)  # longer than the bot's 5 s read timeout
    assert await harness.say(CHAT, "count") == [ANSWER.strip()]


@pytest.mark.parametrize("method", ["sendMessage", "editMessageText", "getUpdates"])
async def test_a_200_answer_that_is_not_json_is_retried_like_a_network_error(
    harness: BotHarness, lines: Lines, method: str
) -> None:
    # A proxy cutting the body (or a captive portal): PTB's base TelegramError("Invalid server response").
    harness.llm.default = slow_answer()
    await harness.start()
    harness.telegram.garble(method)
    assert await harness.say(CHAT, "count") == [ANSWER.strip()]
    await harness.telegram.wait_for(lambda: stored_roles(harness) == ["user", "assistant"])  # the answer is stored
    assert not lines.matching("Can not load invalid JSON data"), "no traceback of the body"


async def test_a_server_answering_long_polls_at_once_is_not_asked_in_a_tight_loop(harness: BotHarness) -> None:
    harness.telegram.ignores_poll_timeout = True
    await harness.start()
    started, before = time.monotonic(), len(harness.telegram.calls_of("getUpdates"))
    await harness.telegram.wait_for(lambda: len(harness.telegram.calls_of("getUpdates")) >= before + 3)
    assert await harness.say(CHAT, "still answering?") == ["Hello from the fake model."]
    polls = len(harness.telegram.calls_of("getUpdates")) - before
    # Without the floor: hundreds a second. A busy machine only polls less.
    assert polls <= (time.monotonic() - started) / 0.5 + 3


async def test_a_message_delivered_twice_is_answered_and_stored_once_also_across_a_restart(
    harness: BotHarness, lines: Lines
) -> None:
    telegram = harness.telegram
    await harness.start()
    asked = telegram.user_message(CHAT, "only once")
    telegram.redeliver(telegram.last_update)  # the same update twice in one batch
    await harness.wait_replies(CHAT, after=asked["message_id"])
    telegram.push({"message": telegram.last_update["message"]})  # the same message in a later update
    await lines.wait_for("delivered again; skipped")
    await harness.restart()
    telegram.push({"message": asked})  # and again after a restart
    assert await harness.say(CHAT, "next") == ["Hello from the fake model."]
    await telegram.wait_for(lambda: len(lines.matching("delivered again; skipped")) == 3)
    await telegram.wait_for(lambda: stored_roles(harness) == ["user", "assistant", "user", "assistant"])
    assert len(harness.llm.requests) == 2, "answered and stored once"


async def test_transient_bot_api_failures_at_start_up_are_retried_and_the_command_menu_is_optional(
    harness: BotHarness, lines: Lines, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "STARTUP_BACKOFF", 0.01)
    harness.telegram.fail("getMe", 502, "Bad Gateway", times=2)
    harness.telegram.fail("deleteWebhook", 500, "Internal Server Error", times=1)
    harness.telegram.fail("setMyCommands", 500, "Internal Server Error", times=app_module.STARTUP_ATTEMPTS)
    await harness.start()
    assert await harness.say(CHAT, "up?") == ["Hello from the fake model."]
    assert len(lines.matching("getMe failed (Bad Gateway); trying again")) == 2
    assert lines.matching("setMyCommands failed") and lines.matching("command menu may be out of date")


async def test_a_bot_api_that_rejects_the_token_is_one_line_naming_the_token_and_the_url(
    harness: BotHarness, tmp_path: Path
) -> None:
    from .test_main import ROOT, _env, _run

    env = _env(
        PYTHONPATH=str(ROOT),
        TELEGRAM_BOT_TOKEN="123456:wrong-token",
        TELEGRAM_BASE_URL=harness.telegram.base_url,
        OPENAI_API_KEY="sk-test",
        DATABASE_PATH=str(tmp_path / "bot.sqlite3"),
    )
    code, out = await _run(env, tmp_path)
    assert code == 2 and out.strip() == (
        f"Configuration error: the Bot API at TELEGRAM_BASE_URL ({harness.telegram.base_url}) rejected"
        " TELEGRAM_BOT_TOKEN (401 or 404): check the token, and TELEGRAM_BASE_URL if you changed it"
    )
    assert "wrong-token" not in out


async def test_a_second_instance_on_the_same_token_says_so_and_stops_while_the_first_keeps_serving(
    harness: BotHarness, telegram: FakeBotApi, llm: FakeOpenAI, tmp_path: Path, lines: Lines
) -> None:
    await harness.start()
    assert await harness.say(CHAT, "first") == ["Hello from the fake model."]
    # Its long poll outlasts the first instance's pause after a conflict (PTB waits 1 s), as in production.
    second = BotHarness(telegram, llm, tmp_path / "second.sqlite3", poll_timeout=10)
    try:
        await second.start()
        assert second._task is not None
        with pytest.raises(AnotherInstanceError, match="already running with this TELEGRAM_BOT_TOKEN"):
            await asyncio.wait_for(second._task, 10)  # it stops by itself
    finally:
        second._task = None
    assert await harness.say(CHAT, "still you?") == ["Hello from the fake model."]
    assert len(lines.matching("another instance polls with this bot token")) == 1


@pytest.mark.parametrize(
    "fault",
    ["PRAGMA query_only = ON", "PRAGMA max_page_count = 1"],
    ids=["read-only", "disk-full"],
)
async def test_a_database_that_refuses_writes_gets_one_sentence_and_loses_nothing(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch, lines: Lines, fault: str
) -> None:
    stores: list[ConversationStore] = []
    real_open = ConversationStore.open

    async def open_and_keep(path: Any) -> ConversationStore:
        stores.append(await real_open(path))
        return stores[-1]

    monkeypatch.setattr(ConversationStore, "open", open_and_keep)  # as bot.state.opening calls it
    await harness.start()
    assert await harness.say(CHAT, "kept question") == ["Hello from the fake model."]
    # The answer shown is stored just after; polled from outside the bot.
    while await stores[-1].count(ConversationKey(CHAT)) < 2:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    db = stores[-1]._db
    undo = "PRAGMA query_only = OFF" if "query_only" in fault else "PRAGMA max_page_count = 1073741823"
    await db.execute(fault)
    if "max_page_count" in fault:  # as full as the disk allows: one more row does not fit
        async with db.execute("PRAGMA page_count") as cursor:
            await db.execute(f"PRAGMA max_page_count = {(await cursor.fetchone())[0]}")
    harness.telegram.user_message(CHAT, "y" * 4000)
    await harness.telegram.wait_for(lambda: texts.STORAGE_ERROR in harness.telegram.bot_texts(CHAT))
    assert len(harness.llm.requests) == 1  # no answer is written that could not be kept
    [logged] = lines.matching("storage failed")
    assert logged.exc_info is None
    await db.execute(undo)
    assert await harness.say(CHAT, "and now?") == ["Hello from the fake model."]
    contents = [m["content"] for m in harness.llm.requests[-1]["messages"][1:]]
    assert contents == ["kept question", "Hello from the fake model.", "and now?"]


async def test_a_database_file_deleted_while_running_is_put_back_and_nothing_is_lost(
    harness: BotHarness, lines: Lines
) -> None:
    """rm bot.sqlite3* while the bot runs: the next question is answered with the whole history,
    the file is put back (one line in the log), and after a restart the model sees every turn."""
    await harness.start()
    assert await harness.say(CHAT, "first") == ["Hello from the fake model."]
    await harness.telegram.wait_for(lambda: len(stored_roles(harness)) == 2)
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{harness.db_path}{suffix}")
    assert await harness.say(CHAT, "second") == ["Hello from the fake model."]
    await lines.wait_for("was deleted while the bot runs; it was put back")
    await harness.telegram.wait_for(lambda: harness.db_path.exists() and len(stored_roles(harness)) == 4)
    await harness.restart()
    assert await harness.say(CHAT, "third") == ["Hello from the fake model."]
    contents = [m["content"] for m in harness.llm.requests[-1]["messages"][1:]]
    assert contents == ["first", "Hello from the fake model.", "second", "Hello from the fake model.", "third"]


async def test_a_database_locked_by_another_process_still_answers_and_writes_everything_once_free(
    harness: BotHarness, lines: Lines
) -> None:
    """An operator's sqlite3 shell holds the write lock (BEGIN IMMEDIATE): questions are answered
    with the whole history (no storage sentence), and once the lock is released every turn is
    written, in order; the next question sees them all."""
    await harness.start()
    assert await harness.say(CHAT, "before the lock") == ["Hello from the fake model."]
    await harness.telegram.wait_for(lambda: len(stored_roles(harness)) == 2)
    shell = sqlite3.connect(harness.db_path, timeout=0, isolation_level=None)
    shell.execute("BEGIN IMMEDIATE")
    try:
        assert await harness.say(CHAT, "while locked") == ["Hello from the fake model."]
        assert await harness.say(CHAT, "still locked") == ["Hello from the fake model."]
        contents = [m["content"] for m in harness.llm.requests[-1]["messages"][1:]]
        assert contents[-3:] == ["while locked", "Hello from the fake model.", "still locked"]
        assert len(stored_roles(harness)) == 2, "nothing could be written meanwhile"
        await lines.wait_for("is locked by another process")
    finally:
        shell.rollback()
        shell.close()
    await harness.telegram.wait_for(lambda: len(stored_roles(harness)) == 6)
    await lines.wait_for("the database is free again")
    assert texts.STORAGE_ERROR not in harness.telegram.bot_texts(CHAT)
    assert await harness.say(CHAT, "after") == ["Hello from the fake model."]
    contents = [m["content"] for m in harness.llm.requests[-1]["messages"][1:]]
    assert contents == [
        "before the lock",
        "Hello from the fake model.",
        "while locked",
        "Hello from the fake model.",
        "still locked",
        "Hello from the fake model.",
        "after",
    ]


async def test_a_base_url_without_v1_is_diagnosed_at_start_up_and_the_user_is_told_it_is_a_setting(
    harness: BotHarness, lines: Lines
) -> None:
    harness.overrides["openai_base_url"] = harness.llm.base_url.removesuffix("/v1")
    await harness.start()
    await lines.wait_for("provider openai:")
    [probe] = lines.matching("provider openai:")
    assert probe.levelname == "WARNING" and "OPENAI_BASE_URL probably needs /v1 at the end" in probe.getMessage()
    assert await harness.say(CHAT, "hello") == [
        "The bot's address for the language model is wrong; the bot's owner needs to fix it (see the bot's log)."
    ]
    assert "probably needs /v1" in (await lines.wait_for("no answer:")).getMessage()  # logged just after


@pytest.mark.parametrize(
    ("key", "words"),
    [("sk-test-secret-key-0123456789", "reachable, 2 models listed, default fake-small"), ("wrong", "was refused")],
    ids=["good-key", "refused-key"],
)
async def test_each_provider_is_checked_once_at_start_up(
    harness: BotHarness, lines: Lines, key: str, words: str
) -> None:
    harness.llm.api_key = "sk-test-secret-key-0123456789"
    harness.overrides["openai_api_key"] = key
    await harness.start()
    await lines.wait_for("provider openai:")
    [probe] = lines.matching("provider openai:")
    assert words in probe.getMessage() and key not in probe.getMessage()


@pytest.mark.parametrize("how", ["garbled", "reset", "timeout"])
@pytest.mark.parametrize("chat", [CHAT, GROUP])
async def test_a_send_whose_answer_was_lost_leaves_no_duplicate_and_no_stop_button(
    harness: BotHarness, lines: Lines, chat: int, how: str
) -> None:
    # Telegram carried the sendMessage out, the answer never came back: the reply sends again and
    # the first copy, with its Stop button, is found among the ids the bot does not know and deleted.
    telegram = harness.telegram
    question = "count"
    if chat == GROUP:
        telegram.chat(GROUP, "supergroup")
        question = f"@{BOT_USERNAME} count"
    harness.llm.default = slow_answer()
    await harness.start()
    telegram.lose("sendMessage", how=how)
    assert await harness.say(chat, question) == [ANSWER.strip()]
    copies = [m for (c, _), m in telegram.messages.items() if c == chat and m.from_bot]
    assert len(copies) == 2 and copies[0].deleted and not copies[1].deleted
    assert not copies[1].shows_stop()
    await lines.wait_for("sent twice after its answer was lost")
    assert [m.text for (c, _), m in telegram.messages.items() if c == chat and not m.from_bot] == [question]


async def test_a_send_carried_out_after_its_resend_is_found_and_removed_when_the_reply_ends(
    harness: BotHarness, lines: Lines
) -> None:
    """Telegram carries the first sendMessage out 11 s late: the client gave up after its 5 s read
    timeout and sent again, so the first copy gets a higher id than the second, and it shows the
    Stop button. The reply looks for it above its own messages when it ends, and once more
    LOST_SEND_HORIZON seconds after the loss: the user is left with one answer and no Stop button."""
    telegram = harness.telegram
    harness.llm.default = slow_answer()
    await harness.start()
    telegram.slow("sendMessage", 11)
    asked = telegram.user_message(CHAT, "count")

    def copies() -> list[Any]:
        return [m for (c, i), m in sorted(telegram.messages.items()) if c == CHAT and m.from_bot]

    await telegram.wait_for(lambda: len(copies()) == 2 and copies()[1].deleted, timeout=40)
    first, late = copies()
    assert first.text == ANSWER.strip() and not first.deleted and first.reply_markup is None
    assert late.deleted and late.message_id > first.message_id > asked["message_id"]
    await lines.wait_for("sent twice after its answer was lost")
