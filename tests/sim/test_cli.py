"""``hotline sim`` and ``hotline agent`` as a person types them, against the real sandbox."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import threads

from db.models import Agent, AgentStateChange
from hotline.calls.model import CallState
from hotline.cli.main import main
from tests.support.audio import speech_over_tone, voiced_seconds, wav_seconds
from tests.support.hotline import wait_final_call
from tests.support.pbx import config_file
from tests.support.waiting import sleep, until

pytestmark = pytest.mark.pbx


def _hotline(conf, *argv: str) -> subprocess.CompletedProcess:
    """Run the command in its own process: it drives its own reactor."""
    return subprocess.run([sys.executable, "-m", "hotline", "--config", str(conf), *argv],
                          capture_output=True, text=True, timeout=60)


@pytest_twisted.ensureDeferred
async def test_sim_call_says_text_and_agent_cli_logs_in(pbx_sandbox, controller, tmp_path):
    """A citizen placed from the command line speaks synthesised Mandarin to an agent that the
    command line logged in; the citizen's recording holds speech."""
    conf = config_file(pbx_sandbox, tmp_path / "hotline.toml")
    agent = _hotline(conf, "sim", "agent", "1001", "--delay", "0.5", "--tone", "1000")
    assert agent.returncode == 0, agent.stderr
    login = _hotline(conf, "agent", "login", "1001", "--name", "李娜")
    assert login.returncode == 0, login.stderr
    assert "agent 1001 李娜: available" in login.stdout
    try:
        # The citizen speaks once the greeting is over and the agent has answered.
        pause = wav_seconds(pbx_sandbox.var_dir / "sounds" / "zh" / "welcome.wav") + 2
        call = _hotline(conf, "sim", "call", "--from", "13812340006", "--say",
                        "我家停水了，请帮忙查一下。", "--hold", "22", "--pause", f"{pause:.1f}")
        assert call.returncode == 0, call.stderr
        assert "citizen 13812340006 calls 83658365" in call.stdout

        def talking():
            return [c for c in controller.calls.live_calls()
                    if c["caller"] == "13812340006" and c["state"] == CallState.TALKING]
        await until(talking, timeout=30)
        await sleep(6)  # the citizen says their piece
        hangup = await threads.deferToThread(_hotline, conf, "sim", "hangup", "--agent", "1001")
        assert hangup.returncode == 0, hangup.stderr
        assert "agent 1001's phone hung up (1 call)" in hangup.stdout
        row, paths = await wait_final_call(
            controller.db, "13812340006",
            lambda r: {x.direction: x.path for x in r.recordings})
    finally:
        logout = _hotline(conf, "agent", "logout", "1001")
    assert logout.returncode == 0, logout.stderr
    assert row.status == "completed"
    assert row.hungup_by == "agent"
    # The citizen's file holds their speech (energy across 300-900 Hz, over a second of it),
    # not the agent's steady 1000 Hz tone; the agent's file is the tone.
    citizen, agent_file = Path(paths["citizen"]), Path(paths["agent"])
    assert voiced_seconds(citizen) > 1.0
    assert speech_over_tone(citizen, 1000) > 1, speech_over_tone(citizen, 1000)
    assert speech_over_tone(agent_file, 1000) < 0.1
    with controller.db.begin() as s:
        agent_row = s.scalars(select(Agent).where(Agent.code == "1001")).one()
        states = [c.state for c in s.scalars(select(AgentStateChange).where(
            AgentStateChange.agent_id == agent_row.id).order_by(AgentStateChange.id))]
    assert states[-2:] == ["login", "logout"]


def test_bad_input_gets_one_line(pbx_sandbox, tmp_path, capsys):
    conf = config_file(pbx_sandbox, tmp_path / "hotline.toml")
    missing = _hotline(conf, "sim", "call", "--from", "13812340007", "--play",
                       str(tmp_path / "nope.wav"))
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [f"hotline: no such audio file: "
                                                   f"{tmp_path / 'nope.wav'}"]
    nobody = _hotline(conf, "sim", "hangup", "--citizen", "13812349999")
    assert nobody.returncode == 1
    assert nobody.stderr.strip() == "hotline: citizen 13812349999 is in no call"
    unknown = _hotline(conf, "agent", "login", "7777")
    assert unknown.returncode == 1
    assert "no agent '7777'" in unknown.stderr
    with pytest.raises(SystemExit) as exited:
        main(["sim", "number", "9990001", "--mode", "sideways"])
    assert exited.value.code == 2
    assert "invalid choice: 'sideways'" in capsys.readouterr().err
