"""Aichat: chat-gpt.org's text endpoint. Not streaming: the whole answer comes at once.

Protocol (gpt4free's ``Aichat`` provider, the seed document):
``POST {url}/api/text`` with JSON ``{"message": <prompt>, "temperature": 0.5,
"presence_penalty": 0, "top_p": 1, "frequency_penalty": 0}``; the answer is JSON
``{"response": bool, "message": str}``, a falsy ``response`` being an error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

import aiohttp

from .base import Messages, ProviderModelMixin, SiteProvider
from .errors import ProtocolError, ServerError
from .http import connection_error, open_session, raise_for_status


def format_prompt(messages: Messages) -> str:
    """The history as ``Role: content`` lines ending with ``Assistant:``; a single message is sent raw."""
    if len(messages) == 1:
        return messages[0]["content"]
    lines = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    return "\n".join([*lines, "Assistant:"])


class Aichat(ProviderModelMixin, SiteProvider):
    """chat-gpt.org. ``url`` is the site root (``AICHAT_URL`` overrides it). Only ``gpt-3.5-turbo``."""

    url: ClassVar[str | None] = "https://chat-gpt.org"
    label: ClassVar[str | None] = "Aichat"
    env_name: ClassVar[str] = "aichat"
    supports_stream: ClassVar[bool] = False
    supports_message_history: ClassVar[bool] = True
    default_model: ClassVar[str] = "gpt-3.5-turbo"
    models: ClassVar[list[str]] = ["gpt-3.5-turbo"]

    async def stream(
        self, model: str, messages: Messages, proxy: str | None = None, **kwargs: Any
    ) -> AsyncIterator[str]:
        """Yield the whole answer as one chunk.

        Raises:
            ServerError: ``response`` is falsy (the site's own error), or HTTP 5xx.
            ProtocolError: the body is not the expected JSON object.
        """
        self.get_model(model)
        payload = {
            "message": format_prompt(messages),
            "temperature": kwargs.get("temperature", 0.5),
            "presence_penalty": 0,
            "top_p": 1,
            "frequency_penalty": 0,
        }
        headers = {"Origin": self.base_url, "Referer": f"{self.base_url}/chat"}
        try:
            async with open_session(proxy or self.proxy, headers) as session:
                async with session.post(f"{self.base_url}/api/text", json=payload) as response:
                    await raise_for_status(response, self.name)
                    try:
                        body = await response.json(content_type=None)
                    except ValueError as exc:
                        raise ProtocolError("answer is not JSON", provider=self.name) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise connection_error(exc, self.name) from exc
        if not isinstance(body, dict) or "message" not in body:
            raise ProtocolError(f"unexpected answer: {str(body)[:80]}", provider=self.name)
        if not body.get("response"):
            raise ServerError(f"the site refused: {str(body.get('message'))[:120]}", provider=self.name)
        if body["message"]:
            yield str(body["message"])
