"""Pastes split by Telegram into several messages are one question; the rule at its edges, with a
clock the test moves (bot.handlers.gathering)."""

from __future__ import annotations

import asyncio
from typing import Any

from telegram import Chat, Message, User

from bot.handlers.gathering import PASTE_PART_MIN, PASTE_WINDOW, Gatherer, Piece, continues_paste

LONG = "x" * PASTE_PART_MIN
USER = User(5, "Ann", False)


def message(message_id: int, user: User = USER) -> Message:
    return Message(message_id, None, Chat(5, "private"), from_user=user)  # type: ignore[arg-type]


class Scene:
    """A gatherer on a clock the test sets, and the questions it asks, in order."""

    def __init__(self) -> None:
        self.now = 0.0
        self.gatherer = Gatherer(clock=lambda: self.now)
        self.asked: list[tuple[int, str]] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def finish(self, first: Message, context: Any, pieces: list[Piece]) -> None:
        self.asked.append((first.message_id, "\n".join(p.text for p in pieces)))

    async def send(self, at: float, message_id: int, text: str, user: User = USER) -> None:
        """A message arrives at ``at`` seconds; its handler runs until it would wait."""
        self.now = at
        self.tasks.append(asyncio.create_task(self.gatherer.paste(message(message_id, user), None, text, self.finish)))  # type: ignore[arg-type]
        for _ in range(5):
            await asyncio.sleep(0)

    async def end(self) -> list[tuple[int, str]]:
        """Time passes well beyond every window: everything held is asked."""
        self.now += 10 * PASTE_WINDOW
        for held in list(self.gatherer._pastes.values()):
            held.wake.set()
        await asyncio.wait_for(asyncio.gather(*self.tasks), 5)
        return self.asked


def test_the_rule_at_its_edges() -> None:
    assert continues_paste(PASTE_PART_MIN, 10.0, 10.0 + PASTE_WINDOW), "exactly at the window"
    assert not continues_paste(PASTE_PART_MIN, 10.0, 10.0 + PASTE_WINDOW + 0.001), "one past it"
    assert not continues_paste(PASTE_PART_MIN - 1, 10.0, 10.1), "a part one short of the length starts no paste"


async def test_a_three_part_paste_is_one_question_with_its_parts_in_order() -> None:
    scene = Scene()
    await scene.send(0.0, 1, LONG)
    await scene.send(0.2, 2, LONG.replace("x", "y"))
    await scene.send(0.3, 3, "tail")
    assert scene.asked == [], "held until the window after the last part"
    assert await scene.end() == [(1, "\n".join([LONG, LONG.replace("x", "y"), "tail"]))]


async def test_a_part_exactly_at_the_window_joins_and_one_past_is_a_question_after_it() -> None:
    scene = Scene()
    await scene.send(0.0, 1, LONG)
    await scene.send(PASTE_WINDOW, 2, "end")
    await scene.send(2 * PASTE_WINDOW + 0.001, 3, "a follow-up")
    assert await scene.end() == [(1, f"{LONG}\nend"), (3, "a follow-up")]
    scene = Scene()
    await scene.send(0.0, 1, LONG)
    await scene.send(PASTE_WINDOW + 0.001, 2, "a follow-up")
    assert scene.asked[0] == (1, LONG), "the paste is asked first, at once"
    assert await scene.end() == [(1, LONG), (2, "a follow-up")]


async def test_short_messages_are_never_held_nor_joined() -> None:
    scene = Scene()
    await scene.send(0.0, 1, "x" * (PASTE_PART_MIN - 1))
    assert scene.asked == [(1, "x" * (PASTE_PART_MIN - 1))], "asked at once"
    await scene.send(0.1, 2, "hello")
    await scene.send(0.2, 3, "world")
    assert scene.asked[1:] == [(2, "hello"), (3, "world")]
    await scene.send(0.3, 4, LONG)
    await scene.send(0.4, 5, "its tail")
    await scene.send(0.5, 6, "a short follow-up")
    assert await scene.end() == [*scene.asked[:3], (4, f"{LONG}\nits tail"), (6, "a short follow-up")]


async def test_someone_elses_message_is_not_a_part() -> None:
    scene = Scene()
    await scene.send(0.0, 1, LONG)
    await scene.send(0.1, 2, "mine", user=User(6, "Bob", False))
    assert await scene.end() == [(2, "mine"), (1, LONG)]
