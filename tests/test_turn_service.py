"""The turn service on its own: an in-memory store, scripted providers and a fake reply port, no Telegram."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest

from bot import texts
from bot.config.prices import PriceBook
from bot.config.settings import Settings
from bot.state.storage import ConversationKey, ConversationStore
from bot.turns.budgets import Budgets
from bot.turns.models import ModelCatalog
from bot.turns.port import StreamResult
from bot.turns.service import Request, StopOutcome, TurnService
from providers import Answer, Chunk, ContextLengthError, Message, RetryProvider

from .scripted import Run, ScriptedProvider

KEY = ConversationKey(-100, 0)
ANN, BOB, ADMIN = 1, 2, 3
NOW = 1_800_000_000.0


class FakeStream:
    """A reply that reads the chain's events through :class:`providers.Answer`, as the streamer does;
    :meth:`stop` ends it like /stop. It "sends" one message, id ``shown_id``."""

    def __init__(self, on_message: Callable[[int], Awaitable[object]], shown_id: int) -> None:
        self.on_message = on_message
        self.shown_id = shown_id
        self.draft_id = shown_id + 5000  # the draft it shows (draft mode)
        self.started = asyncio.Event()
        self._stopped = False
        self._task: asyncio.Task[None] | None = None

    async def run(self, chunks: AsyncIterator[Chunk], prompt: Sequence[Message] = ()) -> StreamResult:
        answer, result = Answer(prompt), StreamResult()
        shown = ""  # what the user saw last: a failed attempt's text stays until the next one writes

        async def consume() -> None:
            nonlocal shown
            async for chunk in chunks:
                answer.add(chunk)
                shown = answer.text or shown
                if answer.text and not result.message_ids:
                    result.message_ids.append(self.shown_id)
                    await self.on_message(self.shown_id)
                    self.started.set()

        self._task = asyncio.create_task(consume())
        try:
            await self._task
        except asyncio.CancelledError:
            if not self._stopped:
                raise
            result.stopped = True
        except Exception as error:  # noqa: BLE001 - the streamer's contract: errors end up in the result
            result.error = error
        result.text = shown if result.error is not None else answer.text
        result.answered_by = answer.info
        result.usage = answer.usage if answer.text else None
        return result

    def stop(self, note: str = "") -> None:
        self._stopped = True
        if self._task is not None:
            self._task.cancel()

    def shows(self, message_id: int) -> bool:
        return message_id == self.shown_id

    def shows_draft(self, draft_id: int) -> bool:
        return draft_id == self.draft_id


class FakePort:
    """The reply port: what was said, how many marks, the streams opened, images it can give."""

    def __init__(self, images: dict[str, str] | None = None) -> None:
        self.said: list[str] = []
        self.acknowledged = 0
        self.streams: list[FakeStream] = []
        self.reasoning_chars: list[int] = []  # each stream's
        self.images = images or {}
        self.opened = asyncio.Event()  # set by each stream opened, and each sentence said

    async def say(self, text: str) -> None:
        self.said.append(text)
        self.opened.set()

    async def acknowledge(self) -> None:
        self.acknowledged += 1

    def stream(
        self, key: ConversationKey, on_message: Callable[[int], Awaitable[object]], reasoning_chars: int = 0
    ) -> FakeStream:
        self.streams.append(FakeStream(on_message, 1000 + len(self.streams)))
        self.reasoning_chars.append(reasoning_chars)
        self.opened.set()
        return self.streams[-1]

    async def image_url(self, file_id: str) -> str | None:
        return self.images.get(file_id)


@pytest.fixture
async def store() -> AsyncIterator[ConversationStore]:
    opened = await ConversationStore.open(":memory:")
    yield opened
    await opened.close()


def service(store: ConversationStore, provider: ScriptedProvider, **settings: Any) -> TurnService:
    config = Settings(_env_file=None, telegram_bot_token="123:abc", backends={}, **settings)  # type: ignore[call-arg,arg-type]
    chain = RetryProvider([provider], max_retries=1)
    budgets = Budgets(store, messages_per_hour=config.user_messages_per_hour, clock=lambda: NOW)
    return TurnService(config, store, ModelCatalog(chain), budgets, PriceBook({}, {}))


def asked_by(user: int | None, message_id: int = 10, *, admin: bool = False, group: bool = True) -> Request:
    async def is_admin() -> bool:
        return admin

    author = f"user {user}" if group else None  # the model sees authors in groups only
    return Request(KEY, message_id, user, group, author=author, name=f"user {user}", is_admin=is_admin)


async def history(store: ConversationStore) -> list[tuple[str, str]]:
    return [(turn.role, turn.content) for turn in await store.recent(KEY, 50)]


async def test_a_question_and_its_answer_are_stored_with_usage_and_the_model_sees_the_history(
    store: ConversationStore,
) -> None:
    provider = ScriptedProvider("a", Run(["Hello", " Ann"]), Run(["Fine"]))
    turns, port = service(store, provider), FakePort()
    await turns.ask(asked_by(ANN, group=False), "hi", port)
    await turns.ask(asked_by(BOB, 11), "how are you?", port)
    expected = [("user", "hi"), ("assistant", "Hello Ann"), ("user", "how are you?"), ("assistant", "Fine")]
    assert await history(store) == expected
    sent = provider.calls[-1][1]
    assert [m["content"] for m in sent if m["role"] != "system"] == ["hi", "Hello Ann", "user 2: how are you?"]
    assert port.said == []
    assert (await store.usage_totals(0, user_id=ANN)).answers == 1, "each answer is charged to its asker"
    assert (await store.usage_totals(0, user_id=BOB)).answers == 1
    assert await store.take_interrupted() == [], "a finished reply is not announced as interrupted"


async def test_retry_replaces_the_last_answer(store: ConversationStore) -> None:
    provider = ScriptedProvider("a", Run(["first"]), Run(["second"]))
    turns, port = service(store, provider), FakePort()
    await turns.ask(asked_by(ANN), "hi", port)
    await turns.retry(asked_by(ANN, 12), port)
    assert await history(store) == [("user", "hi"), ("assistant", "second")]


async def test_retry_of_someone_elses_question_in_a_group_is_refused_unless_admin(store: ConversationStore) -> None:
    provider = ScriptedProvider("a", Run(["first"]), Run(["by admin"]))
    turns, port = service(store, provider), FakePort()
    await turns.ask(asked_by(ANN), "hi", port)
    await turns.retry(asked_by(BOB, 12), port)
    assert port.said == [texts.RETRY_NOT_YOURS]
    assert await history(store) == [("user", "hi"), ("assistant", "first")]
    await turns.retry(asked_by(BOB, 13, admin=True), port)
    assert await history(store) == [("user", "hi"), ("assistant", "by admin")]


async def test_retry_with_nothing_asked_says_so(store: ConversationStore) -> None:
    turns, port = service(store, ScriptedProvider("a")), FakePort()
    await turns.retry(asked_by(ANN), port)
    assert port.said == [texts.NOTHING_TO_RETRY]


async def test_a_question_over_a_budget_stores_nothing_and_asks_no_provider(store: ConversationStore) -> None:
    provider = ScriptedProvider("a", Run(["one"]))
    turns, port = service(store, provider, user_messages_per_hour=1), FakePort()
    await turns.ask(asked_by(ANN), "first", port)
    await turns.ask(asked_by(ANN, 11), "second", port)
    assert await history(store) == [("user", "first"), ("assistant", "one")]
    assert len(provider.calls) == 1
    assert len(port.said) == 1 and "hour" in port.said[0].lower()


class SmallWindow(ScriptedProvider):
    """A model whose window takes no message over 1,000 characters (however the chain trims the rest)."""

    async def stream(self, model: str, messages: Any, proxy: str | None = None, **kwargs: Any) -> AsyncIterator[str]:
        if any(len(str(m["content"])) > 1000 for m in messages):
            self.calls.append((model, messages))
            raise ContextLengthError("too long", provider=self.name, limit=300, requested=600)
        async for chunk in super().stream(model, messages, proxy, **kwargs):
            yield chunk


async def test_a_question_too_long_for_every_model_is_removed_from_the_history(store: ConversationStore) -> None:
    provider = SmallWindow("a", Run(["earlier"]), Run(["later"]))
    turns, port = service(store, provider), FakePort()
    await turns.ask(asked_by(ANN), "short", port)
    await turns.ask(asked_by(ANN, 11), "x" * 1001, port)
    assert await history(store) == [("user", "short"), ("assistant", "earlier")]
    await turns.ask(asked_by(ANN, 12), "next", port)
    assert await history(store) == [
        ("user", "short"),
        ("assistant", "earlier"),
        ("user", "next"),
        ("assistant", "later"),
    ]


async def test_an_answer_cut_by_a_failure_is_kept_as_shown_and_not_charged(store: ConversationStore) -> None:
    from providers import ServerError

    provider = ScriptedProvider("a", Run(["half an"], error=ServerError("down", status=500)))
    turns, port = service(store, provider), FakePort()
    await turns.ask(asked_by(ANN), "hi", port)
    assert await history(store) == [("user", "hi"), ("assistant", "half an")]
    assert (await store.usage_totals(0, user_id=ANN)).answers == 0


async def test_a_stop_by_someone_else_is_refused_and_by_the_asker_or_an_admin_stops(store: ConversationStore) -> None:
    provider = ScriptedProvider("a", Run(["thinking"], hang=True), Run(["again"], hang=True))
    turns, port = service(store, provider), FakePort()
    assert await turns.stop(asked_by(BOB)) is StopOutcome.NOTHING
    asking = asyncio.create_task(turns.ask(asked_by(ANN), "hi", port))
    await asyncio.wait_for(_started(port, 0), 10)
    assert await turns.stop(asked_by(BOB, 20)) is StopOutcome.NOT_YOURS
    assert await turns.stop(asked_by(BOB, 20), shown_in=999) is StopOutcome.STALE, "a button on another message"
    assert await turns.stop(asked_by(ANN, 21), shown_in=1000) is StopOutcome.STOPPED
    await asyncio.wait_for(asking, 10)
    assert await history(store) == [("user", "hi"), ("assistant", "thinking")], "the partial answer is kept"
    retrying = asyncio.create_task(turns.retry(asked_by(ANN, 22), port))
    await asyncio.wait_for(_started(port, 1), 10)
    assert await turns.stop(asked_by(ADMIN, 23, admin=True)) is StopOutcome.STOPPED
    await asyncio.wait_for(retrying, 10)
    assert await turns.stop(asked_by(ANN, 24), shown_in=1001) is StopOutcome.STALE, "the reply has ended"


async def test_telegrams_own_stop_of_a_draft_stops_that_reply_only(store: ConversationStore) -> None:
    provider = ScriptedProvider("a", Run(["half"], hang=True))
    turns, port = service(store, provider), FakePort()
    assert await turns.stop(asked_by(ANN), draft_id=6000) is StopOutcome.STALE, "no reply: nothing to stop"
    asking = asyncio.create_task(turns.ask(asked_by(ANN), "hi", port))
    await asyncio.wait_for(_started(port, 0), 10)
    assert await turns.stop(asked_by(ANN, 20), draft_id=42) is StopOutcome.STALE, "another draft"
    assert await turns.stop(asked_by(ANN, 21), draft_id=6000) is StopOutcome.STOPPED
    await asyncio.wait_for(asking, 10)
    assert await history(store) == [("user", "hi"), ("assistant", "half")], "the partial answer is kept"


async def _started(port: FakePort, index: int) -> None:
    while len(port.streams) <= index:
        port.opened.clear()
        await port.opened.wait()
    await port.streams[index].started.wait()


async def test_shutting_down_refuses_the_questions_still_waiting(store: ConversationStore) -> None:
    provider = ScriptedProvider("a", Run(["long answer"], hang=True))
    turns, port = service(store, provider), FakePort()
    first = asyncio.create_task(turns.ask(asked_by(ANN), "first", port))
    await asyncio.wait_for(_started(port, 0), 10)
    second = asyncio.create_task(turns.ask(asked_by(ANN, 11), "second", port))
    await asyncio.sleep(0)
    await turns.finish(grace=0.05, note="restarting")
    await asyncio.wait_for(asyncio.gather(first, second), 10)
    assert turns.closing
    assert port.said == [texts.RESTARTING]
    assert await history(store) == [("user", "first"), ("assistant", "long answer")]
    await turns.retry(asked_by(ANN, 12), port)
    assert port.said == [texts.RESTARTING, texts.RESTARTING]


async def test_too_many_waiting_gets_one_refusal_per_burst(store: ConversationStore) -> None:
    provider = ScriptedProvider("a", Run(["slow"], hang=True))
    turns, port = service(store, provider, max_pending_per_chat=2), FakePort()
    asking = [asyncio.create_task(turns.ask(asked_by(ANN, 10 + i, group=False), f"q{i}", port)) for i in range(2)]
    await asyncio.wait_for(_started(port, 0), 10)
    for i in range(3):
        await turns.ask(asked_by(ANN, 20 + i, group=False), "flood", port)
    while not port.said:
        port.opened.clear()
        await asyncio.wait_for(port.opened.wait(), 10)
    assert port.said == [texts.TOO_MANY_PENDING.format(count=3)]
    await turns.finish(grace=0, note="bye")
    await asyncio.wait_for(asyncio.gather(*asking), 10)


async def test_a_queued_group_question_is_acknowledged_and_answered_in_order(store: ConversationStore) -> None:
    provider = ScriptedProvider("a", Run(["one"], delay=0.05), Run(["two"]))
    turns, port = service(store, provider), FakePort()
    await asyncio.gather(turns.ask(asked_by(ANN), "first", port), turns.ask(asked_by(BOB, 11), "second", port))
    assert port.acknowledged == 1
    assert await history(store) == [("user", "first"), ("assistant", "one"), ("user", "second"), ("assistant", "two")]


async def test_reset_forgets_the_conversation(store: ConversationStore) -> None:
    turns, port = service(store, ScriptedProvider("a")), FakePort()
    await turns.ask(asked_by(ANN), "hi", port)
    assert await turns.reset(KEY) == 2
    assert await history(store) == []
