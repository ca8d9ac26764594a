# -*- test-case-name: tests.db.test_session -*-
"""A throw-away PostgreSQL cluster on a unix socket in its own directory, started from Debian's
server binaries: the tests' database fixtures and the benchmarks run on it (production points
``[database] url`` at a real server)."""

from __future__ import annotations

import glob
import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

__all__ = ["PostgresServer", "postgres_bin_dir", "free_port", "NoPostgres"]

_UNPRIVILEGED_USER = "postgres"


class NoPostgres(RuntimeError):
    """Debian's PostgreSQL server binaries are not installed."""


def postgres_bin_dir() -> Path:
    """The newest installed server's binaries (``/usr/lib/postgresql/N/bin``).

    Raises NoPostgres when there is none."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parent.parent.name))
    if not candidates:
        raise NoPostgres("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: "
                         "run the install step (apt-get install -y postgresql)")
    return Path(candidates[-1]).parent


def free_port() -> int:
    """A TCP port free on loopback now (the cluster's socket file is named after it)."""
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
    #: Extra server settings (``name=value``), e.g. a benchmark's larger buffers.
    settings: tuple[str, ...] = ()

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
        options += "".join(f" -c {setting}" for setting in self.settings)
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
