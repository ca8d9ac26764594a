"""Integration tests of the PBX sandbox: real Asterisk 22, both instances, the trunk between."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from hotline.pbx.sandbox import Sandbox, SandboxError, _pid_alive
from tests.support.pbx import city_ami, pbx_ami, sandbox_config, sandbox_ports

pytestmark = pytest.mark.pbx


def test_both_instances_answer_ami_ping(pbx_sandbox: Sandbox):
    """The hotline PBX and the city simulator each answer a Ping on their own AMI."""
    for connect in (pbx_ami, city_ami):
        ami = connect(pbx_sandbox)
        try:
            assert ami.banner.startswith("Asterisk Call Manager/")
            assert ami.action("Ping")["Response"] == "Success"
        finally:
            ami.close()


def test_citizen_call_reaches_hotline_dialplan_and_is_answered(pbx_sandbox: Sandbox):
    """A call placed on the city simulator to 83658365 crosses the trunk and is answered."""
    pbx = pbx_ami(pbx_sandbox)
    city = city_ami(pbx_sandbox)
    try:
        reply = city.action("Originate", Channel="PJSIP/83658365@hotline",
                            Application="Wait", Data="2", CallerID="13800138000",
                            Timeout="10000", Async="true")
        assert reply["Response"] == "Success"
        answered = city.wait_event(lambda e: e["Event"] == "OriginateResponse")
        assert answered["Response"] == "Success", answered
        entered = pbx.wait_event(lambda e: e["Event"] == "Newexten"
                                 and e.get("Context") == "inbound")
        assert entered["CallerIDNum"] == "13800138000"
    finally:
        pbx.close()
        city.close()


def test_unknown_number_is_refused_by_hotline(pbx_sandbox: Sandbox):
    """A number that is not the hotline's is not routed into the hotline's flow."""
    pbx = pbx_ami(pbx_sandbox)
    city = city_ami(pbx_sandbox)
    try:
        city.action("Originate", Channel="PJSIP/12345678@hotline", Application="Wait",
                    Data="1", Timeout="5000", Async="true", CallerID="<13700009999>")
        ev = pbx.wait_event(lambda e: e["Event"] == "Newexten"
                            and e.get("CallerIDNum") == "13700009999")
        assert ev["Context"] == "from-city"
        assert ev["Exten"] == "12345678"
    finally:
        pbx.close()
        city.close()


def test_status_cli_reports_both_up(pbx_sandbox: Sandbox, tmp_path):
    """`hotline pbx status` reports both instances up with their ports."""
    cfg_file = tmp_path / "site.toml"
    cfg = pbx_sandbox.config
    cfg_file.write_text(_toml_of(cfg))
    out = subprocess.run([sys.executable, "-m", "hotline", "--config", str(cfg_file), "pbx",
                          "status"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "hotline PBX" in out.stdout and "city simulator" in out.stdout
    assert out.stdout.count(" up (pid ") == 2
    assert f"AMI 127.0.0.1:{cfg['pbx']['ami_port']}" in out.stdout


def test_stop_leaves_no_process_and_no_mount(tmp_path):
    """After stop no Asterisk process of the sandbox runs and nothing stays mounted."""
    cfg = sandbox_config(tmp_path, sandbox_ports(2))
    sandbox = Sandbox(cfg)
    sandbox.start(log=lambda *_: None)
    try:
        pids = [s.pid for s in sandbox.status().values()]
        assert all(pids) and all(_pid_alive(p) for p in pids)
        assert sandbox.mounts()
    finally:
        sandbox.stop(log=lambda *_: None)
    assert not any(_pid_alive(p) for p in pids)
    assert sandbox.mounts() == []
    assert not any(s.running for s in sandbox.status().values())


def test_occupied_port_is_one_clear_error_and_nothing_starts(tmp_path):
    """A port held by another program stops the start before anything is mounted or run."""
    cfg = sandbox_config(tmp_path, sandbox_ports(3))
    port = cfg["pbx"]["ami_port"]
    holder = socket.socket()
    holder.bind(("127.0.0.1", port))
    holder.listen()
    try:
        sandbox = Sandbox(cfg)
        with pytest.raises(SandboxError,
                           match=f"port 127.0.0.1:{port} \\(pbx.ami_port\\) is already in use"):
            sandbox.start(log=lambda *_: None)
        assert sandbox.mounts() == []
        assert not any(s.running for s in sandbox.status().values())
    finally:
        holder.close()


def _toml_of(cfg) -> str:
    from hotline.cli.config import _toml_value
    lines = []
    for section, values in cfg.data.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"
