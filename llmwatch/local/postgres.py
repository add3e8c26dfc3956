"""A private PostgreSQL server in a temporary directory on a free loopback port.

Uses the server binaries of Debian's `postgresql` package (installed by `make setup`). When run
as root, the server runs as the `postgres` system user, since PostgreSQL refuses root.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from .kafka import free_port


class PostgresUnavailable(RuntimeError):
    pass


def server_bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key)
    for bindir in reversed(candidates):
        if Path(bindir, "initdb").exists():
            return Path(bindir)
    if shutil.which("initdb"):
        return Path(shutil.which("initdb") or "").parent
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found; run `make setup` "
        "(it installs Debian's postgresql package)."
    )


def _version_key(path: str) -> float:
    try:
        return float(Path(path).parent.name)
    except ValueError:
        return 0.0


class LocalPostgres:
    """`with LocalPostgres() as pg: pg.url` — a database for as long as the block runs."""

    def __init__(self, database: str = "llmwatch") -> None:
        self.port = free_port()
        self.database = database
        self.dir = Path(tempfile.mkdtemp(prefix="llmwatch-pg-"))
        self._proc: subprocess.Popen[bytes] | None = None
        self._as_postgres = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.database}"

    def start(self, timeout_s: float = 60.0) -> LocalPostgres:
        bindir = server_bindir()
        if self._as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run([str(bindir / "initdb"), "-D", str(self.dir / "data"), "-U", "postgres",
                   "--auth=trust", "--no-sync", "-E", "UTF8"])
        self.resume(timeout_s)
        self._run([str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                   "-U", "postgres", self.database])
        return self

    def pause(self) -> None:
        """Stop the server, keeping its data (an outage); `resume` brings it back."""
        if self._proc is not None and self._proc.poll() is None:
            # "fast" shutdown; to the process group, since runuser does not pass signals on
            os.killpg(self._proc.pid, signal.SIGINT)
            try:
                self._proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        self._proc = None

    def resume(self, timeout_s: float = 60.0) -> None:
        bindir = server_bindir()
        log = (self.dir / "server.log").open("ab")
        self._proc = subprocess.Popen(
            self._wrap([str(bindir / "postgres"), "-D", str(self.dir / "data"),
                        "-p", str(self.port), "-h", "127.0.0.1", "-k", str(self.dir),
                        "-c", "fsync=off"]),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._wait_ready(bindir, timeout_s)

    def close(self) -> None:
        self.pause()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _wrap(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if self._as_postgres else cmd

    def _run(self, cmd: list[str]) -> None:
        result = subprocess.run(self._wrap(cmd), capture_output=True, text=True)
        if result.returncode != 0:
            raise PostgresUnavailable(f"{Path(cmd[0]).name} failed:\n{result.stderr}")

    def _wait_ready(self, bindir: Path, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                log = (self.dir / "server.log").read_text(errors="replace")
                raise PostgresUnavailable(f"postgres exited early:\n{log[-2000:]}")
            ready = subprocess.run(
                [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.2)
        raise PostgresUnavailable(f"postgres did not start in {timeout_s:.0f}s")
