"""The Docker image's recipe, run the way the image runs it, where no container engine exists: the
image's command as a non-root user, in a read-only /app, with the image's ENV overlaid by
``.env.example`` (what ``docker run --env-file .env`` does), and the volume at /data. The database
must land on the volume, whichever DATABASE_PATH wins."""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from dotenv import dotenv_values
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .fakes.openai import FakeOpenAI
from .fakes.telegram import FakeBotApi
from .test_main import _spawn

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE = (ROOT / "compose.yaml").read_text()
IMAGE_UID = 10001


def image_env() -> dict[str, str]:
    """The ``ENV`` lines of the Dockerfile."""
    block = re.search(r"^ENV (.*?)(?:\n\n|\n[A-Z]+ )", DOCKERFILE, re.S | re.M)
    assert block is not None
    return dict(re.findall(r"(\w+)=(\S+)", block.group(1)))


def test_the_recipes_put_the_database_on_the_volume_and_run_as_non_root() -> None:
    assert image_env()["DATABASE_PATH"] == "/data/bot.sqlite3"
    assert f"useradd --create-home --uid {IMAGE_UID} bot" in DOCKERFILE and "\nUSER bot\n" in DOCKERFILE
    assert "ln -s /data /app/data" in DOCKERFILE  # .env.example's relative path lands on the volume too
    assert 'VOLUME ["/data"]' in DOCKERFILE and 'CMD ["python", "-m", "bot", "--hold-on-config-error"]' in DOCKERFILE
    assert "env_file: .env" in COMPOSE and "bot-data:/data" in COMPOSE
    assert "DATABASE_PATH: /data/bot.sqlite3" in COMPOSE and "restart: unless-stopped" in COMPOSE


@pytest.fixture
def image_root() -> Iterator[Path]:
    """A folder another user can enter (pytest's tmp_path is private to the user running the tests)."""
    root = Path(tempfile.mkdtemp(prefix="image-", dir="/tmp"))
    root.chmod(0o755)
    yield root
    for path in root.rglob("*"):
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(root)


def runtime_distributions(name: str = "telegram-llm-bot") -> list[importlib.metadata.Distribution]:
    """The installed distributions ``pip install .`` puts in the image: the project's requirements
    without its ``dev`` extra, and theirs, with the extras they name."""
    wanted: dict[str, importlib.metadata.Distribution] = {}
    queue: list[tuple[str, frozenset[str]]] = [(name, frozenset())]
    while queue:
        project, extras = queue.pop()
        dist = importlib.metadata.distribution(project)
        wanted[canonicalize_name(project)] = dist
        for line in dist.requires or []:
            requirement = Requirement(line)
            markers = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if requirement.marker and not any(requirement.marker.evaluate(m) for m in markers):
                continue
            if canonicalize_name(requirement.name) not in wanted:
                queue.append((requirement.name, frozenset(requirement.extras)))
    wanted.pop(canonicalize_name(name))
    return list(wanted.values())


def install_like_the_image(app: Path, site: Path) -> None:
    """What the Dockerfile's ``COPY`` and ``pip install .`` leave: the packages in ``app`` and the
    runtime dependencies in ``site``, copied out of the checkout and this virtual environment so that
    another user can read them wherever the clone lives (a private ``mktemp -d`` folder included)."""
    caches = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("bot", "providers"):
        shutil.copytree(ROOT / package, app / package, ignore=caches)
    for dist in runtime_distributions():
        for file in dist.files or []:
            if ".." in file.parts or file.suffix == ".pyc":
                continue
            target = site / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(str(dist.locate_file(file))), target)
    for folder in (app, site):
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)


def as_image_user() -> tuple[str, dict[str, object]]:
    """The Python to run and how: as root, a system Python of the same version as uid 10001 (the
    venv's Python lives under /root, which that user cannot enter); otherwise this user, who is
    already not root."""
    if os.geteuid() != 0:
        return sys.executable, {}
    system = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    if not os.path.exists(system):
        pytest.skip(f"running as root and no {system} to run as another user")
    return system, {"user": IMAGE_UID, "group": IMAGE_UID}


async def test_the_image_command_as_a_non_root_user_with_env_example_keeps_the_database_on_the_volume(
    telegram: FakeBotApi, llm: FakeOpenAI, image_root: Path
) -> None:
    app, volume, site, scratch = (image_root / name for name in ("app", "data", "site", "tmp"))
    for folder in (app, volume, site, scratch):
        folder.mkdir()
    install_like_the_image(app, site)
    scratch.chmod(0o1777)  # the image's /tmp
    (app / "data").symlink_to(volume)  # RUN ... ln -s /data /app/data
    python, user = as_image_user()
    if user:
        os.chown(volume, IMAGE_UID, IMAGE_UID)  # RUN chown bot:bot /data
    app.chmod(0o555)  # /app belongs to root in the image: the bot's user cannot write there
    env = {k: v.replace("/data", str(volume)) for k, v in image_env().items()}
    env.update({k: v or "" for k, v in dotenv_values(ROOT / ".env.example").items()})  # --env-file .env
    env.update(
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_BASE_URL=telegram.base_url,
        OPENAI_BASE_URL=llm.base_url,
        OPENAI_API_KEY="sk-test-key",
        POLL_TIMEOUT="1",
        PATH=os.environ.get("PATH", "/usr/bin:/bin"),
        HOME=str(app),
        PYTHONPATH=str(site),
        TMPDIR=str(scratch),
    )
    assert env["DATABASE_PATH"] == "data/bot.sqlite3"  # .env.example's value wins over the image's
    process = await _spawn(env, app, python=python, **user)
    try:
        telegram.user_message(77, "hello from a container")
        answered = lambda: telegram.bot_texts(77) == ["Hello from the fake model."]  # noqa: E731
        await telegram.wait_for(lambda: answered() or process.returncode is not None, timeout=30)
        if not answered():
            out, _ = await process.communicate()
            pytest.fail(f"the bot stopped (exit {process.returncode}):\n{out.decode()}")
        process.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(process.communicate(), 20)
    finally:
        if process.returncode is None:
            process.kill()
    assert process.returncode == 0, out.decode()
    assert (volume / "bot.sqlite3").is_file()
    assert sorted(p.name for p in app.iterdir()) == ["bot", "data", "providers"]  # nothing written to /app


def test_the_replicas_compose_file_runs_two_bots_on_one_database_behind_the_proxy() -> None:
    """compose.replicas.yaml (no Docker engine here: its shape is checked): two replicas with the same
    token, database, webhook and secret, each serving its webhook and metrics where the proxy looks."""
    import yaml

    from bot.config.settings import Settings

    compose = yaml.safe_load((ROOT / "compose.replicas.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "bot1", "bot2", "proxy"} <= set(services)
    bots = [services["bot1"], services["bot2"]]
    assert bots[0]["environment"] == bots[1]["environment"]
    environment = bots[0]["environment"]
    assert set(environment) <= {name.upper() for name in Settings.model_fields}, "only settings the bot reads"
    assert (
        environment["DATABASE_URL"].startswith("postgresql://bot:")
        and "@postgres:5432/bot" in environment["DATABASE_URL"]
    )
    assert environment["WEBHOOK_LISTEN"] == "0.0.0.0"
    caddy = (ROOT / "deploy" / "Caddyfile").read_text()
    path = environment["WEBHOOK_URL"].split("}", 1)[1]
    assert f"handle {path}" in caddy
    assert f"bot1:{environment['WEBHOOK_PORT']} bot2:{environment['WEBHOOK_PORT']}" in caddy
    assert f"health_port {environment['METRICS_PORT']}" in caddy and "health_uri /healthz" in caddy
    assert all(bot["depends_on"]["postgres"]["condition"] == "service_healthy" for bot in bots)
