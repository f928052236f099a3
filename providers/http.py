"""HTTP plumbing shared by the providers: sessions with proxies, status mapping, SSE.

Providers open one :class:`aiohttp.ClientSession` per request (a request is a
whole streamed completion, seconds long), so a provider object is safe to use
from any event loop, including the sync :class:`~providers.client.Client`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import aiohttp
from aiohttp_socks import ProxyConnector

from .errors import (
    AuthenticationError,
    BadRequestError,
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


async def raise_for_status(response: aiohttp.ClientResponse, provider: str) -> None:
    """Map a non-2xx response onto a typed :class:`~providers.errors.ProviderError`.

    401/403 -> AuthenticationError; 400/404/413/422 -> BadRequestError;
    429 -> RateLimitError (with ``Retry-After``); anything else -> ServerError.
    The error text carries at most 200 characters of the body, never request headers.
    """
    if response.status < 400:
        return
    try:
        body = (await response.text())[:200]
    except (aiohttp.ClientError, UnicodeDecodeError):
        body = ""
    message = f"HTTP {response.status}: {body.strip() or response.reason}"
    status = response.status
    if status in (401, 403):
        raise AuthenticationError(message, provider=provider)
    if status == 429:
        raise RateLimitError(
            message, provider=provider, retry_after=parse_retry_after(response.headers.get("Retry-After"))
        )
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
