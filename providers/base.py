"""Provider interface in the style of gpt4free (``g4f``).

A provider is a class per backend with the same class attributes and one
async-generator method::

    async for chunk in OpenAI.create_async_generator("gpt-4o-mini", messages):
        print(chunk, end="")

The method works on the class (a default instance is configured from the
environment, like the OpenAI SDK) and on a configured instance.

Chunks are ``str`` deltas; an empty string is a heartbeat (progress without
text, e.g. a reasoning model thinking). A provider may end with :class:`Finish` (why the
answer stopped early) and :class:`Usage` (the tokens the server counted). Only
:class:`~providers.retry.RetryProvider` also yields :class:`ProviderInfo` (which provider
and model the text that follows comes from) and :class:`Reset` (discard the text so far;
see there), and always ends a successful answer with a :class:`Usage` (estimated when the
server counted nothing). :class:`~providers.answer.Answer` folds these events for a consumer.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, TypeVar

from .errors import ModelNotSupportedError

Message = dict[str, Any]
"""One chat message: ``{"role": "system" | "user" | "assistant", "content": str}``; a user
message may instead carry OpenAI content parts, ``"content": [{"type": "text", "text": ...},
{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,..."}}]`` (OpenAI Chat
Completions, "Vision"), which only providers that see images get (:meth:`BaseProvider.sees_images`)."""

Messages = list[Message]


def env_prefix(name: str) -> str:
    """The prefix of a provider's settings: ``open-router`` -> ``OPEN_ROUTER`` (``OPEN_ROUTER_BASE_URL``...)."""
    return name.upper().replace("-", "_")


def context_setting(environ: Mapping[str, str], prefix: str) -> int | None:
    """``{prefix}_CONTEXT_TOKENS`` from ``environ``: a model's context window in tokens, or None when unset.

    Raises:
        ValueError: the value is not a whole number of at least 256 (the message names the setting).
    """
    value = environ.get(f"{prefix}_CONTEXT_TOKENS", "").strip().replace("_", "")
    if not value:
        return None
    if not value.isdigit() or int(value) < 256:
        raise ValueError(f"{prefix}_CONTEXT_TOKENS must be a whole number of tokens, at least 256 (got {value!r})")
    return int(value)


def parallel_setting(environ: Mapping[str, str], prefix: str) -> int | None:
    """``{prefix}_MAX_PARALLEL`` from ``environ``: requests the backend serves at once (its slots), or
    None when unset.

    Raises:
        ValueError: the value is not a whole number of at least 1 (the message names the setting).
    """
    value = environ.get(f"{prefix}_MAX_PARALLEL", "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{prefix}_MAX_PARALLEL must be a whole number of requests, at least 1 (got {value!r})")
    return int(value)


def has_images(messages: Messages) -> bool:
    """True when a message carries an ``image_url`` content part."""
    return any(
        isinstance(m.get("content"), list) and any(p.get("type") == "image_url" for p in m["content"]) for m in messages
    )


def without_images(messages: Messages) -> Messages:
    """``messages`` for a provider that takes text only: each content-part list becomes its text,
    with "[image]" where an image was."""
    if not has_images(messages):
        return messages
    plain = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            text = text_of(content)
            images = sum(1 for p in content if p.get("type") == "image_url")
            message = {**message, "content": " ".join(["[image]"] * images + ([text] if text else []))}
        plain.append(message)
    return plain


def text_of(content: str | list[dict[str, Any]]) -> str:
    """A message's text: the content itself, or its ``text`` parts joined (images left out)."""
    if isinstance(content, str):
        return content
    return "\n".join(str(p.get("text", "")) for p in content if p.get("type") == "text")


@dataclass(frozen=True, slots=True)
class Reset:
    """Stream event: discard every text chunk received so far in this stream.

    :class:`~providers.retry.RetryProvider` yields it when a provider failed
    after it had already yielded text; the chunks that follow are a complete
    new answer from the next attempt. A consumer that shows text as it arrives
    must clear what it showed (the bot's streamer does), so the user sees each
    answer exactly once, never duplicated or spliced.

    Attributes:
        provider: the provider whose partial answer is discarded.
        reason: its error, as text.
    """

    provider: str
    reason: str


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """Stream event: the text that follows comes from ``provider`` running ``model``.

    :class:`~providers.retry.RetryProvider` yields it at the start of every attempt
    (like gpt4free's ``ProviderInfo``), so the last one seen before the stream ends
    names who produced the answer that was kept.

    Attributes:
        provider: the provider's name (``openai``, ``ollama``, ``aichat``...).
        model: the model name sent to that provider ("" when it could not be told).
        requested: the model the caller asked for ("" = none: every provider's default).
        fallback: True when the provider does not offer ``requested`` and answers
            with its own default model instead (the caller did not get the model it chose).
        reason: why a fallback answers, when it is not that the requested model was
            unavailable ("can't see images"); "" otherwise.
        left_out: how many of the oldest messages (not the system prompt, never the last one)
            this attempt leaves out, because the server said the conversation exceeds the
            model's context (:class:`~providers.errors.ContextLengthError`); 0 otherwise.
    """

    provider: str
    model: str
    requested: str = ""
    fallback: bool = False
    reason: str = ""
    left_out: int = 0


@dataclass(frozen=True, slots=True)
class Finish:
    """Stream event: the model finished its answer (OpenAI's ``finish_reason``). Events such as
    :class:`Usage` may still follow; text does not.

    Attributes:
        reason: ``"stop"`` (a natural end), ``"length"`` (the model hit its token limit: the
            answer is cut short) or ``"content_filter"`` (the provider's filter cut it).
    """

    reason: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Stream event, after the answer's text: the tokens the answer took (gpt4free's ``Usage``;
    OpenAI's ``usage`` object).

    Attributes:
        prompt_tokens: tokens of the messages sent (the input).
        completion_tokens: tokens of the answer (the output).
        estimated: False when the server counted them; True for an estimate
            (:func:`providers.tokens.estimate_usage`) where the server reported none.
    """

    prompt_tokens: int
    completion_tokens: int
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        """``prompt_tokens + completion_tokens``."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Reasoning:
    """Stream event: a piece of the model's thinking before (or while) it answers: OpenAI-compatible
    servers' ``delta.reasoning_content`` (DeepSeek, vLLM, llama.cpp) or ``delta.reasoning``
    (OpenRouter). Never part of the answer's text, and not sent back to the model in later turns.

    Attributes:
        text: the piece (non-empty).
    """

    text: str


Chunk = str | Reset | ProviderInfo | Finish | Usage | Reasoning
"""What a stream yields: a text delta, or a :class:`ProviderInfo`, :class:`Reset`, :class:`Finish`,
:class:`Usage` or :class:`Reasoning` event."""

_T = TypeVar("_T")


class hybridmethod(Generic[_T]):
    """Descriptor: a method callable on an instance, or on the class.

    Called on the class, it runs on ``cls.default()``, an instance configured
    from the environment.
    """

    def __init__(self, func: Callable[..., _T]) -> None:
        self.func = func
        functools.update_wrapper(self, func)  # type: ignore[arg-type]

    def __get__(self, obj: Any, objtype: type[Any] | None = None) -> Callable[..., _T]:
        if obj is None:
            assert objtype is not None
            obj = objtype.default()
        return functools.partial(self.func, obj)


def run_sync(stream: AsyncIterator[_T]) -> Generator[_T, None, None]:
    """Drive an async iterator from synchronous code on a private event loop (closed at the end)."""
    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                yield loop.run_until_complete(stream.__anext__())
            except StopAsyncIteration:
                return
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            loop.run_until_complete(aclose())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


class BaseProvider:
    """Base of every provider.

    Class attributes (gpt4free's names):
        url: the backend's base address.
        label: human-readable name; defaults to the class name.
        working: False when the backend is known to be unusable.
        needs_auth: True when the backend needs an API key.
        supports_stream: True when the backend streams deltas.
        supports_message_history: True when earlier turns are sent, not only the last message.
        supports_system_message: True when a ``system`` message is honoured.
    """

    url: ClassVar[str | None] = None
    label: ClassVar[str | None] = None
    working: ClassVar[bool] = True
    needs_auth: ClassVar[bool] = False
    supports_stream: ClassVar[bool] = True
    supports_message_history: ClassVar[bool] = True
    supports_system_message: ClassVar[bool] = True

    @classmethod
    def default(cls) -> BaseProvider:
        """An instance configured from the environment; used when a method is called on the class."""
        return cls()

    @property
    def name(self) -> str:
        """This provider's name in logs, errors and settings."""
        return self.label or type(self).__name__

    @hybridmethod
    def create_async_generator(
        self, model: str, messages: Messages, proxy: str | None = None, **kwargs: Any
    ) -> AsyncIterator[Chunk]:
        """Stream the completion of ``messages`` as text deltas.

        Callable on the class (runs on :meth:`default`) or on an instance.

        Args:
            model: model name or alias; "" means the provider's default.
            messages: the conversation, oldest first.
            proxy: ``http://``, ``https://``, ``socks4://`` or ``socks5://`` URL for this request.

        Raises:
            providers.errors.ProviderError: a subclass naming the failure.
        """
        return self.stream(model, messages, proxy=proxy, **kwargs)

    @hybridmethod
    def create_completion(
        self, model: str, messages: Messages, stream: bool = True, proxy: str | None = None, **kwargs: Any
    ) -> Iterator[str]:
        """gpt4free's synchronous form: a generator of text chunks (with ``stream=False``, one chunk:
        the whole answer). Runs the async stream on a private event loop; must not be called from
        inside a running loop. Events (:class:`Reset`...) are left out: use a single provider or
        :meth:`create_async_generator` where they matter.

        Raises:
            providers.errors.ProviderError: a subclass naming the failure.
        """
        from .answer import text_deltas  # answer.py builds on this module

        chunks = run_sync(self.create_async_generator(model, messages, proxy=proxy, **kwargs))
        texts = text_deltas(chunks)  # events are not text
        return texts if stream else iter(["".join(texts)])

    async def offers(self, model: str) -> bool | None:
        """Whether this provider serves ``model``: True, False, or None when it cannot tell.

        The chain uses it to route a chosen model to the providers that offer it.
        This base answers None (a provider without a model list); providers with one override it.
        """
        return None

    async def resolve_model(self, model: str) -> str:
        """The model name this provider will be asked for ("" = its default; this base returns ``model``)."""
        return model

    async def sees_images(self, model: str) -> bool | None:
        """Whether ``model`` ("" = the default) takes image content parts here: True, False, or None
        when it cannot tell. This base sends text only: False."""
        return False

    def vision_model(self) -> str | None:
        """A model of this provider that sees images, to answer an image turn when the chosen model
        cannot ("" = its default does); None when it has none."""
        return None

    #: The model's context window in tokens when the server cannot tell (``{NAME}_CONTEXT_TOKENS``);
    #: None: not configured.
    context_tokens: int | None = None

    #: Requests this backend serves at once (``{NAME}_MAX_PARALLEL``); None: not configured.
    max_parallel: int | None = None

    async def parallel_limit(self) -> int | None:
        """Requests a chain sends this backend at once (the rest wait their turn, see
        :class:`~providers.slots.Slots`): :attr:`max_parallel`, else what the server says where it
        says so; None: unlimited. This base has no server to ask."""
        return self.max_parallel

    async def context_window(self, model: str) -> int | None:
        """The context window of ``model`` ("" = the default) in tokens (prompt and answer together):
        what the server says where it says so, else :attr:`context_tokens`; None when unknown.
        This base has no server to ask."""
        return self.context_tokens

    async def probe(self) -> tuple[bool, str]:
        """A cheap check that this provider is usable, without asking the model anything: (ok, one
        line saying what was found or exactly what is wrong). This base cannot check anything."""
        return True, "not checked (no cheap check for this provider; its first answer will tell)"

    async def stream(
        self, model: str, messages: Messages, proxy: str | None = None, **kwargs: Any
    ) -> AsyncIterator[Chunk]:
        """The provider's implementation of :meth:`create_async_generator`.

        This project's providers override it. A provider written the gpt4free way overrides a
        public method instead (see :class:`AbstractProvider`, :class:`AsyncProvider`,
        :class:`AsyncGeneratorProvider`); this default runs that one:

        - ``create_completion(model, messages, stream, **kwargs)``, a synchronous generator, is run
          in a worker thread one chunk at a time (the event loop never blocks);
        - ``create_async(model, messages, **kwargs)`` gives the whole answer as one chunk.

        Raises:
            NotImplementedError: the subclass implements none of them.
        """
        cls = type(self)
        if _overrides(cls, "create_completion"):
            chunks = cls.create_completion(model, messages, stream=kwargs.pop("stream", True), proxy=proxy, **kwargs)
            done = object()
            while (chunk := await asyncio.to_thread(next, chunks, done)) is not done:
                yield chunk  # type: ignore[misc]
            return
        if _overrides(cls, "create_async"):
            kwargs.pop("stream", None)
            yield await cls.create_async(model, messages, proxy=proxy, **kwargs)  # type: ignore[attr-defined]
            return
        raise NotImplementedError(f"{cls.__name__} implements none of stream, create_async_generator, create_async")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def _overrides(cls: type[BaseProvider], name: str) -> bool:
    """True when a subclass of :class:`BaseProvider` below it defines ``name`` itself."""
    for klass in cls.__mro__:
        if klass in _BASES:
            return False
        if name in vars(klass):
            return True
    return False


class AbstractProvider(BaseProvider):
    """gpt4free's base of a provider with a synchronous ``create_completion``::

        class Mine(AbstractProvider):
            @classmethod
            def create_completion(cls, model, messages, stream, **kwargs):
                yield "Hello"

    joins a :class:`~providers.retry.RetryProvider` and a :class:`~providers.client.Client` as it is."""


class AsyncProvider(BaseProvider):
    """gpt4free's base of a provider whose ``create_async(model, messages, **kwargs)`` (a classmethod
    coroutine) returns the whole answer as one string."""


class AsyncGeneratorProvider(BaseProvider):
    """gpt4free's base of a provider with an async-generator ``create_async_generator(model, messages,
    stream, **kwargs)``, usually a classmethod; the chain and the client call it with ``stream=True``
    (or False for a whole completion) and ``proxy``, and read what it yields (``None`` and "" are
    skipped)."""


_BASES = (BaseProvider, AbstractProvider, AsyncProvider, AsyncGeneratorProvider)


class SiteProvider(BaseProvider):
    """A provider for one web backend, configured by its site root and a proxy.

    ``{NAME}_URL`` overrides :attr:`url` and ``{NAME}_PROXY`` (else ``PROXY``) sets the proxy,
    where NAME is :attr:`env_name` in upper case.
    """

    env_name: ClassVar[str] = ""

    def __init__(self, url: str | None = None, proxy: str | None = None) -> None:
        """``url`` and ``proxy`` default to ``{NAME}_URL`` and ``{NAME}_PROXY`` / ``PROXY`` from the
        process environment (as the OpenAI SDK reads ``OPENAI_BASE_URL``), then to :attr:`url`."""
        prefix = type(self).env_name.upper()
        url = url or os.environ.get(f"{prefix}_URL") or type(self).url or ""
        self.base_url = url.rstrip("/")
        self.proxy = proxy or os.environ.get(f"{prefix}_PROXY") or os.environ.get("PROXY") or None

    @classmethod
    def default(cls) -> SiteProvider:
        """Configured from the process environment, see :meth:`from_env`."""
        return cls.from_env(os.environ)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], name: str = "") -> SiteProvider:
        """Configured from ``{NAME}_URL`` and ``{NAME}_PROXY`` / ``PROXY``."""
        prefix = cls.env_name.upper()
        provider = cls(environ.get(f"{prefix}_URL") or None, environ.get(f"{prefix}_PROXY") or environ.get("PROXY"))
        provider.context_tokens = context_setting(environ, prefix)
        provider.max_parallel = parallel_setting(environ, prefix)
        return provider

    @property
    def name(self) -> str:
        """The provider's name in ``PROVIDERS``: :attr:`env_name`."""
        return self.env_name


class ProviderModelMixin:
    """Model selection shared by providers, as in gpt4free.

    Class attributes:
        default_model: used when no model is asked for.
        models: the names the provider accepts.
        model_aliases: alias -> name sent to the backend.
        unknown_model: what :meth:`get_model` does with a name it does not know:
            ``"raise"`` (:class:`~providers.errors.ModelNotSupportedError`),
            ``"pass"`` (sent unchanged; the server decides), or
            ``"default"`` (replaced by ``default_model``, as gpt4free's ChatGpt does).
    """

    default_model: ClassVar[str] = ""
    models: ClassVar[list[str]] = []
    model_aliases: ClassVar[dict[str, str]] = {}
    unknown_model: ClassVar[Literal["raise", "pass", "default"]] = "raise"

    async def list_models(self, proxy: str | None = None) -> list[str]:
        """The model names this provider offers now (providers with a model endpoint override this)."""
        return list(self.models)

    async def offers(self, model: str) -> bool | None:
        """True when ``model`` is one of :attr:`models` (or an alias), else False.

        An unknown name that :meth:`get_model` would replace by the default (``unknown_model ==
        "default"``) is *not* offered: the answer would come from another model.
        """
        return model in self.model_aliases or model in await self.list_models()

    async def resolve_model(self, model: str) -> str:
        """:meth:`get_model`, awaitable (providers whose default comes from the server override it).

        Raises:
            ModelNotSupportedError: as :meth:`get_model`.
        """
        return self.get_model(model)

    @hybridmethod
    def get_model(self, model: str, **kwargs: Any) -> str:
        """Resolve ``model``: "" -> default, alias -> target, known name -> itself, unknown -> see ``unknown_model``.
        ``kwargs`` (gpt4free passes ``api_key=``, ``base_url=``...) do not change the answer.

        Raises:
            ModelNotSupportedError: unknown name and ``unknown_model == "raise"``.
        """
        if not model:
            return self.default_model
        if model in self.model_aliases:
            return self.model_aliases[model]
        if model in self.models or self.unknown_model == "pass":
            return model
        if self.unknown_model == "default":
            return self.default_model
        raise ModelNotSupportedError(
            f"Model {model!r} is not supported; choose one of: {', '.join(self.models)}",
            provider=getattr(self, "name", type(self).__name__),
        )
