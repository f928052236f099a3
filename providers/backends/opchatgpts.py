"""Opchatgpts: the chat endpoint of the AI Engine WordPress plugin (``mwai-ui``), as on opchatgpts.net.

Protocol (gpt4free's ``Opchatgpts`` provider, the seed document):
``POST {url}/wp-json/mwai-ui/v1/chats/submit`` with JSON
``{"botId": "default", "customId": null, "session": "N/A", "chatId": <random>,
"contextId": <int>, "messages": [...], "newMessage": <last user text>, "stream": true}``.
The answer is SSE ``data: {json}`` lines: ``type == "live"`` carries a text chunk
in ``data``; ``type == "end"`` ends the answer; ``type == "error"`` is an error;
a line without ``type`` is a protocol error.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from ..base import Messages, ProviderModelMixin, SiteProvider
from ..errors import ProtocolError, ProviderConnectionError, ProviderError, ServerError
from ..http import TRANSPORT_ERRORS, connection_error, iter_sse_data, open_session, raise_for_status


class Opchatgpts(ProviderModelMixin, SiteProvider):
    """AI Engine chat endpoint. ``url`` is the site root (``OPCHATGPTS_URL`` overrides it).

    Only ``gpt-3.5-turbo`` is offered (the site chooses the real model); other names raise
    :class:`~providers.errors.ModelNotSupportedError`.
    """

    #: The seed's flag: the site answers as ``gpt-3.5-turbo``.
    supports_gpt_35_turbo: ClassVar[bool] = True

    url: ClassVar[str | None] = "https://opchatgpts.net"
    label: ClassVar[str | None] = "Opchatgpts"
    env_name: ClassVar[str] = "opchatgpts"
    supports_message_history: ClassVar[bool] = True
    default_model: ClassVar[str] = "gpt-3.5-turbo"
    models: ClassVar[list[str]] = ["gpt-3.5-turbo"]

    def __init__(self, url: str | None = None, proxy: str | None = None, context_id: int = 28) -> None:
        super().__init__(url, proxy)
        self.context_id = context_id

    def payload(self, messages: Messages) -> dict[str, Any]:
        """The JSON body of one request."""
        last_user = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
        return {
            "botId": "default",
            "customId": None,
            "session": "N/A",
            "chatId": secrets.token_hex(6),
            "contextId": self.context_id,
            "messages": messages,
            "newMessage": last_user,
            "stream": True,
        }

    async def stream(
        self, model: str, messages: Messages, proxy: str | None = None, **kwargs: Any
    ) -> AsyncIterator[str]:
        """Stream the ``live`` chunks until ``end``.

        Raises:
            ProtocolError: a data line that is not JSON or has no ``type``.
            ServerError: an ``error`` event, or an HTTP 5xx.
            ProviderConnectionError: the stream ended before ``end``.
        """
        self.get_model(model)
        headers = {"Accept": "text/event-stream", "Origin": self.base_url, "Referer": f"{self.base_url}/"}
        ended = False
        try:
            async with open_session(proxy or self.proxy, headers) as session:
                async with session.post(
                    f"{self.base_url}/wp-json/mwai-ui/v1/chats/submit", json=self.payload(messages)
                ) as response:
                    await raise_for_status(response, self.name, needs_auth=False)
                    async for data in iter_sse_data(response):
                        if data is None:
                            yield ""  # a keep-alive comment
                            continue
                        try:
                            event = json.loads(data)
                        except ValueError as exc:
                            raise ProtocolError(f"malformed line: {data[:80]!r}", provider=self.name) from exc
                        kind = event.get("type") if isinstance(event, dict) else None
                        if kind is None:
                            raise ProtocolError(f"line without type: {data[:80]!r}", provider=self.name)
                        if kind == "live":
                            if event.get("data"):
                                yield str(event["data"])
                        elif kind == "end":
                            ended = True
                            break
                        elif kind == "error":
                            raise ServerError(f"error event: {event.get('data')}", provider=self.name)
        except ProviderError:
            raise  # typed already (an HTTP status error is also an aiohttp.ClientError)
        except TRANSPORT_ERRORS as exc:
            raise connection_error(exc, self.name) from exc
        if not ended:
            raise ProviderConnectionError("stream ended before the end event", provider=self.name)
