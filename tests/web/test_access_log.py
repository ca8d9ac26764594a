"""The console's access log writes neither query strings (Open311 keys) nor citizens' numbers;
Open311 takes its key in a header; what commands create is private from the start."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest_twisted
from twisted.logger import globalLogPublisher

from hotline.web import accounts
from hotline.web.access_log import redacted_uri
from tests.web.support import HTTP


def test_redacted_uri_drops_the_query_and_masks_numbers():
    """The query string is replaced by its length; numbers in the path are masked."""
    assert redacted_uri(b"/api/callers/13812340000?x=1") == b"/api/callers/138****0000?<query 3 bytes>"
    assert redacted_uri(b"/open311/v2/requests.json?api_key=hk_secret") == \
        b"/open311/v2/requests.json?<query 17 bytes>"
    assert redacted_uri(b"/desk") == b"/desk"


@pytest_twisted.ensureDeferred
async def test_access_log_holds_no_key_and_no_number(console, db):
    """Requests carrying an api_key and a phone number leave log lines without either; the
    key in the X-API-Key header is accepted."""
    with db.begin() as s:
        _, raw = accounts.create_api_key(s, "wechat-bridge", channel="wechat")
    lines: list[str] = []

    def keep(event: dict) -> None:
        text = " ".join(str(v) for k, v in event.items() if k in ("log_io", "message"))
        if "HTTP/1.1" in text:
            lines.append(text)

    globalLogPublisher.addObserver(keep)
    try:
        client = HTTP(console.port)
        by_query = await client.get(f"/open311/v2/requests.json?api_key={raw}")
        by_header = await client.get("/open311/v2/requests.json",
                                     headers={"X-API-Key": raw})
        await client.get("/api/callers/13812340000?phone=13912345678")
        from tests.support.waiting import until
        await until(lambda: len(lines) >= 3, timeout=5)
    finally:
        globalLogPublisher.removeObserver(keep)
    assert by_query.status == 200 and by_header.status == 200
    joined = "\n".join(lines)
    assert raw not in joined and raw[:10] not in joined
    assert "13812340000" not in joined and "13912345678" not in joined
    assert "138****0000" in joined


def test_commands_create_private_state(tmp_path):
    """A command's database and logs are readable by their owner only, whatever the umask it
    was started with."""
    state = tmp_path / "state"
    conf = tmp_path / "hotline.toml"
    conf.write_text(f'[site]\nstate_dir = "{state}"\n')
    subprocess.run([sys.executable, "-c", "import os, sys; os.umask(0o022); "
                    "from hotline.cli.main import main; sys.exit(main(sys.argv[1:]))",
                    "--config", str(conf), "db", "upgrade"], check=True, capture_output=True)
    mode = stat.S_IMODE(os.stat(state / "hotline.db").st_mode)
    assert mode & 0o077 == 0, oct(mode)
    assert stat.S_IMODE(os.stat(state).st_mode) & 0o077 == 0


def test_rendered_pbx_configuration_is_created_private(tmp_path):
    """Rendered Asterisk files (AMI secrets among them) are 0600 from their creation."""
    from hotline.private import write_private

    target = tmp_path / "manager.conf"
    target.write_text("old")
    target.chmod(0o644)
    write_private(target, "secret = s3cret\n")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert target.read_text() == "secret = s3cret\n"
