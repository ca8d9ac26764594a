# -*- test-case-name: tests.cluster.test_two_nodes -*-
"""The cluster sandbox's one PostgreSQL, which every node's controller shares: Debian's server,
a cluster of its own on a unix socket, kept across restarts of the sandbox.

Its folder is ``$TMPDIR/hotline-cluster-pg-<id of the run directory>`` rather than inside the
run directory: the server runs as the ``postgres`` user, who may not enter the run directory's
parents (a pytest temp folder is root's alone)."""

from __future__ import annotations

import hashlib
import os
import pwd
import tempfile
from pathlib import Path

from db.postgres import NoPostgres, PostgresServer, free_port, postgres_bin_dir

__all__ = ["SharedDatabase", "DATABASE_NAME"]

DATABASE_NAME = "hotline"
_USER = "postgres"


class SharedDatabase:
    """Starts and stops the PostgreSQL under ``run_dir/postgres``."""

    def __init__(self, run_dir: Path) -> None:
        tag = hashlib.sha1(str(run_dir.resolve()).encode()).hexdigest()[:12]
        self.base_dir = Path(tempfile.gettempdir()) / f"hotline-cluster-pg-{tag}"

    def _server(self, port: int) -> PostgresServer:
        try:
            bin_dir = postgres_bin_dir()
        except NoPostgres as e:
            raise RuntimeError(f"{e} (the cluster's controllers share one PostgreSQL)") from None
        return PostgresServer(bin_dir=bin_dir, base_dir=self.base_dir, port=port, user=_USER)

    def start(self) -> tuple[int, str]:
        """Start it (initialised on first use); returns its port and the controllers' URL."""
        server = self._server(free_port())
        fresh = not (self.base_dir / "data" / "PG_VERSION").exists()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            entry = pwd.getpwnam(_USER)
            os.chown(self.base_dir, entry.pw_uid, entry.pw_gid)
        self.base_dir.chmod(0o700)
        if fresh:
            server.start()
            server.admin(f"CREATE DATABASE {DATABASE_NAME}")
        else:
            server.up()
        return server.port, server.url(DATABASE_NAME)

    def stop(self, port: int) -> None:
        """Stop it (never raises: the sandbox's stop goes on)."""
        self._server(port).stop()

    def remove(self) -> None:
        """Delete its data (a test's throw-away cluster)."""
        import shutil

        shutil.rmtree(self.base_dir, ignore_errors=True)
