"""``python -m bot`` as a person runs it: configuration errors, start-up line, clean stop, no secrets in logs."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from .fakes.openai import FakeOpenAI
from .fakes.telegram import FakeBotApi
from .pg import PostgresServer, free_port

ROOT = Path(__file__).resolve().parent.parent


def _env(**values: str) -> dict[str, str]:
    """The test process's environment without the bot's settings, plus ``values`` (an OpenAI key
    is set: api.openai.com, the default backend, refuses to start without one)."""
    own = ("TELEGRAM_", "OPENAI_", "PROVIDERS", "DATABASE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    env["OPENAI_API_KEY"] = "sk-test-key"
    env.update(values)
    return env


async def _spawn(
    env: dict[str, str], cwd: Path, *args: str, python: str = sys.executable, **popen: Any
) -> asyncio.subprocess.Process:
    """``python -m bot ARGS`` as a person starts it, stderr merged into stdout (``popen``: more
    arguments of the process, such as ``user``). Its temporary folder (``TMPDIR``, where the
    heartbeat file lives) is ``cwd`` unless ``env`` names one: no two tests share a file there."""
    return await asyncio.create_subprocess_exec(
        python,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env={"TMPDIR": str(cwd), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        **popen,
    )


async def _run(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str]:
    process = await _spawn(env, cwd, *args)
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode or 0, out.decode()


async def test_missing_token_stops_with_one_line_and_exit_2(tmp_path: Path) -> None:
    env = _env(PYTHONPATH=str(ROOT))
    code, out = await _run(env, tmp_path)
    assert code == 2
    assert out.strip() == "Configuration error: TELEGRAM_BOT_TOKEN is not set (see .env.example)"


async def test_help_and_version_need_no_token_and_check_config_validates(tmp_path: Path) -> None:
    env = _env(PYTHONPATH=str(ROOT))
    code, out = await _run(env, tmp_path, "--help")
    assert code == 0 and "--check-config" in out and ".env.example" in out
    code, out = await _run(env, tmp_path, "--version")
    assert code == 0 and out.startswith("telegram-llm-bot ")
    code, out = await _run(env, tmp_path, "--check-config")
    assert code == 2 and out.strip() == "Configuration error: TELEGRAM_BOT_TOKEN is not set (see .env.example)"
    good = {**env, "TELEGRAM_BOT_TOKEN": "123:abc", "PROVIDERS": "openai,ollama"}
    code, out = await _run(good, tmp_path, "--check-config")
    assert code == 2 and out.strip() == "Configuration error: PROVIDERS names 'ollama' but OLLAMA_BASE_URL is not set"
    code, out = await _run({**good, "OLLAMA_BASE_URL": "http://localhost:11434/v1"}, tmp_path, "--check-config")
    assert code == 0 and out.strip() == "Configuration OK: provider chain openai -> ollama; database data/bot.sqlite3"


async def test_a_database_newer_than_the_bot_is_refused_with_one_line(tmp_path: Path) -> None:
    import sqlite3

    with sqlite3.connect(tmp_path / "future.sqlite3") as db:
        db.execute("PRAGMA user_version = 99")
    env = _env(PYTHONPATH=str(ROOT), TELEGRAM_BOT_TOKEN="1:abc", DATABASE_PATH=str(tmp_path / "future.sqlite3"))
    code, out = await _run(env, tmp_path)
    assert code == 2 and out.count("\n") == 1 and "Traceback" not in out
    assert out.startswith("Configuration error: DATABASE_PATH: the database's schema version 99 is newer")


async def test_malformed_setting_is_named(tmp_path: Path) -> None:
    env = _env(PYTHONPATH=str(ROOT), TELEGRAM_BOT_TOKEN="1:abc", PRIVATE_EDIT_INTERVAL="soon")
    code, out = await _run(env, tmp_path)
    assert code == 2
    assert out.count("\n") == 1 and "PRIVATE_EDIT_INTERVAL is invalid" in out and "Traceback" not in out


async def test_unconfigured_provider_is_named(tmp_path: Path) -> None:
    env = _env(PYTHONPATH=str(ROOT), TELEGRAM_BOT_TOKEN="1:abc", PROVIDERS="openai,ollama")
    code, out = await _run(env, tmp_path)
    assert code == 2
    assert out.strip() == "Configuration error: PROVIDERS names 'ollama' but OLLAMA_BASE_URL is not set"


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_runs_converses_and_stops_on_a_signal_without_logging_secrets(
    telegram: FakeBotApi, llm: FakeOpenAI, tmp_path: Path, stop_signal: signal.Signals
) -> None:
    api_key = "sk-live-very-secret-api-key-123"
    llm.api_key = api_key
    env = _env(
        PYTHONPATH=str(ROOT),
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_BASE_URL=telegram.base_url,
        OPENAI_BASE_URL=llm.base_url,
        OPENAI_API_KEY=api_key,
        DATABASE_PATH=str(tmp_path / "nested" / "bot.sqlite3"),
        POLL_TIMEOUT="1",
        LOG_LEVEL="DEBUG",
    )
    process = await _spawn(env, tmp_path)
    try:
        await telegram.wait_for(lambda: bool(telegram.calls_of("getUpdates")), timeout=20)
        assert [c["command"] for c in telegram.commands] == [
            "start",
            "help",
            "reset",
            "new",
            "retry",
            "stop",
            "model",
            "provider",
            "prompt",
            "usage",
            "settings",
            "language",
            "reasoning",
            "conversations",
        ]
        from bot.app.health import heartbeat_file

        await telegram.wait_for(lambda: heartbeat_file(telegram.token, tmp_path).exists(), timeout=20)
        code, out = await _run(env, tmp_path, "--health")  # the image's HEALTHCHECK, while the bot polls
        assert code == 0 and out.startswith("polling: the last heartbeat was"), out
        telegram.user_message(77, "hello there")
        # finished as the user sees it: the whole answer, and the Stop button gone
        await telegram.wait_for(
            lambda: (
                [(m.text, m.reply_markup) for m in telegram.bot_messages(77)] == [("Hello from the fake model.", None)]
            ),
            timeout=20,
        )
        process.send_signal(stop_signal)
        out, _ = await asyncio.wait_for(process.communicate(), 20)
    finally:
        if process.returncode is None:
            process.kill()
    log = out.decode()
    assert process.returncode == 0, log
    assert "bot @test_llm_bot is running; provider chain: openai" in log
    assert "stopped" in log.splitlines()[-1]
    assert telegram.token not in log and telegram.token.split(":")[1] not in log
    assert api_key not in log
    assert (tmp_path / "nested" / "bot.sqlite3").exists()


def _killable_env(telegram: FakeBotApi, llm: FakeOpenAI, database: Path) -> dict[str, str]:
    """The environment of a bot process that a kill -9 test starts, kills and starts again."""
    return _env(
        PYTHONPATH=str(ROOT),
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_BASE_URL=telegram.base_url,
        OPENAI_BASE_URL=llm.base_url,
        OPENAI_API_KEY=llm.api_key or "sk-test",
        DATABASE_PATH=str(database),
        POLL_TIMEOUT="1",
        PRIVATE_EDIT_INTERVAL="0.05",
    )


async def test_kill_9_mid_stream_keeps_the_question_drops_the_half_answer_and_says_to_retry(
    telegram: FakeBotApi, llm: FakeOpenAI, tmp_path: Path
) -> None:
    import sqlite3

    from bot import texts

    from .fakes.openai import Reply

    database = tmp_path / "bot.sqlite3"
    env = _killable_env(telegram, llm, database)
    llm.default = Reply("a long answer " * 200, chunk_size=10, delay=0.02)
    process = await _spawn(env, tmp_path)
    try:
        asked = telegram.user_message(77, "tell me everything")
        # Killed once the answer has grown: its message is noted by then (a kill between the first
        # send and that SQLite write leaves the button, which then goes when pressed).
        await telegram.wait_for(lambda: any(m.edits for m in telegram.bot_messages(77)), timeout=20)
        process.kill()  # SIGKILL: no clean-up of any kind
        await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
    [half] = telegram.bot_messages(77)
    assert telegram.writing(77), "killed mid-answer, the half answer still shows its Stop button"
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT role, content FROM messages").fetchall() == [("user", "tell me everything")]
    llm.default = Reply("The whole answer.")
    process = await _spawn(env, tmp_path)
    try:
        await telegram.wait_for(lambda: texts.INTERRUPTED in telegram.bot_texts(77), timeout=20)
        notice = next(m for m in telegram.bot_messages(77) if m.text == texts.INTERRUPTED)
        assert notice.reply_to == asked["message_id"]
        assert not telegram.writing(77), "after the restart no Stop button that would stop nothing is left"
        telegram.user_message(77, "/retry")
        await telegram.wait_for(lambda: "The whole answer." in telegram.bot_texts(77), timeout=20)
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.communicate(), 20)
    finally:
        if process.returncode is None:
            process.kill()
    assert telegram.bot_texts(77) == [half.text, texts.INTERRUPTED, "The whole answer."]
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT role, content FROM messages").fetchall() == [
            ("user", "tell me everything"),
            ("assistant", "The whole answer."),
        ]


async def test_kill_9_with_a_question_waiting_tells_both_askers_after_the_restart(
    telegram: FakeBotApi, llm: FakeOpenAI, tmp_path: Path
) -> None:
    import sqlite3

    from bot import texts

    from .fakes.openai import Reply

    database = tmp_path / "bot.sqlite3"
    env = _killable_env(telegram, llm, database)
    llm.default = Reply("a long answer " * 200, chunk_size=10, delay=0.02)

    def waiting() -> list[int]:
        try:
            with sqlite3.connect(database) as db:
                return [r[0] for r in db.execute("SELECT message_id FROM received WHERE waiting = 1")]
        except sqlite3.Error:
            return []  # not created yet

    process = await _spawn(env, tmp_path)
    try:
        first = telegram.user_message(77, "tell me everything")
        await telegram.wait_for(lambda: any(m.edits for m in telegram.bot_messages(77)), timeout=20)
        second = telegram.user_message(77, "and then this")
        # Confirmed to Telegram (a later getUpdates moved past it) and noted as waiting for its turn.
        await telegram.wait_for(
            lambda: (
                second["message_id"] in waiting()
                and any(
                    int(c.params.get("offset", 0)) > telegram.last_update_id for c in telegram.calls_of("getUpdates")
                )
            ),
            timeout=20,
        )
        process.kill()
        await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
    llm.default = Reply("Now answered.")
    process = await _spawn(env, tmp_path)
    try:
        await telegram.wait_for(lambda: texts.NOT_ANSWERED in telegram.bot_texts(77), timeout=20)
        notices = {
            m.text: m.reply_to for m in telegram.bot_messages(77) if m.text in (texts.INTERRUPTED, texts.NOT_ANSWERED)
        }
        assert notices == {texts.INTERRUPTED: first["message_id"], texts.NOT_ANSWERED: second["message_id"]}
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.communicate(), 20)
    finally:
        if process.returncode is None:
            process.kill()
    assert waiting() == [], "announced once"
    assert len(llm.requests) == 1, "the waiting question was neither answered nor forgotten: its asker was told"


@pytest.mark.parametrize("content", [b"not a database at all" * 50, None], ids=["corrupt-file", "a-folder"])
async def test_an_unusable_database_stops_start_up_with_one_line(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "bot.sqlite3"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    env = _env(PYTHONPATH=str(ROOT), TELEGRAM_BOT_TOKEN="1:abc", DATABASE_PATH=str(path))
    code, out = await _run(env, tmp_path)
    assert code == 2 and out.count("\n") == 1 and "Traceback" not in out, out
    assert out.startswith("Configuration error: DATABASE_PATH")
    assert ("not a database" in out) if content else ("is a folder" in out)


async def test_a_configuration_error_held_for_a_container_waits_for_sigterm_and_exits_2(tmp_path: Path) -> None:
    # Docker restarts any exit; the image's command waits instead of restart-looping.
    process = await _spawn(_env(PYTHONPATH=str(ROOT)), tmp_path, "--hold-on-config-error")
    assert process.stdout is not None
    lines = []
    while not lines or not lines[-1].startswith("Not restarting"):
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert line, "\n".join(lines)
        lines.append(line.decode().strip())
    assert lines == [
        "Configuration error: TELEGRAM_BOT_TOKEN is not set (see .env.example)",
        "Not restarting: fix the setting above, then run `docker compose up -d`.",
    ]
    assert process.returncode is None  # still there: no restart loop
    process.terminate()
    assert await asyncio.wait_for(process.wait(), 30) == 2


async def test_a_wrong_database_url_is_one_line_naming_it_never_the_password(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    base = _env(PYTHONPATH=str(ROOT), TELEGRAM_BOT_TOKEN="1:abc")
    wrong_password = postgres_server.url.replace("bot@", "nobody:secret-pw@")
    unreachable = f"postgresql://bot:secret-pw@127.0.0.1:{free_port()}/bot"
    for url, words in [
        (wrong_password, "refused the user name or password"),
        (unreachable, "connection refused"),
        ("mysql://bot:secret-pw@localhost/bot", "DATABASE_URL is invalid"),
    ]:
        code, out = await _run({**base, "DATABASE_URL": url}, tmp_path)
        assert code == 2 and out.count("\n") == 1 and "Traceback" not in out, out
        assert out.startswith("Configuration error: DATABASE_URL") and words in out, out
        assert "secret-pw" not in out
