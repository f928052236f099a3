"""Fakes of the seed providers' backends: AI Engine (Opchatgpts), chat-gpt.org (Aichat), chatgpt.com (ChatGpt)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .server import LoopbackServer


class FakeSite(LoopbackServer):
    """One site; ``mode`` selects a behaviour per test, ``requests`` records bodies."""

    def __init__(self, mode: str = "ok", answer: str = "Hello from the site.") -> None:
        super().__init__()
        self.mode = mode
        self.answer = answer
        self.requests: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def _sse(request: web.Request, events: list[str]) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for event in events:
        await response.write(f"data: {event}\n\n".encode())
    await response.write_eof()
    return response


class FakeAiEngine(FakeSite):
    """``POST /wp-json/mwai-ui/v1/chats/submit``: SSE ``live`` chunks then ``end``."""

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/wp-json/mwai-ui/v1/chats/submit", self._submit)

    async def _submit(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        words = [self.answer[i : i + 4] for i in range(0, len(self.answer), 4)]
        live = [json.dumps({"type": "live", "data": w}) for w in words]
        if self.mode == "untyped":
            return await _sse(request, [*live[:2], json.dumps({"data": "no type"})])
        if self.mode == "error":
            return await _sse(request, [json.dumps({"type": "error", "data": "The bot is not available."})])
        if self.mode == "no_end":
            return await _sse(request, live)
        return await _sse(request, [*live, json.dumps({"type": "end", "data": json.dumps({"reply": self.answer})})])


class FakeAichatSite(FakeSite):
    """``POST /api/text``: JSON ``{"response": bool, "message": str}``."""

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/text", self._text)

    async def _text(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        if self.mode == "refused":
            return web.json_response({"response": False, "message": "Too many requests from this IP"})
        if self.mode == "html":
            return web.Response(text="<html>blocked</html>", content_type="text/html")
        if self.mode == "cloudflare":
            return web.Response(
                status=403, text="<html>Attention Required! | Cloudflare</html>", content_type="text/html"
            )
        if self.mode == "seed":
            return web.json_response({"message": self.answer})
        return web.json_response({"response": True, "message": self.answer})


class FakeChatGptSite(FakeSite):
    """``GET /``, ``POST /backend-anon/sentinel/chat-requirements``, ``POST /backend-anon/conversation``.

    Modes: ``ok``; ``turnstile`` and ``proofofwork`` (a challenge is demanded); ``login``;
    ``two_messages`` (the answer continues in a second assistant message, as the backend does
    after a tool step). The conversation stream repeats the whole text so far in
    ``message.content.parts[0]``, with ``: ping`` keep-alive comments between events.
    """

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/", self._home)
        app.router.add_post("/backend-anon/sentinel/chat-requirements", self._requirements)
        app.router.add_post("/backend-anon/conversation", self._conversation)
        self.sentinel_headers: list[str | None] = []
        self.conversation_headers: list[Any] = []

    async def _home(self, request: web.Request) -> web.Response:
        response = web.Response(text="<html></html>", content_type="text/html")
        response.set_cookie("__cf_bm", "cookie")
        return response

    async def _requirements(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "token": "sentinel-token",
                "turnstile": {"required": self.mode == "turnstile", "dx": "bytecode"},
                "proofofwork": {"required": self.mode == "proofofwork", "seed": "0.1", "difficulty": "0fffff"},
                "force_login": self.mode == "login",
            }
        )

    async def _conversation(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.sentinel_headers.append(request.headers.get("openai-sentinel-chat-requirements-token"))
        self.conversation_headers.append(request.headers.copy())
        events = [json.dumps({"message": {"author": {"role": "user"}, "content": {"parts": ["echo"]}}})]
        answers = self.answer.split("\n\n", 1) if self.mode == "two_messages" else [self.answer]
        for number, answer in enumerate(answers):
            for end in range(5, len(answer) + 5, 5):
                message = {
                    "id": f"msg-{number}",
                    "author": {"role": "assistant"},
                    "content": {"content_type": "text", "parts": [answer[:end]]},
                }
                events.append(json.dumps({"message": message, "conversation_id": "c1"}))
            events.append(events[-1])  # repeated whole text: no new delta
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for event in [*events, "[DONE]"]:
            await response.write(f"data: {event}\n\n: ping\n\n".encode())
        await response.write_eof()
        return response
