"""ChatPacer with a fake clock."""

from __future__ import annotations

import asyncio
import heapq
import itertools

from bot.telegram.pacing import ChatPacer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_private_chat_gets_one_request_per_interval() -> None:
    clock = Clock()
    pacer = ChatPacer(1.0, 20, 1000, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await pacer.acquire(1, is_group=False)
    assert clock.now == 2.0


async def test_group_rate_is_shared_and_other_chats_are_independent() -> None:
    clock = Clock()
    pacer = ChatPacer(1.0, 20, 1000, clock=clock, sleep=clock.sleep)
    await pacer.acquire(-5, is_group=True)
    assert pacer.delay(-5) == 3.0
    assert pacer.delay(6) < 0.01


async def test_retry_after_blocks_only_that_chat() -> None:
    clock = Clock()
    pacer = ChatPacer(1.0, 20, 1000, clock=clock, sleep=clock.sleep)
    pacer.penalize(1, 7)
    assert pacer.delay(1) == 7
    assert pacer.delay(2) == 0
    await pacer.acquire(1, is_group=False)
    assert clock.now == 7


async def test_global_rate() -> None:
    clock = Clock()
    pacer = ChatPacer(0, 1000, 10, clock=clock, sleep=clock.sleep)
    for chat in range(5):
        await pacer.acquire(chat, is_group=False)
    assert abs(clock.now - 0.4) < 1e-9


async def test_concurrent_waiters_in_one_chat_take_turns_in_arrival_order() -> None:
    clock = Clock()
    pacer = ChatPacer(0.05, 20, 1000, clock=clock, sleep=clock.sleep)
    granted: list[tuple[int, float]] = []

    async def one(n: int) -> None:
        await pacer.acquire(9, is_group=False)
        granted.append((n, clock.now))

    await asyncio.gather(*(one(n) for n in range(4)))
    assert [n for n, _ in granted] == [0, 1, 2, 3], "first come, first served"
    assert all(b - a >= 0.05 - 1e-9 for (_, a), (_, b) in itertools.pairwise(granted)), "one interval apart"


async def test_a_request_held_by_the_global_pace_still_spaces_the_next_one_in_its_chat() -> None:
    clock = Clock()
    pacer = ChatPacer(1.0, 20, 2, clock=clock, sleep=clock.sleep)  # 2 requests a second in all
    await pacer.acquire(2, is_group=False)  # another chat takes the global slot
    await pacer.acquire(1, is_group=False)
    first = clock.now
    await pacer.acquire(1, is_group=False)
    assert (first, clock.now - first) == (0.5, 1.0)


class ManualClock(Clock):
    """A clock whose sleepers wake in deadline order, ties first come first served (as asyncio's timers
    tend to), driven by :meth:`run`; lets concurrent waiters race deterministically."""

    def __init__(self) -> None:
        super().__init__()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def sleep(self, seconds: float) -> None:
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), woken))
        await woken

    async def run(self, work: asyncio.Future[object]) -> None:
        while not work.done():
            for _ in range(20):  # let every task run until it sleeps again
                await asyncio.sleep(0)
            if self._sleepers:
                deadline, _, woken = heapq.heappop(self._sleepers)
                self.now = max(self.now, deadline)
                woken.set_result(None)
        await work


async def test_a_request_is_not_overtaken_by_a_reply_that_keeps_asking() -> None:
    clock = ManualClock()
    pacer = ChatPacer(1.0, 20, 1000, clock=clock, sleep=clock.sleep)
    order: list[str] = []

    async def streaming_reply() -> None:
        for _ in range(10):
            await pacer.acquire(9, is_group=False)
            order.append("edit")

    async def command_reply() -> None:
        await clock.sleep(0.5)  # a command arrives while the reply waits for its next edit
        await pacer.acquire(9, is_group=False)
        order.append("command")

    await clock.run(asyncio.gather(streaming_reply(), command_reply()))
    assert order.index("command") == 2, order  # right after the edit that was already waiting


async def test_a_reaction_takes_no_slot_of_its_chat_but_waits_for_a_429_block() -> None:
    clock = Clock()
    pacer = ChatPacer(1.0, 20, 1000, clock=clock, sleep=clock.sleep)  # a group: one request every 3 s
    await pacer.acquire(-5, is_group=True)
    await pacer.acquire_global(-5)
    assert clock.now < 0.01, "a reaction does not wait for the group's next slot"
    assert pacer.delay(-5) == 3.0 - clock.now, "and takes none: the next answer is not pushed back"
    blocked_at = clock.now
    pacer.penalize(-5, 10.0)
    await pacer.acquire_global(-5)
    assert clock.now == blocked_at + 10.0, "a 429 blocks the whole chat, reactions too"


async def test_the_rate_limiter_paces_reactions_globally_only_and_never_retries_them() -> None:
    from telegram.error import RetryAfter

    from bot.telegram.ratelimit import ChatRateLimiter

    clock = Clock()
    pacer = ChatPacer(1.0, 20, 1000, clock=clock, sleep=clock.sleep)
    limiter = ChatRateLimiter(pacer)
    calls: list[str] = []

    async def send(name: str) -> bool:
        calls.append(name)
        return True

    async def refused() -> bool:
        raise RetryAfter(30)

    await limiter.process_request(send, ("answer",), {}, "sendMessage", {"chat_id": -5}, None)
    for n in range(5):
        await limiter.process_request(send, (f"👀{n}",), {}, "setMessageReaction", {"chat_id": -5}, None)
    assert clock.now < 0.1, "five reactions do not wait for the group's 3-second slots"
    await limiter.process_request(send, ("next answer",), {}, "sendMessage", {"chat_id": -5}, None)
    assert clock.now == 3.0, "the next answer goes at its slot, not 5 slots later"
    try:
        await limiter.process_request(refused, (), {}, "setMessageReaction", {"chat_id": -5}, None)
    except RetryAfter:
        pass
    assert pacer.delay(-5) == 6.0 - clock.now, "a refused reaction does not block the chat's answers"


async def test_a_replys_first_message_goes_before_other_chats_edits_waiting_for_the_global_pace() -> None:
    pacer = ChatPacer(0.0, 20, 20)  # 20 requests a second in all
    order: list[int] = []

    async def request(chat: int, first: bool) -> None:
        await pacer.acquire(chat, is_group=False, first=first)
        order.append(chat)

    await asyncio.gather(*(request(chat, False) for chat in range(1, 6)), request(99, True))
    assert order[:2] == [1, 99], "the first message takes the next global slot, ahead of queued edits"
    assert sorted(order) == [1, 2, 3, 4, 5, 99], "and the edits all go"


async def test_a_first_message_held_by_its_own_chat_holds_no_one_else() -> None:
    pacer = ChatPacer(0.0, 20, 1000)
    pacer.penalize(7, 0.3)  # a 429 blocks chat 7 for a while
    order: list[int] = []

    async def request(chat: int, first: bool) -> None:
        await pacer.acquire(chat, is_group=False, first=first)
        order.append(chat)

    await asyncio.gather(request(7, True), request(8, False))
    assert order == [8, 7], "another chat's edit is not held behind a first message its own chat blocks"


class CountingPacer(ChatPacer):
    """A pacer that counts the 429s it is told of."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(1.0, 20, 1000, clock=clock, sleep=clock.sleep)
        self.penalties: list[tuple[int, float, bool]] = []

    def penalize(self, chat_id: int, retry_after: float, messages: bool = True) -> None:
        self.penalties.append((chat_id, retry_after, messages))
        super().penalize(chat_id, retry_after, messages)


async def test_a_429_to_a_streamed_request_is_handled_once_by_the_slot_it_took() -> None:
    from telegram.error import RetryAfter

    from bot.telegram.ratelimit import PACED, ChatRateLimiter

    clock = Clock()
    pacer = CountingPacer(clock)
    limiter = ChatRateLimiter(pacer, sleep=clock.sleep)

    async def refused() -> bool:
        raise RetryAfter(9)

    try:
        async with limiter.slot(5, first=True):
            await limiter.process_request(refused, (), {}, "editMessageText", {"chat_id": 5}, PACED)
    except RetryAfter:
        pass
    else:
        raise AssertionError("the streamer is told of the 429: it decides what to send next")
    assert pacer.penalties == [(5, 9.0, True)], "the chat is blocked once, by the limiter"
    assert pacer.delay(5) == 9.0
    async with limiter.slot(5):
        pass
    assert clock.now == 9.0, "the next slot comes after the wait"


async def test_a_chat_action_is_paced_globally_and_its_429_holds_back_only_actions() -> None:
    from telegram.error import RetryAfter

    from bot.telegram.ratelimit import ChatRateLimiter

    clock = Clock()
    pacer = CountingPacer(clock)
    limiter = ChatRateLimiter(pacer, sleep=clock.sleep)
    calls: list[str] = []

    async def refused() -> bool:
        calls.append("refused")
        raise RetryAfter(10)

    async def send(name: str) -> bool:
        calls.append(name)
        return True

    await limiter.process_request(send, ("typing",), {}, "sendChatAction", {"chat_id": 5}, None)
    await limiter.process_request(send, ("answer",), {}, "sendMessage", {"chat_id": 5}, None)
    assert clock.now < 0.01, "an action takes no slot of the chat: the answer is not held back"
    try:
        await limiter.process_request(refused, (), {}, "sendChatAction", {"chat_id": 5}, None)
    except RetryAfter:
        refused_at = clock.now
    assert calls == ["typing", "answer", "refused"], "a refused action is not retried"
    assert pacer.penalties == [(5, 10.0, False)]
    await limiter.process_request(send, ("next answer",), {}, "sendMessage", {"chat_id": 5}, None)
    assert clock.now < 1.1, "the answer goes at its slot (1 s after the first), not after the action's 429"
    await limiter.process_request(send, ("typing again",), {}, "sendChatAction", {"chat_id": 5}, None)
    assert clock.now == refused_at + 10.0, "the next action waits out the 429's retry_after"
