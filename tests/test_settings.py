"""Settings: defaults, parsing, and the shipped .env.example."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.app.chain import ChainConfigError, build_chain
from bot.config.settings import Settings, misspelled_settings

ROOT = Path(__file__).resolve().parent.parent


def test_env_example_loads_with_every_default_once_the_token_and_key_are_filled_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    monkeypatch.chdir(tmp_path)
    for name in ("TELEGRAM_BOT_TOKEN", "OPENAI_API_KEY", "PROVIDERS", "DATABASE_PATH"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValidationError, match=r"example value from \.env\.example"):
        Settings()  # type: ignore[call-arg]
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456789:AAH-real-looking_token")
    settings = Settings()  # type: ignore[call-arg]
    assert settings.providers == ["openai"]
    assert settings.telegram_base_url == "https://api.telegram.org/bot"
    assert settings.database_path == Path("data/bot.sqlite3")
    assert settings.proxy in (None, "")
    assert misspelled_settings() == []
    with pytest.raises(ChainConfigError, match=r"OPENAI_API_KEY is not set, and api\.openai\.com refuses"):
        build_chain(settings)
    settings = Settings(openai_api_key="sk-filled-in")  # type: ignore[call-arg]
    assert [p.name for p in build_chain(settings).providers] == ["openai"]


def test_every_setting_is_documented_in_env_example() -> None:
    documented = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in Settings.model_fields:
        if name == "backends":  # each backend's {NAME}_* settings, documented under their names
            continue
        assert f"{name.upper()}=" in documented, name
        assert f"`{name.upper()}`" in readme, name


def test_extra_openai_compatible_backends(tmp_path: Path) -> None:
    backends = {
        "OPENROUTER_BASE_URL": "https://openrouter.example/api/v1",
        "OPENROUTER_API_KEY": "k",
        "OLLAMA_BASE_URL": "http://127.0.0.1:11434/v1",
        "OLLAMA_MODELS": "llama3.2, qwen2.5",
    }
    settings = Settings(_env_file=None, telegram_bot_token="1:x", providers="OpenRouter, ollama", backends=backends)  # type: ignore[call-arg]
    chain = build_chain(settings)
    openrouter, ollama = chain.providers
    assert openrouter.name == "openrouter" and openrouter.api_key == "k"  # type: ignore[attr-defined]
    assert ollama.models == ["llama3.2", "qwen2.5"] and ollama.default_model == "llama3.2"  # type: ignore[attr-defined]
    with pytest.raises(ChainConfigError, match="GROQ_BASE_URL"):
        build_chain(Settings(_env_file=None, telegram_bot_token="1:x", providers="groq", backends={}))  # type: ignore[call-arg]


def test_the_backends_settings_are_read_once_with_the_others_from_env_file_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settings is the one reader of the environment and .env: each backend's {NAME}_* settings and
    PROXY come with it (the environment wins over .env, as for every setting), and nothing else."""
    (tmp_path / ".env").write_text(
        "OLLAMA_BASE_URL=http://from-env-file:11434/v1\nOLLAMA_MODELS=llama3.2\nPROXY=socks5://127.0.0.1:1080\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://from-environment:11434/v1")
    monkeypatch.setenv("HOME_NOT_A_BACKEND", "x")
    settings = Settings(telegram_bot_token="1:x", providers="ollama")  # type: ignore[call-arg]
    assert settings.backends["OLLAMA_BASE_URL"] == "http://from-environment:11434/v1"
    assert settings.backends["OLLAMA_MODELS"] == "llama3.2" and settings.backends["PROXY"] == "socks5://127.0.0.1:1080"
    assert "HOME_NOT_A_BACKEND" not in settings.backends
    [ollama] = build_chain(settings).providers
    assert ollama.base_url == "http://from-environment:11434/v1" and ollama.models == ["llama3.2"]  # type: ignore[attr-defined]


def test_history_max_chars_is_read_as_tokens_with_a_warning_and_loses_to_history_max_tokens() -> None:
    old = Settings(_env_file=None, telegram_bot_token="1:x", history_max_chars=24000)  # type: ignore[call-arg]
    assert old.history_max_tokens == 6000
    assert old.deprecations() == [
        "HISTORY_MAX_CHARS=24000 is read as HISTORY_MAX_TOKENS=6000 (4 characters a token); set HISTORY_MAX_TOKENS"
        " instead"
    ]
    both = Settings(_env_file=None, telegram_bot_token="1:x", history_max_chars=24000, history_max_tokens=900)  # type: ignore[call-arg]
    assert both.history_max_tokens == 900 and "is ignored" in both.deprecations()[0]
    assert Settings(_env_file=None, telegram_bot_token="1:x").deprecations() == []  # type: ignore[call-arg]


def test_backend_context_windows_are_configured_per_backend() -> None:
    environ = {
        "OLLAMA_BASE_URL": "http://localhost:11434/v1",
        "OLLAMA_CONTEXT_TOKENS": "4096",
        "AICHAT_CONTEXT_TOKENS": "2_048",
    }
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        telegram_bot_token="1:x",
        providers="openai,ollama,aichat",
        openai_api_key="sk",
        backends=environ,
    )
    chain = build_chain(settings)
    assert [p.context_tokens for p in chain.providers] == [None, 4096, 2048]


def test_file_base_url() -> None:
    from bot.app.wiring import file_base_url

    assert file_base_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_base_url("https://botproxy.example/tg/bot") == "https://botproxy.example/tg/file/bot"


GOOD = {"TELEGRAM_BOT_TOKEN": "123456789:AAH-real-looking_token", "OPENAI_API_KEY": "sk-test"}
#: (environment, .env text, the one line expected on stderr; "" = the configuration is fine)
MISCONFIGURATIONS = {
    "database-path-is-a-folder": ({"DATABASE_PATH": "."}, "", "DATABASE_PATH is invalid: . is a folder"),
    "database-parent-is-a-file": (
        {"DATABASE_PATH": "notes.txt/bot.sqlite3"},
        "",
        "DATABASE_PATH is invalid: notes.txt is a file, so the folder for notes.txt/bot.sqlite3 cannot be created",
    ),
    "base-url-without-bot": (
        {"TELEGRAM_BASE_URL": "https://api.telegram.org"},
        "",
        "TELEGRAM_BASE_URL is invalid: must end with /bot",
    ),
    "base-url-with-trailing-slash": ({"TELEGRAM_BASE_URL": "https://api.telegram.org/bot/"}, "", ""),
    "telegram-proxy-without-scheme": (
        {"TELEGRAM_PROXY": "127.0.0.1:1080"},
        "",
        "TELEGRAM_PROXY is invalid: must be a URL starting with http://, https://, socks5://",
    ),
    "proxy-without-scheme": ({"PROXY": "proxy.local:3128"}, "", "PROXY is invalid: must be a URL starting with"),
    "backend-url-without-scheme": (
        {"PROVIDERS": "ollama", "OLLAMA_BASE_URL": "localhost:11434/v1"},
        "",
        "OLLAMA_BASE_URL must start with http:// or https://, like http://localhost:11434/v1",
    ),
    "backend-proxy-without-scheme": (
        {"PROVIDERS": "ollama", "OLLAMA_BASE_URL": "http://localhost:11434/v1", "OLLAMA_PROXY": "host:1"},
        "",
        "OLLAMA_PROXY must start with http:// or https:// or socks4:// or socks5://",
    ),
    "hosted-backend-without-key": (
        {"PROVIDERS": "openrouter", "OPENROUTER_BASE_URL": "https://openrouter.ai/api/v1"},
        "",
        "OPENROUTER_API_KEY is not set, and openrouter.ai refuses requests without a key",
    ),
    "local-backend-without-key": (
        {"PROVIDERS": "ollama", "OLLAMA_BASE_URL": "http://localhost:11434/v1"},
        "",
        "",
    ),
    "provider-named-twice": ({"PROVIDERS": "openai, OpenAI"}, "", "PROVIDERS is invalid: names openai more than once"),
    "placeholder-token": (
        {"TELEGRAM_BOT_TOKEN": "123456789:replace-with-your-token"},
        "",
        "TELEGRAM_BOT_TOKEN is invalid: is still the example value from .env.example",
    ),
    "token-with-a-space": (
        {"TELEGRAM_BOT_TOKEN": "123 456:abc"},
        "",
        "TELEGRAM_BOT_TOKEN is invalid: does not look like a bot token",
    ),
    "misspelled-name-in-env-file": (
        {},
        "PROVIDRES=openai\n",
        "PROVIDRES in .env is not a setting of this bot; did you mean PROVIDERS?",
    ),
    "presets-file-missing": ({"PROMPTS_FILE": "prompts.toml"}, "", "PROMPTS_FILE is invalid: cannot read prompts.toml"),
    "presets-file-not-toml": (
        {"PROMPTS_FILE": "notes.txt"},
        "",
        "PROMPTS_FILE is invalid: notes.txt is not valid TXT",
    ),
    "transcription-url-without-scheme": (
        {"TRANSCRIPTION_BASE_URL": "api.groq.com/openai/v1"},
        "",
        "TRANSCRIPTION_BASE_URL is invalid: must start with http:// or https://",
    ),
    "backend-settings-in-env-file": (
        {},
        "OLLAMA_BASE_URL=http://localhost:11434/v1\nOLLAMA_MODELS=llama3.2\nOLLAMA_CONTEXT_TOKENS=4096\n",
        "",
    ),
    "misspelled-backend-style-name": (
        {},
        "TRANSCRIPTON_BASE_URL=http://localhost:9000/v1\n",
        "TRANSCRIPTON_BASE_URL in .env is not a setting of this bot; did you mean TRANSCRIPTION_BASE_URL?",
    ),
    "a-backend-named-like-a-setting-is-its-own": (
        {"PROVIDERS": "openai2", "OPENAI2_BASE_URL": "http://localhost:8000/v1"},
        "OPENAI2_BASE_URL=http://localhost:8000/v1\n",
        "",
    ),
    "backend-context-not-a-number": (
        {"PROVIDERS": "ollama", "OLLAMA_BASE_URL": "http://localhost:11434/v1", "OLLAMA_CONTEXT_TOKENS": "4k"},
        "",
        "OLLAMA_CONTEXT_TOKENS must be a whole number of tokens, at least 256 (got '4k')",
    ),
    "backend-parallel-not-a-number": (
        {"PROVIDERS": "local", "LOCAL_BASE_URL": "http://localhost:8000/v1", "LOCAL_MAX_PARALLEL": "0"},
        "",
        "LOCAL_MAX_PARALLEL must be a whole number of requests, at least 1 (got '0')",
    ),
    "backend-parallel-in-env-file": (
        {},
        "OLLAMA_BASE_URL=http://localhost:11434/v1\nOLLAMA_MAX_PARALLEL=1\n",
        "",
    ),
    "prices-file-not-toml": (
        {"PRICES_FILE": "notes.txt"},
        "",
        "PRICES_FILE is invalid: notes.txt is not valid TOML",
    ),
    "prices-file-a-folder": ({"PRICES_FILE": "."}, "", "PRICES_FILE is invalid: . is not a regular file"),
    "presets-file-a-device": (
        {"PROMPTS_FILE": "/dev/zero"},
        "",
        "PROMPTS_FILE is invalid: /dev/zero is not a regular file",
    ),
    "presets-file-proc-environ": (  # a symlink to /proc/self/environ: NUL-separated secrets
        {"PROMPTS_FILE": "environ.yaml"},
        "",
        "PROMPTS_FILE is invalid: environ.yaml is not a text file (it holds NUL bytes); is it the right file?\n",
    ),
    "presets-file-bad-yaml-quotes-none-of-it": (
        {"PROMPTS_FILE": "bad.yaml"},
        "",
        "PROMPTS_FILE is invalid: bad.yaml is not valid YAML: mapping values are not allowed here at line 2,"
        " column 5\n",
    ),
    "presets-file-a-fifo": ({"PROMPTS_FILE": "fifo"}, "", "PROMPTS_FILE is invalid: fifo is not a regular file"),
    "presets-file-too-large": (
        {"PROMPTS_FILE": "huge.toml"},
        "",
        "PROMPTS_FILE is invalid: huge.toml is larger than 1000 KB",
    ),
    "history-max-chars-still-works": ({"HISTORY_MAX_CHARS": "24000"}, "", ""),
}


@pytest.mark.parametrize(("environ", "env_file", "expected"), MISCONFIGURATIONS.values(), ids=MISCONFIGURATIONS.keys())
def test_each_misconfiguration_is_one_line_and_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    environ: dict[str, str],
    env_file: str,
    expected: str,
) -> None:
    from bot.__main__ import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    os.mkfifo(tmp_path / "fifo")  # reading it would block start-up for ever
    (tmp_path / "huge.toml").write_text('a = "' + "x" * 1_000_000 + '"\n')
    (tmp_path / "environ.yaml").symlink_to("/proc/self/environ")
    (tmp_path / "bad.yaml").write_text("SECRET=sk-do-not-show\nname: [unclosed\n")
    (tmp_path / ".env").write_text(env_file)
    for name in list(os.environ):
        if name.split("_")[0] in ("TELEGRAM", "OPENAI", "PROVIDERS", "DATABASE", "PROXY", "OLLAMA", "OPENROUTER"):
            monkeypatch.delenv(name)
    for name, value in {**GOOD, **environ}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as stopped:
        main(["--check-config"])
    out, err = capsys.readouterr()
    if not expected:
        assert stopped.value.code == 0 and out.startswith("Configuration OK") and err == "", err
        return
    assert stopped.value.code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"Configuration error: {expected}"), err


def test_the_readme_file_tree_names_every_module() -> None:
    tree = (ROOT / "README.md").read_text().split("## Development", 1)[1]
    for package in ("bot", "providers"):
        for module in sorted((ROOT / package).rglob("*.py")):
            if module.name != "__init__.py" or module.parent.name == "handlers":
                assert module.name in tree, f"{module.relative_to(ROOT)} is missing from the README's tree"
            elif module.parent != ROOT / package:
                assert f"{module.parent.name}/" in tree, f"{module.parent.relative_to(ROOT)}/ is missing from the tree"
