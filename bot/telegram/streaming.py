"""The streaming reply: one Telegram message that grows as the model writes.

For each reply, a :class:`ReplyStream`

- shows "typing" (sendChatAction, which lasts 5 s) until the first text arrives;
- sends the first text as a message, then edits it as text arrives, paced per
  chat by :class:`~bot.telegram.ratelimit.ChatRateLimiter` (each send/edit/delete takes a slot,
  and the content is computed *after* the slot is granted, so every edit
  carries everything received so far);
- never sends an edit whose content is unchanged (Bot API: "message is not
  modified");
- when stopped (/stop, the Stop button, shutdown) reads no more and sends no further part: the
  messages already shown get the text they had reached and the stop note;
- on ``RetryAfter`` (HTTP 429) waits, as the rate limiter blocks only this chat for ``retry_after``
  seconds, then sends what is due by then;
- continues past 4096 UTF-16 code units in further messages
  (:class:`~bot.telegram.rendering.GrowingRender` while the answer grows, converting each finished
  block and keeping each finished message once; :func:`~bot.telegram.rendering.render_parts` for the
  final answer, whose parts the growing ones already are but for rare cross-block Markdown);
- on a :class:`~providers.Reset` event discards what it showed, so the user
  sees one answer exactly once, but only once the next attempt writes: until then, and for good
  when every attempt failed, the text already shown stays (with "Cut off here." and the error
  sentence at the end): text shown is never wiped;
- remembers the last :class:`~providers.ProviderInfo` (who writes the answer) and
  the :class:`~providers.Finish` event, and ends the reply with the short notes the
  caller derives from them (a fallback model, an answer cut at the length limit);
- shows the model's reasoning (:class:`~providers.Reasoning` events): while it thinks and has
  written no text, the reply is a "💭 Thinking…" line (with the end of the reasoning so far, when
  shown); the answer then starts below the reasoning folded in an expandable blockquote (Bot API
  ``expandable_blockquote`` entity), its last ``reasoning_chars`` characters, in the first message,
  which leaves the answer's parts that much less room so no part passes the limit. Reasoning that
  comes after the answer's first text is not shown. Without an answer (an error, a stop before any
  text, a model that only thought) the reply is its one sentence, without the reasoning;
- falls back to plain text if Telegram refuses the entities;
- always delivers the final text in full (retrying through flood waits);
- removes the copy a send leaves when Telegram carried it out but its answer was lost (the send
  is retried; see :meth:`ReplyStream._remove_lost`);
- stops at once, reading no more of the answer, when Telegram forbids writing to the
  chat (403: the user blocked the bot, or it was removed from the group);
- shows the Stop button on the newest message from the first message until the reply
  ends, and on none after: users (and the tests) see from it whether the bot is still
  writing. The next part is sent before the previous one gets its last words (and loses
  its button), so moving the button needs no request of its own.

In *draft* mode (private chats only) the growing text is shown with
sendMessageDraft (Bot API 9.5+: an animated, ephemeral preview) instead of
edits, and the final text is sent with sendMessage; parts of a long answer
that are complete become messages as soon as the next part starts. The first draft, sent as soon
as the reply starts, is empty: Telegram shows its "Thinking…" placeholder. Every draft carries
``can_stop`` and ``keep_on_stop`` (Bot API 10.3): Telegram's own stop button under the draft
sends the bot a ``stopped_message_generation`` update, which stops the reply as /stop does
(:meth:`ReplyStream.shows_draft` tells whose draft it was), so no message of the reply carries the
bot's Stop button. A draft lasts about 30 s: one unchanged for :data:`DRAFT_REFRESH` seconds is sent
again. If Telegram refuses drafts, the reply goes on with edits (and the Stop button).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, ReplyParameters
from telegram.constants import ChatAction
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot import texts
from bot.telegram.ratelimit import PACED, ChatRateLimiter
from bot.telegram.rendering import (
    TELEGRAM_TEXT_LIMIT,
    GrowingRender,
    Part,
    folded_quote,
    joined,
    plain_parts,
    render_parts,
    split_rendered,
    utf16_len,
)
from bot.turns.port import StreamResult
from providers import Answer, Chunk, Finish, Message, ProviderInfo, Reasoning, Reset, Usage

logger = logging.getLogger(__name__)

PLACEHOLDER = Part("…")
#: Seconds between two "typing" actions (an action shows for 5 s: Bot API sendChatAction).
TYPING_INTERVAL = 4.0
#: Consecutive non-flood failures of one reply before it gives up on Telegram.
MAX_FAILURES = 5
#: Message ids tried (each way) when looking for a message whose send answer was lost.
LOST_SEND_PROBES = 8
#: Seconds from a lost send within which Telegram may still carry it out (a request it received but
#: processed late, after the client gave up and sent again): a copy not found by then is looked for
#: once more at that time, above the resent message too.
LOST_SEND_HORIZON = 15.0
#: Seconds after which an unchanged draft is sent again (Bot API sendMessageDraft: a draft is a
#: temporary preview of about 30 s).
DRAFT_REFRESH = 20.0
#: The first draft: an empty text shows Telegram's "Thinking…" placeholder (Bot API sendMessageDraft).
THINKING_DRAFT = Part("")
#: sendMessageDraft parameters of Bot API 10.3 that python-telegram-bot 22.8 does not name: Telegram's
#: own stop button under the draft, and the draft kept in the chat when it is pressed.
DRAFT_STOP = {"can_stop": True, "keep_on_stop": True}
#: What parts the folded reasoning from the answer below it.
FOLD_SEPARATOR = "\n\n"


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """Where a reply goes.

    Attributes:
        chat_id: Bot API chat id.
        is_group: True for groups and supergroups (paced at the group rate).
        thread_id: ``message_thread_id`` of a forum topic, or None.
        reply_to: id of the message being answered, or None.
        after: id of the message the reply follows (the question), in any chat: below it no message
            of the reply can be, so a send whose answer was lost is looked for above it only.
    """

    chat_id: int
    is_group: bool = False
    thread_id: int | None = None
    reply_to: int | None = None
    after: int | None = None


@dataclass(slots=True)
class _Shown:
    message_id: int
    part: Part
    markup: InlineKeyboardMarkup | None


class ReplyStreamer:
    """Creates and runs :class:`ReplyStream` objects for one bot.

    Args:
        bot: the PTB bot.
        limiter: the bot's rate limiter (the one on ``bot``, if it has one): every request of a
            reply takes its slot there, and a 429 is handled there.
        limit: message length limit in UTF-16 code units (Bot API: 4096).
        drafts: stream private-chat replies as drafts (sendMessageDraft) instead of edits.
        max_answer_chars: an answer longer than this many characters is cut there: the rest is not
            read (the provider's stream is closed) nor shown, and ``result.capped`` says so (None: no cap).
    """

    def __init__(
        self,
        bot: Bot,
        limiter: ChatRateLimiter,
        limit: int = TELEGRAM_TEXT_LIMIT,
        drafts: bool = False,
        max_answer_chars: int | None = None,
    ) -> None:
        self.bot = bot
        self.limiter = limiter
        self.limit = limit
        self.drafts = drafts
        self.max_answer_chars = max_answer_chars
        #: With a rate limiter on the bot, the streamer's requests say they are paced already.
        self.paced: dict[str, Any] = {"rate_limit_args": PACED} if getattr(bot, "rate_limiter", None) else {}
        #: Work left after replies ended (looking for a lost send's late copy): see :meth:`aclose`.
        self._background: set[asyncio.Task[None]] = set()

    def later(self, work: Awaitable[None]) -> None:
        """Run ``work`` beside the replies, holding none of them (or a chat's turn): a lost send's
        late copy looked for after its reply ended, a topic renamed; :meth:`aclose` stops it."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self) -> None:
        """On shutdown: stop what :meth:`later` still runs."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    def open(
        self,
        target: ReplyTarget,
        error_text: Callable[[BaseException], str],
        stop_markup: InlineKeyboardMarkup | None = None,
        notes: Callable[[StreamResult], list[str]] | None = None,
        on_message: Callable[[int], Awaitable[object]] | None = None,
        reasoning_chars: int = 0,
    ) -> ReplyStream:
        """A reply to ``target``; ``error_text`` turns a provider error into one sentence for the user;
        ``stop_markup`` is shown on the growing message and removed at the end; ``notes`` gives the
        Markdown lines that end an answer (who answered, if not the chosen model; why it ended);
        ``on_message`` is awaited with the ``message_id`` of each message sent (the newest shows
        the Stop button); its failures are logged, the reply goes on. ``reasoning_chars``: how much of
        the model's reasoning is shown folded above the answer (its last characters; 0 hides it)."""
        return ReplyStream(self, target, error_text, stop_markup, notes, on_message, reasoning_chars)


class ReplyStream:
    """One streamed reply. Use :meth:`run` once; :meth:`stop` may be called from elsewhere."""

    def __init__(
        self,
        streamer: ReplyStreamer,
        target: ReplyTarget,
        error_text: Callable[[BaseException], str],
        stop_markup: InlineKeyboardMarkup | None,
        notes: Callable[[StreamResult], list[str]] | None = None,
        on_message: Callable[[int], Awaitable[object]] | None = None,
        reasoning_chars: int = 0,
    ) -> None:
        self._bot = streamer.bot
        self._reasoning_chars = reasoning_chars
        #: The reasoning folded above the answer: (the attempt it belongs to, as ``Answer.resets``,
        #: and its rendering), made when that attempt's text is first shown; None before.
        self._fold: tuple[int, Part | None] | None = None
        self._streamer = streamer
        self._on_message = on_message
        self._paced = streamer.paced
        self._limiter = streamer.limiter
        self._limit = streamer.limit
        self._max_answer_chars = streamer.max_answer_chars
        self.target = target
        self._error_text = error_text
        self._stop_markup = stop_markup
        self._notes = notes
        self._answer = Answer()
        #: The text shown before the last Reset: still shown until the next attempt writes, and kept
        #: (cut) when no attempt finishes.
        self._held = ""
        #: The last rendering of :meth:`_desired`, with the state of the answer it was made from.
        self._rendered: tuple[tuple[object, ...], list[tuple[Part, InlineKeyboardMarkup | None]]] | None = None
        self._growing = GrowingRender(self._limit)
        self._shown: list[_Shown] = []
        self._plain = False
        self._done = False
        self._dirty = asyncio.Event()
        self._consumer: asyncio.Task[None] | None = None
        self._typing_task: asyncio.Task[None] | None = None
        #: The catalog key of the note a stopped reply ends with (said in the reply's language).
        self._stop_note = "STOPPED_NOTE"
        self._drafting = streamer.drafts and not target.is_group
        self._draft_id = random.randint(1, 2**31 - 1)
        self._drafted: Part | None = None
        #: When the last draft was sent (monotonic seconds).
        self._drafted_at = 0.0
        #: A send whose answer was lost (it may have been carried out): its part, its keyboard, the
        #: newest id known then, and when it was sent (monotonic seconds).
        self._lost: tuple[Part, InlineKeyboardMarkup | None, int, float] | None = None
        #: The same, once the resent copy went out and no earlier copy was found: looked for again at the end.
        self._unfound: tuple[Part, InlineKeyboardMarkup | None, int, float] | None = None
        self._started = time.monotonic()
        self.result = StreamResult()

    # -- public -------------------------------------------------------------------------------

    async def run(self, chunks: AsyncIterator[Chunk], prompt: Sequence[Message] = ()) -> StreamResult:
        """Consume ``chunks`` (a chain's events, folded by :class:`~providers.Answer`) and show them.
        ``prompt``: the messages the chunks answer, for a usage estimate where the stream has none.

        Returns when the final text is delivered (or Telegram kept refusing it,
        which is logged). Provider errors do not propagate: they end up in
        ``result.error`` and the user sees ``error_text(error)``.
        """
        self._answer = Answer(prompt, self)
        self._started = time.monotonic()
        typing = asyncio.create_task(self._typing())
        flusher = asyncio.create_task(self._flush_loop())
        self._consumer = asyncio.create_task(self._consume(chunks, typing))
        try:
            await self._consumer
        except asyncio.CancelledError:
            current = asyncio.current_task()
            ours = self.result.stopped or self.result.forbidden is not None
            if not ours or (current is not None and current.cancelling()):
                flusher.cancel()
                raise
        except Exception as exc:  # noqa: BLE001 - shown to the user as one sentence
            self.result.error = exc
        finally:
            typing.cancel()
            answer = self._answer
            self.result.answered_by, self.result.finish, self.result.resets = answer.info, answer.finish, answer.resets
            self.result.usage = answer.usage if answer.text else None
            self._done = True
            self._dirty.set()
        await flusher
        if self._unfound is not None and self.result.forbidden is None:
            self._streamer.later(self._sweep_lost())
        source = self._answer.text
        if self.result.error is not None:
            source = source or self._held  # what the user saw, cut
        self.result.text = source
        self.result.message_ids = [s.message_id for s in self._shown]
        return self.result

    def stop(self, note: str = "STOPPED_NOTE") -> None:
        """Stop consuming the model's answer; what was shown stays, followed by the catalog's
        sentence ``note`` in the reply's language (``STOPPED_NOTE``; ``STOPPED_FOR_RESTART`` at shutdown)."""
        if self._consumer is not None and not self._consumer.done():
            self.result.stopped = True
            self._stop_note = note
            self._consumer.cancel()

    def shows(self, message_id: int) -> bool:
        """True when the Telegram message ``message_id`` shows (part of) this reply."""
        return any(shown.message_id == message_id for shown in self._shown)

    def shows_draft(self, draft_id: int) -> bool:
        """True when ``draft_id`` (of a ``stopped_message_generation`` update) is this reply's draft."""
        return self.result.drafts > 0 and draft_id == self._draft_id

    def _abandon(self, error: Forbidden) -> None:
        """Telegram forbids writing to the chat: stop reading the answer and send nothing more."""
        if self.result.forbidden is None:
            self.result.forbidden = error.message
            logger.warning("chat %s: cannot write there any more (%s); reply abandoned", self.target.chat_id, error)
        if self._consumer is not None and not self._consumer.done():
            self._consumer.cancel()

    # -- consuming ------------------------------------------------------------------------------

    async def _consume(self, chunks: AsyncIterator[Chunk], typing: asyncio.Task[None]) -> None:
        aclose = getattr(chunks, "aclose", None)
        try:
            await self._read(chunks, typing)
        finally:
            if aclose is not None:
                await aclose()

    async def _read(self, chunks: AsyncIterator[Chunk], typing: asyncio.Task[None]) -> None:
        self._typing_task = typing
        async for chunk in chunks:
            self._answer.add(chunk)  # to the on_* methods below, once folded
            if self.result.capped is not None:
                return  # read no more: the provider's stream is closed

    # -- the chain's events (providers.AnswerListener) ------------------------------------------

    def on_text(self, text: str) -> None:
        """New text: the typing action ends, the messages catch up; past ``MAX_ANSWER_CHARS`` the
        answer is cut there and no more is read."""
        if self._typing_task is not None and not self._drafting:
            self._typing_task.cancel()
        self._dirty.set()
        cap = self._max_answer_chars
        if cap is not None and len(self._answer.text) > cap:
            self._answer.cut(cap)
            self.result.capped = cap

    def on_reset(self, reset: Reset) -> None:
        """A failover: what was shown stays (held) until the next attempt writes."""
        if self._answer.discarded:
            self._held = self._answer.discarded
        self._dirty.set()

    def on_info(self, info: ProviderInfo) -> None:
        """Who answers: read from the answer at the end (the reply's notes)."""

    def on_finish(self, finish: Finish) -> None:
        """Why it ended: read from the answer at the end (the reply's notes)."""

    def on_usage(self, usage: Usage) -> None:
        """The tokens it took: read from the answer at the end (the usage ledger)."""

    def on_reasoning(self, reasoning: Reasoning) -> None:
        """The model thinks: the typing action goes on, and until the answer's first text the reply
        shows that it thinks; the thinking is kept apart by the answer, never shown as its text."""
        if not self._answer.text:
            self._dirty.set()

    async def _typing(self) -> None:
        """Until the first text: the "typing" action every :data:`TYPING_INTERVAL` seconds. A reply
        drafting shows Telegram's "Thinking…" instead, and this loop only wakes the flusher, which
        sends the draft again once it is :data:`DRAFT_REFRESH` seconds old."""
        while True:
            if self._drafting:
                self._dirty.set()
                await asyncio.sleep(TYPING_INTERVAL)
                continue
            try:
                await self._bot.send_chat_action(
                    self.target.chat_id, ChatAction.TYPING, message_thread_id=self.target.thread_id
                )
            except Forbidden as exc:
                self._abandon(exc)
                return
            except TelegramError as exc:  # a 429 too: the rate limiter holds the next action back
                logger.debug("sendChatAction failed: %s", exc)
            await asyncio.sleep(TYPING_INTERVAL)

    # -- showing --------------------------------------------------------------------------------

    def _desired(self) -> list[tuple[Part, InlineKeyboardMarkup | None]]:
        """The messages the user should see now, each with its keyboard; rendered once per state of
        the answer (each paced request asks twice: before waiting for its slot and after)."""
        state = (
            len(self._answer.text),
            len(self._held),
            self._answer.resets,
            self._done,
            self._plain,
            self.result.error is not None,
            self.result.stopped,
            self._stop_note,
            self.result.capped,
            len(self._shown),  # nothing to show yet: no placeholder; a stopped reply keeps what it shows
            self._drafted is not None,
            0 if self._answer.text else len(self._answer.reasoning),  # thinking, before any text
        )
        if self._rendered is not None and self._rendered[0] == state:
            return list(self._rendered[1])
        desired = self._render()
        self._rendered = (state, desired)
        return list(desired)

    def _render(self) -> list[tuple[Part, InlineKeyboardMarkup | None]]:
        # What was shown before a Reset stays until the next attempt writes, and for good when it fails.
        held = self._held if not self._done or self.result.error is not None else ""
        source = self._answer.text or held
        if self._done:
            if self.result.error is not None:
                sentence = self._error_text(self.result.error)
                source = f"{source}\n\n⚠️ {texts.CUT_NOTE} {sentence}" if source else ""
                if not source:
                    return [(Part(sentence), None)]
            elif self.result.stopped:
                note = texts.say(self._stop_note)
                source = f"{source}\n\n{note}" if source.strip() else note
            if self._notes is not None and self.result.error is None and source.strip():
                source = "\n\n".join([source, *self._notes(self.result)])
        fold = self._folded() if source.strip() else None
        limit = self._room(fold)
        if self._plain:
            parts = plain_parts(source, limit)
        elif self._done:
            parts = render_parts(source, limit)
        else:
            parts = self._growing.parts(source)
        if self._done and self.result.stopped and self.result.error is None:
            parts = self._stopped_parts(parts, limit)
        if parts and fold is not None:
            parts[0] = joined(fold if not self._plain else Part(fold.text), parts[0], FOLD_SEPARATOR)
        if not parts:
            if self._done:
                parts = [Part(texts.EMPTY_ANSWER)]
            elif self._answer.reasoning:
                parts = [self._thinking()]
            elif self._shown:
                parts = [PLACEHOLDER]
        markup = None if self._done else self._stop_markup
        return [(part, markup if i == len(parts) - 1 else None) for i, part in enumerate(parts)]

    def _folded(self) -> Part | None:
        """The reasoning folded above the answer shown now (None when there is none, or it is
        hidden): made once per attempt, when its text is first shown, from the reasoning received
        until then; the growing render is made anew for it (its parts have that much less room)."""
        attempt = self._answer.resets
        if self._answer.text and (self._fold is None or self._fold[0] != attempt):
            fold = folded_quote(texts.REASONING_TITLE, self._answer.reasoning, self._reasoning_chars)
            self._fold = (attempt, fold)
            self._growing = GrowingRender(self._room(fold))
        return self._fold[1] if self._fold is not None else None

    def _room(self, fold: Part | None) -> int:
        """UTF-16 code units each part of the answer may take below ``fold`` (joined to the first
        part with :data:`FOLD_SEPARATOR`)."""
        return self._limit - (utf16_len(fold.text) + utf16_len(FOLD_SEPARATOR) if fold is not None else 0)

    def _thinking(self) -> Part:
        """What a reply shows while the model thinks and has written no text: "💭 Thinking…" and,
        when reasoning is shown, the end of the reasoning so far, folded."""
        title = texts.THINKING
        fold = folded_quote("", self._answer.reasoning, self._reasoning_chars)
        if fold is None:
            return Part(title)
        return joined(Part(title), fold, separator="\n")

    def _stopped_parts(self, parts: list[Part], limit: int) -> list[Part]:
        """A stopped reply delivers nothing more: it keeps the messages already shown (the draft
        too), the last one ending with the stop note, and sends no further part."""
        drafted = self._drafting and self._drafted is not None and bool(self._drafted.text)
        shown = len(self._shown) + (1 if drafted else 0)
        if len(parts) <= max(1, shown):
            return parts
        *kept, last = parts[: max(1, shown)]
        note = f"\n\n{texts.say(self._stop_note)}"
        room = limit - utf16_len(note)
        if utf16_len(last.text) > room:
            last = split_rendered(last.text, last.entities, room)[0]
        return [*kept, Part(last.text + note, last.entities)]

    def _next_op(self) -> tuple[str, int, Part | None, InlineKeyboardMarkup | None] | None:
        desired = self._desired()
        draft = None
        # Drafting, the stop button is Telegram's own, under the draft (can_stop): no message has ours.
        stop_markup = None if self._drafting else self._stop_markup
        if self._drafting and not self._done:
            # Complete parts become messages; the growing last part is a draft.
            if desired:
                *desired, (draft, _) = desired
            elif not self._shown:
                draft = THINKING_DRAFT
        pending = len(desired) - len(self._shown)
        if pending > 0:
            # The next part goes out first, with the Stop button unless it ends a finished
            # reply; the earlier part loses its button in the edit that completes its text, and
            # that edit comes before the part after next is sent. So a reply in progress always
            # shows a Stop button on its newest message, a finished one none, never more than two
            # at once (a long answer arriving at once showed one on every part), at no extra
            # request (but the earlier part lacks its last words for one pacing interval). In
            # draft mode a part is sent complete, so losing the button is an edit of its own.
            for i, shown in enumerate(self._shown[:-1]):
                part, markup = desired[i]
                if shown.markup is not None and markup is None:
                    return ("edit", i, part, markup)
            index = len(self._shown)
            part, markup = desired[index]
            return ("send", index, part, markup if pending == 1 else stop_markup)
        for i, (part, markup) in enumerate(desired):
            shown = self._shown[i]
            if shown.part != part or shown.markup != markup:
                return ("edit", i, part, markup)
        if len(self._shown) > len(desired):
            # Oldest extra first: the last one, which has the Stop button, goes last.
            return ("delete", len(desired), None, None)
        if draft is not None and (draft != self._drafted or time.monotonic() - self._drafted_at >= DRAFT_REFRESH):
            return ("draft", len(desired), draft, None)
        return None

    async def _flush_loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            finished = self._done
            await self._sync()
            if finished:
                return

    async def _sync(self) -> None:
        """Bring the shown messages to the desired state, one paced request at a time."""
        failures = 0
        while self.result.forbidden is None and self._next_op() is not None:
            op = None
            sent_at = time.monotonic()
            try:
                async with self._limiter.slot(self.target.chat_id, first=not self._shown):
                    op = self._next_op()  # what to send is decided once the slot is granted
                    if op is None:
                        return
                    sent_at = time.monotonic()
                    await self._apply(*op)
                failures = 0
            except Forbidden as exc:
                self._abandon(exc)
                return
            except RetryAfter:
                self.result.flood_waits += 1  # the limiter blocked the chat: the next slot comes after the wait
            except BadRequest as exc:
                assert op is not None
                failures += 1
                if not self._handle_bad_request(exc, op) or failures >= MAX_FAILURES:
                    logger.error("giving up on a reply in chat %s: %s", self.target.chat_id, exc)
                    return
            except NetworkError as exc:
                assert op is not None
                if op[0] == "send" and op[2] is not None and self._lost is None:
                    known = [s.message_id for s in self._shown] + [self.target.reply_to or 0, self.target.after or 0]
                    self._lost = (op[2], op[3], max(known), sent_at)
                failures += 1
                logger.warning("Bot API request failed (%s/%s): %s", failures, MAX_FAILURES, exc)
                if failures >= MAX_FAILURES:
                    return
                await asyncio.sleep(min(2.0**failures, 10.0))

    def _handle_bad_request(self, exc: BadRequest, op: tuple[str, int, Part | None, object]) -> bool:
        """Adapt to a 400 answer; False when the reply cannot go on."""
        message = exc.message.lower()
        kind, index, part, markup = op
        if "not modified" in message and kind == "edit" and part is not None:
            self._shown[index] = _Shown(self._shown[index].message_id, part, markup)  # type: ignore[arg-type]
            return True
        if "can't parse entities" in message or "entit" in message:
            if self._plain:
                return False
            logger.warning("Telegram refused the entities (%s); sending plain text", exc.message)
            self._plain = True
            return True
        if kind == "draft":
            logger.warning("Telegram refused a draft (%s); going on with edits", exc.message)
            self._drafting = False
            return True
        if kind in ("edit", "delete") and ("not found" in message or "can't be edited" in message):
            lost = self._shown.pop(index)  # the next sync re-sends its content
            logger.warning("message %s can no longer be edited: %s", lost.message_id, exc.message)
            return True
        return False

    async def _apply(self, kind: str, index: int, part: Part | None, markup: InlineKeyboardMarkup | None) -> None:
        chat_id = self.target.chat_id
        if kind == "delete":
            await self._bot.delete_message(chat_id, self._shown[index].message_id, **self._paced)
            self._shown.pop(index)
            self.result.deletes += 1
            return
        assert part is not None
        if kind == "draft":
            await self._bot.send_message_draft(
                chat_id,
                self._draft_id,
                part.text,
                message_thread_id=self.target.thread_id,
                entities=list(part.entities) or None,
                api_kwargs=DRAFT_STOP,
                **self._paced,
            )
            self._drafted, self._drafted_at = part, time.monotonic()
            self.result.drafts += 1
            if part.text:
                self._mark_visible()
            return
        if kind == "edit":
            await self._bot.edit_message_text(
                part.text,
                chat_id=chat_id,
                message_id=self._shown[index].message_id,
                entities=list(part.entities) or None,
                reply_markup=markup,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                **self._paced,
            )
            self._shown[index] = _Shown(self._shown[index].message_id, part, markup)
            self.result.edits += 1
            return
        message = await self._bot.send_message(
            chat_id,
            part.text,
            entities=list(part.entities) or None,
            message_thread_id=self.target.thread_id,
            reply_parameters=(
                ReplyParameters(self.target.reply_to, allow_sending_without_reply=True)
                if self.target.reply_to and index == 0
                else None
            ),
            reply_markup=markup,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            **self._paced,
        )
        self._shown.insert(index, _Shown(message.message_id, part, markup))
        self._drafted = None  # the message replaces the draft (the next part is drafted anew)
        self.result.sends += 1
        self._mark_visible()
        if self._lost is not None:
            await self._remove_lost(message.message_id)
        if self._on_message is not None:
            try:
                await self._on_message(message.message_id)
            except Exception as error:  # noqa: BLE001 - the caller's bookkeeping must not stop the reply
                logger.warning("chat %s: noting message %s failed: %s", self.target.chat_id, message.message_id, error)

    async def _remove_lost(self, newest: int) -> None:
        """A send whose answer was lost was sent again as ``newest``: find the first copy, if Telegram
        carried it out, and delete it, so no duplicate (and no Stop button) outlives the reply.

        The Bot API has no idempotent send and no way to read a message, so the copy is looked for
        among the ids between the newest known before the loss and ``newest``, skipping every
        message the bot knows it sent (``bot.sent``, see :class:`~bot.telegram.tolerant.SentMessages`):
        an edit to the lost part's very content fails on a user's message ("message can't be edited")
        and is "not modified" on the lost copy (or succeeds on another message of the bot nobody
        knows, which can only be another lost copy); it is then deleted, with its Stop button still
        shown until then (a user sees the reply finished only once it is gone). Without
        ``bot.sent`` nothing is tried (another message of the bot could be overwritten). At most
        :data:`LOST_SEND_PROBES` ids are tried, each a paced request. A copy not found here may
        still come (Telegram carrying the first send out after the second): :meth:`_sweep_lost`
        looks again when the reply ends."""
        assert self._lost is not None
        part, markup, floor, lost_at = self._lost
        self._lost = None
        if getattr(self._bot, "sent", None) is None or not floor:
            return
        below = range(newest - 1, max(floor, newest - 1 - LOST_SEND_PROBES), -1)
        if not await self._probe_lost(part, markup, below):
            self._unfound = (part, markup, floor, lost_at)

    async def _sweep_lost(self) -> None:
        """Run in the background (:meth:`ReplyStreamer.later`) once the reply has ended and a lost
        send's copy was not found: look for it among the ids from
        the newest known before the loss up to :data:`LOST_SEND_PROBES` past the reply's newest
        message (a copy carried out late has a higher id than the resent one), now and, if it is not
        there yet, once more :data:`LOST_SEND_HORIZON` seconds after the loss."""
        assert self._unfound is not None
        part, markup, floor, lost_at = self._unfound
        self._unfound = None
        for _ in range(2):
            top = max([floor, *(s.message_id for s in self._shown)]) + LOST_SEND_PROBES
            if await self._probe_lost(part, markup, range(floor + 1, top + 1)):
                return
            wait = lost_at + LOST_SEND_HORIZON - time.monotonic()
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        logger.info("chat %s: no copy of a lost send was found; Telegram did not carry it out", self.target.chat_id)

    async def _probe_lost(self, part: Part, markup: InlineKeyboardMarkup | None, candidates: range) -> bool:
        """Try the ``candidates`` (message ids) the bot does not know, at most :data:`LOST_SEND_PROBES`
        of them, for the lost copy of ``part`` (see :meth:`_remove_lost`); delete it when found.
        True when it was found (deleted or not), or when looking cannot go on."""
        sent = getattr(self._bot, "sent", None)
        chat_id = self.target.chat_id
        unknown = [c for c in candidates if not (sent is not None and (chat_id, c) in sent) and not self.shows(c)]
        for candidate in unknown[:LOST_SEND_PROBES]:
            try:
                async with self._limiter.slot(chat_id):
                    await self._bot.edit_message_text(
                        part.text,
                        chat_id=chat_id,
                        message_id=candidate,
                        entities=list(part.entities) or None,
                        reply_markup=markup,
                        link_preview_options=LinkPreviewOptions(is_disabled=True),
                        **self._paced,
                    )
            except BadRequest as exc:
                if "not modified" not in exc.message.lower():
                    continue  # not a message of the bot (or gone, or not sent yet)
            except TelegramError as exc:
                logger.warning("chat %s: looking for a duplicate of a lost send failed: %s", chat_id, exc)
                return True
            try:
                async with self._limiter.slot(chat_id):
                    await self._bot.delete_message(chat_id, candidate, **self._paced)
            except TelegramError as exc:
                logger.warning("chat %s: the duplicate %s of a lost send stays (%s)", chat_id, candidate, exc)
                return True
            self.result.duplicates_removed += 1
            logger.info("chat %s: removed message %s, sent twice after its answer was lost", chat_id, candidate)
            return True
        return False

    def _mark_visible(self) -> None:
        if self.result.first_visible is None:
            self.result.first_visible = time.monotonic() - self._started
