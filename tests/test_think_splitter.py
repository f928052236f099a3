"""Inline <think> blocks become Reasoning events, wherever the chunks split the tags."""

from __future__ import annotations

import pytest

from providers import Reasoning
from providers.reasoning import ThinkSplitter


def split(chunks: list[str]) -> tuple[str, str]:
    splitter = ThinkSplitter()
    pieces = [p for chunk in chunks for p in splitter.feed(chunk)] + splitter.flush()
    text = "".join(p for p in pieces if isinstance(p, str))
    thinking = "".join(p.text for p in pieces if isinstance(p, Reasoning))
    return text, thinking


CASES = [
    ("<think>Let me think.</think>\n\nThe answer.", "The answer.", "Let me think."),
    ("  \n<think>a</think>Answer", "Answer", "a"),
    ("Plain answer, no thinking.", "Plain answer, no thinking.", ""),
    ("An answer that mentions <think> tags.", "An answer that mentions <think> tags.", ""),
    ("<think>never closed", "", "never closed"),
    ("<thin", "<thin", ""),
    ("<think></think>Only the answer", "Only the answer", ""),
]


@pytest.mark.parametrize(("whole", "text", "thinking"), CASES)
def test_every_split_of_the_content_gives_the_same_text_and_thinking(whole: str, text: str, thinking: str) -> None:
    assert split([whole]) == (text, thinking)
    for cut in range(1, len(whole)):
        assert split([whole[:cut], whole[cut:]]) == (text, thinking), cut
    assert split(list(whole)) == (text, thinking), "one character a chunk"


def test_a_block_after_the_answer_began_is_text() -> None:
    assert split(["Answer first. ", "<think>not thinking</think>"]) == (
        "Answer first. <think>not thinking</think>",
        "",
    )
