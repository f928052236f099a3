"""A real PostgreSQL server for the tests: initdb into a fresh folder, started on a free loopback
port as an unprivileged user (PostgreSQL refuses to run as root), removed afterwards.

The server binaries come from Debian's ``postgresql`` package (``.ci/run`` installs it when it is
missing). Without them the PostgreSQL tests fail under CI and are skipped elsewhere.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

#: The superuser the test server is created with (trust authentication on loopback only).
USER = "bot"


def binaries() -> Path | None:
    """The folder with ``initdb`` and ``postgres``, or None when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda f: int(Path(f).parent.name))
    return Path(folders[-1]) if folders and (Path(folders[-1]) / "initdb").exists() else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """One PostgreSQL server in a folder of its own; :meth:`database` makes an empty database."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="bot-pg-"))  # /tmp: reachable by the server's user
        self.data = self.root / "data"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._user: dict[str, object] = {}
        if os.geteuid() == 0:  # PostgreSQL refuses root: run as the postgres user (or nobody)
            name = "postgres" if _exists("postgres") else "nobody"
            entry = pwd.getpwnam(name)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self._user = {"user": entry.pw_uid, "group": entry.pw_gid}

    @property
    def url(self) -> str:
        """The URL of its ``postgres`` database."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def start(self, timeout: float = 60.0) -> None:
        """initdb, then start the server and wait until it takes connections.

        Raises:
            RuntimeError: initdb or the server failed (with its log).
        """
        self._run(
            str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8",
            "--no-sync", "--no-instructions",
        )  # fmt: skip
        self._launch(timeout)

    def _launch(self, timeout: float) -> None:
        log = open(self.root / "server.log", "ab")
        self.process = subprocess.Popen(
            [
                str(self.bin_dir / "postgres"), "-D", str(self.data), "-p", str(self.port), "-h", "127.0.0.1",
                "-k", str(self.root), "-c", "fsync=off",
                "-c", "full_page_writes=off", "-c", "max_connections=200",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            **self._user,  # type: ignore[arg-type]
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"PostgreSQL did not start:\n{self.log()}")
            ready = subprocess.run(
                [str(self.bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER],
                capture_output=True,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL was not ready within {timeout:.0f}s:\n{self.log()}")

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def _run(self, *command: str) -> None:
        done = subprocess.run(list(command), capture_output=True, **self._user)  # type: ignore[call-overload]
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {done.stdout.decode()}{done.stderr.decode()}")

    def database(self) -> str:
        """A new empty database on this server; its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        self._run(str(self.bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, name)
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: "smart"; SIGINT would be "fast"
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def kill(self) -> None:
        """Stop the server at once (SIGKILL), leaving its files: as a crashed host would."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        """Start the server again on the same port and files (after :meth:`kill`)."""
        with contextlib.suppress(FileNotFoundError):
            (self.data / "postmaster.pid").unlink()
        self._launch(60.0)


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


@contextlib.contextmanager
def running_server() -> Iterator[PostgresServer | None]:
    """A started server for the session, or None when PostgreSQL is not installed."""
    bin_dir = binaries()
    if bin_dir is None:
        yield None
        return
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
