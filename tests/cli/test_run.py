"""Tests for L{hotline.cli.run}: the command lines of the demo and of the controller."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from hotline.cli.main import build_parser


def test_demo_loads_history_unless_told_not_to() -> None:
    """``hotline demo`` loads the SAMPLE history by default and ``--no-history`` turns it off."""
    parser = build_parser()
    assert parser.parse_args(["demo"]).history is True
    assert parser.parse_args(["demo", "--no-history"]).history is False


def test_run_with_its_port_taken_says_so_and_exits(tmp_path) -> None:
    """``hotline run`` whose FastAGI port is held by another program ends with a one-line
    error and exit status 1, its database threads stopped with it (a start that failed
    part-way used to leave the process waiting on them for ever)."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    conf = tmp_path / "hotline.toml"
    conf.write_text(f'[site]\nstate_dir = "{tmp_path / "state"}"\n'
                    f"[agi]\nport = {port}\n[pbx]\nami_port = 9\n")
    try:
        proc = subprocess.run([sys.executable, "-m", "hotline", "--config", str(conf), "run"],
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, "HOTLINE_AMI_SECRET": "not-used"})
    finally:
        holder.close()
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"hotline: cannot listen on 127.0.0.1:{port} ([Errno 98] Address already in use); "
        "stop what holds it or set another port in the configuration")
