"""Any OpenAI-compatible chat completions API: OpenAI, OpenRouter, Groq, DeepSeek,
Together, Ollama, llama.cpp server, vLLM, LM Studio.

Protocol (OpenAI API reference, "Chat Completions" and "Models"):

- ``POST {base_url}/chat/completions`` with ``{"model", "messages", "stream": true}``
  answers Server-Sent Events ``data: {json}``; the text is in
  ``choices[0].delta.content``; the stream ends with ``data: [DONE]``.
- ``GET {base_url}/models`` answers ``{"data": [{"id": ...}, ...]}``.
- Errors: 401 bad key, 429 rate limit (``Retry-After`` header), 5xx server.
- Usage: ``stream_options: {"include_usage": true}`` asks for a last chunk with ``"choices": []``
  and ``usage`` (OpenAI, LiteLLM, vLLM, llama-server, Ollama), sent *after* the finish chunk.
- Context windows: OpenRouter lists ``context_length`` per model, vLLM ``max_model_len``, Groq
  ``context_window``; llama-server answers ``GET /props`` with ``default_generation_settings.n_ctx``;
  the LiteLLM proxy answers ``GET /model/info`` with ``model_info.max_input_tokens``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar, Literal

import aiohttp

from ..base import (
    BaseProvider,
    Finish,
    Messages,
    ProviderModelMixin,
    Reasoning,
    Usage,
    context_setting,
    env_prefix,
    parallel_setting,
)
from ..errors import (
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    ContextLengthError,
    InterruptedStreamError,
    ProtocolError,
    ProviderConnectionError,
    ProviderError,
    QuotaExceededError,
)
from ..http import (
    TRANSPORT_ERRORS,
    classify,
    connection_error,
    error_details,
    iter_sse_data,
    open_session,
    public_url,
    raise_for_status,
)
from ..reasoning import ThinkSplitter

#: Substrings of model ids that are not chat models (embeddings, speech, images, moderation...);
#: they are left out of :meth:`OpenAI.list_models`.
NON_CHAT_MODEL_MARKERS = (
    "embed",
    "tts",
    "whisper",
    "transcribe",
    "dall-e",
    "image",
    "moderation",
    "davinci",
    "babbage",
    "audio",
)

logger = logging.getLogger(__name__)

#: What asking a server for its metadata (``/props``, ``/model/info``) may raise: it then says nothing.
_METADATA_ERRORS: tuple[type[BaseException], ...] = (*TRANSPORT_ERRORS, ValueError, AttributeError)

#: Keys of a ``GET /models`` entry that give the model's context window in tokens (OpenRouter, vLLM,
#: Groq, and the LiteLLM-style ``max_input_tokens``).
CONTEXT_KEYS = ("context_length", "max_model_len", "context_window", "max_input_tokens")

#: Request options passed through from ``create_async_generator(**kwargs)`` to the API.
PASSTHROUGH_OPTIONS = frozenset(
    {"temperature", "top_p", "max_tokens", "presence_penalty", "frequency_penalty", "stop", "seed", "user"}
)


class OpenAI(ProviderModelMixin, BaseProvider):
    """An OpenAI-compatible backend.

    Args:
        base_url: API root including the version, e.g. ``https://api.openai.com/v1``
            or ``http://localhost:11434/v1`` (Ollama).
        api_key: sent as ``Authorization: Bearer``; None for local servers.
        name: this backend's name in settings, logs and ``/provider`` (e.g. "openrouter").
        models: model names offered when ``GET /models`` is unreachable; the first is the default.
        default_model: used for an empty model name; defaults to the first of ``models``, else
            (for a server other than OpenAI's) the first model the server lists.
        proxy: proxy URL for every request of this backend.
        models_ttl: seconds a fetched model list is cached.
        models_timeout: seconds ``GET /models`` may take.
        models_retry: seconds a failed ``GET /models`` is not asked again (its failure is remembered).
        context_tokens: the context window in tokens when the server does not say (``{NAME}_CONTEXT_TOKENS``).
        usage_grace: seconds the stream is read after its ``finish_reason`` for the usage chunk that
            follows it, when neither ``[DONE]`` nor the end of the body comes.

    Unknown model names are passed through: the server decides (its "model not found"
    answer becomes :class:`~providers.errors.ModelNotSupportedError`).
    """

    url: ClassVar[str | None] = "https://api.openai.com/v1"
    label: ClassVar[str | None] = "OpenAI"
    needs_auth: ClassVar[bool] = True
    default_model: ClassVar[str] = "gpt-4o-mini"
    models: ClassVar[list[str]] = ["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1"]
    unknown_model: ClassVar[Literal["raise", "pass", "default"]] = "pass"

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        name: str = "openai",
        models: list[str] | None = None,
        default_model: str | None = None,
        vision_models: list[str] | None = None,
        proxy: str | None = None,
        models_ttl: float = 600.0,
        models_timeout: float = 10.0,
        models_retry: float = 30.0,
        context_tokens: int | None = None,
        usage_grace: float = 2.0,
        max_parallel: int | None = None,
    ) -> None:
        self.base_url = (base_url or type(self).url or "").rstrip("/")
        self.api_key = api_key or None
        self._name = name
        if models:
            self.models = list(models)  # type: ignore[misc]
            self.default_model = default_model or models[0]  # type: ignore[misc]
        elif self.base_url != type(self).url:
            # Another server: OpenAI's own model names mean nothing there; ask it (GET /models).
            self.models = []  # type: ignore[misc]
            self.default_model = default_model or ""  # type: ignore[misc]
        elif default_model:
            self.default_model = default_model  # type: ignore[misc]
        self.vision_models = list(vision_models or [])
        self.proxy = proxy
        self.models_ttl = models_ttl
        self.models_timeout = models_timeout
        self.models_retry = models_retry
        self._fetched_models: list[str] | None = None
        #: Models the server's list marks as taking images (OpenRouter's ``architecture.input_modalities``);
        #: None when the list says nothing about it.
        self._listed_vision: list[str] | None = None
        self._fetched_at = 0.0
        self._fetch_error: ProviderError | None = None
        self._failed_at = 0.0
        self.context_tokens = context_tokens
        self.usage_grace = usage_grace
        self.max_parallel = max_parallel
        #: Context windows the server's model list gives, by model id.
        self._listed_context: dict[str, int] = {}
        #: The window llama-server's /props or LiteLLM's /model/info gave (per model; "" for the
        #: server's one model), asked once per model-list refresh; None until asked.
        self._served_context: dict[str, int] | None = None
        #: The server's ``GET /models`` says it is llama-server (``owned_by: "llamacpp"``): only
        #: such a server is asked ``GET /props``.
        self._llama_server = False
        #: The server refused ``GET {base_url}/model/info`` (a 4xx: it has no such endpoint, or the
        #: key may not read it): it is not asked again.
        self._no_model_info = False
        #: Parallel requests the server says it serves (llama-server's ``total_slots``), or None.
        self.served_slots: int | None = None
        #: False once the server refused ``stream_options`` (then it is not sent again).
        self.sends_stream_options = True

    @classmethod
    def default(cls) -> OpenAI:
        """Configured from the process environment, see :meth:`from_env`."""
        return cls.from_env(os.environ)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], name: str = "openai") -> OpenAI:
        """Configured from ``{NAME}_BASE_URL``, ``{NAME}_API_KEY``, ``{NAME}_MODELS`` and
        ``{NAME}_VISION_MODELS`` (comma-separated), ``{NAME}_CONTEXT_TOKENS``, ``{NAME}_PROXY`` and
        ``PROXY``, where NAME is ``name`` in upper case (``OPENAI_*`` by default).

        Raises:
            ValueError: ``{NAME}_CONTEXT_TOKENS`` is not a whole number of tokens.
        """
        prefix = env_prefix(name)
        models = [m.strip() for m in environ.get(f"{prefix}_MODELS", "").split(",") if m.strip()]
        vision = [m.strip() for m in environ.get(f"{prefix}_VISION_MODELS", "").split(",") if m.strip()]
        return cls(
            base_url=environ.get(f"{prefix}_BASE_URL") or None,
            api_key=environ.get(f"{prefix}_API_KEY") or None,
            name=name,
            models=models or None,
            vision_models=vision or None,
            proxy=environ.get(f"{prefix}_PROXY") or environ.get("PROXY") or None,
            context_tokens=context_setting(environ, prefix),
            max_parallel=parallel_setting(environ, prefix),
        )

    @property
    def name(self) -> str:
        """This backend's name (``openai``, ``openrouter``...), as given to the constructor."""
        return self._name

    def _headers(self, url: str | None = None) -> dict[str, str]:
        """Request headers; the API key (``Authorization: Bearer``) only for a ``url`` under
        ``base_url`` (None: a request to the API itself), never for another path of the host."""
        headers = {"Accept": "text/event-stream"}
        if self.api_key and (url is None or url.startswith(self.base_url + "/")):
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    async def sees_images(self, model: str) -> bool | None:
        """Whether ``model`` ("" = the default) takes images: one of ``{NAME}_VISION_MODELS`` when
        that is set; else as the server's ``GET /models`` says (OpenRouter lists
        ``architecture.input_modalities``); else assumed (True)."""
        if self.vision_models:
            return (model or self.default_model) in self.vision_models
        try:
            listed = await self._fetch_models()
        except ProviderError:
            return True
        if self._listed_vision is None:
            return True
        return (model or self.default_model or listed[0]) in self._listed_vision

    def vision_model(self) -> str | None:
        """The first of ``{NAME}_VISION_MODELS``, else the first the server lists as taking images,
        else "" (the default model); None when the server's list says none does."""
        if self.vision_models:
            return self.vision_models[0]
        if self._listed_vision is not None:
            return self._listed_vision[0] if self._listed_vision else None
        return ""

    async def probe(self) -> tuple[bool, str]:
        """``GET {base_url}/models`` once, uncached: (True, "reachable, N models...") or (False, what is
        wrong: the key refused, no such endpoint (with the /v1 hint), no connection, a non-JSON answer)."""
        prefix = env_prefix(self.name)
        try:
            ids = await self._request_models(None)
        except AuthenticationError as error:
            return False, f"{prefix}_API_KEY was refused ({error})"
        except QuotaExceededError as error:
            return False, f"the account behind {prefix}_API_KEY has no quota left ({error})"
        except ProviderConnectionError as error:
            return False, f"cannot connect to {prefix}_BASE_URL {public_url(self.base_url)}: {error}"
        except ProviderError as error:
            if self.models:
                return True, f"reachable, but GET /models failed ({error}); using {prefix}_MODELS"
            return False, f"GET /models failed: {error}"
        default = self.default_model or ids[0]
        listed = f"{len(ids)} models listed, default {default}"
        if self.default_model and not is_listed(self.default_model, ids):
            return False, f"{listed}, but {prefix}_MODELS names {self.default_model!r}, which is not listed"
        return True, f"reachable, {listed}"

    def _url_hint(self) -> str:
        """What to fix when the server answers 404 for an endpoint: most OpenAI-compatible servers
        serve under ``/v1`` (OpenAI, Ollama, vLLM, LM Studio; OpenRouter under ``/api/v1``)."""
        prefix = env_prefix(self.name)
        if re.search(r"/v\d+[a-z]*$", self.base_url.rstrip("/")):
            return f": check {prefix}_BASE_URL"
        return f": {prefix}_BASE_URL probably needs /v1 at the end ({public_url(self.base_url)}/v1)"

    async def list_models(self, proxy: str | None = None) -> list[str]:
        """Chat model ids from ``GET {base_url}/models`` in the server's order, cached for ``models_ttl`` seconds.

        Ids naming embedding, speech, image or moderation models are left out.

        Falls back to the configured ``models`` when the endpoint fails.
        """
        try:
            return await self._fetch_models(proxy)
        except ProviderError:
            return list(self.models)

    async def _fetch_models(self, proxy: str | None = None) -> list[str]:
        """``GET {base_url}/models`` (cached; a failure is remembered for ``models_retry`` seconds).

        Raises:
            ProviderError: the request failed (or failed less than ``models_retry`` seconds ago),
                or the server lists no chat model.
        """
        now = time.monotonic()
        if self._fetched_models is not None and now - self._fetched_at < self.models_ttl:
            return list(self._fetched_models)
        if self._fetch_error is not None and now - self._failed_at < self.models_retry:
            raise self._fetch_error
        try:
            ids = await self._request_models(proxy)
        except ProviderError as error:
            self._fetch_error, self._failed_at = error, now
            raise
        self._fetched_models, self._fetched_at, self._fetch_error = ids, now, None
        return list(ids)

    async def _request_models(self, proxy: str | None) -> list[str]:
        try:
            async with open_session(proxy or self.proxy, self._headers()) as session:
                async with session.get(
                    f"{self.base_url}/models", timeout=aiohttp.ClientTimeout(total=self.models_timeout)
                ) as response:
                    await raise_for_status(response, self.name, not_found_hint=self._url_hint())
                    body = await response.json(content_type=None)
            # Ollama with no model pulled answers "data": null.
            entries = [item for item in body.get("data") or [] if isinstance(item, dict) and "id" in item]
            ids = [str(item["id"]) for item in entries]
            ids = [i for i in ids if not any(marker in i.lower() for marker in NON_CHAT_MODEL_MARKERS)]
            self._listed_context = {
                str(item["id"]): value
                for item in entries
                for value in [next((item[k] for k in CONTEXT_KEYS if _positive(item.get(k))), None)]
                if value is not None
            }
            self._served_context = None
            self._llama_server = any(item.get("owned_by") == "llamacpp" for item in entries)
            described = [item for item in entries if isinstance(item.get("architecture"), dict)]
            if described:
                self._listed_vision = [
                    str(item["id"])
                    for item in described
                    if "image" in (item["architecture"].get("input_modalities") or [])
                ]
        except ProviderError:
            raise  # typed already (an HTTP status error is also an aiohttp.ClientError)
        except TRANSPORT_ERRORS as exc:
            raise connection_error(exc, self.name) from exc
        except (ValueError, KeyError, AttributeError) as exc:
            raise ProtocolError(f"unexpected /models answer: {exc}", provider=self.name) from exc
        if not ids:
            raise ProtocolError("the server lists no models", provider=self.name)
        return ids

    async def context_window(self, model: str) -> int | None:
        """``model``'s context window in tokens: as the server's model list gives it (OpenRouter, vLLM,
        Groq), else as llama-server's ``GET /props`` or LiteLLM's ``GET /model/info`` says, else
        ``{NAME}_CONTEXT_TOKENS``; None when nothing says. The extra endpoints are asked once per
        model-list refresh (``models_ttl``); their failure only means "not said"."""
        try:
            resolved = await self.resolve_model(model)
            await self._fetch_models()
        except ProviderError:
            return self.context_tokens
        if resolved in self._listed_context:
            return self._listed_context[resolved]
        if self._served_context is None:
            self._served_context = await self._ask_context()
        served = self._served_context.get(resolved) or self._served_context.get("")
        return served or self.context_tokens

    async def _ask_context(self) -> dict[str, int]:
        """Windows from llama-server's ``{root}/props`` (``"": n_ctx``; also :attr:`served_slots`) or
        LiteLLM's ``{base}/model/info`` (model name -> ``max_input_tokens``); {} when neither answers.

        Only servers that can answer are asked: ``/props`` when ``GET /models`` said llama-server,
        ``/model/info`` until the server refuses it once (never OpenAI's own API). ``/props`` lies
        outside ``base_url`` when that ends in ``/v1``: it is asked without the API key."""
        timeout = aiohttp.ClientTimeout(total=self.models_timeout)
        found: dict[str, int] = {}
        try:
            if self._llama_server:
                props_url = re.sub(r"/v\d+[a-z]*$", "", self.base_url) + "/props"
                async with open_session(self.proxy, self._headers(props_url)) as session:
                    async with session.get(props_url, timeout=timeout) as response:
                        if response.status == 200:
                            props = await response.json(content_type=None)
                            if isinstance(props, dict):
                                slots = props.get("total_slots")
                                self.served_slots = slots if isinstance(slots, int) and _positive(slots) else None
                                settings = props.get("default_generation_settings")
                                n_ctx = (settings if isinstance(settings, dict) else {}).get("n_ctx") or props.get(
                                    "n_ctx"
                                )
                                if isinstance(n_ctx, int) and _positive(n_ctx):
                                    return {"": n_ctx}
            if self._no_model_info or self.base_url == type(self).url:
                return found
            async with open_session(self.proxy, self._headers()) as session:
                async with session.get(f"{self.base_url}/model/info", timeout=timeout) as response:
                    if 400 <= response.status < 500:
                        self._no_model_info = True
                    elif response.status == 200:
                        info = await response.json(content_type=None)
                        entries = (info.get("data") if isinstance(info, dict) else None) or []
                        for entry in entries:
                            limit = (entry.get("model_info") or {}).get("max_input_tokens")
                            if isinstance(limit, int) and _positive(limit):
                                found[str(entry.get("model_name"))] = limit
        except _METADATA_ERRORS as error:
            logger.debug("provider=%s cannot tell its context window: %s", self.name, error)
        return found

    async def parallel_limit(self) -> int | None:
        """:attr:`max_parallel` (``{NAME}_MAX_PARALLEL``) when set, else llama-server's ``total_slots``
        (``GET /props``, asked as for the context window); None: unlimited."""
        if self.max_parallel is not None:
            return self.max_parallel
        try:
            await self._fetch_models()
        except ProviderError:
            return self.served_slots
        if self._llama_server and self._served_context is None:
            self._served_context = await self._ask_context()
        return self.served_slots

    async def offers(self, model: str) -> bool | None:
        """Whether the server lists ``model`` (``GET /models``, cached).

        When the list cannot be fetched: True for a configured model (``{NAME}_MODELS``),
        else None (cannot tell; the server decides when asked).
        """
        if model in self.model_aliases:
            return True
        try:
            return is_listed(model, await self._fetch_models())
        except ProviderError:
            return True if model in self.models else None

    async def resolve_model(self, model: str) -> str:
        """:meth:`get_model`, and for an empty default the first model the server lists.

        Raises:
            BadRequestError: no model was asked for, none is configured and the server lists none.
            ProviderError: no model was asked for, none is configured and ``GET /models`` failed
                (the error says why: connection, key...).
        """
        resolved = self.get_model(model)
        if resolved:
            return resolved
        # No default configured: the server's first model. If the list cannot be fetched, the
        # reason (unreachable, refused key...) is the error, not "no model".
        try:
            return (await self._fetch_models())[0]
        except ProtocolError as error:
            prefix = env_prefix(self.name)
            raise BadRequestError(
                f"no model chosen, none configured ({prefix}_MODELS), and GET /models failed: {error}",
                provider=self.name,
            ) from error

    async def stream(
        self, model: str, messages: Messages, proxy: str | None = None, **kwargs: Any
    ) -> AsyncIterator[str | Finish | Usage | Reasoning]:
        """Stream ``choices[0].delta.content`` deltas of ``POST {base_url}/chat/completions``.

        - SSE comments (keep-alives such as ``: OPENROUTER PROCESSING``) are not text: each yields
          ``""``, a heartbeat that keeps the chain's first-chunk and idle timeouts from firing while
          the server works; reasoning deltas (``reasoning_content``: DeepSeek, vLLM, llama.cpp;
          ``reasoning``: OpenRouter) are :class:`~providers.base.Reasoning` events, never text;
        - the usage is asked for (``stream_options.include_usage``; a server that refuses the field
          is asked again without it, once, and never again) and the stream is read to its end:
          ``[DONE]``, the end of the body, or :attr:`usage_grace` seconds after the ``finish_reason``
          (LiteLLM and OpenAI send the usage chunk after it). The ``finish_reason`` is a
          :class:`~providers.base.Finish` event as soon as it comes; the server's count ends the
          stream as a :class:`~providers.base.Usage` event;
        - a server that answers a whole ``application/json`` completion although a stream was
          asked for is taken at its word: its content (and ``usage``) is the answer.

        Raises:
            AuthenticationError, QuotaExceededError, RateLimitError, ModelNotSupportedError,
                ContextLengthError, BadRequestError, ServerError: HTTP errors, or an ``error``
                object in the stream (classified the same way; unknown ones are ServerError).
            ContextLengthError: also for an HTTP 200 stream with no event at all (llama-cpp-python's
                answer to a prompt longer than its context).
            ContentFilterError: the filter withheld the whole answer.
            ProtocolError: a data line that is not JSON, or an answer that is neither SSE nor JSON.
            ProviderConnectionError: connection failed, or the stream ended (EOF or ``[DONE]``)
                without a ``finish_reason`` after text: the answer is incomplete (llama-cpp-python
                interrupts a request this way when its one slot is taken).
        """
        payload: dict[str, Any] = {"model": await self.resolve_model(model), "messages": messages, "stream": True}
        payload.update({k: v for k, v in kwargs.items() if k in PASSTHROUGH_OPTIONS and v is not None})
        if self.sends_stream_options:
            payload["stream_options"] = {"include_usage": True}
        try:
            async with open_session(proxy or self.proxy, self._headers()) as session:
                response = await session.post(f"{self.base_url}/chat/completions", json=payload)
                try:
                    await raise_for_status(response, self.name, not_found_hint=self._url_hint())
                except BadRequestError as error:
                    if "stream_options" not in payload or "stream_options" not in str(error):
                        raise
                    # Azure OpenAI before 2024-07 and some proxies: "Unrecognized request argument
                    # supplied: stream_options". Ask again without it, and never send it again.
                    logger.info("provider=%s refuses stream_options; usage will be estimated", self.name)
                    self.sends_stream_options = False
                    del payload["stream_options"]
                    response.release()
                    response = await session.post(f"{self.base_url}/chat/completions", json=payload)
                    await raise_for_status(response, self.name, not_found_hint=self._url_hint())
                async with response:
                    async for piece in self._read(response):
                        yield piece
        except ProviderError:
            raise  # typed already (an HTTP status error is also an aiohttp.ClientError)
        except TRANSPORT_ERRORS as exc:
            raise connection_error(exc, self.name) from exc

    async def _read(self, response: aiohttp.ClientResponse) -> AsyncIterator[str | Finish | Usage | Reasoning]:
        """The events of a successful ``chat/completions`` response (see :meth:`stream`)."""
        kind = response.content_type
        if kind == "application/json":
            async for piece in self._whole(await response.read()):
                yield piece
            return
        if kind not in ("text/event-stream", "application/octet-stream", "text/plain"):
            raise ProtocolError(f"expected an event stream, got {kind or 'no content type'}", provider=self.name)
        wrote = events = finished = streamed = False
        usage: Usage | None = None
        thoughts = ThinkSplitter()  # inline <think> blocks are thinking, not text
        grace = asyncio.timeout(None)
        try:
            async with grace:
                async for data in iter_sse_data(response):
                    events = True
                    if data is None:
                        yield ""  # a keep-alive comment: the server is working
                        continue
                    if data.strip() == "[DONE]":
                        break
                    event = self._parse_event(data)
                    usage = _usage(event.get("usage")) or usage
                    choices = event.get("choices") or []  # a usage chunk has none
                    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
                    delta = choice.get("delta") or {}
                    if delta.get("content") and not finished:
                        streamed = True
                        for piece in thoughts.feed(str(delta["content"])):
                            wrote = wrote or isinstance(piece, str)
                            yield piece
                    elif delta.get("reasoning_content") or delta.get("reasoning"):
                        yield Reasoning(str(delta.get("reasoning_content") or delta.get("reasoning")))
                    reason = choice.get("finish_reason")
                    if reason and not finished:
                        finished = True
                        for piece in thoughts.flush():
                            wrote = wrote or isinstance(piece, str)
                            yield piece
                        yield self._finish(str(reason), wrote)
                        grace.reschedule(asyncio.get_running_loop().time() + self.usage_grace)
        except TimeoutError:
            if not (finished and grace.expired()):
                raise
        if not events:
            raise ContextLengthError(
                "HTTP 200 with an empty stream (llama-cpp-python's answer to a conversation longer than its context)",
                provider=self.name,
            )
        if not finished and streamed:
            raise InterruptedStreamError(
                "the stream ended without a finish_reason: the answer is incomplete", provider=self.name
            )
        if usage is not None:
            yield usage

    def _finish(self, reason: str, wrote: bool) -> Finish:
        """The event ending an answer with ``finish_reason`` ``reason``.

        Raises:
            ContentFilterError: the filter withheld the whole answer.
        """
        if reason == "content_filter" and not wrote:
            raise ContentFilterError("the provider's content filter withheld the answer", provider=self.name)
        return Finish(reason)

    async def _whole(self, raw: bytes) -> AsyncIterator[str | Finish | Usage | Reasoning]:
        """The answer of a non-streamed ``chat.completion`` body: its content, then its Finish event
        and its ``usage``."""
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise ProtocolError("the JSON answer is not JSON", provider=self.name) from exc
        if not isinstance(body, dict):
            raise ProtocolError("unexpected JSON answer", provider=self.name)
        if body.get("error"):
            raise self._stream_error(body)
        try:
            choice = body["choices"][0]
            content = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ProtocolError("a JSON answer without choices[0].message", provider=self.name) from exc
        thoughts = ThinkSplitter()
        pieces = [*thoughts.feed(str(content)), *thoughts.flush()] if content else []
        ending = self._finish(str(choice.get("finish_reason") or "stop"), any(isinstance(p, str) for p in pieces))
        for piece in pieces:
            yield piece
        yield ending
        usage = _usage(body.get("usage"))
        if usage is not None:
            yield usage

    def _parse_event(self, data: str) -> dict[str, Any]:
        try:
            event = json.loads(data)
        except ValueError as exc:
            raise ProtocolError(f"malformed SSE data line: {data[:80]!r}", provider=self.name) from exc
        if not isinstance(event, dict):
            raise ProtocolError(f"unexpected SSE payload: {data[:80]!r}", provider=self.name)
        if event.get("error"):
            raise self._stream_error(event)
        return event

    def _stream_error(self, body: Mapping[str, Any]) -> ProviderError:
        """An ``error`` object sent with HTTP 200 (in the stream, as OpenRouter and LiteLLM do, or as
        the whole answer), classified like an HTTP error; one without a known code is a server error."""
        details = error_details(body)
        status = _ERROR_CODE_STATUS.get(details.code)
        if status is None:
            status = int(details.code) if details.code.isdigit() and 400 <= int(details.code) < 600 else 500
        return classify(status, details, self.name)


#: The HTTP status an error ``code`` stands for, for errors sent inside a 200 answer.
_ERROR_CODE_STATUS = {
    "invalid_api_key": 401,
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "model_not_found": 404,
    "context_length_exceeded": 400,
}


def is_listed(model: str, ids: list[str]) -> bool:
    """True when ``model`` is one of ``ids``; a name without a tag also matches its ``:latest`` (Ollama
    lists ``llama3.2:latest`` and answers to ``llama3.2``)."""
    return model in ids or (":" not in model and f"{model}:latest" in ids)


def _usage(value: object) -> Usage | None:
    """The server's ``usage`` object as a :class:`~providers.base.Usage`; None when absent (``null``,
    as OpenAI sends on every chunk but the last) or without token counts."""
    if not isinstance(value, dict):
        return None
    prompt, completion = value.get("prompt_tokens"), value.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return Usage(prompt, completion)


def _positive(value: object) -> bool:
    """True for a positive whole number (a token count in a server's metadata)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
