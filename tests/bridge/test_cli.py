"""``hotline bridge`` against the real PBX: bad input is refused clearly and changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from db.models import Bridge
from tests.support.pbx import config_file

pytestmark = pytest.mark.pbx


CSV = ("name,department_code,department_name,department_kind,number,fallback_numbers,"
       "categories,keywords,service_hours,notes\n"
       "区自来水公司,U01,区自来水公司,utility,99900000,99905000,供水,停水,24/7,\n")


def _config(sandbox, path):
    """The sandbox's configuration file on a database of the test's own: the one-entry
    directory imported here must not replace the directory other tests share."""
    config_file(sandbox, path)
    url = f"sqlite:///{path.parent / 'hotline.db'}"
    path.write_text(path.read_text() + f'[database]\nurl = "{url}"\n')
    return path, url


def _run(cfg, *args):
    env = dict(os.environ, HOTLINE_CONFIG=str(cfg))
    return subprocess.run([sys.executable, "-m", "hotline", "bridge", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_unknown_call_is_refused(pbx_sandbox, tmp_path):
    """A call id that is not a live call gets one line naming the problem, exit 1, no row."""
    from db import migrate
    from db.session import Database
    from hotline.directory.service import DirectoryService

    cfg, url = _config(pbx_sandbox, tmp_path / "hotline.toml")
    db = Database(url)
    migrate.upgrade(db.url)
    with db.begin() as s:
        DirectoryService().import_csv(s, CSV, replace=True)
    db.stop()
    done = _run(cfg, "987654", "99900000")
    assert done.returncode == 1, done.stderr
    assert "no call 987654" in done.stderr and "no-such-call" in done.stderr
    db = Database(url)
    try:
        with db.begin() as s:
            assert s.scalar(select(func.count(Bridge.id))) == 0
    finally:
        db.stop()


def test_unknown_entry_is_refused(pbx_sandbox, tmp_path):
    """An entry that is in no directory is named in the error."""
    cfg, _url = _config(pbx_sandbox, tmp_path / "hotline.toml")
    done = _run(cfg, "1", "12345")
    assert done.returncode == 1
    assert "no directory entry '12345'" in done.stderr and "no-such-entry" in done.stderr
