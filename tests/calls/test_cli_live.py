"""``hotline calls`` against the real PBX: what an operator sees from the shell."""

from __future__ import annotations

import pytest_twisted
from twisted.internet import threads

from tests.sim.test_cli import _hotline
from tests.support.pbx import config_file


@pytest_twisted.ensureDeferred
async def test_calls_shows_the_logged_in_agent(pbx_sandbox, controller, tmp_path):
    conf = config_file(pbx_sandbox, tmp_path / "hotline.toml")
    await controller.agents.login("1003")
    try:
        shown = await threads.deferToThread(_hotline, conf, "calls")
    finally:
        await controller.agents.logout("1003")
    assert shown.returncode == 0, shown.stderr
    assert "AGENTS (1)" in shown.stdout
    assert "agent 1003" in shown.stdout


def test_calls_with_the_pbx_down_says_what_to_do(tmp_path):
    conf = tmp_path / "hotline.toml"
    conf.write_text(f'[site]\nstate_dir = "{tmp_path}"\n[pbx]\nami_port = 1\n'
                    f'[ami]\nport = 1\n')
    shown = _hotline(conf, "calls", "--timeout", "1")
    assert shown.returncode == 1
    assert len(shown.stderr.strip().splitlines()) == 1
    assert shown.stderr.startswith("hotline: ")
