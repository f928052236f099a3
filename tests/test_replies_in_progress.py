"""``bot.turns.replies.RepliesInProgress``: the reply being written per conversation, and shutdown."""

from __future__ import annotations

import asyncio

from bot.state.storage import ConversationKey
from bot.turns.replies import RepliesInProgress

KEY, OTHER = ConversationKey(1), ConversationKey(2, 7)


class Stream:
    def __init__(self, shown: tuple[int, ...] = ()) -> None:
        self.stopped: list[str] = []
        self.shown = shown

    def stop(self, note: str = "stopped") -> None:
        self.stopped.append(note)

    def shows(self, message_id: int) -> bool:
        return message_id in self.shown

    def shows_draft(self, draft_id: int) -> bool:
        return False


async def test_a_reply_is_known_while_it_runs_and_forgotten_however_it_ends() -> None:
    replies = RepliesInProgress()
    stream = Stream((10,))
    with replies.running(KEY, stream, requester_id=5) as active:
        assert replies.get(KEY) is active and active.requester_id == 5 and replies.get(OTHER) is None
        assert not active.finished.is_set()
    assert replies.get(KEY) is None and active.finished.is_set()
    try:
        with replies.running(KEY, stream, None) as failing:
            raise RuntimeError("the stream failed")
    except RuntimeError:
        pass
    assert replies.get(KEY) is None and failing.finished.is_set() and len(replies) == 0


async def test_shutdown_lets_replies_finish_within_the_grace_then_stops_the_rest() -> None:
    replies = RepliesInProgress()
    quick, slow = Stream(), Stream()

    async def reply(key: ConversationKey, stream: Stream, seconds: float) -> None:
        with replies.running(key, stream, None):
            await asyncio.sleep(seconds)

    tasks = [asyncio.create_task(reply(KEY, quick, 0.05)), asyncio.create_task(reply(OTHER, slow, 5))]
    await asyncio.sleep(0)
    assert not replies.closing
    await replies.finish(grace=0.5, note="restarting")
    assert replies.closing, "questions still waiting are not started"
    assert quick.stopped == [] and slow.stopped == ["restarting"]
    tasks[1].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert len(replies) == 0


async def test_shutdown_with_nothing_running_does_not_wait() -> None:
    replies = RepliesInProgress()
    await asyncio.wait_for(replies.finish(grace=30, note="x"), timeout=1)
    assert replies.closing
