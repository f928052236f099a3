"""ChatGpt: chatgpt.com's anonymous web backend. ``working = False``, as in the seed.

Protocol (gpt4free's ``ChatGpt`` provider, the seed document):

1. ``GET {url}/`` sets the session cookies;
2. ``POST {url}/backend-anon/sentinel/chat-requirements`` answers
   ``{"token", "turnstile": {"required"}, "proofofwork": {"required", ...}}``.
   A required Turnstile CAPTCHA or proof of work is reported as
   :class:`~providers.errors.CaptchaRequiredError` and **never** solved or circumvented;
3. ``POST {url}/backend-anon/conversation`` with the
   ``openai-sentinel-chat-requirements-token`` header and
   ``{"action": "next", "messages": format_conversation(...), "model", ...}``
   streams SSE ``data: {json}`` lines whose ``message.content.parts[0]`` is the
   *whole text so far*: each delta is the new suffix. The stream ends with ``[DONE]``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import aiohttp

from ..base import Messages, ProviderModelMixin, SiteProvider
from ..errors import AuthenticationError, CaptchaRequiredError, ProtocolError, ProviderConnectionError, ProviderError
from ..http import TRANSPORT_ERRORS, connection_error, iter_sse_data, open_session, raise_for_status

BROWSER_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/127.0.0.0 Safari/537.36"
)


@dataclass(slots=True)
class BrowserSession:
    """The browser-like request headers ChatGpt's requests carry (the seed's ``init_session`` result).

    The backend's cookies are kept by the HTTP client's cookie jar, not by ``headers["Cookie"]``.
    """

    headers: dict[str, str]


def init_session(user_agent: str) -> BrowserSession:
    """Headers of a desktop Chrome for ``user_agent``, as gpt4free's ``init_session`` sets them."""
    return BrowserSession(
        headers={
            "accept": "*/*",
            "accept-language": "en-US,en;q=0.8",
            "cache-control": "no-cache",
            "pragma": "no-cache",
            "priority": "u=0, i",
            "sec-ch-ua": '"Not)A;Brand";v="99", "Google Chrome";v="127", "Chromium";v="127"',
            "sec-ch-ua-arch": '"arm"',
            "sec-ch-ua-bitness": '"64"',
            "sec-ch-ua-mobile": "?0",
            "sec-ch-ua-model": '""',
            "sec-ch-ua-platform": '"macOS"',
            "sec-ch-ua-platform-version": '"14.4.0"',
            "sec-fetch-dest": "document",
            "sec-fetch-mode": "navigate",
            "sec-fetch-site": "none",
            "sec-fetch-user": "?1",
            "upgrade-insecure-requests": "1",
            "user-agent": user_agent,
            "Cookie": "_dd_s=",
        }
    )


def format_conversation(messages: Messages) -> list[dict[str, Any]]:
    """Messages in the backend's shape: id, author role, text content parts, metadata, create_time."""
    return [
        {
            "id": str(uuid.uuid4()),
            "author": {"role": message["role"]},
            "content": {"content_type": "text", "parts": [message["content"]]},
            "metadata": {"serialization_metadata": {"custom_symbol_offsets": []}},
            "create_time": round(time.time(), 3),
        }
        for message in messages
    ]


_NO_MESSAGE = object()


class ChatGpt(ProviderModelMixin, SiteProvider):
    """chatgpt.com without an account. ``CHATGPT_URL`` overrides the host.

    Unknown model names fall back to ``auto`` (as in the seed); ``gpt-4o`` is an
    alias of ``chatgpt-4o-latest``.
    """

    url: ClassVar[str | None] = "https://chatgpt.com"
    label: ClassVar[str | None] = "ChatGpt"
    env_name: ClassVar[str] = "chatgpt"
    working: ClassVar[bool] = False
    supports_stream: ClassVar[bool] = True
    supports_message_history: ClassVar[bool] = True
    supports_system_message: ClassVar[bool] = True
    default_model: ClassVar[str] = "auto"
    models: ClassVar[list[str]] = [
        "auto",
        "gpt-3.5-turbo",
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4",
        "gpt-4-turbo",
        "chatgpt-4o-latest",
    ]
    model_aliases: ClassVar[dict[str, str]] = {"gpt-4o": "chatgpt-4o-latest"}
    unknown_model: ClassVar[Literal["raise", "pass", "default"]] = "default"

    async def _requirements(self, session: aiohttp.ClientSession) -> str:
        async with session.get(f"{self.base_url}/") as response:
            await raise_for_status(response, self.name, needs_auth=False)
        async with session.post(f"{self.base_url}/backend-anon/sentinel/chat-requirements", json={}) as response:
            await raise_for_status(response, self.name, needs_auth=False)
            try:
                body = await response.json(content_type=None)
            except ValueError as exc:
                raise ProtocolError("chat-requirements answer is not JSON", provider=self.name) from exc
        if body.get("force_login"):
            raise AuthenticationError("the backend requires logging in", provider=self.name)
        if (body.get("turnstile") or {}).get("required"):
            raise CaptchaRequiredError(
                "chatgpt.com demands a Turnstile CAPTCHA; this provider does not solve CAPTCHAs",
                provider=self.name,
                challenge="turnstile",
            )
        if (body.get("proofofwork") or {}).get("required"):
            raise CaptchaRequiredError(
                "chatgpt.com demands a proof-of-work challenge; this provider does not solve it",
                provider=self.name,
                challenge="proofofwork",
            )
        token = body.get("token")
        if not token:
            raise ProtocolError("chat-requirements answer has no token", provider=self.name)
        return str(token)

    async def stream(
        self, model: str, messages: Messages, proxy: str | None = None, **kwargs: Any
    ) -> AsyncIterator[str]:
        """Stream the assistant's text as deltas of the cumulative ``parts[0]``.

        Raises:
            CaptchaRequiredError: a Turnstile CAPTCHA or proof of work is demanded.
            AuthenticationError: the backend demands a login (or HTTP 401/403).
            ProtocolError: a malformed line; ProviderConnectionError: no ``[DONE]``.
        """
        payload = {
            "action": "next",
            "messages": format_conversation(messages),
            "parent_message_id": str(uuid.uuid4()),
            "model": self.get_model(model),
            "timezone_offset_min": 0,
            "suggestions": [],
            "history_and_training_disabled": True,
            "conversation_mode": {"kind": "primary_assistant"},
            "websocket_request_id": str(uuid.uuid4()),
        }
        headers = {k: v for k, v in init_session(BROWSER_USER_AGENT).headers.items() if k != "Cookie"}
        headers.update({"accept": "text/event-stream", "oai-device-id": str(uuid.uuid4())})
        shown = ""
        done = False
        try:
            async with open_session(proxy or self.proxy, headers) as session:
                token = await self._requirements(session)
                async with session.post(
                    f"{self.base_url}/backend-anon/conversation",
                    json=payload,
                    headers={"openai-sentinel-chat-requirements-token": token},
                ) as response:
                    await raise_for_status(response, self.name, needs_auth=False)
                    current: object = _NO_MESSAGE
                    async for data in iter_sse_data(response):
                        if data is None:
                            yield ""  # a keep-alive comment
                            continue
                        if data.strip() == "[DONE]":
                            done = True
                            break
                        found = self._assistant_text(data)
                        if found is None:
                            continue
                        message_id, text = found
                        if message_id != current:
                            # A further assistant message continues the answer: keep what came before.
                            if shown:
                                yield "\n\n"
                            current, shown = message_id, ""
                        if text.startswith(shown) and len(text) > len(shown):
                            delta, shown = text[len(shown) :], text
                            yield delta
        except ProviderError:
            raise  # typed already (an HTTP status error is also an aiohttp.ClientError)
        except TRANSPORT_ERRORS as exc:
            raise connection_error(exc, self.name) from exc
        if not done:
            raise ProviderConnectionError("stream ended before [DONE]", provider=self.name)

    def _assistant_text(self, data: str) -> tuple[str | None, str] | None:
        """``(message id, cumulative text)`` of the assistant message in one event, or None for other events."""
        try:
            event = json.loads(data)
        except ValueError:
            raise ProtocolError(f"malformed line: {data[:80]!r}", provider=self.name) from None
        message = event.get("message") if isinstance(event, dict) else None
        if not isinstance(message, dict) or (message.get("author") or {}).get("role") != "assistant":
            return None
        parts = (message.get("content") or {}).get("parts") or []
        if not parts or not isinstance(parts[0], str):
            return None
        message_id = message.get("id")
        return (str(message_id) if message_id is not None else None), parts[0]
