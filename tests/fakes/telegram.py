"""A fake Telegram Bot API server on loopback, as strict as Telegram where it matters.

PTB talks to it through ``base_url``: ``POST /bot{token}/{method}`` with form
fields (JSON-encoded for objects). It keeps the chats' messages so a test can
read what a user would see after all edits, and it enforces:

- text limit: 4096 UTF-16 code units ("message is too long"), empty text refused;
- "message is not modified" when an edit changes neither text, entities nor markup;
- entities inside the text ("can't parse entities"), and every entity refused on demand;
- optional flood control per chat: a request sooner than ``flood_interval``
  after the previous one gets 429 with ``parameters.retry_after``; and for the whole bot: more
  than ``global_per_second`` messages in any second get 429;
- scripted failures: ``fail(method, code, description, retry_after)``, slow answers: ``slow(method, seconds)``;
- replies to a deleted message: "message to be replied not found" unless ``allow_sending_without_reply``;
- a chat that blocked the bot (``block``): 403 "Forbidden: bot was blocked by the user" for every method;
- one long poll per token: a new getUpdates ends the pending one with 409 Conflict, as Telegram does;
- webhooks: after setWebhook (its ``secret_token`` checked as Telegram checks it) updates are POSTed
  to the URL one at a time, oldest first, with ``X-Telegram-Bot-Api-Secret-Token``, and sent again
  until answered 2xx; getUpdates then gets 409, as Telegram answers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .server import LoopbackServer, wait_until

BOT_ID = 7000001
BOT_USERNAME = "test_llm_bot"
TEXT_LIMIT = 4096
JSON_FIELDS = {
    "reaction",
    "entities",
    "reply_parameters",
    "reply_markup",
    "link_preview_options",
    "commands",
    "allowed_updates",
}
INT_FIELDS = {"chat_id", "message_id", "message_thread_id", "timeout", "offset", "limit", "user_id", "draft_id"}
BOOL_FIELDS = {
    "show_alert",
    "disable_notification",
    "protect_content",
    "drop_pending_updates",
    "can_stop",
    "keep_on_stop",
}
#: MessageEntity types the Bot API knows (Bot API "MessageEntity"; expandable_blockquote since 7.3).
ENTITY_TYPES = {
    "mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number", "bold", "italic",
    "underline", "strikethrough", "spoiler", "blockquote", "expandable_blockquote", "code", "pre",
    "text_link", "text_mention", "custom_emoji", "date_time",
}  # fmt: skip
#: Update types Telegram holds back unless a bot lists them in ``allowed_updates`` (Bot API getUpdates:
#: chat_member, message_reaction and message_reaction_count; a bot must list stopped_message_generation
#: to get it, Bot API 10.3).
NOT_BY_DEFAULT = {"chat_member", "message_reaction", "message_reaction_count", "stopped_message_generation"}
#: What Telegram accepts as a webhook's secret_token.
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
PACED_METHODS = {"sendMessage", "editMessageText", "deleteMessage", "editMessageReplyMarkup", "sendMessageDraft"}
SCREEN_METHODS = {"sendMessage", "editMessageText", "deleteMessage", "editMessageReplyMarkup"}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


@dataclass
class Call:
    at: float
    method: str
    params: dict[str, Any]


@dataclass
class StoredMessage:
    message_id: int
    chat_id: int
    text: str
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None
    from_bot: bool
    thread_id: int | None = None
    reply_to: int | None = None
    deleted: bool = False
    edits: int = 0

    def labels(self) -> list[str]:
        """The texts of the message's inline buttons, row by row."""
        return [b.get("text", "") for row in (self.reply_markup or {}).get("inline_keyboard", []) for b in row]

    def shows_stop(self) -> bool:
        """True when one of its buttons is a Stop button (a reply still being written)."""
        return any("Stop" in label for label in self.labels())


@dataclass
class Chat:
    id: int
    type: str
    title: str | None = None
    is_forum: bool = False

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            data["first_name"] = "User"
        else:
            data["title"] = self.title or f"Group {self.id}"
        if self.is_forum:
            data["is_forum"] = True
        return data


@dataclass
class FakeBotApi(LoopbackServer):
    token: str = "123456:TEST-token-secret"
    flood_interval: float | None = None
    #: Messages a second the whole bot may send (Telegram: about 30), in any 1-second window; None: no limit.
    global_per_second: int | None = None
    reject_entities: bool = False
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[int, int], StoredMessage] = field(default_factory=dict)
    chats: dict[int, Chat] = field(default_factory=dict)
    chat_members: dict[tuple[int, int], str] = field(default_factory=dict)
    flood_hits: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    callback_answers: list[dict[str, Any]] = field(default_factory=list)
    reactions: dict[tuple[int, int], list[str]] = field(default_factory=dict)
    drafts: dict[int, list[str]] = field(default_factory=dict)
    delivered: set[int] = field(default_factory=set)
    #: After each request that changed a chat's messages: (chat id, bot messages visible, Stop shown).
    screens: list[tuple[int, int, bool]] = field(default_factory=list)
    #: The bot has forum topic mode in private chats (Bot API 9.3: getMe ``has_topics_enabled``).
    private_topics: bool = False
    #: Topics of private chats: chat id -> thread id -> name (createForumTopic, editForumTopic).
    topics: dict[int, dict[int, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._updates: list[dict[str, Any]] = []
        self.last_update_id = 0
        self.last_update: dict[str, Any] = {}
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._new_update = asyncio.Event()
        self._failures: dict[str, list[ApiError]] = {}
        self._slow: dict[str, list[float]] = {}
        self._garbled: dict[str, int] = {}
        self._lost: dict[str, int] = {}
        self._lost_how: dict[str, str] = {}
        #: Seconds a ``lose(how="timeout")`` answer is held: longer than PTB's 5 s read timeout.
        self.late_answer = 7.0
        #: Answer getUpdates at once even when empty (a Bot API proxy ignoring the long-poll timeout).
        self.ignores_poll_timeout = False
        #: (chat id, how many of the bot's messages there show a Stop button) after each screen change.
        self.stop_buttons: list[tuple[int, int]] = []
        #: file_ids whose size neither the message nor getFile declares.
        self.undeclared: set[str] = set()
        self._last_paced: dict[int, float] = {}
        self._recent_paced: list[float] = []
        #: 429s for the bot-wide limit (``global_per_second``), among ``flood_hits``.
        self.global_flood_hits = 0
        self._poll_ended: asyncio.Event | None = None
        self.blocked: set[int] = set()
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        #: setMyCommands, setMyDescription and setMyShortDescription by ``language_code`` (None: the default).
        self.commands_by_language: dict[str | None, list[dict[str, Any]]] = {}
        self.descriptions: dict[str | None, str] = {}
        self.short_descriptions: dict[str | None, str] = {}
        #: The webhook set with setWebhook (url, secret_token, allowed_updates), or None: long polling.
        self.webhook: dict[str, Any] | None = None
        #: Every webhook POST: (update_id, HTTP status, or 0 when the connection failed).
        self.webhook_posts: list[tuple[int, int]] = []
        #: Seconds before an update the bot did not accept is POSTed again.
        self.webhook_retry = 0.2
        self._delivering: asyncio.Task[None] | None = None
        self.downloads: list[str] = []
        #: The ``allowed_updates`` of the last getUpdates or setWebhook that named them (None: Telegram's default).
        self.allowed_updates: list[str] | None = None
        #: The draft each private chat shows now (Bot API sendMessageDraft): draft_id, text, can_stop,
        #: keep_on_stop; gone once the bot sends a message there or the user stops it.
        self.live_drafts: dict[int, dict[str, Any]] = {}
        #: Drafts the user stopped with Telegram's own button and kept (keep_on_stop), by chat: their text.
        self.kept_drafts: dict[int, list[str]] = {}
        LoopbackServer.__init__(self)

    # -- server ---------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    # -- test controls --------------------------------------------------------------------------

    def fail(self, method: str, code: int, description: str, retry_after: int | None = None, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer this error."""
        self._failures.setdefault(method, []).extend(ApiError(code, description, retry_after) for _ in range(times))

    def garble(self, method: str, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` get HTTP 200 with a body that is not JSON (a proxy
        cutting the answer, a captive portal), and are not carried out."""
        self._garbled[method] = self._garbled.get(method, 0) + times

    def lose(self, method: str, times: int = 1, how: str = "garbled") -> None:
        """The next ``times`` calls of ``method`` are carried out, but their answer is lost on the way:
        ``garbled`` (a proxy cuts it: HTTP 200 with a body that is not JSON), ``reset`` (the
        connection is closed once the call is carried out, before any answer), or ``timeout`` (the
        answer comes :attr:`late_answer` seconds later, after the client gave up waiting)."""
        self._lost[method] = self._lost.get(method, 0) + times
        self._lost_how[method] = how

    def slow(self, method: str, seconds: float, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` take ``seconds`` before they are carried out."""
        self._slow.setdefault(method, []).extend([seconds] * times)

    def block(self, chat_id: int) -> None:
        """The user blocks the bot (or the bot is removed from the group): every request about the chat is 403."""
        self.blocked.add(chat_id)

    def add_file(self, content: bytes, name: str) -> str:
        """Store a file as Telegram's servers would; returns its file_id (getFile, /file/bot<token>/<path>)."""
        file_id = f"file{len(self.files) + 1}-{name}"
        self.files[file_id] = (f"documents/{len(self.files) + 1}-{name}", content)
        return file_id

    def user_photo(self, chat_id: int, sizes: list[bytes], caption: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """A photo message: ``sizes`` are the same picture at growing sizes (Telegram sends several
        PhotoSize objects, smallest first); their bytes are served by getFile."""
        photo = []
        for n, content in enumerate(sizes):
            file_id = self.add_file(content, f"photo{n}.jpg")
            side = 90 * (n + 1)
            photo.append(
                {
                    "file_id": file_id,
                    "file_unique_id": f"u{file_id}",
                    "width": side,
                    "height": side,
                    "file_size": len(content),
                }
            )
        extra: dict[str, Any] = {"photo": photo}
        if caption is not None:
            extra["caption"] = caption
            extra.update(self._entities_of(caption, "caption_entities"))
        return self.user_message(chat_id, extra={**extra, **kwargs.pop("extra", {})}, **kwargs)

    def user_document(
        self,
        chat_id: int,
        content: bytes,
        file_name: str,
        mime_type: str | None,
        caption: str | None = None,
        declared: bool = True,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """A file sent as a document (its bytes served by getFile). ``declared=False``: neither the
        message nor getFile gives its ``file_size`` (the Bot API makes it optional)."""
        file_id = self.add_file(content, file_name)
        document: dict[str, Any] = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": file_name}
        if declared:
            document["file_size"] = len(content)
        else:
            self.undeclared.add(file_id)
        if mime_type:
            document["mime_type"] = mime_type
        extra: dict[str, Any] = {"document": document}
        if caption is not None:
            extra["caption"] = caption
            extra.update(self._entities_of(caption, "caption_entities"))
        return self.user_message(chat_id, extra=extra, **kwargs)

    def user_voice(self, chat_id: int, audio: bytes, duration: int, **kwargs: Any) -> dict[str, Any]:
        """A voice note (OGG/Opus as Telegram records it; its bytes served by getFile)."""
        file_id = self.add_file(audio, "voice.oga")
        voice = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": len(audio),
        }
        return self.user_message(chat_id, extra={"voice": voice}, **kwargs)

    @staticmethod
    def _entities_of(text: str, key: str = "entities") -> dict[str, Any]:
        """The entities Telegram itself marks in a text: a leading command, @username mentions."""
        found = []
        if text.startswith("/"):
            command = text.split()[0]
            found.append({"type": "bot_command", "offset": 0, "length": utf16_len(command)})
        for match in re.finditer(r"(?<![\w/])@[A-Za-z0-9_]{5,32}", text):
            offset = utf16_len(text[: match.start()])
            found.append({"type": "mention", "offset": offset, "length": utf16_len(match.group())})
        return {key: found} if found else {}

    def delete(self, chat_id: int, message_id: int) -> None:
        """Someone deletes a message (a user's own, or the bot's as an admin)."""
        self.messages[(chat_id, message_id)].deleted = True

    def chat(self, chat_id: int, type_: str = "private", is_forum: bool = False) -> Chat:
        chat = self.chats.get(chat_id) or Chat(chat_id, type_, is_forum=is_forum)
        self.chats[chat_id] = chat
        return chat

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def redeliver(self, update: dict[str, Any]) -> None:
        """Put an update that was delivered already in the queue again, with its ``update_id`` (a
        proxy or the Bot API sending it twice)."""
        self._updates.append(update)
        self._new_update.set()

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), **update}
        self.last_update_id = update["update_id"]
        self.last_update = update
        self._updates.append(update)
        self._new_update.set()
        return update

    def user_message(
        self,
        chat_id: int,
        text: str | None = None,
        *,
        user_id: int | None = None,
        first_name: str = "Alice",
        language_code: str | None = None,
        chat_type: str | None = None,
        thread_id: int | None = None,
        reply_to: int | None = None,
        entities: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Push a message from a user; returns the message dict."""
        chat = self.chat(chat_id, chat_type or ("private" if chat_id > 0 else "supergroup"))
        user = {"id": user_id or (chat_id if chat_id > 0 else 1001), "is_bot": False, "first_name": first_name}
        if language_code is not None:
            user["language_code"] = language_code
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "date": int(time.time()),
            "chat": chat.to_dict(),
            "from": user,
        }
        if text is not None:
            message["text"] = text
            message.update(self._entities_of(text))
        if entities is not None:
            message["entities"] = entities
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        if reply_to is not None:
            replied = self.messages[(chat_id, reply_to)]
            message["reply_to_message"] = self._message_dict(replied)
        elif thread_id is not None and thread_id in self.topics.get(chat_id, {}):
            message["reply_to_message"] = self.topic_created(chat_id, thread_id)  # as Telegram does in a topic
        message.update(extra or {})
        self.messages[(chat_id, message["message_id"])] = StoredMessage(
            message["message_id"], chat_id, text or "", [], None, from_bot=False, thread_id=thread_id
        )
        self.push({"message": message})
        return message

    def stop_draft(self, chat_id: int) -> dict[str, Any]:
        """The user presses Telegram's own stop button under the chat's draft (shown only for a draft
        sent with ``can_stop``): the draft stays if it was sent with ``keep_on_stop`` (see
        :attr:`kept_drafts`), and the bot gets a ``stopped_message_generation`` update (Bot API 10.3,
        "MessageGenerationStopped"), delivered only if it asked for the type. Returns the update."""
        draft = self.live_drafts.pop(chat_id, None)
        assert draft is not None and draft["can_stop"], f"chat {chat_id} shows no draft with a stop button"
        if draft["keep_on_stop"]:
            self.kept_drafts.setdefault(chat_id, []).append(draft["text"])
        event: dict[str, Any] = {"chat": self.chat(chat_id).to_dict(), "draft_id": draft["draft_id"]}
        if draft["thread_id"] is not None:
            event["message_thread_id"] = draft["thread_id"]
        return self.push({"stopped_message_generation": event})

    def press(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int = 1001,
        first_name: str = "Alice",
        language_code: str | None = None,
    ) -> None:
        """Push a callback query: the user pressed a button with ``data`` under the bot's message."""
        stored = self.messages[(chat_id, message_id)]
        self.push(
            {
                "callback_query": {
                    "id": f"cq{next(self._update_ids)}",
                    "from": {"id": user_id, "is_bot": False, "first_name": first_name}
                    | ({"language_code": language_code} if language_code else {}),
                    "message": self._message_dict(stored),
                    "chat_instance": f"ci{chat_id}",
                    "data": data,
                }
            }
        )

    # -- what the user sees ---------------------------------------------------------------------

    def bot_messages(self, chat_id: int, thread_id: int | None = None) -> list[StoredMessage]:
        """The bot's messages still visible in the chat (or topic), oldest first."""
        return [
            m
            for (c, _), m in sorted(self.messages.items())
            if c == chat_id and m.from_bot and not m.deleted and (thread_id is None or m.thread_id == thread_id)
        ]

    def writing(self, chat_id: int, thread_id: int | None = None, after: int = 0) -> bool:
        """True while one of the bot's visible messages in the chat (or topic), newer than message id
        ``after``, shows a Stop button: the bot's way of showing that a reply is still being written."""
        return any(m.shows_stop() for m in self.bot_messages(chat_id, thread_id) if m.message_id > after)

    def stop_shown_until_the_end(self, chat_id: int) -> bool:
        """For a chat that got one reply: after every change of its messages but the last, from the
        first message on, a Stop button was on screen; after the last, none."""
        *during, (_, _, writing_at_end) = [screen for screen in self.screens if screen[0] == chat_id]
        return not writing_at_end and all(writing for _, visible, writing in during if visible)

    def bot_texts(self, chat_id: int, thread_id: int | None = None) -> list[str]:
        return [m.text for m in self.bot_messages(chat_id, thread_id)]

    def calls_of(self, method: str, chat_id: int | None = None) -> list[Call]:
        return [c for c in self.calls if c.method == method and (chat_id is None or c.params.get("chat_id") == chat_id)]

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        """Wait until ``predicate()``; a timeout says what users see (:meth:`seen`)."""
        await wait_until(predicate, timeout, self.seen)

    def seen(self) -> str:
        """What users see now, for a failing test to say why: each chat's visible bot messages (with
        a Stop button marked), the Bot API errors answered, and the last methods called."""
        lines = []
        for chat_id in sorted({c for c, _ in self.messages}):
            for m in self.bot_messages(chat_id):
                labels = m.labels()
                button = f" {labels}" if labels else ""
                lines.append(f"  chat {chat_id} message {m.message_id}{button}: {m.text[:200]!r}")
        errors = [f"{method}: {description}" for method, description in self.errors[-10:]]
        return "\n".join(
            [
                "bot messages visible:",
                *(lines or ["  (none)"]),
                f"Bot API errors answered: {errors or 'none'}",
                f"last calls: {[c.method for c in self.calls[-20:]]}",
            ]
        )

    async def before_stop(self) -> None:
        """Stop delivering to the webhook."""
        self.webhook = None
        if self._delivering is not None:
            self._delivering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivering

    # -- request handling -----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append(Call(time.monotonic(), method, params))
        if self._garbled.get(method):
            self._garbled[method] -= 1
            return web.Response(status=200, text="<html><body>Gateway", content_type="text/html")
        try:
            delays = self._slow.get(method)
            if delays:
                await asyncio.sleep(delays.pop(0))
            queued = self._failures.get(method)
            if queued:
                raise queued.pop(0)
            if "chat_id" in params and int(params["chat_id"]) in self.blocked:
                chat = self.chats.get(int(params["chat_id"]))
                raise ApiError(
                    403,
                    "Forbidden: bot was blocked by the user"
                    if chat is None or chat.type == "private"
                    else "Forbidden: bot was kicked from the supergroup chat",
                )
            handler = getattr(self, f"_api_{method}", None)
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            if method in PACED_METHODS:
                self._check_flood(int(params["chat_id"]))
            result = await handler(params)
            if method in SCREEN_METHODS:
                chat_id = int(params["chat_id"])
                self.screens.append((chat_id, len(self.bot_messages(chat_id)), self.writing(chat_id)))
                self.stop_buttons.append((chat_id, sum(m.shows_stop() for m in self.bot_messages(chat_id))))
        except ApiError as error:
            self.errors.append((method, error.description))
            body: dict[str, Any] = {"ok": False, "error_code": error.code, "description": error.description}
            if error.retry_after is not None:
                body["parameters"] = {"retry_after": error.retry_after}
            return web.json_response(body, status=error.code)
        if self._lost.get(method):
            self._lost[method] -= 1
            how = self._lost_how.get(method, "garbled")
            if how == "reset" and request.transport is not None:
                request.transport.abort()  # carried out; the connection goes before any answer
            elif how == "timeout":
                await asyncio.sleep(self.late_answer)  # the client stopped waiting by then
            else:
                return web.Response(status=200, text="<html><body>Gateway", content_type="text/html")
        return web.json_response({"ok": True, "result": result})

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            if not isinstance(value, str):
                continue
            if key in JSON_FIELDS:
                params[key] = json.loads(value)
            elif key in INT_FIELDS:
                params[key] = int(value)
            elif key in BOOL_FIELDS:
                params[key] = value == "true"
            else:
                params[key] = value
        return params

    def _wanted(self, update: dict[str, Any]) -> bool:
        """Whether Telegram sends ``update`` to the bot: its type is in the bot's ``allowed_updates``,
        or, when it named none, not among :data:`NOT_BY_DEFAULT`."""
        kinds = set(update) - {"update_id"}
        if self.allowed_updates is None:
            return not kinds & NOT_BY_DEFAULT
        return bool(kinds & set(self.allowed_updates))

    def _check_flood(self, chat_id: int) -> None:
        now = time.monotonic()
        if self.global_per_second is not None:  # the bot's limit over all chats, in any 1-second window
            self._recent_paced = [t for t in self._recent_paced if now - t < 1.0]
            if len(self._recent_paced) >= self.global_per_second:
                self.flood_hits += 1
                self.global_flood_hits += 1
                raise ApiError(429, "Too Many Requests: retry after 1", retry_after=1)
            self._recent_paced.append(now)
        if self.flood_interval is None:
            return
        last = self._last_paced.get(chat_id)
        if last is not None and now - last < self.flood_interval:
            self.flood_hits += 1
            retry = max(1, math.ceil(self.flood_interval - (now - last)))
            raise ApiError(429, f"Too Many Requests: retry after {retry}", retry_after=retry)
        self._last_paced[chat_id] = now

    def _check_text(self, text: str, entities: list[dict[str, Any]] | None, parse_mode: str | None) -> None:
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > TEXT_LIMIT:
            raise ApiError(400, "Bad Request: message is too long")
        if parse_mode:
            raise ApiError(400, "Bad Request: can't parse entities: this fake refuses parse_mode; send entities")
        if entities:
            if self.reject_entities:
                raise ApiError(400, "Bad Request: can't parse entities: Unsupported start tag at byte offset 0")
            size = utf16_len(text)
            for entity in entities:
                if entity.get("type") not in ENTITY_TYPES:
                    raise ApiError(
                        400, f"Bad Request: can't parse entities: unsupported entity type {entity.get('type')}"
                    )
                if entity["offset"] < 0 or entity["length"] <= 0 or entity["offset"] + entity["length"] > size:
                    raise ApiError(400, "Bad Request: can't parse entities: entity beyond the end of text")

    def _message_dict(self, stored: StoredMessage) -> dict[str, Any]:
        chat = self.chats[stored.chat_id]
        data: dict[str, Any] = {
            "message_id": stored.message_id,
            "date": int(time.time()),
            "chat": chat.to_dict(),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Test", "username": BOT_USERNAME}
            if stored.from_bot
            else {"id": 1001, "is_bot": False, "first_name": "Alice"},
            "text": stored.text,
        }
        if stored.entities:
            data["entities"] = stored.entities
        if stored.reply_markup:
            data["reply_markup"] = stored.reply_markup
        if stored.thread_id is not None:
            data["message_thread_id"] = stored.thread_id
            data["is_topic_message"] = True
        return data

    # -- methods --------------------------------------------------------------------------------

    async def _api_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Test",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        } | ({"has_topics_enabled": True} if self.private_topics else {})

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _api_setWebhook(self, params: dict[str, Any]) -> bool:
        url = params.get("url") or ""
        if not url.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not WEBHOOK_SECRET.fullmatch(secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = {"url": url, "secret_token": secret, "allowed_updates": params.get("allowed_updates")}
        if params.get("allowed_updates"):
            self.allowed_updates = list(params["allowed_updates"])
        if self._delivering is None or self._delivering.done():
            self._delivering = asyncio.create_task(self._deliver())
        self._new_update.set()
        return True

    async def _api_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": (self.webhook or {}).get("url", ""), "pending_update_count": len(self._updates)}

    async def _deliver(self) -> None:
        """POST the pending updates to the webhook, one at a time, oldest first, until each is accepted."""
        import aiohttp

        async with aiohttp.ClientSession() as session:
            while self.webhook is not None:
                if not self._updates:
                    self._new_update.clear()
                    await self._new_update.wait()
                    continue
                update, webhook = self._updates[0], self.webhook
                if not self._wanted(update):
                    self._updates.pop(0)  # a type the bot did not ask for: Telegram never sends it
                    continue
                headers = (
                    {"X-Telegram-Bot-Api-Secret-Token": webhook["secret_token"]} if webhook["secret_token"] else {}
                )
                try:
                    async with session.post(webhook["url"], json=update, headers=headers) as response:
                        status = response.status
                except (aiohttp.ClientError, OSError):
                    status = 0
                self.webhook_posts.append((update["update_id"], status))
                if 200 <= status < 300:
                    if self._updates and self._updates[0] is update:
                        self._updates.pop(0)
                    self.delivered.add(update["update_id"])
                else:
                    await asyncio.sleep(self.webhook_retry)

    async def _api_setMyCommands(self, params: dict[str, Any]) -> bool:
        language = params.get("language_code")
        if language is None:
            self.commands = params.get("commands")
        self.commands_by_language[language] = params.get("commands") or []
        return True

    async def _api_setMyDescription(self, params: dict[str, Any]) -> bool:
        if len(params.get("description", "")) > 512:  # Bot API: 0-512 characters
            raise ApiError(400, "Bad Request: description is too long")
        self.descriptions[params.get("language_code")] = params.get("description", "")
        return True

    async def _api_setMyShortDescription(self, params: dict[str, Any]) -> bool:
        if len(params.get("short_description", "")) > 120:  # Bot API: 0-120 characters
            raise ApiError(400, "Bad Request: short description is too long")
        self.short_descriptions[params.get("language_code")] = params.get("short_description", "")
        return True

    async def _api_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active;"
                " use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset", 0))
        if params.get("allowed_updates"):
            self.allowed_updates = list(params["allowed_updates"])
        self._updates = [u for u in self._updates if u["update_id"] >= offset and self._wanted(u)]
        timeout = float(params.get("timeout", 0))
        if self._poll_ended is not None:
            self._poll_ended.set()  # only one getUpdates per token: the pending one ends with 409
        if not self._updates and timeout > 0 and not self.ignores_poll_timeout:
            self._new_update.clear()
            ended = self._poll_ended = asyncio.Event()
            waits = [asyncio.ensure_future(self._new_update.wait()), asyncio.ensure_future(ended.wait())]
            try:
                await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waits:
                    waiter.cancel()
                if self._poll_ended is ended:
                    self._poll_ended = None
            if ended.is_set():
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
        self._updates = [u for u in self._updates if self._wanted(u)]  # those pushed while waiting too
        self.delivered.update(u["update_id"] for u in self._updates)
        return list(self._updates)

    async def _api_sendChatAction(self, params: dict[str, Any]) -> bool:
        return True

    async def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        text = params.get("text", "")
        self._check_text(text, params.get("entities"), params.get("parse_mode"))
        chat = self.chats.get(chat_id) or self.chat(chat_id)
        thread = params.get("message_thread_id")
        if thread is not None and not chat.is_forum and int(thread) not in self.topics.get(chat_id, {}):
            raise ApiError(400, "Bad Request: message thread not found")
        reply = params.get("reply_parameters")
        if reply is not None:
            target = self.messages.get((chat_id, int(reply["message_id"])))
            if target is None or target.deleted:
                if not reply.get("allow_sending_without_reply"):
                    raise ApiError(400, "Bad Request: message to be replied not found")
                reply = None  # sent as a plain message
        stored = StoredMessage(
            self._next_message_id(chat_id),
            chat_id,
            text,
            params.get("entities") or [],
            params.get("reply_markup"),
            from_bot=True,
            thread_id=thread,
            reply_to=reply.get("message_id") if reply else None,
        )
        self.live_drafts.pop(chat_id, None)  # the message replaces the draft
        self.messages[(chat_id, stored.message_id)] = stored
        return self._message_dict(stored)

    def _bot_message(self, params: dict[str, Any]) -> StoredMessage:
        key = (int(params["chat_id"]), int(params["message_id"]))
        stored = self.messages.get(key)
        if stored is None or stored.deleted:
            raise ApiError(400, "Bad Request: message to edit not found")
        if not stored.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        return stored

    async def _api_createForumTopic(self, params: dict[str, Any]) -> dict[str, Any]:
        """Bot API createForumTopic; in a private chat only with topic mode on (``private_topics``).
        The topic's first message is its ``forum_topic_created`` service message, whose id is the
        topic's ``message_thread_id``."""
        chat_id = int(params["chat_id"])
        chat = self.chats.get(chat_id) or self.chat(chat_id)
        if chat.type == "private" and not self.private_topics:
            raise ApiError(400, "Bad Request: the chat is not a forum")
        name = params.get("name") or ""
        if not 1 <= len(name) <= 128:  # Bot API: 1-128 characters
            raise ApiError(400, "Bad Request: TOPIC_TITLE_EMPTY" if not name else "Bad Request: topic name is too long")
        thread = self._next_message_id(chat_id)
        self.topics.setdefault(chat_id, {})[thread] = name  # its service message is not among the messages shown
        return {"message_thread_id": thread, "name": name, "icon_color": 7322096}

    async def _api_editForumTopic(self, params: dict[str, Any]) -> bool:
        chat_id, thread = int(params["chat_id"]), int(params["message_thread_id"])
        if thread not in self.topics.get(chat_id, {}):
            raise ApiError(400, "Bad Request: message thread not found")
        name = params.get("name")
        if name is not None:
            if not 1 <= len(name) <= 128:
                raise ApiError(400, "Bad Request: topic name is too long")
            if name == self.topics[chat_id][thread]:
                raise ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
            self.topics[chat_id][thread] = name
        return True

    def topic_created(self, chat_id: int, thread: int) -> dict[str, Any]:
        """The ``forum_topic_created`` service message that opened a topic, as messages in it reply to it."""
        return {
            "message_id": thread,
            "date": int(time.time()),
            "chat": self.chat(chat_id).to_dict(),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Test", "username": BOT_USERNAME},
            "message_thread_id": thread,
            "is_topic_message": True,
            "forum_topic_created": {"name": self.topics[chat_id][thread], "icon_color": 7322096},
        }

    async def _api_sendMessageDraft(self, params: dict[str, Any]) -> bool:
        chat_id = int(params["chat_id"])
        if self.chat(chat_id).type != "private":
            raise ApiError(400, "Bad Request: drafts can be sent only to private chats")
        if not int(params.get("draft_id", 0)):
            raise ApiError(400, "Bad Request: draft_id must be non-zero")
        text = params.get("text", "")
        if utf16_len(text) > TEXT_LIMIT:
            raise ApiError(400, "Bad Request: text is too long")
        if text or params.get("entities"):  # an empty text shows Telegram's "Thinking…" placeholder
            self._check_text(text, params.get("entities"), params.get("parse_mode"))
        for flag in ("can_stop", "keep_on_stop"):
            if flag in params and not isinstance(params[flag], bool):
                raise ApiError(400, f"Bad Request: can't parse {flag}: a Boolean is expected")
        self.drafts.setdefault(chat_id, []).append(text)
        self.live_drafts[chat_id] = {
            "draft_id": int(params["draft_id"]),
            "thread_id": params.get("message_thread_id"),
            "text": text,
            "can_stop": bool(params.get("can_stop")),
            "keep_on_stop": bool(params.get("keep_on_stop")),
        }
        return True

    async def _api_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self._bot_message(params)
        text = params.get("text", "")
        entities = params.get("entities") or []
        markup = params.get("reply_markup")
        self._check_text(text, entities, params.get("parse_mode"))
        if text == stored.text and entities == stored.entities and markup == stored.reply_markup:
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message",
            )
        stored.text, stored.entities, stored.reply_markup = text, entities, markup
        stored.edits += 1
        return self._message_dict(stored)

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self._bot_message(params)
        markup = params.get("reply_markup")
        if markup == stored.reply_markup:
            raise ApiError(400, "Bad Request: message is not modified")
        stored.reply_markup = markup
        return self._message_dict(stored)

    async def _api_deleteMessage(self, params: dict[str, Any]) -> bool:
        key = (int(params["chat_id"]), int(params["message_id"]))
        stored = self.messages.get(key)
        if stored is None or stored.deleted:
            raise ApiError(400, "Bad Request: message to delete not found")
        stored.deleted = True
        return True

    async def _api_getChatMember(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        status = self.chat_members.get((chat_id, user_id), "member")
        member: dict[str, Any] = {"status": status, "user": {"id": user_id, "is_bot": False, "first_name": "U"}}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            rights = (
                "can_manage_chat",
                "can_delete_messages",
                "can_manage_video_chats",
                "can_restrict_members",
                "can_change_info",
                "can_invite_users",
                "can_post_stories",
                "can_edit_stories",
                "can_delete_stories",
            )
            member.update({r: True for r in rights})
            member.update({"can_be_edited": False, "is_anonymous": False, "can_promote_members": False})
        return member

    async def _api_setMessageReaction(self, params: dict[str, Any]) -> bool:
        if (params["chat_id"], params["message_id"]) not in self.messages:
            raise ApiError(400, "Bad Request: message to react not found")
        self.reactions[(params["chat_id"], params["message_id"])] = [r["emoji"] for r in params.get("reaction", [])]
        return True

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        self.callback_answers.append(params)
        return True

    async def _api_getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self.files.get(str(params.get("file_id")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        path, content = stored
        if len(content) > 20 * 1024 * 1024:
            raise ApiError(400, "Bad Request: file is too big")
        file_id = str(params["file_id"])
        answer = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(content), "file_path": path}
        if file_id in self.undeclared:
            del answer["file_size"]
        return answer

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401, text="Unauthorized")
        path = request.match_info["path"]
        content = next((data for stored, data in self.files.values() if stored == path), None)
        if content is None:
            return web.Response(status=404, text="Not Found")
        self.downloads.append(path)
        return web.Response(body=content, content_type="application/octet-stream")

    async def _api_close(self, params: dict[str, Any]) -> bool:
        return True
