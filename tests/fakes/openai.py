"""A fake OpenAI-compatible server: ``POST /v1/chat/completions`` (SSE) and ``GET /v1/models``.

Each request takes the next scripted :class:`Behaviour` (or the default one)
and records the JSON body it received. Like the real servers, it refuses a model
it does not list: OpenAI's 404 ``model_not_found`` body, or with ``flavor="ollama"``
Ollama's 404 ``model "x" not found, try pulling it first``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .server import LoopbackServer


@dataclass
class Reply:
    """Stream ``text`` in chunks of ``chunk_size`` characters, ``delay`` seconds apart.

    ``cut_after``: drop the connection after that many chunks (no [DONE]).
    ``hang_after``: stop sending (connection open) after that many chunks.
    ``malformed_after``: send a non-JSON data line after that many chunks.
    ``first_delay``: seconds before the first chunk.
    """

    text: str = "Hello from the fake model."
    chunk_size: int = 5
    delay: float = 0.0
    first_delay: float = 0.0
    cut_after: int | None = None
    hang_after: int | None = None
    malformed_after: int | None = None
    reasoning: list[str] = field(default_factory=list)
    reasoning_delay: float = 0.0


@dataclass
class Fail:
    """Answer an HTTP error: ``status``, JSON ``body``, optional ``Retry-After``."""

    status: int = 500
    message: str = "internal error"
    retry_after: float | None = None


@dataclass
class Hang:
    """Accept the request and never answer."""


Behaviour = Reply | Fail | Hang


class FakeOpenAI(LoopbackServer):
    """``default`` answers every request not scripted with :meth:`then` (a behaviour, or a function of the body)."""

    def __init__(
        self,
        default: Behaviour | Callable[[dict[str, Any]], Behaviour] | None = None,
        models: list[str] | None = None,
        api_key: str | None = None,
        flavor: str = "openai",
    ) -> None:
        super().__init__()
        self.default = default or Reply()
        self.models = models or ["fake-small", "fake-large"]
        self.flavor = flavor
        #: When set, ``GET /models`` answers this HTTP status (a backend that cannot list its models).
        self.models_status: int | None = None
        self.api_key = api_key
        self.script: list[Behaviour] = []
        self.requests: list[dict[str, Any]] = []
        #: (monotonic time, "request" | "first_chunk" | "done") for latency measurements.
        self.timeline: list[tuple[float, str]] = []
        self.headers: list[dict[str, str]] = []
        self._hangs: list[asyncio.Event] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_get("/v1/models", self._models)

    async def before_stop(self) -> None:
        for event in self._hangs:
            event.set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def then(self, *behaviours: Behaviour) -> FakeOpenAI:
        self.script.extend(behaviours)
        return self

    def _unauthorized(self, request: web.Request) -> bool:
        return self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}"

    async def _models(self, request: web.Request) -> web.Response:
        if self._unauthorized(request):
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        if self.models_status is not None:
            return web.json_response({"error": {"message": "models unavailable"}}, status=self.models_status)
        return web.json_response({"object": "list", "data": [{"id": m, "object": "model"} for m in self.models]})

    def _unknown_model(self, model: str) -> web.Response:
        if self.flavor == "ollama":
            message = f'model "{model}" not found, try pulling it first'
            error = {"message": message, "type": "api_error", "param": None, "code": None}
        else:
            message = f"The model `{model}` does not exist or you do not have access to it."
            error = {"message": message, "type": "invalid_request_error", "param": None, "code": "model_not_found"}
        return web.json_response({"error": error}, status=404)

    async def _hang(self) -> None:
        event = asyncio.Event()
        self._hangs.append(event)
        await event.wait()

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.timeline.append((time.monotonic(), "request"))
        self.headers.append(dict(request.headers))
        if self._unauthorized(request):
            return web.json_response({"error": {"message": "Incorrect API key provided"}}, status=401)
        if body.get("model") not in self.models:
            return self._unknown_model(str(body.get("model")))
        if self.script:
            behaviour = self.script.pop(0)
        else:
            behaviour = self.default(body) if callable(self.default) else self.default
        if isinstance(behaviour, Fail):
            headers = {"Retry-After": str(behaviour.retry_after)} if behaviour.retry_after is not None else {}
            return web.json_response(
                {"error": {"message": behaviour.message, "type": "fake"}}, status=behaviour.status, headers=headers
            )
        if isinstance(behaviour, Hang):
            await self._hang()
            return web.Response(status=504)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        if behaviour.first_delay:
            await asyncio.sleep(behaviour.first_delay)
        for thought in behaviour.reasoning:
            await asyncio.sleep(behaviour.reasoning_delay)
            event = {"choices": [{"index": 0, "delta": {"reasoning_content": thought}, "finish_reason": None}]}
            await response.write(f"data: {json.dumps(event)}\n\n".encode())
        text = behaviour.text
        chunks = [text[i : i + behaviour.chunk_size] for i in range(0, len(text), behaviour.chunk_size)]
        for index, chunk in enumerate(chunks):
            if behaviour.cut_after is not None and index == behaviour.cut_after:
                request.transport.close()  # type: ignore[union-attr]
                return response
            if behaviour.hang_after is not None and index == behaviour.hang_after:
                await self._hang()
                return response
            if behaviour.malformed_after is not None and index == behaviour.malformed_after:
                await response.write(b"data: {not json\n\n")
                return response
            event = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "model": body.get("model"),
                "choices": [{"index": 0, "delta": {"content": chunk}, "finish_reason": None}],
            }
            await response.write(f"data: {json.dumps(event)}\n\n".encode())
            if index == 0:
                self.timeline.append((time.monotonic(), "first_chunk"))
            if behaviour.delay:
                await asyncio.sleep(behaviour.delay)
        final = {"id": "chatcmpl-fake", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        await response.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
        await response.write_eof()
        self.timeline.append((time.monotonic(), "done"))
        return response
