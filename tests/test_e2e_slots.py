"""Local servers with few slots (issue 27, item 4): the chain sends a backend at most
``{NAME}_MAX_PARALLEL`` requests at once (or what llama-server's ``GET /props`` says), the rest
waiting in arrival order; an answer cut for good keeps what was shown."""

from __future__ import annotations

import sqlite3

import pytest

from .fakes.openai import Reply
from .harness import BotHarness

A, B = 501, 502
ANSWER = "Slot by slot, one answer after the other, each of them whole. " * 8


def answers_of(harness: BotHarness, chat: int) -> list[str]:
    with sqlite3.connect(harness.db_path) as db:
        rows = db.execute("SELECT content FROM messages WHERE chat_id = ? AND role = 'assistant' ORDER BY id", (chat,))
        return [row[0] for row in rows]


async def ask_both(harness: BotHarness) -> None:
    """Start the bot; chat A asks, and once A's answer shows, chat B asks (so B arrives while A is
    being written); return once both replies are finished."""
    telegram = harness.telegram
    harness.llm.default = Reply(ANSWER, chunk_size=20, delay=0.03)
    await harness.start()
    telegram.user_message(A, "first question")
    await telegram.wait_for(lambda: bool(telegram.bot_messages(A)))
    telegram.user_message(B, "second question")
    await harness.wait_replies(B)
    await harness.wait_replies(A)


async def test_a_one_slot_server_gets_one_request_at_a_time_and_both_chats_get_whole_answers(
    harness: BotHarness,
) -> None:
    """llama-cpp-python with one slot and interrupt_requests: with OPENAI_MAX_PARALLEL=1, B waits for
    A instead of cutting it; 2 requests for 2 questions."""
    llm = harness.llm
    llm.flavor, llm.interrupt_requests = "llama-cpp-python", True
    harness.environ["OPENAI_MAX_PARALLEL"] = "1"
    await ask_both(harness)
    assert harness.telegram.bot_texts(A) == [ANSWER.strip()] and harness.telegram.bot_texts(B) == [ANSWER.strip()]
    assert len(llm.requests) == 2 and llm.peak_streaming == 1
    assert not [event for _, event in llm.timeline if event == "interrupted"]


@pytest.mark.parametrize("slots", [1, 2])
async def test_llama_server_says_how_many_slots_it_has(harness: BotHarness, slots: int) -> None:
    """No setting: llama-server's GET /props total_slots is the limit: with one slot B waits for A;
    with two (exactly at the limit) nobody waits and both streams run together."""
    llm = harness.llm
    llm.flavor, llm.total_slots = "llama-server", slots
    await ask_both(harness)
    assert harness.telegram.bot_texts(A) == [ANSWER.strip()] and harness.telegram.bot_texts(B) == [ANSWER.strip()]
    assert llm.peak_streaming == slots


async def test_an_answer_cut_for_good_keeps_what_was_shown_with_a_note_and_is_stored(harness: BotHarness) -> None:
    """Without a limit, B's request interrupts A's stream (the server ends it with [DONE] and no
    finish reason); with no retry left, A keeps the text it showed, says it was cut, and the history
    keeps it as shown."""
    llm = harness.llm
    llm.flavor, llm.interrupt_requests = "llama-cpp-python", True
    await ask_both(harness)
    [cut] = harness.telegram.bot_texts(A)
    shown, _, note = cut.partition("\n\n⚠️ ")
    assert shown and ANSWER.startswith(shown) and len(shown) < len(ANSWER.strip())
    assert note.startswith("Cut off here. ")
    assert harness.telegram.bot_texts(B) == [ANSWER.strip()]
    await harness.telegram.wait_for(lambda: [a.strip() for a in answers_of(harness, A)] == [shown])
