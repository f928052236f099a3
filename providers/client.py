"""OpenAI-style clients over any provider, as in gpt4free::

    client = Client(provider=RetryProvider([OpenAI], single_provider_retry=True, max_retries=5))
    for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True):
        print(chunk.choices[0].delta.content or "", end="")

    client = AsyncClient(provider=OpenAI)
    completion = await client.chat.completions.create(messages, "")  # gpt4free's order: messages, model
    print(completion.choices[0].message.content)

With ``stream=True``, text is never spliced or duplicated: if a provider fails after it
streamed part of an answer, :class:`~providers.errors.AnswerInterruptedError` is raised
(the chain still fails over for failures before the first text). Pass ``reset_chunks=True``
to keep going instead: a chunk with ``reset=True`` (and no content) means "discard the text
received so far", and the next provider's complete answer follows (see :class:`providers.Reset`).
With ``stream=False`` this is handled for you: the content is exactly one answer.

``completion.provider`` and ``completion.model`` (and the same on every chunk) name
the provider and model that wrote the answer: with a :class:`~providers.RetryProvider`
that may be a fallback, not the model asked for.

``completion.usage`` (prompt, completion and total tokens) is the server's count, or an
estimate with ``usage.estimated`` True where the server reported none. A stream carries it
on a last chunk with no choices when asked as the OpenAI API is asked:
``create(..., stream=True, stream_options={"include_usage": True})``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from typing import Any

from .answer import Answer
from .backends.openai import OpenAI
from .base import BaseProvider, Finish, Messages, ProviderInfo, Reasoning, Reset, Usage, run_sync
from .errors import AnswerInterruptedError
from .retry import RetryProvider
from .types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    Choice,
    ChunkChoice,
    CompletionUsage,
    Delta,
    completion_id,
)

ProviderLike = BaseProvider | type[BaseProvider]


def _proxy_url(proxies: Mapping[str, str] | str | None) -> str | None:
    """One proxy URL from a requests-style ``{"http": ..., "https": ...}`` mapping (``https`` preferred)."""
    if proxies is None or isinstance(proxies, str):
        return proxies or None
    return proxies.get("all") or proxies.get("https") or proxies.get("http") or None


def _instance(provider: ProviderLike | None) -> BaseProvider:
    if provider is None:
        return OpenAI.default()
    return provider.default() if isinstance(provider, type) else provider


def _usage(answer: Answer) -> CompletionUsage:
    usage = answer.usage
    return CompletionUsage(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, usage.estimated)


class _Cut:
    """gpt4free's client-side limits on the text of an answer, for providers that ignore them:
    at most ``max_tokens`` text chunks (a streamed chunk is about a token; None or 0: no limit), and
    nothing from the first ``stop`` sequence on. Text that may begin a stop sequence is held back
    until the next chunk tells."""

    def __init__(self, max_tokens: int | None, stop: str | list[str] | None) -> None:
        self.max_tokens = max_tokens or None
        self.stops = [stop] if isinstance(stop, str) else [s for s in (stop or []) if s]
        self.reset()

    def reset(self) -> None:
        """A new answer starts (a chain's reset)."""
        self.text, self.sent, self.count, self.finish = "", 0, 0, ""

    def feed(self, delta: str) -> str:
        """The part of ``delta`` to pass on; :attr:`finish` is set ("length" or "stop") once the
        answer must end here."""
        self.text += delta
        self.count += 1
        found = [i for i in (self.text.find(s, max(0, self.sent - len(s) + 1)) for s in self.stops) if i >= 0]
        if found:
            self.finish = "stop"
            return self._take(min(found))
        if self.max_tokens is not None and self.count >= self.max_tokens:
            self.finish = "length"
            return self._take(len(self.text))
        held = max((k for s in self.stops for k in range(1, len(s)) if self.text.endswith(s[:k])), default=0)
        return self._take(len(self.text) - min(held, len(self.text) - self.sent))

    def flush(self) -> str:
        """What was held back, at the end of an answer that met no stop sequence."""
        return "" if self.finish else self._take(len(self.text))

    def _take(self, end: int) -> str:
        out, self.sent = self.text[self.sent : end], max(self.sent, end)
        return out


class _Deltas:
    """What a client call passes on of a chain's events (an :class:`~providers.answer.AnswerListener`
    of the folded :class:`~providers.answer.Answer`): the text within the client-side limits, and
    each reset (None in :attr:`out`), or :class:`~providers.errors.AnswerInterruptedError` for a
    reset when ``reset_chunks`` is False."""

    def __init__(self, cut: _Cut, reset_chunks: bool) -> None:
        self.cut = cut
        self.reset_chunks = reset_chunks
        self.out: list[str | None] = []

    def take(self) -> list[str | None]:
        """What to pass on since the last call."""
        out, self.out = self.out, []
        return out

    def on_text(self, text: str) -> None:
        content = self.cut.feed(text)
        if content:
            self.out.append(content)

    def on_reset(self, reset: Reset) -> None:
        if not self.reset_chunks:
            raise AnswerInterruptedError(
                f"{reset.provider} failed mid-answer ({reset.reason}); the text so far is incomplete."
                " Pass reset_chunks=True to get a reset chunk and the next provider's whole answer.",
                provider=reset.provider,
            )
        self.cut.reset()
        self.out.append(None)

    def on_info(self, info: ProviderInfo) -> None:
        """Who answers: read from the answer (each chunk names them)."""

    def on_finish(self, finish: Finish) -> None:
        """Why it ended: read from the answer (the last chunk's ``finish_reason``)."""

    def on_usage(self, usage: Usage) -> None:
        """The tokens: read from the answer (``usage``)."""

    def on_reasoning(self, reasoning: Reasoning) -> None:
        """The model's thinking: not part of ``delta.content`` (as the openai SDK's chunks have no place for it)."""


def _options(kwargs: dict[str, Any], stream: bool) -> tuple[dict[str, Any], _Cut]:
    """The provider's keyword arguments for one call (``stream`` among them, as gpt4free's providers
    take it) and the client-side limits from ``max_tokens`` and ``stop`` (both also passed on)."""
    options = {k: v for k, v in kwargs.items() if k != "stream_options"}
    options["stream"] = stream
    return options, _Cut(kwargs.get("max_tokens"), kwargs.get("stop"))


async def _chunks(
    provider: BaseProvider,
    model: str,
    messages: Messages,
    proxy: str | None,
    kwargs: dict[str, Any],
    reset_chunks: bool = False,
) -> AsyncIterator[ChatCompletionChunk]:
    """Chunks of one streamed completion. Each names the provider and model writing it: a chain's
    :class:`~providers.base.ProviderInfo` events update them; a single provider resolves its model first.

    As in gpt4free, the first chunk with text also carries ``delta.role == "assistant"`` (there is
    no role-only chunk), and a last chunk without text carries ``finish_reason``; ``max_tokens``
    and ``stop`` end the stream early (``"length"``, ``"stop"``).

    A failure after text was delivered becomes a chunk with ``reset=True`` (then the next complete
    answer) when ``reset_chunks`` is True; otherwise :class:`~providers.errors.AnswerInterruptedError`
    is raised, so a consumer that concatenates ``delta.content`` never gets spliced text. With
    ``stream_options={"include_usage": True}`` in ``kwargs`` a last chunk with no choices carries ``usage``.
    """
    cid = completion_id()
    asked = kwargs.get("stream_options") or {}
    options, cut = _options(kwargs, True)
    name, used = provider.name, model
    if not isinstance(provider, RetryProvider):
        used = await provider.resolve_model(model)
    deltas = _Deltas(cut, reset_chunks)
    answer = Answer(messages, deltas)
    role: str | None = "assistant"
    stream = provider.create_async_generator(model, messages, proxy=proxy, **options)
    async with contextlib.aclosing(stream):  # type: ignore[type-var]
        async for chunk in stream:
            answer.add(chunk)
            if answer.info is not None:
                name, used = answer.info.provider, answer.info.model
            for content in deltas.take():
                delta = Delta(role=role) if content is None else Delta(content=content, role=role)
                yield ChatCompletionChunk(cid, used, name, [ChunkChoice(delta)], reset=content is None)
                role = None
            if cut.finish:
                break
    rest = cut.flush()
    if rest:
        yield ChatCompletionChunk(cid, used, name, [ChunkChoice(Delta(content=rest, role=role))])
        role = None
    finish = cut.finish or answer.finish or "stop"
    yield ChatCompletionChunk(cid, used, name, [ChunkChoice(Delta(role=role), finish_reason=finish)])
    if isinstance(asked, Mapping) and asked.get("include_usage"):
        yield ChatCompletionChunk(cid, used, name, [], usage=_usage(answer))


async def _complete(
    provider: BaseProvider, model: str, messages: Messages, proxy: str | None, kwargs: dict[str, Any]
) -> ChatCompletion:
    """One whole completion: the text of the answer that was kept (within ``max_tokens`` chunks and
    before any ``stop`` sequence), who wrote it, why it ended, and its usage."""
    options, cut = _options(kwargs, False)
    name, used = provider.name, model
    if not isinstance(provider, RetryProvider):
        used = await provider.resolve_model(model)
    deltas = _Deltas(cut, reset_chunks=True)
    answer = Answer(messages, deltas)
    stream = provider.create_async_generator(model, messages, proxy=proxy, **options)
    async with contextlib.aclosing(stream):  # type: ignore[type-var]
        async for chunk in stream:
            answer.add(chunk)
            if cut.finish:
                break
    text = ""
    for content in [*deltas.take(), cut.flush()]:
        text = "" if content is None else text + content  # a reset starts the text over
    if answer.info is not None:
        name, used = answer.info.provider, answer.info.model
    choice = Choice(ChatMessage(text), finish_reason=cut.finish or answer.finish or "stop")
    return ChatCompletion(completion_id(), used, name, [choice], usage=_usage(answer))


class _CompletionsBase:
    def __init__(self, client: Client) -> None:
        self._client = client

    def _target(self, provider: ProviderLike | None, proxy: str | None) -> tuple[BaseProvider, str | None]:
        """The provider and proxy of one call: the call's own, else the client's."""
        return _instance(provider or self._client.provider), proxy or self._client.proxy


def _check_order(messages: object, model: object) -> None:
    """gpt4free's order is ``create(messages, model)``; the other one is named, not a crash deep inside.

    Raises:
        TypeError: ``messages`` is a model name, or ``model`` is not one.
    """
    if isinstance(messages, str) or not isinstance(model, str):
        raise TypeError(
            "create() takes (messages, model, ...) in that order, as gpt4free's client does;"
            " got a model name where the messages go. Pass them as keywords: create(model=..., messages=...)"
        )


class _Completions(_CompletionsBase):
    def create(
        self,
        messages: Messages,
        model: str = "",
        stream: bool = False,
        provider: ProviderLike | None = None,
        proxy: str | None = None,
        reset_chunks: bool = False,
        **kwargs: Any,
    ) -> ChatCompletion | Iterator[ChatCompletionChunk]:
        """Complete ``messages`` with ``model`` ("" = the provider's default).

        Positional order as gpt4free's: ``create(messages, model)``; the seeds' keyword form
        ``create(model=..., messages=...)`` works too. ``max_tokens`` and ``stop`` go to the
        provider and are also applied here, for providers that ignore them: at most ``max_tokens``
        text chunks (0 or None: no limit), nothing from a stop sequence on.

        Returns a :class:`~providers.types.ChatCompletion`, or with ``stream=True`` an
        iterator of :class:`~providers.types.ChatCompletionChunk`. Must not be called
        from inside a running event loop (use :class:`AsyncClient` there).

        With ``stream=True``, a provider failing after it streamed text raises
        :class:`~providers.errors.AnswerInterruptedError`, unless ``reset_chunks`` is True: then
        a chunk with ``reset=True`` says "discard the text so far" and the next answer follows whole.

        Raises:
            TypeError: ``create(model, messages)``: the order of the other API.
            providers.errors.ProviderError: the provider (or every provider of a chain) failed.
        """
        _check_order(messages, model)
        chosen, proxy = self._target(provider, proxy)
        if stream:
            return run_sync(_chunks(chosen, model, messages, proxy, kwargs, reset_chunks))
        return asyncio.run(_complete(chosen, model, messages, proxy, kwargs))


class _Chat:
    def __init__(self, completions: Any) -> None:
        self.completions = completions


class Client:
    """Synchronous OpenAI-style client.

    Args:
        provider: provider instance or class, or a :class:`~providers.retry.RetryProvider`;
            default: :class:`~providers.openai.OpenAI` configured from the environment.
        proxies: proxy URL, or a requests-style mapping ``{"http": url, "https": url}``.
    """

    def __init__(self, provider: ProviderLike | None = None, proxies: Mapping[str, str] | str | None = None) -> None:
        self.provider = provider
        self.proxy = _proxy_url(proxies)
        self.chat = _Chat(_Completions(self))


class _AsyncCompletions(_CompletionsBase):
    def create(
        self,
        messages: Messages,
        model: str = "",
        stream: bool = False,
        provider: ProviderLike | None = None,
        proxy: str | None = None,
        reset_chunks: bool = False,
        **kwargs: Any,
    ) -> _AsyncResult:
        """Like :meth:`_Completions.create`; await it for a completion, or ``async for`` it with
        ``stream=True`` (awaiting a streaming result gives the same async iterator).

        Raises:
            TypeError: ``create(model, messages)``: the order of the other API.
        """
        _check_order(messages, model)
        chosen, proxy = self._target(provider, proxy)
        return _AsyncResult(chosen, model, messages, proxy, kwargs, stream, reset_chunks)


class _AsyncResult:
    def __init__(
        self,
        provider: BaseProvider,
        model: str,
        messages: Messages,
        proxy: str | None,
        kwargs: dict[str, Any],
        stream: bool,
        reset_chunks: bool = False,
    ) -> None:
        self._args = (provider, model, messages, proxy, kwargs)
        self._stream = stream
        self._reset_chunks = reset_chunks

    def __await__(self) -> Generator[Any, None, Any]:
        return self._resolve().__await__()

    async def _resolve(self) -> ChatCompletion | AsyncIterator[ChatCompletionChunk]:
        if self._stream:
            return _chunks(*self._args, self._reset_chunks)
        return await _complete(*self._args)

    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        if not self._stream:
            raise TypeError("use stream=True to iterate over chunks")
        return _chunks(*self._args, self._reset_chunks)


class AsyncClient(Client):
    """Asynchronous OpenAI-style client; see :class:`Client` for the arguments."""

    def __init__(self, provider: ProviderLike | None = None, proxies: Mapping[str, str] | str | None = None) -> None:
        super().__init__(provider, proxies)
        self.chat = _Chat(_AsyncCompletions(self))
