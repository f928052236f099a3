"""Settings: defaults, parsing, and the shipped .env.example."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.chain import ChainConfigError, build_chain
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_env_example_loads_with_every_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    monkeypatch.chdir(tmp_path)
    settings = Settings()  # type: ignore[call-arg]
    assert settings.providers == ["openai"]
    assert settings.telegram_base_url == "https://api.telegram.org/bot"
    assert settings.database_path == Path("data/bot.sqlite3")
    assert settings.proxy in (None, "")
    chain = build_chain(settings, {})
    assert [p.name for p in chain.providers] == ["openai"]


def test_every_setting_is_documented_in_env_example() -> None:
    documented = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in Settings.model_fields:
        assert f"{name.upper()}=" in documented, name
        assert f"`{name.upper()}`" in readme, name


def test_extra_openai_compatible_backends(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, telegram_bot_token="1:x", providers="OpenRouter, ollama")  # type: ignore[call-arg]
    chain = build_chain(
        settings,
        {
            "OPENROUTER_BASE_URL": "https://openrouter.example/api/v1",
            "OPENROUTER_API_KEY": "k",
            "OLLAMA_BASE_URL": "http://127.0.0.1:11434/v1",
            "OLLAMA_MODELS": "llama3.2, qwen2.5",
        },
    )
    openrouter, ollama = chain.providers
    assert openrouter.name == "openrouter" and openrouter.api_key == "k"  # type: ignore[attr-defined]
    assert ollama.models == ["llama3.2", "qwen2.5"] and ollama.default_model == "llama3.2"  # type: ignore[attr-defined]
    with pytest.raises(ChainConfigError, match="GROQ_BASE_URL"):
        build_chain(Settings(_env_file=None, telegram_bot_token="1:x", providers="groq"), {})  # type: ignore[call-arg]


def test_file_base_url() -> None:
    from bot.app import file_base_url

    assert file_base_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_base_url("https://botproxy.example/tg/bot") == "https://botproxy.example/tg/file/bot"
