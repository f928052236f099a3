"""HTTP plumbing shared by the providers: sessions with proxies, status mapping, SSE.

Providers open one :class:`aiohttp.ClientSession` per request (a request is a
whole streamed completion, seconds long), so a provider object is safe to use
from any event loop, including the sync :class:`~providers.client.Client`.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp_socks import ProxyConnector

from .errors import (
    AuthenticationError,
    BadRequestError,
    ModelNotSupportedError,
    ProviderConnectionError,
    ProviderError,
    RateLimitError,
    ServerError,
)

USER_AGENT = "telegram-llm-bot/1.0 (+aiohttp)"


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
    all_headers = {"User-Agent": USER_AGENT}
    all_headers.update(headers or {})
    return aiohttp.ClientSession(
        connector=connector,
        headers=all_headers,
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout),
    )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from an HTTP ``Retry-After`` header (delta-seconds form); None if absent or a date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


#: How servers word "this model does not exist here" (OpenAI, Groq, vLLM: "The model `x` does not exist";
#: Ollama: 'model "x" not found, try pulling it first'; OpenRouter: "x is not a valid model ID";
#: LiteLLM: "Invalid model name passed in model=x").
_MODEL_MISSING = re.compile(
    r"\bmodel\b[^\n]{0,160}?\b(not found|does not exist|do(es)? not have access|not available|not supported|unknown)"
    r"|\b(invalid|unknown|unsupported|no such) model\b"
    r"|\bnot a valid model\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """The parts of an error answer the chain needs (OpenAI API reference, "Error codes").

    Attributes:
        message: the server's message ("" when none).
        type: ``error.type`` (``invalid_request_error``...), "" when absent.
        code: ``error.code`` as text (``model_not_found``, ``invalid_api_key``, ``404``...), "" when absent.
    """

    message: str = ""
    type: str = ""
    code: str = ""

    @property
    def model_missing(self) -> bool:
        """True when the error says the requested model does not exist (or is not available) there."""
        if self.code == "model_not_found":
            return True
        if self.code == "context_length_exceeded":
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
    )


async def raise_for_status(response: aiohttp.ClientResponse, provider: str) -> None:
    """Map a non-2xx response onto a typed :class:`~providers.errors.ProviderError`.

    401/403 -> AuthenticationError; 429 -> RateLimitError (with ``Retry-After``);
    400/404/422 saying the model does not exist (``model_not_found``, or the server's
    wording, see :class:`ErrorBody`) -> ModelNotSupportedError; other 400/404/413/422 ->
    BadRequestError; anything else -> ServerError.
    The error text carries at most 200 characters of the body, never request headers.
    """
    if response.status < 400:
        return
    try:
        text = await response.text()
    except (aiohttp.ClientError, UnicodeDecodeError):
        text = ""
    details = parse_error_body(text[:4000])
    status = response.status
    message = f"HTTP {status}: {(details.message or text).strip()[:200] or response.reason}"
    if status in (401, 403):
        raise AuthenticationError(message, provider=provider)
    if status == 429:
        raise RateLimitError(
            message, provider=provider, retry_after=parse_retry_after(response.headers.get("Retry-After"))
        )
    if status in (400, 404, 422) and details.model_missing:
        raise ModelNotSupportedError(message, provider=provider)
    if status in (400, 404, 413, 422):
        raise BadRequestError(message, provider=provider)
    raise ServerError(message, provider=provider, status=status)


async def iter_sse_data(response: aiohttp.ClientResponse) -> AsyncIterator[str]:
    """Yield the ``data`` payload of each Server-Sent Event in ``response``.

    Follows the SSE framing (WHATWG HTML, "Server-sent events"): ``data:`` lines
    (one optional space after the colon) accumulate until a blank line ends the
    event; comment lines (``:``) and other fields are ignored. A final event not
    followed by a blank line is still delivered.
    """
    data_lines: list[str] = []
    async for raw in response.content:
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if data_lines:
                yield "\n".join(data_lines)
                data_lines = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            data_lines.append(value)
    if data_lines:
        yield "\n".join(data_lines)


def connection_error(exc: BaseException, provider: str) -> ProviderError:
    """Wrap an aiohttp transport failure as a retryable ProviderConnectionError."""
    return ProviderConnectionError(f"{type(exc).__name__}: {exc}", provider=provider)
