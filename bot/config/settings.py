"""Configuration from the environment and ``.env`` (pydantic-settings).

Every setting is documented in ``.env.example``. :func:`load_settings` turns a
missing or malformed value into one line naming it and exit code 2.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from dotenv import dotenv_values
from pydantic import Field, PrivateAttr, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from telegram.constants import FloodLimit, MessageLimit
from yarl import URL

from bot.config.prices import ModelPrice, PricesError, load_prices
from bot.config.prompts import PresetsError, load_presets
from providers.base import env_prefix
from providers.registry import PROXY_SCHEMES

#: A bot token as @BotFather gives it: the bot's numeric id, a colon, a secret (Bot API "Authorizing your bot").
TOKEN_SHAPE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
#: What Telegram accepts as a webhook's secret_token (Bot API setWebhook).
WEBHOOK_SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,256}")
#: Per-backend settings, read by :func:`providers.registry.build_provider` for each name in PROVIDERS.
BACKEND_SETTING = re.compile(r"^[A-Z0-9_]+?_(BASE_URL|API_KEY|MODELS|PROXY|URL|CONTEXT_TOKENS|MAX_PARALLEL)$")
#: HISTORY_MAX_CHARS (before token budgets) is read as this many characters a token.
CHARS_PER_TOKEN = 4
TELEGRAM_PROXY_SCHEMES = ("http://", "https://", "socks5://", "socks5h://")

CommaList = Annotated[list[str], NoDecode]
IntList = Annotated[list[int], NoDecode]


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class BackendSettingsSource(PydanticBaseSettingsSource):
    """The ``backends`` field of :class:`Settings`: every backend's ``{NAME}_*`` setting
    (:data:`BACKEND_SETTING`: ``OLLAMA_BASE_URL``, ``OPENROUTER_API_KEY``...) and ``PROXY``, read from
    the same ``.env`` and environment as the other settings (the environment wins)."""

    def __init__(
        self, settings_cls: type[BaseSettings], env: PydanticBaseSettingsSource, dotenv: PydanticBaseSettingsSource
    ) -> None:
        super().__init__(settings_cls)
        self._sources = [s for s in (dotenv, env) if isinstance(s, EnvSettingsSource | DotEnvSettingsSource)]

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, str] = {}
        for source in self._sources:
            for name, value in source.env_vars.items():
                upper = name.upper()
                if value is not None and (upper == "PROXY" or BACKEND_SETTING.match(upper)):
                    found[upper] = value
        return {"backends": found} if found else {}


class Settings(BaseSettings):
    """All settings of the bot. Environment variable names are the field names in upper case."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """pydantic-settings' sources, and the backends' ``{NAME}_*`` settings from the same two places."""
        backends = BackendSettingsSource(settings_cls, env_settings, dotenv_settings)
        return init_settings, env_settings, dotenv_settings, backends, file_secret_settings

    #: Every backend's own settings (``{NAME}_BASE_URL``, ``{NAME}_API_KEY``, ``{NAME}_MODELS``...,
    #: and ``PROXY``) by their environment names, as given to the providers (see
    #: :class:`BackendSettingsSource`); each is documented under its backend, not as BACKENDS.
    backends: dict[str, str] = Field(default_factory=dict, exclude=True)

    # Telegram
    telegram_bot_token: SecretStr = Field(description="Bot token from @BotFather.")
    telegram_base_url: str = Field(
        "https://api.telegram.org/bot", description="Bot API root; requests go to {base}{token}/{method}."
    )
    poll_timeout: int = Field(30, ge=0, le=50, description="getUpdates long-poll timeout, seconds.")
    webhook_url: str | None = Field(
        None,
        description="Public URL Telegram POSTs updates to (setWebhook; TLS may end at a proxy in front);"
        " unset: long polling.",
    )
    webhook_secret: SecretStr | None = Field(
        None,
        validate_default=True,
        description="secret_token Telegram sends in X-Telegram-Bot-Api-Secret-Token: 1-256 characters"
        " A-Z a-z 0-9 _ -; required with WEBHOOK_URL.",
    )
    webhook_listen: str = Field("127.0.0.1", description="Address the webhook server listens on.")
    webhook_port: int = Field(8080, ge=1, le=65535, description="Port the webhook server listens on.")
    metrics_port: int | None = Field(
        None, ge=1, le=65535, description="Port of GET /metrics (Prometheus) and GET /healthz, on WEBHOOK_LISTEN."
    )
    telegram_proxy: str | None = Field(None, description="Proxy for Bot API requests (http, https, socks5).")
    health_file: Path | None = Field(
        None,
        description="Heartbeat file for python -m bot --health; unset: telegram-llm-bot-{bot id}.alive"
        " in the temporary folder (TMPDIR, else /tmp).",
    )

    # Storage
    database_path: Path = Field(Path("data/bot.sqlite3"), description="SQLite file; folders are created.")
    database_url: SecretStr | None = Field(
        None,
        description="postgresql://USER:PASSWORD@HOST:PORT/DBNAME: the store on PostgreSQL (for replicas);"
        " unset: SQLite at DATABASE_PATH.",
    )
    history_max_messages: int = Field(40, ge=1, description="At most this many past messages go to the model.")
    history_max_tokens: int = Field(
        6000, ge=100, description="Token budget of the history sent to the model (newest kept), estimated."
    )
    history_max_chars: int | None = Field(
        None, ge=400, description="Replaced by HISTORY_MAX_TOKENS; still read as 4 characters a token."
    )
    context_tokens: int = Field(
        8192,
        ge=256,
        description="A model's context window when neither its server nor {NAME}_CONTEXT_TOKENS says, tokens.",
    )
    answer_reserve_tokens: int = Field(
        1024, ge=0, description="Tokens of the context window kept free for the answer (at most a quarter of it)."
    )

    # Providers
    providers: CommaList = Field(default_factory=lambda: ["openai"], description="Provider chain, in order.")
    openai_api_key: SecretStr | None = None
    openai_base_url: str = "https://api.openai.com/v1"
    openai_models: CommaList = Field(default_factory=list, description="Models offered if GET /models fails.")
    default_model: str = Field("", description="Model used when a chat chose none; empty = provider default.")
    model_fallback: bool = Field(
        True,
        description="When no provider offering the chat's model can answer, others answer with their own model.",
    )
    default_language: str = Field(
        "en",
        description="The language the bot speaks in groups without a /language choice, and to people whose"
        " Telegram language it does not speak (en, ru...: a file in bot/texts/locales).",
    )
    system_prompt: str = Field(
        "You are a helpful assistant in a Telegram chat. Answer clearly and concisely, in the language of the"
        " question. You may use Markdown: bold, italic, code, lists and links.",
    )
    max_prompt_chars: int = Field(
        4000, ge=100, description="A chat's own system prompt (/prompt TEXT) may be this long, in characters."
    )
    prompts_file: Path | None = Field(
        None, description="TOML or YAML file of system-prompt presets (name -> prompt) offered by /prompt."
    )
    proxy: str | None = Field(None, description="Proxy URL for provider requests (http, https, socks4, socks5).")
    provider_max_retries: int = Field(2, ge=1, le=10, description="Attempts per provider for retryable errors.")
    provider_first_chunk_timeout: float = Field(30.0, gt=0)
    provider_idle_timeout: float = Field(30.0, gt=0)
    provider_total_timeout: float = Field(300.0, gt=0)

    # Voice notes
    transcription_base_url: str | None = Field(
        None, description="OpenAI-compatible API root for POST /audio/transcriptions; empty: voice is not read."
    )
    transcription_api_key: SecretStr | None = None
    transcription_model: str = Field("whisper-1", description="Speech model of the transcription backend.")
    voice_max_seconds: int = Field(300, ge=1, description="Longer voice notes and audio files are refused.")

    # Chat behaviour
    max_input_chars: int = Field(
        3 * MessageLimit.MAX_TEXT_LENGTH,
        ge=1,
        description="Longer questions are refused (a paste Telegram split into several messages counts joined).",
    )
    max_answer_chars: int = Field(
        32_000, ge=100, description="An answer longer than this many characters is cut there, with a note."
    )
    reasoning_max_chars: int = Field(
        1000,
        ge=0,
        le=3000,
        description="The model's reasoning shown folded above its answer, at most this many characters"
        " (its end); 0 hides it. At most 3000, so the first message keeps room for the answer.",
    )
    group_context_messages: int = Field(
        0,
        ge=0,
        le=50,
        description="Groups: the last this many messages not addressed to the bot are given to the model with"
        " the next question (needs privacy mode off); 0: none are kept.",
    )
    topic_title_seconds: float = Field(
        2.0,
        ge=0,
        le=10,
        description="Private chats with topics: seconds a model gets to title a new topic after its first"
        " answer (its first words name it until then); 0: the first words stay.",
    )
    image_max_bytes: int = Field(
        2_000_000, ge=10_000, le=20_000_000, description="Largest photo size sent to the model, bytes."
    )
    history_max_images: int = Field(3, ge=0, description="Images of earlier turns resent to the model, at most.")
    document_max_bytes: int = Field(
        200_000, ge=1_000, le=20_000_000, description="Largest text file read, bytes (its text counts as input)."
    )
    max_pending_per_chat: int = Field(
        5, ge=1, description="Messages waiting for an answer per private chat, and per person in a group, at most."
    )
    max_pending_per_group: int = Field(
        30, ge=1, description="Messages waiting for an answer in one group conversation (everyone's), at most."
    )
    private_edit_interval: float = Field(
        1.0 / FloodLimit.MESSAGES_PER_SECOND_PER_CHAT, ge=0, description="Seconds between edits in a private chat."
    )
    group_messages_per_minute: float = Field(
        float(FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP), gt=0, description="Sends+edits per minute in a group."
    )

    stream_mode: Literal["edit", "draft"] = Field(
        "edit", description="Private chats: 'edit' one message as it grows, or 'draft' (sendMessageDraft preview)."
    )
    shutdown_grace: float = Field(
        5.0, ge=0, description="Seconds replies being written may take to finish on shutdown."
    )

    user_messages_per_hour: int = Field(0, ge=0, description="Answered messages per user per hour; 0: no limit.")
    user_tokens_per_day: int = Field(0, ge=0, description="Tokens per user per UTC day, all chats; 0: no budget.")
    user_cost_per_month: float = Field(
        0.0, ge=0, description="US dollars per user per UTC calendar month, all chats; 0: no budget."
    )
    chat_tokens_per_day: int = Field(0, ge=0, description="Tokens per chat (all its users) per UTC day; 0: no budget.")
    prices_file: Path | None = Field(
        None, description="TOML file of prices (model -> input/output US dollars per million tokens); wins."
    )

    # Access
    allowed_user_ids: IntList = Field(default_factory=list, description="Users allowed (empty + no chats: all).")
    allowed_chat_ids: IntList = Field(default_factory=list, description="Chats where everyone is allowed.")
    bot_admin_ids: IntList = Field(default_factory=list, description="Bot owners: always allowed, admin everywhere.")

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    #: True when HISTORY_MAX_TOKENS was derived from HISTORY_MAX_CHARS.
    _tokens_from_chars: bool = PrivateAttr(default=False)

    _split = field_validator(
        "providers", "openai_models", "allowed_user_ids", "allowed_chat_ids", "bot_admin_ids", mode="before"
    )(_split_commas)

    @field_validator("log_level", "stream_mode", mode="before")
    @classmethod
    def _case(cls, value: object, info: object) -> object:
        if not isinstance(value, str):
            return value
        return value.upper() if getattr(info, "field_name", "") == "log_level" else value.lower()

    @field_validator("default_language")
    @classmethod
    def _default_language(cls, value: str) -> str:
        from bot.texts import CATALOG

        code = value.strip().lower()
        if code not in CATALOG.languages:
            raise ValueError(f"must be one of the languages the bot speaks: {', '.join(CATALOG.languages)}")
        return code

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        url = URL(value.strip())
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an http:// or https:// URL with a host, like https://bot.example.com/telegram")
        return str(url)

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        secret = value.get_secret_value() if value is not None else ""
        if not secret:
            if info.data.get("webhook_url"):
                raise ValueError("must be set when WEBHOOK_URL is (1-256 characters A-Z a-z 0-9 _ -)")
            return None
        if not WEBHOOK_SECRET_SHAPE.fullmatch(secret):
            raise ValueError("must be 1-256 characters A-Z a-z 0-9 _ - (Bot API setWebhook secret_token)")
        return value

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        if "replace" in token.lower() or token.lower().endswith(":your-token"):
            raise ValueError("is still the example value from .env.example; paste the token @BotFather gave you")
        if not TOKEN_SHAPE.match(token):
            raise ValueError("does not look like a bot token (expected '<digits>:<secret>', as @BotFather gives it)")
        return SecretStr(token)

    @field_validator("telegram_base_url", "openai_base_url", "transcription_base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("telegram_base_url")
    @classmethod
    def _bot_api_root(cls, value: str) -> str:
        if not value.endswith("/bot"):
            raise ValueError(
                "must end with /bot, like https://api.telegram.org/bot (requests go to {TELEGRAM_BASE_URL}{token}/...)"
            )
        return value

    @field_validator("telegram_proxy", "proxy")
    @classmethod
    def _proxy(cls, value: str | None, info: object) -> str | None:
        if not value:
            return None
        telegram = getattr(info, "field_name", "") == "telegram_proxy"
        schemes = TELEGRAM_PROXY_SCHEMES if telegram else PROXY_SCHEMES
        if not value.lower().startswith(schemes):
            raise ValueError(f"must be a URL starting with {', '.join(schemes)} (for example socks5://127.0.0.1:1080)")
        return value

    @field_validator(
        "prompts_file",
        "prices_file",
        "transcription_base_url",
        "history_max_chars",
        "health_file",
        "metrics_port",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("prompts_file")
    @classmethod
    def _presets_load(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None:
            try:
                load_presets(value, int(info.data.get("max_prompt_chars", 4000)))
            except PresetsError as error:
                raise ValueError(str(error)) from None
        return value

    @field_validator("prices_file")
    @classmethod
    def _prices_load(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                load_prices(value)
            except PricesError as error:
                raise ValueError(str(error)) from None
        return value

    @model_validator(mode="after")
    def _history_chars(self) -> Settings:
        """HISTORY_MAX_CHARS (the budget before tokens) still works: read as 4 characters a token,
        unless HISTORY_MAX_TOKENS is set too (:meth:`deprecations` says so at start-up)."""
        if self.history_max_chars is not None and "history_max_tokens" not in self.model_fields_set:
            self.history_max_tokens = max(100, self.history_max_chars // CHARS_PER_TOKEN)
            self._tokens_from_chars = True
        return self

    def deprecations(self) -> list[str]:
        """One line per setting that still works but has a successor, to log at start-up."""
        if self.history_max_chars is None:
            return []
        if not self._tokens_from_chars:
            return ["HISTORY_MAX_CHARS is ignored: HISTORY_MAX_TOKENS is set (remove HISTORY_MAX_CHARS)"]
        return [
            f"HISTORY_MAX_CHARS={self.history_max_chars} is read as HISTORY_MAX_TOKENS={self.history_max_tokens}"
            " (4 characters a token); set HISTORY_MAX_TOKENS instead"
        ]

    def prices(self) -> dict[str, ModelPrice]:
        """The operator's prices of ``PRICES_FILE`` (validated when the settings were read), or {}."""
        return load_prices(self.prices_file) if self.prices_file else {}

    def presets(self) -> dict[str, str]:
        """The system-prompt presets of ``PROMPTS_FILE`` (validated when the settings were read), or {}."""
        return load_presets(self.prompts_file, self.max_prompt_chars) if self.prompts_file else {}

    @field_validator("database_url", mode="before")
    @classmethod
    def _database_url(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if not text.startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql:// (postgresql://USER:PASSWORD@HOST:PORT/DBNAME)")
        return text

    @field_validator("database_path")
    @classmethod
    def _database_path(cls, value: Path) -> Path:
        if str(value) == ":memory:":
            return value
        if value.is_dir():
            raise ValueError(f"{value} is a folder; name a file in it, for example {value / 'bot.sqlite3'}")
        if value.exists():
            if not os.access(value, os.R_OK | os.W_OK):
                raise ValueError(f"{value} cannot be read and written by this user")
            return value
        parent = value.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise ValueError(f"{parent} is a file, so the folder for {value} cannot be created")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise ValueError(f"this user may not create files in {parent.resolve()} (needed for {value})")
        return value

    @field_validator("providers")
    @classmethod
    def _providers_nonempty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one provider")
        names = [v.lower() for v in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"names {', '.join(twice)} more than once")
        return names

    def secrets(self) -> list[str]:
        """Every secret value, for log redaction."""
        values = [self.telegram_bot_token.get_secret_value()]
        if self.webhook_secret:
            values.append(self.webhook_secret.get_secret_value())
        if self.database_url:
            url = URL(self.database_url.get_secret_value())
            values += [url.password or "", url.raw_password or ""]
        for key in (self.openai_api_key, self.transcription_api_key):
            if key:
                values.append(key.get_secret_value())
        return [v for v in values if v]


def describe_error(error: ValidationError) -> str:
    """One line naming the first bad setting by its environment variable name."""
    first = error.errors()[0]
    name = str(first["loc"][0]).upper() if first.get("loc") else "settings"
    if first.get("type") == "missing":
        return f"{name} is not set (see .env.example)"
    return f"{name} is invalid: {str(first.get('msg', 'bad value')).removeprefix('Value error, ')}"


def misspelled_settings(env_file: str | Path = ".env", providers: Iterable[str] = ()) -> list[str]:
    """Lines about names in ``env_file`` that are no setting of the bot (a typo is otherwise silently
    ignored): "PROVIDRES is not a setting; did you mean PROVIDERS?". Per-backend names
    (``{NAME}_BASE_URL``, ``_API_KEY``, ``_MODELS``, ``_PROXY``, ``_URL``, ``_CONTEXT_TOKENS``,
    ``_MAX_PARALLEL``) are
    settings, unless one is a near miss of a setting of the bot and names no provider of
    ``providers`` (``TRANSCRIPTON_BASE_URL``: did you mean TRANSCRIPTION_BASE_URL?)."""
    if not os.path.exists(env_file):
        return []
    known = [name.upper() for name in Settings.model_fields]
    backends = {env_prefix(name) for name in providers}
    problems = []
    for name in dotenv_values(env_file):
        upper = name.upper()
        if upper in known or upper.startswith("COMPOSE_"):
            continue
        backend = BACKEND_SETTING.match(upper)
        if backend is not None:
            prefix = upper[: backend.start(1) - 1]
            if prefix in backends or not difflib.get_close_matches(upper, known, n=1, cutoff=0.9):
                continue  # a backend's own setting
        close = difflib.get_close_matches(upper, known, n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]}?" if close else " (see .env.example)"
        problems.append(f"{name} in {env_file} is not a setting of this bot{hint}")
    return problems


def load_settings(**overrides: object) -> Settings:
    """Read :class:`Settings` (environment, then ``.env``); on a bad value, or a name in ``.env`` that
    is no setting, print one line to stderr and exit with code 2."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        print(f"Configuration error: {describe_error(error)}", file=sys.stderr)
        raise SystemExit(2) from None
    problems = misspelled_settings(providers=settings.providers)
    if problems:
        print(f"Configuration error: {problems[0]}", file=sys.stderr)
        raise SystemExit(2)
    return settings


class DatabaseSettings(BaseSettings):
    """Only ``DATABASE_PATH``, from the same environment and ``.env`` as :class:`Settings`: what
    ``python -m bot backup`` needs, without a bot token."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")
    database_path: Path = Settings.model_fields["database_path"].default


def use_ptb_timedeltas() -> None:
    """python-telegram-bot 22's documented opt-in (``PTB_TIMEDELTA``): durations such as
    ``RetryAfter.retry_after`` are timedeltas (the form PTB 23 will always use), not deprecated int
    seconds. Set for this process unless the operator set it."""
    os.environ.setdefault("PTB_TIMEDELTA", "true")
