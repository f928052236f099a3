"""HTTP plumbing shared by the providers: sessions with proxies, status mapping, SSE.

Providers open one :class:`aiohttp.ClientSession` per request (a request is a
whole streamed completion, seconds long), so a provider object is safe to use
from any event loop, including the sync :class:`~providers.client.Client`.
"""

from __future__ import annotations

import codecs
import datetime
import email.utils
import json
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp_socks import ProxyConnectionError, ProxyConnector, ProxyError, ProxyTimeoutError
from multidict import CIMultiDict
from yarl import URL

from .errors import (
    AuthenticationError,
    BadRequestError,
    BlockedError,
    ContextLengthError,
    EndpointNotFoundError,
    HTTPStatusError,
    ImagesNotSupportedError,
    ModelNotSupportedError,
    ProviderConnectionError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)

USER_AGENT = "telegram-llm-bot/1.0 (+aiohttp)"

#: Every way a connection can fail, whatever library raises it: aiohttp's own errors, timeouts,
#: sockets (``OSError``), and the proxy errors of aiohttp-socks (python-socks), which subclass only
#: ``Exception`` (a dead SOCKS proxy raises ``ProxyConnectionError``). Providers catch these and
#: raise :func:`connection_error`, so one backend's dead proxy never escapes as an unknown error.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    aiohttp.ClientError,
    TimeoutError,
    OSError,
    ProxyError,
    ProxyConnectionError,
    ProxyTimeoutError,
)
#: Words of a 400 that refuses an image part: OpenAI ("image_url is only supported by certain
#: models", "Invalid content type"), vLLM/llama.cpp ("does not support image input", "multimodal").
IMAGE_REFUSALS = ("image_url", "image input", "images are not supported", "multimodal", "vision")


def open_session(
    proxy: str | None = None,
    headers: Mapping[str, str] | None = None,
    connect_timeout: float = 10.0,
) -> aiohttp.ClientSession:
    """A session whose connections go through ``proxy`` (``http``/``https``/``socks4``/``socks5`` URL).

    No total timeout is set here: the chain enforces first-chunk, idle and total
    deadlines around the stream itself.
    """
    connector = ProxyConnector.from_url(proxy) if proxy else aiohttp.TCPConnector()
    # Header names are case-insensitive (RFC 9110, 5.1): a provider's "user-agent" replaces the
    # default "User-Agent" instead of being sent beside it.
    all_headers = CIMultiDict({"User-Agent": USER_AGENT})
    all_headers.update(headers or {})
    return aiohttp.ClientSession(
        connector=connector,
        headers=all_headers,
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout),
    )


def public_url(url: str) -> str:
    """``url`` as it may be shown in errors and logs: without user info (``user:password@``) and
    query (``?key=...``), where secrets are put."""
    try:
        return str(URL(url).with_user(None).with_query(None))
    except (ValueError, TypeError):
        return "(an address that cannot be shown)"


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from a response's headers: ``retry-after-ms`` (milliseconds, as OpenAI sends),
    else ``Retry-After`` as delta-seconds or an HTTP date (RFC 9110, 10.2.3), else the LiteLLM proxy's
    ``llm_provider-retry-after`` (the upstream's Retry-After, passed on under that name). None if
    absent or unreadable."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("Retry-After") or headers.get("llm_provider-retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


#: How servers word "this model does not exist here" (OpenAI, Groq, vLLM: "The model `x` does not exist";
#: Ollama: 'model "x" not found, try pulling it first'; OpenRouter: "x is not a valid model ID";
#: LiteLLM: "Invalid model name passed in model=x").
_MODEL_MISSING = re.compile(
    r"\bmodel\b[^\n]{0,160}?\b(not found|does not exist|do(es)? not have access|not available|not supported|unknown)"
    r"|\b(invalid|unknown|unsupported|no such) model\b"
    r"|\bnot a valid model\b",
    re.IGNORECASE,
)


#: How servers say a request exceeds the model's context, with the numbers when they give them:
#: OpenAI and vLLM "This model's maximum context length is 8192 tokens. However, your messages
#: resulted in 9000 tokens" / "you requested 5000 tokens (...)"; llama-server "request (918 tokens)
#: exceeds the available context size (512 tokens)"; llama-cpp-python "Requested tokens (918) exceed
#: context window of 512"; Ollama "the input length exceeds the context length".
_CONTEXT_PHRASES = re.compile(
    r"context length|context window|context size|maximum context|too many tokens|prompt is too long", re.IGNORECASE
)
_CONTEXT_NUMBERS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"maximum context length is (\d+)", re.IGNORECASE), "limit"),
    (
        re.compile(r"(?:resulted in|you requested|your request has|requested) (\d+) (?:input )?tokens", re.IGNORECASE),
        "requested",
    ),
    (re.compile(r"request \((\d+) tokens\) exceeds", re.IGNORECASE), "requested"),
    (re.compile(r"available context size \((\d+) tokens\)", re.IGNORECASE), "limit"),
    (re.compile(r"requested tokens \((\d+)\)", re.IGNORECASE), "requested"),
    (re.compile(r"context window of (\d+)", re.IGNORECASE), "limit"),
]


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """The parts of an error answer the chain needs (OpenAI API reference, "Error codes").

    Attributes:
        message: the server's message ("" when none).
        type: ``error.type`` (``invalid_request_error``...), "" when absent.
        code: ``error.code`` as text (``model_not_found``, ``invalid_api_key``, ``404``...), "" when absent.
        n_ctx, n_prompt_tokens: llama-server's numbers of an ``exceed_context_size_error``, when given.
    """

    message: str = ""
    type: str = ""
    code: str = ""
    n_ctx: int | None = None
    n_prompt_tokens: int | None = None

    @property
    def context_exceeded(self) -> bool:
        """True when the error says the conversation exceeds the model's context window."""
        if self.code == "context_length_exceeded" or self.type == "exceed_context_size_error":
            return True
        text = self.message.lower()
        return bool(_CONTEXT_PHRASES.search(text)) and any(w in text for w in ("exceed", "maximum", "too long"))

    def context_numbers(self) -> tuple[int | None, int | None]:
        """(the model's window, the request's tokens) as the server gave them; None where it did not."""
        found: dict[str, int] = {}
        if self.n_ctx:
            found["limit"] = self.n_ctx
        if self.n_prompt_tokens:
            found["requested"] = self.n_prompt_tokens
        for pattern, what in _CONTEXT_NUMBERS:
            match = pattern.search(self.message)
            if match and what not in found:
                found[what] = int(match.group(1))
        return found.get("limit"), found.get("requested")

    @property
    def model_missing(self) -> bool:
        """True when the error says the requested model does not exist (or is not available) there."""
        if self.code == "model_not_found":
            return True
        if self.context_exceeded:
            return False
        return bool(_MODEL_MISSING.search(self.message))


def parse_error_body(text: str) -> ErrorBody:
    """Read an error answer's text: JSON as :func:`error_details`; other text is the message."""
    try:
        body = json.loads(text)
    except ValueError:
        return ErrorBody(message=text.strip())
    return error_details(body) if isinstance(body, dict) else ErrorBody(message=text.strip())


def error_details(body: Mapping[str, Any]) -> ErrorBody:
    """The error in a decoded answer: OpenAI's ``{"error": {"message", "type", "code"}}``, Ollama's
    ``{"error": "..."}``, or vLLM's top-level ``{"message", "type", "code"}``."""
    error = body.get("error", body)
    if isinstance(error, str):
        return ErrorBody(message=error)
    if not isinstance(error, Mapping):
        return ErrorBody(message=str(error))
    code = error.get("code")
    return ErrorBody(
        message=str(error.get("message") or ""),
        type=str(error.get("type") or ""),
        code="" if code is None else str(code),
        n_ctx=_count(error.get("n_ctx")),
        n_prompt_tokens=_count(error.get("n_prompt_tokens")),
    )


def _count(value: object) -> int | None:
    """A token count from an error body, or None when absent or not a positive whole number."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def classify(status: int, details: ErrorBody, provider: str, *, needs_auth: bool = True) -> HTTPStatusError:
    """The typed error for an HTTP status and the server's error body.

    - 401/403: :class:`AuthenticationError` (the key); for a keyless site (``needs_auth`` False)
      :class:`BlockedError` (a firewall or bot protection);
    - 402, or 429 ``insufficient_quota``: :class:`QuotaExceededError`;
    - 429: :class:`RateLimitError` (``retry_after`` is filled by the caller);
    - 400/404/413/422 (and 500, which llama-cpp-python answers for an overlong prompt): a context
      overflow in any server's words (:attr:`ErrorBody.context_exceeded`) is
      :class:`ContextLengthError` with the numbers the server gave;
    - 400/404/422: :class:`ModelNotSupportedError` when the model does not exist there,
      a 404 otherwise :class:`EndpointNotFoundError` (a wrong URL), else :class:`BadRequestError`;
    - 413: :class:`ContextLengthError`; anything else: :class:`ServerError`.

    Each is an :class:`~providers.errors.HTTPStatusError` (an ``aiohttp.ClientResponseError``) with
    ``status`` set.
    """
    error = _classified(status, details, provider, needs_auth)
    error.status = status
    return error


def _classified(status: int, details: ErrorBody, provider: str, needs_auth: bool) -> HTTPStatusError:
    message = f"HTTP {status}: {details.message.strip()[:200]}" if details.message.strip() else f"HTTP {status}"
    if status in (401, 403):
        if needs_auth:
            return AuthenticationError(message, provider=provider)
        return BlockedError(message, provider=provider)
    if status == 402 or details.code == "insufficient_quota" or details.type == "insufficient_quota":
        return QuotaExceededError(message, provider=provider)
    if status == 429:
        return RateLimitError(message, provider=provider)
    if status in (400, 404, 413, 422, 500) and (details.context_exceeded or status == 413):
        limit, requested = details.context_numbers()
        return ContextLengthError(message, provider=provider, limit=limit, requested=requested)
    if status in (400, 404, 422):
        if details.model_missing:
            return ModelNotSupportedError(message, provider=provider)
        if any(word in details.message.lower() for word in IMAGE_REFUSALS):
            return ImagesNotSupportedError(message, provider=provider)
        if status == 404:
            return EndpointNotFoundError(message, provider=provider)
        return BadRequestError(message, provider=provider)
    return ServerError(message, provider=provider, status=status)


async def raise_for_status(
    response: aiohttp.ClientResponse, provider: str, *, needs_auth: bool = True, not_found_hint: str = ""
) -> None:
    """Raise the typed error (see :func:`classify`) for a non-2xx response; ``Retry-After``,
    ``retry-after-ms`` fill a rate limit's ``retry_after``; ``not_found_hint`` ends the text of an
    :class:`EndpointNotFoundError` (what to fix in the URL). The error text carries at most 200
    characters of the server's message, never request headers."""
    if response.status < 400:
        return
    try:
        text = await response.text()
    except (aiohttp.ClientError, UnicodeDecodeError):
        text = ""
    details = parse_error_body(text[:4000])
    if not details.message:
        details = ErrorBody(message=response.reason or "", type=details.type, code=details.code)
    error = classify(response.status, details, provider, needs_auth=needs_auth)
    error.headers = response.headers
    if isinstance(error, RateLimitError):
        error.retry_after = parse_retry_after(response.headers)
    if isinstance(error, EndpointNotFoundError):
        url = public_url(str(response.url))  # never a key passed in the URL
        error = EndpointNotFoundError(f"{error} for {url}{not_found_hint}", provider=provider, status=response.status)
    raise error


async def iter_sse_data(response: aiohttp.ClientResponse) -> AsyncIterator[str | None]:
    """Yield the ``data`` payload of each Server-Sent Event in ``response``, and None for each comment.

    Follows the SSE framing (WHATWG HTML, "Server-sent events"): lines end with CRLF, LF or a
    bare CR; ``data:`` lines (one optional space after the colon) accumulate until a blank line
    ends the event; other fields (``event:``, ``id:``...) are ignored. A comment line (``:``, e.g.
    ``: OPENROUTER PROCESSING``, ``: ping``) yields None: the server is alive, with nothing to say.
    UTF-8 is decoded incrementally, so a character split across reads is whole. A final event
    not followed by a blank line is still delivered.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    data_lines: list[str] = []
    buffer = ""
    async for raw in response.content.iter_any():
        buffer += decoder.decode(raw)
        while (match := _LINE_BREAK.search(buffer)) is not None:
            if match.group() == "\r" and match.end() == len(buffer):
                break  # perhaps the first half of a CRLF: wait for the next read
            line, buffer = buffer[: match.start()], buffer[match.end() :]
            event = _sse_line(line, data_lines)
            if event is not _NOTHING:
                yield event  # type: ignore[misc]
    buffer += decoder.decode(b"", final=True)
    for line in _LINE_BREAK.split(buffer):
        event = _sse_line(line, data_lines)
        if event is not _NOTHING:
            yield event  # type: ignore[misc]
    if data_lines:
        yield "\n".join(data_lines)


_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_NOTHING = object()


def _sse_line(line: str, data_lines: list[str]) -> object:
    """Process one line: the event's data when ``line`` ends it, None for a comment, else _NOTHING."""
    if not line:
        if data_lines:
            data = "\n".join(data_lines)
            data_lines.clear()
            return data
        return _NOTHING
    if line.startswith(":"):
        return None
    field, _, value = line.partition(":")
    if value.startswith(" "):
        value = value[1:]
    if field == "data":
        data_lines.append(value)
    return _NOTHING


def connection_error(exc: BaseException, provider: str) -> ProviderError:
    """Wrap a transport failure (one of :data:`TRANSPORT_ERRORS`) as a retryable ProviderConnectionError."""
    return ProviderConnectionError(f"{type(exc).__name__}: {exc}", provider=provider)
