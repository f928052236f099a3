"""Aichat: chat-gpt.org's text endpoint. Not streaming: the whole answer comes at once.

Protocol (gpt4free's ``Aichat`` provider, the seed document):
``POST {site}/api/text`` with JSON ``{"message": <prompt>, "temperature": 0.5,
"presence_penalty": 0, "top_p": 1, "frequency_penalty": 0}``; the answer is JSON
``{"message": str}``, with ``"response": false`` when the site refuses (the seed's
answers have no ``response`` key at all).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

from yarl import URL

from ..base import Messages, ProviderModelMixin, SiteProvider
from ..errors import ProtocolError, ProviderError, ServerError
from ..http import TRANSPORT_ERRORS, connection_error, open_session, raise_for_status


def format_prompt(messages: Messages) -> str:
    """The history as ``Role: content`` lines ending with ``Assistant:``; a single message is sent raw."""
    if len(messages) == 1:
        return messages[0]["content"]
    lines = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    return "\n".join([*lines, "Assistant:"])


class Aichat(ProviderModelMixin, SiteProvider):
    """chat-gpt.org. ``url`` is its chat page, as in the seed (``AICHAT_URL`` overrides the site);
    requests go to the site's ``/api/text``. Only ``gpt-3.5-turbo`` (``model``, the seed's name,
    is the same list as ``models``)."""

    url: ClassVar[str | None] = "https://chat-gpt.org/chat"
    label: ClassVar[str | None] = "Aichat"
    env_name: ClassVar[str] = "aichat"
    supports_stream: ClassVar[bool] = False
    supports_message_history: ClassVar[bool] = True
    default_model: ClassVar[str] = "gpt-3.5-turbo"
    models: ClassVar[list[str]] = ["gpt-3.5-turbo"]
    model: ClassVar[list[str]] = models

    @property
    def site(self) -> str:
        """The site root (scheme and host) of :attr:`base_url`."""
        return str(URL(self.base_url).origin())

    def _create_completion(self, model: str, messages: Messages, stream: bool = False, **kwargs: Any) -> Iterator[str]:
        """The seed's name for :meth:`create_completion`: a generator of the answer's text."""
        return self.create_completion(model, messages, stream=stream, **kwargs)

    async def stream(
        self, model: str, messages: Messages, proxy: str | None = None, **kwargs: Any
    ) -> AsyncIterator[str]:
        """Yield the whole answer as one chunk.

        Raises:
            ServerError: ``response`` is present and falsy (the site's own refusal), or HTTP 5xx.
            BlockedError: HTTP 401/403 (a firewall or bot protection).
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
        headers = {"Origin": self.site, "Referer": f"{self.site}/chat"}
        try:
            async with open_session(proxy or self.proxy, headers) as session:
                async with session.post(f"{self.site}/api/text", json=payload) as response:
                    await raise_for_status(response, self.name, needs_auth=False)
                    try:
                        body = await response.json(content_type=None)
                    except ValueError as exc:
                        raise ProtocolError("answer is not JSON", provider=self.name) from exc
        except ProviderError:
            raise  # typed already (an HTTP status error is also an aiohttp.ClientError)
        except TRANSPORT_ERRORS as exc:
            raise connection_error(exc, self.name) from exc
        # Never put the answer's text in an error: errors are logged.
        if not isinstance(body, dict) or not isinstance(body.get("message"), str):
            raise ProtocolError('the answer is not {"message": text}', provider=self.name)
        if "response" in body and not body["response"]:
            raise ServerError("the site refused the request (response: false)", provider=self.name)
        if body["message"]:
            yield body["message"]


def _create_completion(model: str, messages: Messages, stream: bool = False, **kwargs: Any) -> Iterator[str]:
    """The seed's module-level function: :meth:`Aichat.create_completion` on an instance configured
    from the environment (``AICHAT_URL``, ``AICHAT_PROXY``/``PROXY``)."""
    return Aichat.default()._create_completion(model, messages, stream=stream, **kwargs)  # type: ignore[attr-defined]
