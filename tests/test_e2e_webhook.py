"""Webhook mode (WEBHOOK_URL): the fake Bot API POSTs updates to the bot as Telegram does."""

from __future__ import annotations

import json

import aiohttp
import pytest

from bot.app.webhook import MAX_BODY, SECRET_HEADER, WebhookError
from bot.state.storage import ConversationStore

from .fakes.openai import Reply
from .harness import BotHarness, Lines

CHAT = 4242
SECRET = "webhook-secret_0123"


async def test_a_conversation_by_webhook_never_polls(harness: BotHarness) -> None:
    url = harness.use_webhook(SECRET)
    harness.llm.then(Reply("Nice to meet you, Bob."), Reply("Your name is Bob."))
    await harness.start()
    [call] = harness.telegram.calls_of("setWebhook")
    assert call.params["url"] == url and call.params["secret_token"] == SECRET
    assert {"message", "callback_query", "edited_message"} <= set(call.params["allowed_updates"])
    assert not call.params.get("drop_pending_updates"), "other replicas' updates are never dropped"
    assert await harness.say(CHAT, "My name is Bob") == ["Nice to meet you, Bob."]
    assert await harness.say(CHAT, "What is my name?") == ["Your name is Bob."]
    assert [m["content"] for m in harness.llm.requests[-1]["messages"][1:]] == [
        "My name is Bob",
        "Nice to meet you, Bob.",
        "What is my name?",
    ]
    assert harness.telegram.calls_of("getUpdates") == [] and harness.telegram.calls_of("deleteWebhook") == []
    assert all(status == 200 for _, status in harness.telegram.webhook_posts)


def update(update_id: int, text: str, pad: int = 0) -> dict[str, object]:
    body: dict[str, object] = {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_800_000_000,
            "chat": {"id": CHAT, "type": "private", "first_name": "Ann"},
            "from": {"id": CHAT, "is_bot": False, "first_name": "Ann"},
            "text": text,
        },
    }
    if pad:
        body["padding"] = "x" * pad
    return body


def exactly(size: int, update_id: int, text: str) -> bytes:
    """An update's JSON of exactly ``size`` bytes (padded with a field PTB ignores)."""
    bare = len(json.dumps(update(update_id, text, pad=1)).encode()) - 1
    data = json.dumps(update(update_id, text, pad=size - bare)).encode()
    assert len(data) == size
    return data


async def test_requests_that_are_not_telegrams_updates_are_refused_and_not_handled(
    harness: BotHarness, lines: Lines
) -> None:
    url = harness.use_webhook(SECRET)
    await harness.start()
    ok = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
    cases = [
        ({"Content-Type": "application/json"}, json.dumps(update(901, "no secret")).encode(), 401),
        ({**ok, SECRET_HEADER: "wrong-secret"}, json.dumps(update(902, "wrong secret")).encode(), 403),
        (ok, exactly(MAX_BODY + 1, 903, "one byte over"), 413),
        (ok, b"<html>not json</html>", 400),
        (ok, json.dumps({"message": {"text": "no update_id"}}).encode(), 400),
        (ok, json.dumps({"update_id": True}).encode(), 400),
        (ok, exactly(MAX_BODY, 904, "exactly at the limit"), 200),
    ]
    async with aiohttp.ClientSession() as session:
        for headers, body, status in cases:
            async with session.post(url, data=body, headers=headers) as response:
                assert response.status == status, (status, body[:60])
    await harness.wait_replies(CHAT, 1)
    assert [m["messages"][-1]["content"] for m in harness.llm.requests] == ["exactly at the limit"]
    refusals = lines.matching("refused (")
    assert len(refusals) == 6 and not any("secret" in r.getMessage().split("refused")[1] for r in refusals)
    assert not any(SECRET in r.getMessage() for r in lines.records)


async def test_an_update_telegram_sends_again_is_answered_once(harness: BotHarness) -> None:
    harness.use_webhook(SECRET)
    await harness.start()
    asked = harness.telegram.user_message(CHAT, "only once, please")
    await harness.wait_replies(CHAT, 1, after=asked["message_id"])
    harness.telegram.redeliver(harness.telegram.last_update)
    [answer] = harness.telegram.bot_messages(CHAT)
    harness.telegram.press(CHAT, answer.message_id, f"s:{CHAT}:0")  # a Stop button left behind: one toast
    await harness.telegram.wait_for(lambda: len(harness.telegram.callback_answers) == 1)
    harness.telegram.redeliver(harness.telegram.last_update)  # a button press has no message id to tell
    await harness.telegram.wait_for(lambda: len(harness.telegram.webhook_posts) == 4)
    assert [status for _, status in harness.telegram.webhook_posts] == [200, 200, 200, 200]
    await harness.say(CHAT, "and the next one")
    assert [m["messages"][-1]["content"] for m in harness.llm.requests] == ["only once, please", "and the next one"]
    assert len(harness.telegram.callback_answers) == 1, "the press sent again was not handled again"


async def test_an_update_kept_but_not_handled_before_a_crash_is_handled_after_the_restart(
    harness: BotHarness,
) -> None:
    harness.use_webhook(SECRET)
    store = await ConversationStore.open(harness.db_path)
    await store.put_update(77, json.dumps(update(77, "asked just before the crash")))
    await store.close()
    await harness.start()
    await harness.wait_replies(CHAT, 1)
    assert harness.llm.requests[-1]["messages"][-1]["content"] == "asked just before the crash"
    await harness.restart()
    await harness.say(CHAT, "after the restart")
    assert len(harness.llm.requests) == 2, "handled once: not again at the second start"


async def test_a_webhook_port_in_use_is_one_error_naming_the_settings(harness: BotHarness) -> None:
    import socket

    harness.use_webhook(SECRET)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", harness.overrides["webhook_port"]))
        taken.listen()
        with pytest.raises(WebhookError, match=r"^WEBHOOK_LISTEN:WEBHOOK_PORT 127\.0\.0\.1:\d+ cannot be listened on"):
            await harness.start()


async def test_a_stopping_replica_hands_questions_still_waiting_to_the_next(harness: BotHarness) -> None:
    from bot.texts import NOT_ANSWERED, RESTARTING

    harness.use_webhook(SECRET)
    harness.overrides["shutdown_grace"] = 0.2
    harness.llm.then(Reply("A long answer that takes its time. " * 10, chunk_size=5, delay=0.2))
    await harness.start()
    harness.telegram.user_message(CHAT, "first question")
    await harness.telegram.wait_for(lambda: harness.telegram.writing(CHAT))
    harness.telegram.user_message(CHAT, "second question")  # waits for its turn behind the first
    waiting = harness.telegram.last_update_id
    await harness.telegram.wait_for(lambda: waiting in harness.telegram.delivered)
    await harness.stop()  # SIGTERM: the first answer is cut after the grace, the second is handed over
    texts = harness.telegram.bot_texts(CHAT)
    assert RESTARTING not in texts and NOT_ANSWERED not in texts, texts
    await harness.start()
    await harness.telegram.wait_for(lambda: "Hello from the fake model." in harness.telegram.bot_texts(CHAT), 30)
    assert harness.llm.requests[-1]["messages"][-1]["content"] == "second question"
    assert len(harness.llm.requests) == 2, "the first question was not asked again"
    assert NOT_ANSWERED not in harness.telegram.bot_texts(CHAT)
