"""A fake OpenAI-compatible server: ``POST /v1/chat/completions`` (SSE) and ``GET /v1/models``.

Each request takes the next scripted :class:`Behaviour` (or the default one)
and records the JSON body it received. Like the real servers, it refuses a model
it does not list (OpenAI's 404 ``model_not_found`` body, or with ``flavor="ollama"``
Ollama's 404 ``model "x" not found, try pulling it first``) and a wrong key (401
``invalid_api_key``); it answers ``stream: false`` with a ``chat.completion`` object,
and a stream the way OpenAI does: a role-only first chunk, content chunks, a finish
chunk, a usage chunk with ``"choices": []`` (only when ``stream_options.include_usage``
asks for it), then ``[DONE]``. The official ``openai`` SDK reads it (tests/test_openai_fake.py).

Server flavours (``flavor=``), each as that server answers:

- ``openai``: context overflow is 400 ``context_length_exceeded`` ("This model's maximum
  context length is N tokens. However, your messages resulted in M tokens...");
- ``llama-server`` (llama.cpp): 400 ``exceed_context_size_error`` with ``n_prompt_tokens`` and
  ``n_ctx``; ``GET /props`` gives ``default_generation_settings.n_ctx``;
- ``llama-cpp-python``: an overlong prompt gets HTTP 200 and an empty stream (no event at all);
- ``vllm``: 400 with a top-level ``{"object": "error", "message": "This model's maximum context
  length is N tokens. However, you requested M tokens (...)"}``; ``/models`` lists ``max_model_len``;
- ``ollama``: an overlong prompt is 500 "input exceeds context length" (its runner logs
  ``input exceeds context length prompt=2782 limit=2048``); a model it lacks is 404
  'model "x" not found, try pulling it first';
- ``openrouter``: ``/models`` lists ``architecture.input_modalities`` and ``context_length``;
- ``litellm`` (LiteLLM proxy): ``GET /v1/model/info`` lists ``model_info.max_input_tokens``.

The fake counts a prompt's tokens its own way (:func:`server_tokens`, 3 characters a token), not
as the bot estimates them, as a real tokenizer would.
"""

from __future__ import annotations

import asyncio
import base64
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
    #: Seconds of keep-alive comments (``: OPENROUTER PROCESSING``), one every ``keepalive_every`` s,
    #: before the first token.
    keepalive: float = 0.0
    keepalive_every: float = 0.5
    finish_reason: str = "stop"
    #: After the finish chunk, send neither ``[DONE]`` nor EOF (the connection stays open).
    no_done: bool = False
    #: Send an error object inside the stream after that many chunks (OpenRouter, LiteLLM).
    error_after: int | None = None
    error: dict[str, Any] = field(default_factory=lambda: {"code": 502, "message": "upstream error"})
    #: Answer a whole ``application/json`` completion although a stream was asked for.
    as_json: bool = False
    #: Answer an HTML page with HTTP 200 (a captive portal, a misconfigured proxy).
    as_html: bool = False
    #: The line ending of the SSE stream: "\n", "\r\n" or "\r".
    newline: str = "\n"
    #: Write the stream in pieces of this many bytes (splits UTF-8 characters and lines).
    write_size: int | None = None
    #: Add ``event: message`` lines and split each data payload over two ``data:`` lines.
    fancy_fields: bool = False
    gzip: bool = False
    #: End with ``data: [DONE]`` and no finish chunk (llama-cpp-python interrupting an answer).
    no_finish: bool = False


@dataclass
class Fail:
    """Answer an HTTP error: ``status``, JSON ``body``, optional ``Retry-After``."""

    status: int = 500
    message: str = "internal error"
    retry_after: float | str | None = None
    code: str | None = None
    type: str = "server_error"
    headers: dict[str, str] = field(default_factory=dict)


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
        #: The models' context window in tokens (:func:`server_tokens` of the messages plus ``max_tokens``);
        #: None: unlimited. A longer request gets the flavour's context error.
        self.context_window: int | None = None
        #: Tell the window in the flavour's metadata (``/models``, ``/props``, ``/model/info``).
        self.tells_context = True
        #: Refuse ``stream_options`` as Azure OpenAI before API version 2024-07-01 did (400
        #: "Unrecognized request argument supplied: stream_options").
        self.refuses_stream_options = False
        self.api_key = api_key
        self.script: list[Behaviour] = []
        self.requests: list[dict[str, Any]] = []
        #: (monotonic time, "request" | "first_chunk" | "done" | "client_gone"): latency measurements,
        #: and when a client stopped reading a stream before its end.
        self.timeline: list[tuple[float, str]] = []
        self.headers: list[dict[str, str]] = []
        #: (path, Authorization header or None) of each GET /props and GET /v1/model/info.
        self.metadata_requests: list[tuple[str, str | None]] = []
        #: llama-server's ``total_slots`` in ``GET /props`` (its ``--parallel``).
        self.total_slots = 1
        #: Streams being written now, and the most at once.
        self.streaming = 0
        self.peak_streaming = 0
        #: llama-cpp-python's ``interrupt_requests`` (on by default there): a request that arrives while
        #: a stream is written ends that stream with ``data: [DONE]`` and no finish chunk.
        self.interrupt_requests = flavor == "llama-cpp-python"
        self._interrupts: list[asyncio.Event] = []
        self._hangs: list[asyncio.Event] = []
        #: Models that take image parts; None: every model does. Others refuse an image as OpenAI does.
        self.vision_models: list[str] | None = None
        #: POST /audio/transcriptions: the text it hears, the speech models it has, a status to fail
        #: with, and what it was sent (model, file name, content type, bytes).
        self.transcript = "Hello from a voice note."
        self.transcription_models = ["whisper-1"]
        self.transcription_status: int | None = None
        self.transcriptions: list[dict[str, Any]] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/props", self._props)
        app.router.add_get("/v1/model/info", self._model_info)
        app.router.add_post("/v1/audio/transcriptions", self._transcriptions)

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

    @staticmethod
    def _bad_key() -> web.Response:
        message = (
            "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."
        )
        error = {"message": message, "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}
        return web.json_response({"error": error}, status=401)

    async def _transcriptions(self, request: web.Request) -> web.Response:
        """OpenAI's "Create transcription": multipart ``file`` and ``model``; ``{"text": ...}``."""
        if self._unauthorized(request):
            return self._bad_key()
        if not request.content_type.startswith("multipart/form-data"):
            return self._invalid("file", "Expected multipart/form-data with a 'file' part.")
        form = await request.post()
        upload, model = form.get("file"), form.get("model")
        if not isinstance(upload, web.FileField):
            return self._invalid("file", "you must provide a file")
        if model not in self.transcription_models:
            return self._unknown_model(str(model))
        data = upload.file.read()
        self.transcriptions.append(
            {"model": model, "filename": upload.filename, "content_type": upload.content_type, "size": len(data)}
        )
        if self.transcription_status is not None:
            error = {"message": "transcription failed", "type": "server_error", "param": None, "code": None}
            return web.json_response({"error": error}, status=self.transcription_status)
        return web.json_response({"text": self.transcript})

    def _check_content(self, body: dict[str, Any]) -> web.Response | None:
        """Content parts as OpenAI checks them: ``text`` with a string, ``image_url`` with a
        ``data:image/...;base64`` (valid base64) or http(s) URL, images only for vision models."""
        for i, message in enumerate(body.get("messages", [])):
            content = message.get("content")
            if isinstance(content, str):
                continue
            if not isinstance(content, list) or message.get("role") != "user":
                return self._invalid(f"messages.[{i}].content", "Invalid type for 'content'.")
            for j, part in enumerate(content):
                where = f"messages.[{i}].content.[{j}]"
                if part.get("type") == "text" and isinstance(part.get("text"), str):
                    continue
                if part.get("type") != "image_url":
                    return self._invalid(f"{where}.type", "Invalid content type.")
                if self.vision_models is not None and body.get("model") not in self.vision_models:
                    return self._invalid(
                        f"{where}.type", "Invalid content type. image_url is only supported by certain models."
                    )
                url = str((part.get("image_url") or {}).get("url", ""))
                if url.startswith("data:image/") and ";base64," in url:
                    try:
                        base64.b64decode(url.split(",", 1)[1], validate=True)
                    except ValueError:
                        return self._invalid(f"{where}.image_url", "Invalid base64 image_url.")
                elif not url.startswith(("http://", "https://")):
                    return self._invalid(f"{where}.image_url", "Invalid image URL: expected a data: or http(s) URL.")
        return None

    @staticmethod
    def _invalid(param: str, message: str) -> web.Response:
        error = {"message": message, "type": "invalid_request_error", "param": param, "code": None}
        return web.json_response({"error": error}, status=400)

    async def _models(self, request: web.Request) -> web.Response:
        if self._unauthorized(request):
            return self._bad_key()
        if self.models_status is not None:
            return web.json_response({"error": {"message": "models unavailable"}}, status=self.models_status)
        # llama-server's /v1/models names itself: "owned_by": "llamacpp" (tools/server/server.cpp).
        owner = {"ollama": "library", "openai": "system", "llama-server": "llamacpp"}.get(
            self.flavor, "organization-owner"
        )
        entries: list[dict[str, Any]] = [
            {"id": m, "object": "model", "created": 1_700_000_000, "owned_by": owner} for m in self.models
        ]
        if self.flavor == "openrouter":  # OpenRouter describes what each model takes
            for entry in entries:
                sees = self.vision_models is None or entry["id"] in self.vision_models
                entry["architecture"] = {"input_modalities": ["text", "image"] if sees else ["text"]}
        key = {"openrouter": "context_length", "vllm": "max_model_len"}.get(self.flavor)
        if key and self.context_window and self.tells_context:
            for entry in entries:
                entry[key] = self.context_window
        if self.flavor == "ollama" and not self.models:
            return web.json_response({"object": "list", "data": None})  # Ollama with no model pulled
        return web.json_response({"object": "list", "data": entries})

    async def _props(self, request: web.Request) -> web.Response:
        """llama-server's ``GET /props`` (other servers have no such endpoint); with ``--api-key`` it
        wants the key like any endpoint but /health and /models."""
        self.metadata_requests.append(("/props", request.headers.get("Authorization")))
        if self.flavor != "llama-server" or not self.tells_context:
            return web.Response(status=404, text="404: Not Found")
        if self._unauthorized(request):  # llama-server's own 401 body
            error = {"code": 401, "message": "Invalid API Key", "type": "authentication_error"}
            return web.json_response({"error": error}, status=401)
        settings = {"n_ctx": self.context_window or 4096, "temperature": 0.8}
        return web.json_response({"default_generation_settings": settings, "total_slots": self.total_slots})

    async def _model_info(self, request: web.Request) -> web.Response:
        """The LiteLLM proxy's ``GET /v1/model/info``."""
        self.metadata_requests.append(("/v1/model/info", request.headers.get("Authorization")))
        if self.flavor != "litellm" or not self.tells_context:
            return web.Response(status=404, text="404: Not Found")
        if self._unauthorized(request):
            return self._bad_key()
        data = [
            {
                "model_name": m,
                "litellm_params": {"model": f"openai/{m}"},
                "model_info": {"max_input_tokens": self.context_window},
            }
            for m in self.models
        ]
        return web.json_response({"data": data})

    def _context_error(self, requested: int) -> web.StreamResponse:
        """The flavour's answer to a request of ``requested`` tokens over :attr:`context_window`."""
        window = self.context_window
        if self.flavor == "llama-server":
            message = (
                f"request ({requested} tokens) exceeds the available context size ({window} tokens), try increasing it"
            )
            error = {
                "code": 400,
                "message": message,
                "type": "exceed_context_size_error",
                "n_prompt_tokens": requested,
                "n_ctx": window,
            }
            return web.json_response({"error": error}, status=400)
        if self.flavor == "llama-cpp-python":
            return web.Response(status=200, content_type="text/event-stream", body=b"")
        if self.flavor == "vllm":
            message = (
                f"This model's maximum context length is {window} tokens. However, you requested {requested} tokens"
                f" ({requested} in the messages, 0 in the completion). Please reduce the length of the messages or"
                " completion."
            )
            return web.json_response(
                {"object": "error", "message": message, "type": "BadRequestError", "param": None, "code": 400},
                status=400,
            )
        if self.flavor == "ollama":
            error = {"message": "input exceeds context length", "type": "api_error", "param": None, "code": None}
            return web.json_response({"error": error}, status=500)
        message = (
            f"This model's maximum context length is {window} tokens. However, your messages resulted in"
            f" {requested} tokens. Please reduce the length of the messages."
        )
        error = {
            "message": message,
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
        return web.json_response({"error": error}, status=400)

    def _serves(self, model: str) -> bool:
        """A listed model; for Ollama also a name without a tag, which means ``:latest``."""
        return model in self.models or (self.flavor == "ollama" and f"{model}:latest" in self.models)

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
            return self._bad_key()
        if not self._serves(str(body.get("model"))):
            return self._unknown_model(str(body.get("model")))
        refusal = self._check_content(body)
        if refusal is not None:
            return refusal
        if self.refuses_stream_options and "stream_options" in body:
            return self._invalid("stream_options", "Unrecognized request argument supplied: stream_options")
        requested = server_tokens(body.get("messages", [])) + int(body.get("max_tokens") or 0)
        if self.context_window is not None and requested > self.context_window:
            return self._context_error(requested)
        if self.script:
            behaviour = self.script.pop(0)
        else:
            behaviour = self.default(body) if callable(self.default) else self.default
        if isinstance(behaviour, Fail):
            headers = dict(behaviour.headers)
            if behaviour.retry_after is not None:
                headers["Retry-After"] = str(behaviour.retry_after)
            error = {"message": behaviour.message, "type": behaviour.type, "param": None, "code": behaviour.code}
            return web.json_response({"error": error}, status=behaviour.status, headers=headers)
        if isinstance(behaviour, Hang):
            await self._hang()
            return web.Response(status=504)
        if behaviour.as_html:
            return web.Response(text="<html><body>Please log in</body></html>", content_type="text/html")
        if not body.get("stream") or behaviour.as_json:
            return self._whole(body, behaviour)
        try:
            return await self._stream(request, body, behaviour)
        except (ConnectionResetError, asyncio.CancelledError):
            self.timeline.append((time.monotonic(), "client_gone"))
            raise

    async def _stream(self, request: web.Request, body: dict[str, Any], behaviour: Reply) -> web.StreamResponse:
        """An SSE ``chat.completion.chunk`` stream of ``behaviour``'s text (OpenAI's streaming format);
        with :attr:`interrupt_requests`, cut short by the next request (llama-cpp-python's server:
        its event publisher sends ``[DONE]`` and stops when another request waits for the lock)."""
        if self.interrupt_requests:
            for running in self._interrupts:
                running.set()
        interrupted = asyncio.Event()
        self._interrupts.append(interrupted)
        self.streaming += 1
        self.peak_streaming = max(self.peak_streaming, self.streaming)
        try:
            return await self._write_stream(request, body, behaviour, interrupted)
        finally:
            self.streaming -= 1
            self._interrupts.remove(interrupted)

    async def _write_stream(
        self, request: web.Request, body: dict[str, Any], behaviour: Reply, interrupted: asyncio.Event
    ) -> web.StreamResponse:
        text = behaviour.text
        headers = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        response = web.StreamResponse(headers=headers)
        if behaviour.gzip:
            response.enable_compression(web.ContentCoding.gzip)
        await response.prepare(request)
        nl = behaviour.newline

        async def send(payload: str) -> None:
            if behaviour.fancy_fields and payload.startswith("{"):
                middle = payload.index(",") + 1
                lines = f"event: message{nl}data: {payload[:middle]}{nl}data: {payload[middle:]}{nl}{nl}"
            else:
                lines = f"data: {payload}{nl}{nl}"
            raw = lines.encode()
            size = behaviour.write_size or len(raw)
            for start in range(0, len(raw), size):
                await response.write(raw[start : start + size])

        def chunk_event(delta: dict[str, Any], finish: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            event = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [choice],
            }
            # A text with surrogates (a pair split across two chunks, as some servers send it) can only
            # go as JSON escapes.
            surrogates = any("\ud800" <= c <= "\udfff" for c in str(delta.get("content", "")))
            return json.dumps(event, ensure_ascii=surrogates)

        if behaviour.first_delay:
            await asyncio.sleep(behaviour.first_delay)
        waited = 0.0
        while waited < behaviour.keepalive:
            await response.write(f": OPENROUTER PROCESSING{nl}{nl}".encode())
            await asyncio.sleep(behaviour.keepalive_every)
            waited += behaviour.keepalive_every
        await send(chunk_event({"role": "assistant", "content": ""}))  # the role-only first chunk
        # OpenRouter streams the thinking as delta.reasoning; DeepSeek, vLLM and llama.cpp's
        # llama-server as delta.reasoning_content.
        field = "reasoning" if self.flavor == "openrouter" else "reasoning_content"
        for thought in behaviour.reasoning:
            await asyncio.sleep(behaviour.reasoning_delay)
            await send(chunk_event({field: thought}))
        chunks = [text[i : i + behaviour.chunk_size] for i in range(0, len(text), behaviour.chunk_size)]
        for index, chunk in enumerate(chunks):
            if behaviour.cut_after is not None and index == behaviour.cut_after:
                request.transport.close()  # type: ignore[union-attr]
                return response
            if behaviour.hang_after is not None and index == behaviour.hang_after:
                await self._hang()
                return response
            if behaviour.malformed_after is not None and index == behaviour.malformed_after:
                await response.write(f"data: {{not json{nl}{nl}".encode())
                return response
            if behaviour.error_after is not None and index == behaviour.error_after:
                await send(json.dumps({"error": behaviour.error}))
                await response.write_eof()
                return response
            await send(chunk_event({"content": chunk}))
            if index == 0:
                self.timeline.append((time.monotonic(), "first_chunk"))
            if behaviour.delay:
                await asyncio.sleep(behaviour.delay)
            if interrupted.is_set():
                self.timeline.append((time.monotonic(), "interrupted"))
                await send("[DONE]")
                await response.write_eof()
                return response
        if not behaviour.no_finish:
            await send(chunk_event({}, behaviour.finish_reason))
        if behaviour.no_done:
            await self._hang()
            return response
        if (body.get("stream_options") or {}).get("include_usage") and not behaviour.no_finish:
            prompt = server_tokens(body.get("messages", []))
            usage = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": len(chunks),
                    "total_tokens": prompt + len(chunks),
                },
            }
            await send(json.dumps(usage))
        await send("[DONE]")
        await response.write_eof()
        self.timeline.append((time.monotonic(), "done"))
        return response

    def _whole(self, body: dict[str, Any], behaviour: Reply) -> web.Response:
        """A ``chat.completion`` object: the answer to ``stream: false`` (or a server ignoring ``stream``)."""
        message = {"role": "assistant", "content": behaviour.text, "refusal": None}
        prompt = server_tokens(body.get("messages", []))
        return web.json_response(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [
                    {"index": 0, "message": message, "logprobs": None, "finish_reason": behaviour.finish_reason}
                ],
                "usage": {"prompt_tokens": prompt, "completion_tokens": 7, "total_tokens": prompt + 7},
            }
        )


def server_tokens(messages: list[dict[str, Any]]) -> int:
    """The fake's count of a prompt's tokens: 3 characters a token, plus 5 per message."""
    total = 0
    for message in messages:
        content = message.get("content") or ""
        text = content if isinstance(content, str) else " ".join(str(p.get("text", "")) for p in content)
        total += 5 + -(-len(text) // 3)
    return total
