"""Wiring: builds every dependency from the settings and runs the bot until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from telegram import Bot, BotCommand, ReplyParameters, Update
from telegram.error import NetworkError, TelegramError
from telegram.ext import Application, ApplicationBuilder, Defaults, TypeHandler

from bot import texts
from bot.app.chain import build_chain
from bot.app.health import heartbeat, heartbeat_file
from bot.app.metrics import Metrics, OpsServer
from bot.app.polling import PollingWatch
from bot.app.replication import Replication, SharedHealth
from bot.app.webhook import UpdateReceiver, WebhookError, WebhookServer
from bot.config.prices import PriceBook, backend_of
from bot.config.settings import Settings
from bot.handlers import Deps, register
from bot.state.opening import open_store
from bot.state.protocols import ChatSettingsStore, Store
from bot.state.storage import InterruptedReply, StorageError
from bot.telegram.access import AccessPolicy, AdminChecker
from bot.telegram.generation import ALLOWED_UPDATES
from bot.telegram.pacing import ChatPacer
from bot.telegram.ratelimit import ChatRateLimiter
from bot.telegram.streaming import ReplyStreamer
from bot.telegram.tolerant import TolerantBot, TolerantRequest
from bot.turns.budgets import Budgets
from bot.turns.models import ModelCatalog
from bot.turns.service import TurnService
from providers import BaseProvider, RetryProvider, Transcriber

#: Replies interrupted longer ago than this (seconds) are not mentioned after a restart.
INTERRUPTED_NOTICE_MAX_AGE = 24 * 3600.0

logger = logging.getLogger(__name__)
_T = TypeVar("_T")


def file_base_url(base_url: str) -> str:
    """The Bot API file root for ``base_url``: ``…/bot`` -> ``…/file/bot`` (Bot API "getFile")."""
    return f"{base_url[:-4]}/file/bot" if base_url.endswith("/bot") else base_url


def build_transcriber(settings: Settings) -> Transcriber | None:
    """The speech-to-text backend of ``TRANSCRIPTION_*`` (through ``PROXY``), or None when unset."""
    if not settings.transcription_base_url:
        return None
    key = settings.transcription_api_key.get_secret_value() if settings.transcription_api_key else None
    return Transcriber(settings.transcription_base_url, key, settings.transcription_model, proxy=settings.proxy)


def build_application(settings: Settings, limiter: ChatRateLimiter) -> Application:
    """The PTB Application on a :class:`~bot.telegram.tolerant.TolerantBot` pointed at ``TELEGRAM_BASE_URL``,
    every request paced by ``limiter`` (one for the whole bot, the streamer's too), handling updates
    concurrently (each conversation stays in order, see :mod:`bot.turns.ordering`).

    Every reply is sent with ``allow_sending_without_reply`` (PTB ``Defaults``): when the user's
    message was deleted before the answer, the answer arrives without the reply link instead of
    failing with "message to be replied not found"."""
    proxy = settings.telegram_proxy or None
    bot = TolerantBot(
        settings.telegram_bot_token.get_secret_value(),
        defaults=Defaults(allow_sending_without_reply=True),
        rate_limiter=limiter,
        base_url=settings.telegram_base_url,
        base_file_url=file_base_url(settings.telegram_base_url),
        request=TolerantRequest(connection_pool_size=64, proxy=proxy),
        get_updates_request=TolerantRequest(
            connection_pool_size=2, read_timeout=settings.poll_timeout + 10, proxy=proxy
        ),
    )
    builder = ApplicationBuilder().bot(bot).concurrent_updates(True)
    if settings.webhook_url:
        builder = builder.updater(None)  # updates come by webhook (bot.app.webhook), never getUpdates
    return builder.build()


async def run_bot(settings: Settings, stop: asyncio.Event) -> None:
    """Run long polling until ``stop`` is set, then shut down cleanly.

    Opens the store (applying migrations), builds the provider chain, registers
    the command list (setMyCommands) and logs the bot's username and chain.

    Replies that a killed instance left unfinished are announced first (:func:`announce_interrupted`).

    Raises:
        bot.app.chain.ChainConfigError: a provider in ``PROVIDERS`` is not configured.
        bot.state.storage.StorageError: the store (``DATABASE_URL``, else ``DATABASE_PATH``) cannot be
            opened or is not a usable database.
        bot.app.polling.AnotherInstanceError: another instance is polling with this token (409 Conflict).
        telegram.error.InvalidToken: Telegram refused the token.
    """
    chain = build_chain(settings)
    for line in settings.deprecations():
        logger.warning("%s", line)
    for provider in chain.providers:
        if not provider.working:
            logger.warning("provider %s is marked as not working; it stays in the chain as configured", provider.name)
    url = settings.database_url.get_secret_value() if settings.database_url else None
    store = await open_store(url, settings.database_path)
    ops: OpsServer | None = None
    try:
        limiter = ChatRateLimiter(ChatPacer(settings.private_edit_interval, settings.group_messages_per_minute))
        app = build_application(settings, limiter)
        bot = app.bot
        assert isinstance(bot, TolerantBot)
        watch = PollingWatch(stop, lambda: bot.polls_completed)
        access = AccessPolicy(settings.allowed_user_ids, settings.allowed_chat_ids, settings.bot_admin_ids)
        budgets = Budgets(
            store,
            messages_per_hour=settings.user_messages_per_hour,
            tokens_per_day=settings.user_tokens_per_day,
            cost_per_month=settings.user_cost_per_month,
            chat_tokens_per_day=settings.chat_tokens_per_day,
            exempt=settings.bot_admin_ids,
        )
        catalog = ModelCatalog(chain, settings.default_model)
        prices = PriceBook(settings.prices(), {p.name: backend_of(p) for p in chain.providers})
        deps = Deps(
            settings=settings,
            store=store,
            chain=chain,
            streamer=ReplyStreamer(
                app.bot, limiter, drafts=settings.stream_mode == "draft", max_answer_chars=settings.max_answer_chars
            ),
            access=access,
            admins=AdminChecker(access),
            budgets=budgets,
            catalog=catalog,
            turns=TurnService(settings, store, catalog, budgets, prices),
            presets=settings.presets(),
            transcriber=build_transcriber(settings),
        )
        health = SharedHealth(store)
        chain.health = health  # cooldowns seen by every replica
        replication = Replication(store, health, limiter.pacer)
        metrics = Metrics(waiting=deps.turns.queue.total, statements=lambda: store.statements)
        deps.turns.observer = metrics
        chain.on_attempt = metrics.attempted
        limiter.on_flood = metrics.flooded

        async def count_update(update: object, context: object) -> None:
            metrics.update_received()

        app.add_handler(TypeHandler(Update, count_update), group=-4)  # ahead of every other handler
        register(app, deps)
        if settings.metrics_port:
            ops = OpsServer(metrics, store, settings.webhook_listen, settings.metrics_port)
            try:
                await ops.start()
            except OSError as error:
                ops = None
                raise WebhookError(
                    f"WEBHOOK_LISTEN:METRICS_PORT {settings.webhook_listen}:{settings.metrics_port} cannot be"
                    f" listened on: {error.strerror or error}"
                ) from None
        await with_retries("getMe", app.initialize)  # `async with app` then finds it initialized
        async with app:
            await describe_bot(app.bot, settings.default_language)
            logger.info(
                "bot @%s is running; provider chain: %s",
                app.bot.username,
                " -> ".join(p.name for p in chain.providers),
            )
            if settings.group_context_messages and not app.bot.bot.can_read_all_group_messages:
                logger.warning(
                    "GROUP_CONTEXT_MESSAGES=%d needs the bot's privacy mode off (BotFather: /setprivacy,"
                    " Disable; then re-add the bot to its groups): in privacy mode it sees only messages"
                    " addressed to it, so no group message is kept for context",
                    settings.group_context_messages,
                )
            gone = await store.forget_gone_here()
            if gone:
                logger.info("taking over from %d earlier runs of this bot on this host", len(gone))
            # Polling: no other process can be running (Telegram answers a second poller 409).
            interrupted = await store.take_interrupted(alone=not settings.webhook_url)
            await announce_interrupted(app.bot, interrupted, store, settings.default_language)
            alive = heartbeat_file(settings.telegram_bot_token.get_secret_value(), configured=settings.health_file)
            probing = asyncio.create_task(probe_providers(chain))
            syncing = asyncio.create_task(replication.run())
            if settings.webhook_url:
                await serve_webhook(app, settings, store, deps, stop, alive)
            else:
                assert app.updater is not None
                await app.updater.start_polling(
                    timeout=settings.poll_timeout,
                    poll_interval=0.0,
                    bootstrap_retries=STARTUP_ATTEMPTS - 1,  # deleteWebhook
                    allowed_updates=ALLOWED_UPDATES,
                    error_callback=watch,
                )
                await app.start()
                beating = asyncio.create_task(heartbeat(lambda: bot.polls_completed, alive))
                await stop.wait()
                beating.cancel()
                logger.info("stopping: replies being written get %gs to finish", settings.shutdown_grace)
                await app.updater.stop()
                await deps.turns.finish(settings.shutdown_grace, "STOPPED_FOR_RESTART")
            probing.cancel()
            syncing.cancel()
            await health.settled()
            await deps.streamer.aclose()
            await app.stop()
    finally:
        if ops is not None:
            await ops.stop()
        await store.close()
    logger.info("stopped")
    watch.check()


async def serve_webhook(
    app: Application[Any, Any, Any, Any, Any, Any],
    settings: Settings,
    store: Store,
    deps: Deps,
    stop: asyncio.Event,
    alive: Path,
) -> None:
    """Webhook mode, until ``stop`` is set: updates kept before this start are handled first, then
    the server listens and ``setWebhook`` points Telegram at it (every replica may call it: same
    URL, secret and ``allowed_updates``, never ``drop_pending_updates``). At the stop the server
    stops taking updates first (Telegram keeps them), then the turns finish as in polling mode.

    Raises:
        bot.app.webhook.WebhookError: the address cannot be bound, or Telegram refused the webhook.
    """
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    secret = settings.webhook_secret.get_secret_value()
    receiver = UpdateReceiver(
        app, store, lambda replies: announce_interrupted(app.bot, replies, store, settings.default_language)
    )
    listen, port = settings.webhook_listen, settings.webhook_port
    server = WebhookServer(settings.webhook_url, secret, store, receiver, listen, port)
    deps.turns.hand_over = store.unreceive  # at a stop, questions not started go to another replica
    await app.start()
    try:
        await server.start()
    except BaseException:
        await app.stop()  # so that the application closes cleanly around the error
        raise
    receiving = asyncio.create_task(receiver.run())
    try:
        try:
            await with_retries(
                "setWebhook",
                lambda: app.bot.set_webhook(
                    settings.webhook_url or "",
                    secret_token=secret,
                    allowed_updates=ALLOWED_UPDATES,
                    drop_pending_updates=False,
                ),
            )
        except TelegramError as error:
            receiving.cancel()
            await server.stop()
            await app.stop()
            raise WebhookError(f"WEBHOOK_URL: Telegram refused the webhook: {error}") from None
        beating = asyncio.create_task(heartbeat(lambda: receiver.sweeps, alive))
        await stop.wait()
        beating.cancel()
    finally:
        await server.stop()
        receiving.cancel()
    logger.info("stopping: replies being written get %gs to finish", settings.shutdown_grace)
    receiver.closing = True
    await deps.turns.finish(settings.shutdown_grace, "STOPPED_FOR_RESTART")
    await receiver.drain(settings.shutdown_grace + 5)
    with contextlib.suppress(StorageError):
        await store.leave()  # what this replica still holds goes to the others now


async def describe_bot(bot: Bot, default: str) -> None:
    """The command menu and the bot's descriptions in every language the bot speaks (Bot API
    setMyCommands, setMyDescription, setMyShortDescription with ``language_code``), and in
    ``default`` for everyone else. Optional: a failure is logged, the bot works without them."""
    for language in [None, *texts.CATALOG.languages]:
        spoken = language or default
        commands = [BotCommand(name, about) for name, about in texts.commands(spoken)]
        description = texts.CATALOG.text(spoken, "BOT_DESCRIPTION")
        short = texts.CATALOG.text(spoken, "BOT_SHORT_DESCRIPTION")
        try:
            await with_retries("setMyCommands", partial(bot.set_my_commands, commands, language_code=language))
            await with_retries("setMyDescription", partial(bot.set_my_description, description, language_code=language))
            await with_retries(
                "setMyShortDescription", partial(bot.set_my_short_description, short, language_code=language)
            )
        except TelegramError as error:
            logger.warning(
                "the command menu or description (%s) could not be set (%s);"
                " Telegram's command menu may be out of date",
                language or "default",
                error,
            )
            return


#: Attempts at each start-up request to the Bot API (getMe, setMyCommands, deleteWebhook) when it
#: fails for a transient reason (a network error, 5xx), and the first wait between them, seconds
#: (doubled each time).
STARTUP_ATTEMPTS = 5
STARTUP_BACKOFF = 1.0


async def with_retries(what: str, call: Callable[[], Awaitable[_T]]) -> _T:
    """``call()``, tried again on a transient failure (``NetworkError``: no connection, a timeout,
    HTTP 5xx) up to :data:`STARTUP_ATTEMPTS` times with a doubling wait, one log line each.

    Raises:
        telegram.error.TelegramError: the last failure, or at once one that is no transient one
            (``InvalidToken``, ``BadRequest``...).
    """
    for attempt in range(1, STARTUP_ATTEMPTS + 1):
        try:
            return await call()
        except NetworkError as error:
            if attempt == STARTUP_ATTEMPTS:
                raise
            wait = STARTUP_BACKOFF * 2 ** (attempt - 1)
            logger.warning("%s failed (%s); trying again in %gs (%d/%d)", what, error, wait, attempt, STARTUP_ATTEMPTS)
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")


#: Seconds each provider's start-up check may take.
PROBE_TIMEOUT = 15.0


async def probe_providers(chain: RetryProvider) -> None:
    """Check every provider of the chain once, concurrently, and log one line each: reachable and
    what it lists, or exactly what is wrong with its URL or key (:meth:`~providers.BaseProvider.probe`).
    Runs beside the bot: a slow or failing provider never delays or stops start-up."""

    async def one(provider: BaseProvider) -> None:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                ok, line = await provider.probe()
        except TimeoutError:
            ok, line = False, f"no answer within {PROBE_TIMEOUT:.0f}s"
        except Exception as error:  # noqa: BLE001 - a check must not take the bot down
            ok, line = False, f"check failed: {type(error).__name__}: {error}"
        logger.log(logging.INFO if ok else logging.WARNING, "provider %s: %s", provider.name, line)

    await asyncio.gather(*(one(provider) for provider in chain.providers))


async def announce_interrupted(
    bot: Bot, replies: list[InterruptedReply], store: ChatSettingsStore, default_language: str
) -> None:
    """Tell each conversation whose answer was cut off by a crash or ``kill -9`` (the reply was never
    finished, see :meth:`~bot.state.storage.ConversationStore.reply_started`) to send /retry: the question is
    in the history, the half answer is not. The half answer's Stop button, which would stop nothing,
    is removed first. A question that was still waiting for its turn (never stored) is asked to be
    sent again (:data:`~bot.texts.NOT_ANSWERED`). Older than a day: only logged. Send failures are logged.
    Each is said in the chat's /language choice, else ``default_language``."""
    for reply in replies:
        if reply.reply_message_id is not None:
            try:  # its Stop button would stop nothing
                await bot.edit_message_reply_markup(reply.key.chat_id, reply.reply_message_id, reply_markup=None)
            except TelegramError as error:
                logger.info("chat=%s could not remove an interrupted reply's Stop button: %s", reply.key.chat_id, error)
        age = time.time() - reply.started_at
        if age > INTERRUPTED_NOTICE_MAX_AGE:
            logger.info("chat=%s reply interrupted %.0f h ago; not announced", reply.key.chat_id, age / 3600)
            continue
        try:
            chosen = (await store.chat_settings(reply.key.chat_id)).language
        except StorageError:
            chosen = None
        with texts.speaking(chosen or default_language):
            notice = texts.INTERRUPTED if reply.started else texts.NOT_ANSWERED
        try:
            await bot.send_message(
                reply.key.chat_id,
                notice,
                message_thread_id=reply.key.thread_id or None,
                reply_parameters=ReplyParameters(reply.message_id, allow_sending_without_reply=True),
            )
            logger.info(
                "chat=%s thread=%s told that its %s",
                reply.key.chat_id,
                reply.key.thread_id,
                "interrupted reply needs /retry" if reply.started else "question was not answered",
            )
        except TelegramError as error:
            logger.warning("chat=%s could not announce an interrupted reply: %s", reply.key.chat_id, error)
