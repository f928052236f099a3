"""``RetryProvider``: a chain of providers with retries, fallbacks, timeouts and cooldown.

Modelled on gpt4free's ``RetryProvider`` (same constructor) with the resilience
of LiteLLM's Router:

- **model routing**: a chosen model goes first to the providers that offer it
  (:meth:`~providers.base.BaseProvider.offers`), in chain order; then, unless
  ``model_fallback`` is off, to the others, each with its own default model
  (like LiteLLM's fallbacks, which name their own model). A provider whose server
  answers "model not found" is skipped for that model without counting against
  its health, and joins the fallbacks;
- each attempt starts with a :class:`~providers.base.ProviderInfo` event naming
  the provider and the model it was asked for, so the consumer knows who wrote
  the answer it keeps;
- providers are tried in order (shuffled if asked); each is retried with
  exponential backoff and jitter, honouring ``Retry-After``;
- non-retryable errors (bad key, bad request, unsupported model, CAPTCHA) and an
  answer without text (:class:`~providers.errors.EmptyAnswerError`) move on to the
  next provider at once;
- three deadlines guard every attempt: to the first chunk, between chunks,
  and in total;
- a provider that failed ``cooldown_failures`` times in a row is skipped for
  ``cooldown_seconds``, then probed again by the next request;
- **exactly once**: when an attempt fails after it yielded text, the chain
  yields :class:`~providers.base.Reset` before the next attempt's text, so a
  consumer can discard the partial answer. The consumer's final text is always
  one attempt's complete answer (never duplicated, never spliced);
- **context overflow** recovers by itself: the provider is asked once more without the
  oldest messages (``ProviderInfo.left_out`` says how many);
- a successful answer ends with its :class:`~providers.base.Usage` (estimated where the
  server reported none);
- when every attempt failed, :class:`~providers.errors.RetryProviderError`
  lists them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from .answer import Answer, dispatch
from .base import (
    BaseProvider,
    Chunk,
    Finish,
    Messages,
    ProviderInfo,
    Reasoning,
    Reset,
    Usage,
    has_images,
    without_images,
)
from .errors import (
    Attempt,
    BadRequestError,
    ContextLengthError,
    EmptyAnswerError,
    ImagesNotSupportedError,
    InterruptedStreamError,
    ModelNotSupportedError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    RetryProviderError,
)
from .slots import Slots
from .tokens import answer_reserve, estimate_messages, trim_to_fit

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Deadlines of one attempt, in seconds.

    Attributes:
        first_chunk: from the request to the first text chunk (LiteLLM's ``stream_timeout``).
        idle: between two chunks.
        total: the whole attempt.
    """

    first_chunk: float = 30.0
    idle: float = 30.0
    total: float = 300.0


@dataclass(frozen=True, slots=True)
class Route:
    """One step of a request's plan: a provider and the model to ask it for.

    Attributes:
        provider: the provider.
        model: the model name to ask for; "" means the provider's default.
        fallback: True when the provider does not offer the requested model and
            answers with its own default instead.
        reason: why a fallback model answers, when not because the requested one is
            unavailable ("can't see images").
    """

    provider: BaseProvider
    model: str
    fallback: bool = False
    reason: str = ""


@dataclass(slots=True)
class _Health:
    failures: int = 0
    cooldown_until: float = 0.0


class ProviderHealth:
    """Consecutive-failure counts and cooldowns per provider name.

    A provider that failed ``failures_to_cool`` times in a row is cooling down
    for ``cooldown_seconds``; a rate limit with a long ``Retry-After`` cools it
    down for that long at once. After the cooldown, the provider is probed
    again: one more failure cools it down again, a success clears the count.
    """

    def __init__(
        self, failures_to_cool: int = 3, cooldown_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.failures_to_cool = failures_to_cool
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._state: dict[str, _Health] = {}

    def is_cooling(self, name: str) -> bool:
        """True while ``name`` is in cooldown."""
        state = self._state.get(name)
        return state is not None and state.cooldown_until > self._clock()

    def cooldown_remaining(self, name: str) -> float:
        """Seconds of cooldown left for ``name`` (0 when none)."""
        state = self._state.get(name)
        return max(0.0, state.cooldown_until - self._clock()) if state else 0.0

    def success(self, name: str) -> None:
        """A success clears the provider's failure count and cooldown."""
        self._state.pop(name, None)

    def cool(self, name: str, seconds: float) -> None:
        """Cool ``name`` down for ``seconds`` (at least), counting no failure: a cooldown another
        process found (see ``bot.app.replication.SharedHealth``)."""
        state = self._state.setdefault(name, _Health())
        state.cooldown_until = max(state.cooldown_until, self._clock() + seconds)

    def failure(self, name: str, cool_for: float | None = None) -> None:
        """Count a failure; ``cool_for`` forces a cooldown of that many seconds."""
        state = self._state.setdefault(name, _Health())
        state.failures += 1
        now = self._clock()
        if cool_for is not None:
            state.cooldown_until = max(state.cooldown_until, now + cool_for)
        elif state.failures >= self.failures_to_cool:
            state.cooldown_until = now + self.cooldown_seconds


class RetryProvider(BaseProvider):
    """Walks a chain of providers until one gives a complete answer.

    Args:
        providers: provider instances or classes (a class runs on ``cls.default()``).
        shuffle: try the providers in random order.
        single_provider_retry: use only the first provider (after shuffling),
            retrying it up to ``max_retries`` times, as in gpt4free.
        max_retries: attempts per provider for retryable errors (>= 1).
        timeouts: per-attempt deadlines, see :class:`Timeouts`.
        backoff_base: seconds before the first retry; doubled each retry, with jitter.
        backoff_max: cap of one backoff, seconds.
        max_retry_after: a ``Retry-After`` longer than this (seconds) is not
            waited for: the provider cools down for that long and the chain moves on.
        health: shared failure counts and cooldowns (one per application).
        model_fallback: when the providers offering the requested model all failed,
            let the others answer with their own default model (``ProviderInfo.fallback``
            tells the consumer). Off: only providers offering the model are tried.
        context_reserve: tokens of a model's window kept for the answer when the chain leaves out
            older messages after a :class:`~providers.errors.ContextLengthError` (at most a quarter
            of the window).
        interrupted_backoff: seconds waited at least before retrying a stream the server ended
            without a finish reason (:class:`~providers.errors.InterruptedStreamError`: another
            request took its slot), times the retry's number.
        on_attempt: called with each :class:`~providers.errors.Attempt` as it ends (answered,
            failed, or skipped for a cooling provider): a hook for metrics; it must not raise.

    **Parallel requests**: each attempt holds one of its provider's slots
    (:meth:`~providers.base.BaseProvider.parallel_limit`: ``{NAME}_MAX_PARALLEL`` or what the server
    says; none: unlimited) from the request to the end of its stream; the others wait in arrival
    order, at most ``timeouts.total`` seconds, before their deadlines start. The slots are shared
    by every copy of the chain (:meth:`only`).

    Yields :class:`ProviderInfo` at the start of each attempt, ``str`` deltas, after a
    mid-answer failure :class:`Reset`, and last the :class:`Usage` of the answer kept (the
    server's, else an estimate marked ``estimated``).

    **Context overflow**: when a provider says the conversation exceeds its model's context,
    the chain asks it once more without the oldest messages (system prompt and question stay),
    fitted to the numbers the server gave (:meth:`_fit`); the new attempt's
    :class:`ProviderInfo` says how many were left out (``left_out``). If even that does not fit,
    the next provider is tried with the whole conversation.

    Raises:
        RetryProviderError: every attempt failed; ``attempts`` lists them.
    """

    label: ClassVar[str | None] = "RetryProvider"

    def __init__(
        self,
        providers: Sequence[BaseProvider | type[BaseProvider]],
        shuffle: bool = False,
        single_provider_retry: bool = False,
        max_retries: int = 3,
        *,
        timeouts: Timeouts | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        max_retry_after: float = 20.0,
        health: ProviderHealth | None = None,
        model_fallback: bool = True,
        context_reserve: int = 1024,
        interrupted_backoff: float = 2.0,
        rng: random.Random | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_attempt: Callable[[Attempt], None] | None = None,
    ) -> None:
        if not providers:
            raise ValueError("RetryProvider needs at least one provider")
        self.providers: list[BaseProvider] = [p.default() if isinstance(p, type) else p for p in providers]
        self.shuffle = shuffle
        self.single_provider_retry = single_provider_retry
        self.max_retries = max(1, max_retries)
        self.timeouts = timeouts or Timeouts()
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.health = health or ProviderHealth(clock=clock)
        self.model_fallback = model_fallback
        self.context_reserve = context_reserve
        self.interrupted_backoff = interrupted_backoff
        #: Each provider's slots, by name (see "Parallel requests").
        self._slots: dict[str, Slots] = {}
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._clock = clock
        #: Called with every attempt as it ends (failed, skipped or answered): a metrics hook.
        self.on_attempt = on_attempt

    def _attempted(self, attempt: Attempt) -> None:
        _log_attempt(attempt)
        if self.on_attempt is not None:
            self.on_attempt(attempt)

    @classmethod
    def default(cls) -> RetryProvider:
        """Not available: a chain needs its providers."""
        raise TypeError("RetryProvider must be constructed with its providers")

    def only(self, names: Iterable[str]) -> RetryProvider:
        """The same chain (policy, timeouts, shared health) restricted to the named providers, in order.

        Raises:
            ValueError: none of the names is in the chain.
        """
        wanted = set(names)
        chosen = [p for p in self.providers if p.name in wanted]
        if not chosen:
            raise ValueError(f"no provider named {sorted(wanted)} in the chain")
        subset = copy.copy(self)
        subset.providers = chosen
        return subset

    def candidates(self) -> list[BaseProvider]:
        """The providers a request may try, in chain order (shuffled if asked; the first only with
        ``single_provider_retry``), cooling or not."""
        chain = list(self.providers)
        if self.shuffle:
            self._rng.shuffle(chain)
        if self.single_provider_retry:
            chain = chain[:1]
        return chain

    def order(self) -> list[BaseProvider]:
        """The providers a request without a chosen model will try, in order.

        Providers in cooldown are left out, unless every provider is cooling
        down: then all are tried, soonest-recovering first.
        """
        return [route.provider for route in self._ready([Route(p, "") for p in self.candidates()])]

    def _ready(self, routes: list[Route]) -> list[Route]:
        ready = [r for r in routes if not self.health.is_cooling(r.provider.name)]
        if ready:
            return ready
        return sorted(routes, key=lambda r: self.health.cooldown_remaining(r.provider.name))

    async def plan(self, model: str) -> tuple[list[Route], list[Attempt]]:
        """The routes a request for ``model`` ("" = each provider's default) will try, in order.

        First the providers that offer ``model`` or cannot tell (their ``offers()`` is True
        or None), in chain order; then, with :attr:`model_fallback`, those that do not,
        each with its default model. Cooling providers are left out as in :meth:`order`.

        Returns:
            The routes, and one failed :class:`~providers.errors.Attempt` (a
            ``ModelNotSupportedError``, 0 s) per provider left out because it does not
            offer ``model`` and fallback is off.
        """
        chain = self.candidates()
        if not model:
            return self._ready([Route(p, "") for p in chain]), []
        offered = await asyncio.gather(*(self._offers(p, model) for p in chain))
        first = [Route(p, model) for p, offers in zip(chain, offered, strict=True) if offers is not False]
        rest = [p for p, offers in zip(chain, offered, strict=True) if offers is False]
        if self.model_fallback:
            return self._ready(first + [Route(p, "", fallback=True) for p in rest]), []
        skipped = [
            Attempt(p.name, model, ModelNotSupportedError(f"{p.name} does not offer {model!r}", provider=p.name), 0.0)
            for p in rest
        ]
        return (self._ready(first) if first else []), skipped

    async def image_routes(self, model: str) -> list[Route]:
        """The routes of :meth:`plan` for a request with images: a route whose model cannot see
        images goes to the provider's vision model instead (a fallback, "can't see images"), or
        is left out when the provider has none; providers that take text only are left out.
        Empty when no provider of the chain can answer an image."""
        routes, _ = await self.plan(model)
        seeing: list[Route] = []
        for route in routes:
            try:
                sees = await route.provider.sees_images(route.model)
            except Exception as error:  # noqa: BLE001 - one provider's failure leaves the others
                logger.debug("provider=%s cannot tell whether it sees images: %s", route.provider.name, error)
                sees = None
            if sees is not False:
                seeing.append(route)
                continue
            alternative = route.provider.vision_model()
            if alternative is not None and not any(r.provider is route.provider for r in seeing):
                seeing.append(Route(route.provider, alternative, fallback=True, reason="can't see images"))
        return seeing

    async def _offers(self, provider: BaseProvider, model: str) -> bool | None:
        """``provider.offers(model)``; None when it fails in any way or takes longer than the first-chunk
        timeout: one backend's failure never stops the others from being asked."""
        try:
            async with asyncio.timeout(self.timeouts.first_chunk):
                return await provider.offers(model)
        except Exception as error:  # noqa: BLE001 - whatever a provider raises, the chain goes on
            logger.debug("provider=%s cannot tell whether it offers %s: %s", provider.name, model, error)
            return None

    def _add_fallback(self, routes: list[Route], position: int, provider: BaseProvider) -> None:
        """Put ``provider`` (which refused the chosen model) among the fallbacks still ahead, in chain order."""
        if any(r.provider is provider and r.fallback for r in routes):
            return
        rank = {id(p): i for i, p in enumerate(self.providers)}
        index = next(
            (
                i
                for i in range(position, len(routes))
                if routes[i].fallback and rank.get(id(routes[i].provider), 0) > rank.get(id(provider), 0)
            ),
            len(routes),
        )
        routes.insert(index, Route(provider, "", fallback=True))

    def backoff(self, retry: int, error: BaseException) -> float:
        """Seconds to wait before retry number ``retry`` (0-based) after ``error``.

        Exponential with "equal jitter": half fixed, half random. A rate limit's
        ``Retry-After`` is a lower bound.
        """
        delay = min(self.backoff_max, self.backoff_base * (2**retry))
        delay = delay / 2 + self._rng.uniform(0, delay / 2)
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            delay = max(delay, error.retry_after)
        if isinstance(error, InterruptedStreamError):  # another request has the slot: let it finish
            delay = max(delay, self.interrupted_backoff * (retry + 1))
        return delay

    async def stream(
        self, model: str, messages: Messages, proxy: str | None = None, **kwargs: Any
    ) -> AsyncIterator[Chunk]:
        """Yield one complete answer: :class:`ProviderInfo` at each attempt's start, ``str`` deltas,
        and :class:`Reset` before any restart.

        Args:
            model: the model asked for; "" lets every provider use its default (no routing).
            messages: when the last one shows an image, only routes that see images are tried
                (:meth:`image_routes`); a provider that takes text only gets earlier images as
                "[image]" (:func:`~providers.base.without_images`).

        Raises:
            RetryProviderError: every attempt failed; ``attempts`` lists them in order (one
                ``ImagesNotSupportedError`` when no provider sees images).
        """
        attempts: list[Attempt]
        if has_images(messages[-1:]):  # the question shows an image (earlier ones go as words if need be)
            routes, attempts = await self.image_routes(model), []
            if not routes:
                names = ", ".join(p.name for p in self.providers)
                refusal = ImagesNotSupportedError(f"no provider of the chain ({names}) takes images")
                raise RetryProviderError([Attempt("-", model, refusal, 0.0)])
        else:
            routes, attempts = await self.plan(model)
        for skipped in attempts:
            self._attempted(skipped)
        refused: set[str] = set()  # providers whose server said it lacks ``model``
        position = 0
        while position < len(routes):
            route = routes[position]
            position += 1
            provider = route.provider
            asked, left_out, trimmed = messages, 0, False  # what this route is sent; oldest left out
            retry = 0
            while retry < self.max_retries:
                started = self._clock()
                chunks = 0
                sent = route.model
                answer = Answer()  # this attempt's answer, folded as any consumer folds it
                try:
                    sent = await provider.resolve_model(route.model)
                    if route.fallback and sent == model and provider.name in refused:
                        break  # its default is the model it just refused
                    yield ProviderInfo(
                        provider.name,
                        sent,
                        model,
                        fallback=route.fallback and sent != model,
                        reason=route.reason,
                        left_out=left_out,
                    )
                    given = asked if await provider.sees_images(sent) is not False else without_images(asked)
                    answer = Answer(given)
                    async with contextlib.aclosing(self._attempt(provider, sent, given, proxy, kwargs)) as attempt:
                        async for chunk in attempt:
                            answer.add(chunk)
                            chunks = answer.text_chunks
                            yield chunk
                    if not answer.text:
                        raise EmptyAnswerError("the answer had no text", provider=provider.name)
                except Exception as exc:  # noqa: BLE001 - every failure of a provider is recorded
                    error = exc if isinstance(exc, ProviderError) else _unexpected(exc, provider.name)
                    elapsed = self._clock() - started
                    attempts.append(Attempt(provider.name, sent, error, elapsed, chunks))
                    self._attempted(attempts[-1])
                    if chunks:
                        yield Reset(provider.name, str(error))
                    if isinstance(error, ContextLengthError) and not trimmed:
                        trimmed = True
                        asked, dropped = await self._fit(provider, sent, asked, error)
                        if dropped:
                            left_out += dropped
                            logger.info(
                                "provider=%s model=%s context exceeded; asking again without the %d oldest messages",
                                provider.name,
                                sent or "-",
                                dropped,
                            )
                            continue  # the same provider, once more, with what fits
                    if isinstance(error, ModelNotSupportedError) and model and not route.fallback:
                        refused.add(provider.name)
                        if self.model_fallback:
                            self._add_fallback(routes, position, provider)
                    wait = error.retry_after if isinstance(error, RateLimitError) else None
                    too_long = wait is not None and wait > self.max_retry_after
                    queued = isinstance(error, ProviderTimeoutError) and error.phase == "queue"
                    if not isinstance(error, BadRequestError) and not queued:
                        # A refused request (say, a model this provider lacks) says nothing of its health,
                        # nor does a wait for one of its slots (it is busy with this chain's requests).
                        self.health.failure(provider.name, cool_for=wait if too_long else None)
                    # A provider that timed out is likely to again: with another provider left, move on.
                    timed_out_with_fallback = isinstance(error, ProviderTimeoutError) and position < len(routes)
                    if not error.retryable or too_long or timed_out_with_fallback or retry + 1 >= self.max_retries:
                        break
                    await self._sleep(self.backoff(retry, error))
                    retry += 1
                else:
                    if answer.reported is None:  # the server counted nothing: the estimate, marked as such
                        yield answer.usage
                    attempts.append(Attempt(provider.name, sent, None, self._clock() - started, chunks))
                    self._attempted(attempts[-1])
                    self.health.success(provider.name)
                    return
        raise RetryProviderError(attempts)

    async def _fit(
        self, provider: BaseProvider, model: str, messages: Messages, error: ContextLengthError
    ) -> tuple[Messages, int]:
        """``messages`` without the oldest turns, to fit the window the server named (else the one the
        provider knows) less the answer's reserve (:attr:`context_reserve`, at most a quarter of the
        window); the older half when no window is known. Returns them and how many were left out."""
        window = error.limit
        if window is None:
            try:
                window = await provider.context_window(model)
            except ProviderError:
                window = None
        if window is None:
            return trim_to_fit(messages, None)
        estimate = estimate_messages(messages)
        scale = error.requested / estimate if error.requested and estimate else 1.0
        return trim_to_fit(messages, window - answer_reserve(window, self.context_reserve), scale=scale)

    async def _attempt(
        self, provider: BaseProvider, model: str, messages: Messages, proxy: str | None, kwargs: dict[str, Any]
    ) -> AsyncGenerator[Chunk, None]:
        """One provider's stream under the three deadlines of :attr:`timeouts`, holding one of the
        provider's slots (waited for first, in arrival order, at most ``timeouts.total`` seconds).

        Raises:
            ProviderTimeoutError: a deadline passed (``phase`` "queue" when no slot came free).
        """
        slots = self._slots.setdefault(provider.name, Slots())
        slots.limit = await self._parallel_limit(provider, slots.limit)
        try:
            async with asyncio.timeout(self.timeouts.total):
                await slots.acquire()
        except TimeoutError as exc:
            raise ProviderTimeoutError(
                f"no free slot within {self.timeouts.total:.1f}s ({slots.limit} request(s) at once)",
                provider=provider.name,
                phase="queue",
            ) from exc
        try:
            async with contextlib.aclosing(self._timed(provider, model, messages, proxy, kwargs)) as timed:
                async for chunk in timed:
                    yield chunk
        finally:
            slots.release()

    async def _parallel_limit(self, provider: BaseProvider, known: int | None) -> int | None:
        """``provider.parallel_limit()``, or ``known`` when it fails or takes longer than the
        first-chunk timeout."""
        try:
            async with asyncio.timeout(self.timeouts.first_chunk):
                return await provider.parallel_limit()
        except Exception as error:  # noqa: BLE001 - the limit is a courtesy to the server, never a failure
            logger.debug("provider=%s cannot tell how many requests it serves at once: %s", provider.name, error)
            return known

    async def _timed(
        self, provider: BaseProvider, model: str, messages: Messages, proxy: str | None, kwargs: dict[str, Any]
    ) -> AsyncGenerator[Chunk, None]:
        """One provider's stream under the three deadlines of :attr:`timeouts`."""
        # gpt4free's providers take ``stream`` as a parameter of their own: always passed.
        stream = provider.create_async_generator(model, messages, proxy=proxy, **{"stream": True, **kwargs})
        iterator = stream.__aiter__()
        deadline = self._clock() + self.timeouts.total
        progress = _Progress()
        try:
            while True:
                got_text = progress.got_text
                phase = "idle" if got_text else "first_chunk"
                limit = self.timeouts.idle if got_text else self.timeouts.first_chunk
                remaining = deadline - self._clock()
                if remaining < limit:
                    phase, limit = "total", remaining
                try:
                    async with asyncio.timeout(max(0.0, limit)):
                        chunk = await iterator.__anext__()
                except StopAsyncIteration:
                    return
                except TimeoutError as exc:
                    if progress.finished:
                        return  # the answer is whole; only its usage did not come in time
                    raise ProviderTimeoutError(
                        f"no {'chunk' if got_text else 'first chunk'} within {limit:.1f}s ({phase} timeout)",
                        provider=provider.name,
                        phase=phase,
                    ) from exc
                progress.heartbeat = False
                dispatch(chunk, progress)
                if progress.heartbeat:
                    continue  # the deadline above starts again, nothing to pass on
                yield chunk
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()


class _Progress:
    """How far one provider's stream got, for its deadlines: an
    :class:`~providers.answer.AnswerListener` of the raw chunks (:func:`~providers.answer.dispatch`)."""

    def __init__(self) -> None:
        self.got_text = self.finished = self.heartbeat = False

    def on_text(self, text: str) -> None:
        """Text starts the idle deadline; "" is a heartbeat (progress, nothing to pass on)."""
        self.heartbeat = not text
        self.got_text = self.got_text or bool(text)

    def on_reset(self, reset: Reset) -> None:
        """A nested chain starts over: its first chunk is awaited again."""
        self.got_text = False

    def on_info(self, info: ProviderInfo) -> None:
        """A nested chain's attempt: not text."""

    def on_finish(self, finish: Finish) -> None:
        """The answer is whole: only its usage may still come."""
        self.finished = True

    def on_usage(self, usage: Usage) -> None:
        """What the answer took: not text."""

    def on_reasoning(self, reasoning: Reasoning) -> None:
        """The model thinks: progress (the deadline starts again), passed on, but not text."""


class IterListProvider(RetryProvider):
    """gpt4free's ``IterListProvider(providers, shuffle=True)``: each provider is tried once, in order
    (shuffled unless ``shuffle`` is False), until one answers; the rest is :class:`RetryProvider`'s."""

    label: ClassVar[str | None] = "IterListProvider"

    def __init__(self, providers: Sequence[BaseProvider | type[BaseProvider]], shuffle: bool = True, **kwargs: Any):
        super().__init__(providers, shuffle, max_retries=1, **kwargs)


def _unexpected(exc: BaseException, provider: str) -> ProviderError:
    """A non-ProviderError from a provider (a bug or an unmapped library error): move on, don't retry."""
    error = ProviderError(f"{type(exc).__name__}: {exc}", provider=provider)
    error.retryable = False
    error.__cause__ = exc
    return error


def _log_attempt(attempt: Attempt) -> None:
    level = logging.INFO if attempt.error is None else logging.WARNING
    logger.log(
        level,
        "provider=%s model=%s outcome=%s latency=%.2fs chunks=%d%s",
        attempt.provider,
        attempt.model or "-",
        attempt.outcome,
        attempt.elapsed,
        attempt.chunks,
        f" error={attempt.error}" if attempt.error is not None else "",
    )
