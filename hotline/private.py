# -*- test-case-name: tests.web.test_access_log -*-
"""Files that hold secrets or citizens' data are private from their first byte.

Every command runs with ``PRIVATE_UMASK``, so what it creates in the state directory (the
database, logs, keys, recordings' notes) is readable by its owner only. A file holding a secret
is created with mode 0600 (``write_private``), never written first and narrowed after: between
the two anyone could read it.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PRIVATE_UMASK", "write_private"]

#: Nothing created by the hotline's own processes is readable by group or others.
PRIVATE_UMASK = 0o077


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, created (or truncated) with mode 0600 from the start."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode on O_CREAT: narrow it first
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
