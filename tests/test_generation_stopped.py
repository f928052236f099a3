"""Telegram's own stop under a draft: the ``stopped_message_generation`` update (Bot API 10.3), read
from the update python-telegram-bot 22.8 does not know, asked for, and routed to the chat's replica."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Update

from bot.app.webhook import update_chat
from bot.telegram.generation import ALLOWED_UPDATES, GenerationStopped, generation_stopped


def update(event: Any) -> Update:
    return Update.de_json({"update_id": 9, "stopped_message_generation": event}, None)


def test_the_event_is_read_from_the_update() -> None:
    chat = {"id": 42, "type": "private", "first_name": "A"}
    assert generation_stopped(update({"chat": chat, "draft_id": 7})) == GenerationStopped(42, None, 7)
    assert generation_stopped(update({"chat": chat, "draft_id": 7, "message_thread_id": 3})) == GenerationStopped(
        42, 3, 7
    )


@pytest.mark.parametrize(
    "event",
    [
        None,
        "x",
        {"draft_id": 7},
        {"chat": {"id": "42"}, "draft_id": 7},
        {"chat": {"id": 42}},
        {"chat": {"id": 42}, "draft_id": 0},
    ],
)
def test_a_malformed_event_is_none(event: Any) -> None:
    assert generation_stopped(update(event)) is None


def test_other_updates_are_not_stops() -> None:
    message = {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "hi"}
    assert generation_stopped(Update.de_json({"update_id": 1, "message": message}, None)) is None


def test_the_bot_asks_for_it_and_a_replica_takes_it_with_its_chat() -> None:
    assert "stopped_message_generation" in ALLOWED_UPDATES and set(Update.ALL_TYPES) <= set(ALLOWED_UPDATES)
    data = {"update_id": 5, "stopped_message_generation": {"chat": {"id": 42, "type": "private"}, "draft_id": 7}}
    assert update_chat(data) == (42, None)
