"""The turn service: a question asked, answered by the chain and stored, in its conversation's order.

It holds what a turn is, whatever chat it comes from: the pending-message limit and its refusal, the
order of turns per conversation, the budgets, the prompt fitted to the answering model's context
window, the history writes around the streamed answer, the usage ledger, /retry, /stop, /reset, and
finishing the replies in progress at shutdown. Its inputs are plain values (a :class:`Request`: a
conversation key and who asks; the question's text and its images' ``file_id``); everything it says
goes through the request's :class:`~bot.turns.port.ReplyPort`. It knows no Telegram.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace

from bot import texts
from bot.config.prices import PriceBook
from bot.config.settings import Settings
from bot.state.protocols import Store, TurnOrder
from bot.state.storage import ChatSettings, Conversation, ConversationKey, StorageError, StoredMessage, UsageRecord
from bot.turns.budgets import Budgets
from bot.turns.history import attach_images, build_prompt
from bot.turns.models import ModelCatalog
from bot.turns.ordering import ConversationQueue
from bot.turns.port import ReplyPort, StreamResult, TurnObserver
from bot.turns.quotes import (
    GROUP_MESSAGE_MAX_CHARS,
    Quote,
    already_known,
    quoted_question,
    shown_images,
    with_group_context,
)
from bot.turns.replies import RepliesInProgress
from providers import Answer, Message, ProviderError
from providers.errors import is_context_overflow
from providers.tokens import answer_reserve

logger = logging.getLogger("bot.turns")

#: Seconds without another refused message that end a burst; then its one refusal is sent.
BURST_QUIET = 1.0
#: Conversations /conversations lists, at most (the most recent).
MAX_CONVERSATIONS_LISTED = 10
#: What a model is asked to title a topic with (the model's instructions, never shown to people).
TITLE_PROMPT = (
    "Give a short title, at most six words, for a conversation that starts with the next message."
    " Answer with the title only, in the language of the message, without quotes."
)
#: A title a model gave, at most this many characters (a topic's name may have 128).
TITLE_MAX_CHARS = 60


async def _not_admin() -> bool:
    return False


@dataclass(frozen=True, slots=True)
class Request:
    """A message asking for a turn (a question, /retry, /stop), as the service sees it.

    Attributes:
        key: the conversation (chat, and forum topic).
        message_id: the asking message's id in its chat.
        user_id: who sent it; None for a channel or an anonymous admin.
        group: True in groups and supergroups (limits per person, answers name their author).
        author: how the model sees the sender (groups only), or None.
        name: the sender's name for the usage ledger, or None.
        is_admin: awaited (at most once, only when needed) to learn whether the sender may act on
            someone else's turn (/retry of another's question, /stop of another's reply).
        language: the sender's own language (Telegram's ``language_code``): a refusal meant for them
            alone (a budget) is in it, in a group that speaks another.
    """

    key: ConversationKey
    message_id: int
    user_id: int | None = None
    group: bool = False
    author: str | None = None
    name: str | None = None
    is_admin: Callable[[], Awaitable[bool]] = _not_admin
    language: str | None = None


class StopOutcome(enum.Enum):
    """What a request to stop a reply came to."""

    STOPPED = "stopped"
    #: No reply is being written in the conversation.
    NOTHING = "nothing"
    #: The message it names does not show the reply being written (a button left behind).
    STALE = "stale"
    #: The reply is someone else's, and the sender is no admin.
    NOT_YOURS = "not yours"


@dataclass(slots=True)
class _Burst:
    """Questions refused in a row: the port of the last one (the refusal answers it), how many, and
    an event set by each further one."""

    port: ReplyPort
    count: int
    more: asyncio.Event = field(default_factory=asyncio.Event)


class TurnService:
    """Answers questions, one turn at a time per conversation. One per application, built at start-up.

    Args:
        settings: the limits (``MAX_PENDING_*``, ``HISTORY_*``, ``CONTEXT_TOKENS``...) and the
            default system prompt.
        store: history, chat settings, the ledger and the replies in progress.
        catalog: which chain and model answer a chat, and the model's context window.
        budgets: the usage limits checked before a turn.
        prices: the cost of an answer's tokens.
        queue: the order of turns per conversation (a new one when omitted).
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        catalog: ModelCatalog,
        budgets: Budgets,
        prices: PriceBook,
        queue: TurnOrder | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.catalog = catalog
        self.budgets = budgets
        self.prices = prices
        self.queue: TurnOrder = queue or ConversationQueue()
        #: The reply being written in each conversation, and whether the bot is closing.
        self.replies = RepliesInProgress()
        self._background: set[asyncio.Task[None]] = set()
        #: Questions refused because too many wait, per conversation (and person, in groups).
        self._bursts: dict[tuple[ConversationKey, int | None], _Burst] = {}
        #: Told of every reply as it ends (metrics), or None.
        self.observer: TurnObserver | None = None
        #: Where a question whose turn comes after shutdown began goes (webhook mode: back to the
        #: inbox, for another replica to answer); None: it is refused with "restarting".
        self.hand_over: Callable[[ConversationKey, int], Awaitable[None]] | None = None

    @property
    def closing(self) -> bool:
        """True once shutdown began (:meth:`finish`): no further turn starts."""
        return self.replies.closing

    # -- turns ---------------------------------------------------------------------------------

    async def ask(
        self, request: Request, text: str, port: ReplyPort, images: tuple[str, ...] = (), quote: Quote | None = None
    ) -> None:
        """Queue a question (``text``, and the ``file_id`` of images it shows) in its conversation:
        bounded per person and group; when its turn comes, checked against the budgets (over one:
        a sentence, nothing stored, no provider asked), stored, then answered through ``port``.
        ``quote``: the message it replies to, stored and asked with it (:mod:`bot.turns.quotes`),
        unless it is an answer the history already holds.

        Raises:
            StorageError: the question could not be stored (nothing was asked).
        """
        key, member = request.key, request.user_id
        if self.too_many_pending(request):
            self._refuse_in_burst(request, port)
            return
        if request.group and self.queue.pending(key):
            # In the background: nothing may be awaited before the turn is taken (turns keep arrival order).
            self._in_background(port.acknowledge())
        # Until its turn ends, a question killed with the bot is announced after the restart. Noted in
        # the background: nothing may be awaited before the turn is taken (turns keep arrival order).
        noted = asyncio.create_task(self.store.waiting(key, request.message_id))
        try:
            async with self.queue.turn(key, member):
                if self.closing:
                    if self.hand_over is not None:
                        await self.hand_over(key, request.message_id)
                    else:
                        await port.say(texts.RESTARTING)
                    return
                if not await self._within_budget(request, port):
                    return
                choice = await self.store.chat_settings(key.chat_id)
                history_key = conversation_in(key, choice)
                if quote is not None:
                    text, images = await self._with_quote(history_key, quote, text, images)
                if request.group and self.settings.group_context_messages:
                    text = with_group_context(await self.store.take_group_context(key), text)
                question = await self.store.add(history_key, "user", text, request.author, member, images)
                await self._respond(request, port, choice, question_id=question)
        finally:
            await self._turn_ended(noted, key, request.message_id)

    async def _with_quote(
        self, key: ConversationKey, quote: Quote, text: str, images: tuple[str, ...]
    ) -> tuple[str, tuple[str, ...]]:
        """The question and its images with the replied-to message and its image (see
        :mod:`bot.turns.quotes`: not the latest answer again, nor an image the history shows)."""
        history = await self.store.recent(key, self.settings.history_max_messages)
        if already_known(quote, history):
            return text, images
        image = quote.image if quote.image and quote.image not in shown_images(history) else None
        return quoted_question(quote, text), images + ((image,) if image else ())

    async def retry(self, request: Request, port: ReplyPort) -> None:
        """Answer the conversation's last question again; the new answer replaces the old one in the
        history. In a group only its asker or an admin may; refusals are said through ``port``."""
        key = request.key
        async with self.queue.turn(key):
            if self.closing:
                await port.say(texts.RESTARTING)
                return
            choice = await self.store.chat_settings(key.chat_id)
            history = await self.store.recent(conversation_in(key, choice), 2)
            last_answer = history[-1] if history and history[-1].role == "assistant" else None
            asked = next((turn for turn in reversed(history) if turn.role == "user"), None)
            if asked is None:
                await port.say(texts.NOTHING_TO_RETRY)
                return
            theirs = asked.user_id is not None and asked.user_id == request.user_id
            if request.group and not theirs and not await request.is_admin():
                await port.say(texts.RETRY_NOT_YOURS)
                return
            if not await self._within_budget(request, port):
                return
            await self._respond(request, port, choice, replacing=last_answer, question_id=asked.id)

    async def stop(self, request: Request, shown_in: int | None = None, draft_id: int | None = None) -> StopOutcome:
        """Stop the reply being written in the request's conversation: by whoever asked for it, or an
        admin. ``shown_in``: the message the request came from (a Stop button), which must show
        that reply; ``draft_id``: the draft whose stop button Telegram showed (a
        ``stopped_message_generation`` update), which must be that reply's (else, either way,
        :attr:`StopOutcome.STALE`)."""
        pointed = shown_in is not None or draft_id is not None
        active = self.replies.get(request.key)
        if active is None:
            return StopOutcome.STALE if pointed else StopOutcome.NOTHING
        if shown_in is not None and not active.stream.shows(shown_in):
            return StopOutcome.STALE
        if draft_id is not None and not active.stream.shows_draft(draft_id):
            return StopOutcome.STALE
        if request.user_id != active.requester_id and not await request.is_admin():
            return StopOutcome.NOT_YOURS
        active.stream.stop()
        return StopOutcome.STOPPED

    async def reset(self, key: ConversationKey) -> int:
        """Forget the conversation ``key`` (the chat's current one outside topics), after the turns
        before it; returns the turns removed."""
        async with self.queue.turn(key):
            history_key = conversation_in(key, await self.store.chat_settings(key.chat_id))
            removed = await self.store.clear(history_key)
            await self.store.take_group_context(key)  # the group's kept messages go too
        logger.info("chat=%s thread=%s history cleared (%d turns)", key.chat_id, history_key.thread_id, removed)
        return removed

    async def note_group_message(self, key: ConversationKey, author: str | None, text: str) -> None:
        """A group message not addressed to the bot: kept (its first
        :data:`~bot.turns.quotes.GROUP_MESSAGE_MAX_CHARS` characters) for the next question's context,
        the newest ``GROUP_CONTEXT_MESSAGES`` of the conversation only; nothing without that setting."""
        keep = self.settings.group_context_messages
        if keep:
            await self.store.note_group_message(key, author, text[: GROUP_MESSAGE_MAX_CHARS + 1], keep)

    async def history_key(self, key: ConversationKey) -> ConversationKey:
        """Where the history of messages of ``key`` is kept now (see :func:`conversation_in`)."""
        return conversation_in(key, await self.store.chat_settings(key.chat_id))

    async def new_conversation(self, key: ConversationKey) -> bool:
        """/new outside forum topics: the chat's next messages start a conversation of their own, after
        the turns before it; the earlier ones stay (:meth:`conversations`). False when the current
        one holds nothing yet (it is new already)."""
        async with self.queue.turn(key):
            choice = await self.store.chat_settings(key.chat_id)
            current = conversation_in(key, choice)
            if not await self.store.count(current):
                return False
            # Below every id given before: they only ever go down (minus Unix seconds, so that a
            # conversation older than the ten listed is not met again), and below the newest ones.
            known = await self.store.conversations(key.chat_id, MAX_CONVERSATIONS_LISTED)
            fresh = min([-int(self.budgets.clock()), *(c.thread_id - 1 for c in known), current.thread_id - 1])
            await self.store.save_chat_settings(key.chat_id, replace(choice, conversation=fresh))
        logger.info("chat=%s new conversation %d", key.chat_id, fresh)
        return True

    async def conversations(self, key: ConversationKey) -> tuple[list[Conversation], int]:
        """The chat's recent conversations outside topics (at most :data:`MAX_CONVERSATIONS_LISTED`,
        the most recent first) and the ``thread_id`` of the current one."""
        choice = await self.store.chat_settings(key.chat_id)
        return await self.store.conversations(key.chat_id, MAX_CONVERSATIONS_LISTED), choice.conversation or 0

    async def title_for(self, key: ConversationKey, question: str, seconds: float) -> str | None:
        """A short title for a conversation that starts with ``question``, from the chat's chain
        within ``seconds`` (its first line, quotes and a final period removed, at most
        :data:`TITLE_MAX_CHARS` characters); None when no provider answers in time or at all. Not
        counted in the usage ledger (a few tokens)."""
        choice = await self.store.chat_settings(key.chat_id)
        chain = self.catalog.chain_for(choice.provider)
        messages: list[Message] = [
            {"role": "system", "content": TITLE_PROMPT},
            {"role": "user", "content": question[:2000]},
        ]
        answer = Answer(messages)
        try:
            async with asyncio.timeout(seconds):
                model = await self.catalog.requested(choice)
                async for chunk in chain.create_async_generator(model, messages):
                    answer.add(chunk)
        except (TimeoutError, ProviderError) as error:
            logger.info("chat=%s no title within %gs: %s", key.chat_id, seconds, type(error).__name__)
            return None
        lines = answer.text.strip().splitlines()
        title = lines[0].strip().strip("\"'«»“”*#").rstrip(".").strip() if lines else ""
        return title[:TITLE_MAX_CHARS] or None

    async def switch_conversation(self, key: ConversationKey, thread_id: int) -> None:
        """Make the conversation ``thread_id`` (0 or below) the chat's current one, after the turns before it."""
        async with self.queue.turn(key):
            choice = await self.store.chat_settings(key.chat_id)
            await self.store.save_chat_settings(key.chat_id, replace(choice, conversation=thread_id or None))
        logger.info("chat=%s back to conversation %d", key.chat_id, thread_id)

    async def vision_refusal(self, chat_id: int) -> str | None:
        """None when a provider of the chat's chain sees images; else the sentence that says so
        (naming the providers that would, when the chat pinned one that does not)."""
        choice = await self.store.chat_settings(chat_id)
        chain = self.catalog.chain_for(choice.provider)
        if await chain.image_routes(await self.catalog.requested(choice)):
            return None
        unpinned = replace(choice, provider=None)
        seeing = await self.catalog.chain.image_routes(await self.catalog.requested(unpinned))
        names = list(dict.fromkeys(route.provider.name for route in seeing))
        if choice.provider is not None and names:
            return texts.NO_VISION_PINNED.format(pinned=choice.provider, providers=", ".join(names))
        return texts.NO_VISION

    async def move_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup: its history, settings and replies in progress move to the
        new id, logged once (a second call finds nothing to move)."""
        await self.store.move_chat(old_chat_id, new_chat_id)
        logger.info("chat=%s became supergroup %s; its history and settings moved", old_chat_id, new_chat_id)
        if old_chat_id in self.settings.allowed_chat_ids:
            logger.warning("ALLOWED_CHAT_IDS names %s, which is now %s: update the setting", old_chat_id, new_chat_id)

    async def finish(self, grace: float, note: str) -> None:
        """On shutdown: replies being written get ``grace`` seconds, the rest are stopped with
        ``note``; questions still waiting are refused when their turn comes."""
        await self.replies.finish(grace, note)

    # -- limits --------------------------------------------------------------------------------

    def too_many_pending(self, request: Request) -> bool:
        """A private chat may have ``MAX_PENDING_PER_CHAT`` messages waiting; in a group each person
        may, and the group as a whole ``MAX_PENDING_PER_GROUP`` (a flood by one person is refused,
        a busy group is served)."""
        settings, key = self.settings, request.key
        if not request.group:
            return self.queue.pending(key) >= settings.max_pending_per_chat
        return (
            self.queue.pending(key) >= settings.max_pending_per_group
            or self.queue.pending(key, request.user_id) >= settings.max_pending_per_chat
        )

    def _refuse_in_burst(self, request: Request, port: ReplyPort) -> None:
        """Count a question not taken because too many wait; a burst of them (a forwarded batch) gets
        one refusal saying how many, once :data:`BURST_QUIET` seconds pass without another, in reply
        to the last (one sentence instead of one per message, each paced at a second)."""
        who = (request.key, request.user_id if request.group else None)
        burst = self._bursts.get(who)
        if burst is not None:
            burst.port, burst.count = port, burst.count + 1
            burst.more.set()
            return
        self._bursts[who] = _Burst(port, 1)
        self._in_background(self._refuse_burst(who))

    async def _refuse_burst(self, who: tuple[ConversationKey, int | None]) -> None:
        burst = self._bursts[who]
        while True:
            try:
                async with asyncio.timeout(BURST_QUIET):
                    await burst.more.wait()
            except TimeoutError:
                break  # quiet: the burst is over
            burst.more.clear()
        del self._bursts[who]
        logger.info("chat=%s %d messages not taken: too many waiting", who[0].chat_id, burst.count)
        refusal = texts.TOO_MANY_PENDING_ONE if burst.count == 1 else texts.TOO_MANY_PENDING
        try:
            await burst.port.say(refusal.format(count=burst.count))
        except Exception as error:  # noqa: BLE001 - a refusal that cannot be sent is only logged
            logger.warning("chat=%s could not refuse a burst: %s", who[0].chat_id, error)

    async def _within_budget(self, request: Request, port: ReplyPort) -> bool:
        """True when no budget of the sender or the chat is used up (:class:`~bot.turns.budgets.Budgets`);
        else tell them which, and when it starts again, and return False."""
        refusal = await self.budgets.refusal(request.user_id, request.key.chat_id)
        if refusal is None:
            return True
        logger.info("chat=%s user=%s refused: %s used up", request.key.chat_id, request.user_id, refusal.name)
        with texts.speaking(request.language if request.group else None):  # the person's, in a group
            sentence = texts.budget_refusal(refusal, self.budgets.clock())
        await port.say(sentence)
        return False

    def _in_background(self, work: Coroutine[object, object, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _turn_ended(self, noted: asyncio.Task[None], key: ConversationKey, message_id: int) -> None:
        """The question's turn ended: it no longer waits (after the note that it did, so the two
        writes never cross). A failure to write either is logged; the turn's outcome stands."""
        try:
            await noted
            await self.store.waiting(key, message_id, False)
        except StorageError as error:
            logger.warning("chat=%s could not note the end of a question's turn: %s", key.chat_id, error)

    # -- the answer ----------------------------------------------------------------------------

    async def _respond(
        self,
        request: Request,
        port: ReplyPort,
        choice: ChatSettings,
        replacing: StoredMessage | None = None,
        question_id: int | None = None,
    ) -> None:
        """Stream the chain's answer to the conversation's history; store it once complete (or stopped)
        and note its usage in the ledger. The history sent fits the answering model's context window
        (:meth:`~bot.turns.models.ModelCatalog.context_window`) with room for the answer.

        ``choice``: the chat's settings; ``replacing`` is an earlier answer that the new one replaces
        in the history (/retry);
        ``question_id`` the stored question, removed when it alone is too long for every model (so
        it does not fail every later turn).
        """
        settings, store, key = self.settings, self.store, request.key
        cost: float | None = None
        history_key = conversation_in(key, choice)
        chain = self.catalog.chain_for(choice.provider)
        model = await self.catalog.requested(choice)
        history = await store.recent(history_key, settings.history_max_messages + (1 if replacing else 0))
        if replacing is not None:
            history = [turn for turn in history if turn.id != replacing.id]
        system = choice.system_prompt or settings.system_prompt
        window = (await self.catalog.context_window(choice, settings.context_tokens)).tokens
        budget = min(settings.history_max_tokens, window - answer_reserve(window, settings.answer_reserve_tokens))
        prompt = build_prompt(system, history, budget)
        prompt = await attach_images(prompt, port.image_url, settings.history_max_images)
        shown = (
            0 if choice.reasoning is False else settings.reasoning_max_chars
        )  # /reasoning off, or the operator's bound
        stream = port.stream(key, lambda message_id: store.reply_shown(key, message_id), shown)
        await store.reply_started(key, request.message_id)
        started = time.monotonic()
        with self.replies.running(key, stream, request.user_id):
            result = await stream.run(chain.create_async_generator(model, prompt), prompt)
        seconds = time.monotonic() - started
        await store.reply_finished(key)
        if result.forbidden is not None:
            pass  # the user can't see it: nothing stored beyond their question (logged by the stream)
        elif result.error is not None:
            logger.warning("chat=%s thread=%s no answer: %s", key.chat_id, key.thread_id, result.error)
            if question_id is not None and is_context_overflow(result.error):
                await store.delete(question_id)  # alone too long for every model: not kept to fail again
            elif result.text.strip() and replacing is None:
                await store.add(history_key, "assistant", result.text)  # cut for good: kept as the user saw it
        elif result.text.strip():
            if replacing is not None:
                await store.replace(replacing.id, history_key, "assistant", result.text)
            else:
                await store.add(history_key, "assistant", result.text)
            cost = await self._record_usage(request, result)
        _log_answer(key, model, result)
        if self.observer is not None:
            self.observer.answered(result, seconds, cost)

    async def _record_usage(self, request: Request, result: StreamResult) -> float | None:
        """Note an answer's tokens and cost in the usage ledger (a failure is logged: the answer
        stands); returns the cost in US dollars, None when unknown."""
        info, usage = result.answered_by, result.usage
        if usage is None:
            return None
        provider, model = (info.provider, info.model) if info else ("-", "-")
        record = UsageRecord(
            key=request.key,
            user_id=request.user_id,
            user_name=request.name,
            provider=provider,
            model=model,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            estimated=usage.estimated,
            cost=self.prices.cost(provider, model, usage),
            created_at=self.budgets.clock(),
        )
        try:
            await self.store.record_usage(record)
        except StorageError as error:
            logger.error("chat=%s could not note an answer's usage: %s", request.key.chat_id, error)
        return record.cost


def conversation_in(key: ConversationKey, choice: ChatSettings) -> ConversationKey:
    """The history the messages of ``key`` go to: a forum topic's own; outside topics, the chat's
    current conversation (``choice.conversation``: /new, /conversations)."""
    if key.thread_id == 0 and choice.conversation:
        return ConversationKey(key.chat_id, choice.conversation)
    return key


def _log_answer(key: ConversationKey, model: str | None, result: StreamResult) -> None:
    """One log line per reply: who answered, how it ended, and what it cost in requests and tokens."""
    info, usage = result.answered_by, result.usage
    tokens = "-"
    if usage is not None:
        tokens = f"{'~' if usage.estimated else ''}{usage.prompt_tokens}+{usage.completion_tokens}"
    logger.info(
        "chat=%s thread=%s answered provider=%s model=%s requested=%s fallback=%s finish=%s chars=%d messages=%d"
        " sends=%d edits=%d drafts=%d flood_waits=%d resets=%d stopped=%s first_visible=%s tokens=%s",
        key.chat_id,
        key.thread_id,
        info.provider if info else "-",
        (info.model or "-") if info else "-",
        model or "-",
        info.fallback if info else False,
        result.finish or "stop",
        len(result.text),
        len(result.message_ids),
        result.sends,
        result.edits,
        result.drafts,
        result.flood_waits,
        result.resets,
        result.stopped,
        f"{result.first_visible:.3f}s" if result.first_visible is not None else "-",
        tokens,
    )
