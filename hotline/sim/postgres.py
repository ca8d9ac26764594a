# -*- test-case-name: tests.db.test_session -*-
"""A throw-away PostgreSQL server for the test run and the benchmarks: Debian's binaries, a
cluster of its own in a temp dir, listening only on a unix socket, removed afterwards.

``down()`` stops it at once as a crash would and ``up()`` brings it back with its data: the
fault suite and ``bench.faults`` take the database away while calls come in.
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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

__all__ = ["PostgresServer", "PostgresMissing", "postgres_cluster"]

_UNPRIVILEGED_USER = "postgres"


class PostgresMissing(RuntimeError):
    """Debian's PostgreSQL server is not installed here."""


def _postgres_bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parent.parent.name))
    if not candidates:
        raise PostgresMissing("PostgreSQL server binaries not found under "
                              "/usr/lib/postgresql/*/bin: run the install step (apt-get install "
                              "-y postgresql)")
    return Path(candidates[-1]).parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    """A throw-away PostgreSQL cluster listening only on a unix socket in its own temp dir."""

    bin_dir: Path
    base_dir: Path
    port: int
    user: str

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base_dir

    def url(self, database: str = "postgres") -> str:
        return (f"postgresql+psycopg://{self.user}@/{database}"
                f"?host={self.socket_dir}&port={self.port}")

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", _UNPRIVILEGED_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({result.returncode}):\n"
                               f"{result.stdout}\n{result.stderr}")
        return result

    def start(self) -> None:
        """initdb, then start the server and wait until it accepts connections."""
        self._run("initdb", "-D", str(self.data_dir), "-U", self.user, "--auth=trust",
                  "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        self.up()

    def up(self) -> None:
        """Start the initialised server (again) and wait until it accepts connections."""
        options = (f"-p {self.port} -k {self.socket_dir} -c listen_addresses='' "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data_dir), "-o", options,
                  "-l", str(self.base_dir / "server.log"), "-w", "-t", "60", "start")

    def down(self) -> None:
        """Stop the server at once, as a crash would (``up`` brings it back with its data)."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        """Stop the server fast; never raises, so teardown goes on to remove the directory."""
        if (self.data_dir / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
            except Exception:  # noqa: BLE001 - teardown must finish
                pass

    def admin(self, statement: str) -> None:
        """Run a statement outside a transaction (CREATE/DROP DATABASE need that)."""
        with psycopg.connect(host=str(self.socket_dir), port=self.port, user=self.user,
                             dbname="postgres", autocommit=True) as connection:
            connection.execute(statement)


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster of its own (a test that takes it down shares it with nobody),
    removed at the end even on failure."""
    bin_dir = _postgres_bin_dir()
    base_dir = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
    server = PostgresServer(bin_dir=bin_dir, base_dir=base_dir, port=_free_port(),
                            user=_UNPRIVILEGED_USER)
    try:
        if os.geteuid() == 0:
            entry = pwd.getpwnam(_UNPRIVILEGED_USER)
            os.chown(base_dir, entry.pw_uid, entry.pw_gid)
        base_dir.chmod(0o700)
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(base_dir, ignore_errors=True)
