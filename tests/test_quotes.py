"""The replied-to message as the model gets it (bot.turns.quotes), at its bounds."""

from __future__ import annotations

from bot.state.storage import StoredMessage
from bot.turns.quotes import QUOTE_MAX_CHARS, Quote, already_known, quoted_question


def turn(role: str, content: str) -> StoredMessage:
    return StoredMessage(id=1, role=role, content=content, author=None, created_at=0.0)  # type: ignore[arg-type]


def test_a_quote_is_cut_one_past_its_bound_not_at_it() -> None:
    at, past = "y" * QUOTE_MAX_CHARS, "y" * (QUOTE_MAX_CHARS + 1)
    assert quoted_question(Quote(at, "Ann"), "q") == f"Quoting Ann:\n> {at}\n\nq"
    assert quoted_question(Quote(past, "Ann"), "q") == f"Quoting Ann:\n> {at}…\n\nq"


def test_lines_are_quoted_and_an_empty_question_leaves_the_quote() -> None:
    assert quoted_question(Quote("a\n\nb"), "") == "Quoting:\n> a\n>\n> b"


def test_only_the_latest_answer_whole_is_known() -> None:
    history = [turn("user", "q1"), turn("assistant", "Older answer."), turn("user", "q2"), turn("assistant", "Latest.")]
    assert already_known(Quote("Latest.", from_bot=True), history)
    assert already_known(Quote("Latest.\n\n↪️ answered by another model", from_bot=True), history), "with its notes"
    assert not already_known(Quote("Older answer.", from_bot=True), history)
    assert not already_known(Quote("Latest.", from_bot=True, partial=True), history), "a chosen part says which"
    assert not already_known(Quote("Latest.", author="Ann"), history), "someone else's words"
