"""Every subcommand on a state directory with no database yet (a site's first day, or
``--config`` pointing at a new folder) ends with a one-line message or does its job: never a
traceback. The same on a database whose schema is older than the code."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from db import migrate

#: Each subcommand with arguments it accepts. Left out: those that start services for good
#: (pbx start, demo, callbacks run, run), build the PBX root, or download (stt fetch-model).
COMMANDS: list[list[str]] = [
    ["agent", "login", "1001"], ["agent", "logout", "1001"],
    ["agent", "pause", "1001", "--reason", "lunch"], ["agent", "resume", "1001"],
    ["agent", "list"], ["bridge", "pbx-1.1", "1"], ["calls"],
    ["config", "check"], ["config", "show"], ["config", "defaults"],
    ["db", "current"], ["db", "seed-sample"], ["db", "upgrade"],
    ["directory", "import", "{dir}/entries.csv"], ["directory", "export"],
    ["directory", "search", "gs"], ["directory", "search"],
    ["pbx", "status"], ["pbx", "stop"],
    ["report", "sla", "--from", "2026-01-01", "--to", "2026-01-31", "-o", "{dir}/sla.html"],
    ["report", "rates", "--from", "2026-01-01", "--to", "2026-01-31", "-o", "{dir}/r.html"],
    ["report", "daily", "--date", "2026-01-01", "-o", "{dir}/daily.html"],
    ["sim", "call", "--from", "13800138000"], ["sim", "hangup", "--citizen", "13800138000"],
    ["sim", "agent", "1001"], ["sim", "number", "12345", "--mode", "busy"],
    ["callbacks", "list"], ["callbacks", "promise", "RX20260101-000001", "--in", "60"],
    ["stt", "models"], ["stt", "transcribe", "{dir}/missing.wav"],
    ["stt", "evaluate", "{dir}"],
    ["user", "add", "anna", "--role", "agent", "--agent", "1001", "--password-stdin"],
    ["user", "list"], ["user", "passwd", "anna", "--password-stdin"],
    ["user", "disable", "anna"], ["user", "enable", "anna"],
    ["user", "apikey-add", "wx", "--channel", "wechat"], ["user", "apikey-list"],
    ["user", "apikey-revoke", "wx"],
    ["ticket", "show", "RX20260101-000001", "--as", "admin"],
    ["ticket", "list", "--list", "dispatch", "--as", "admin"],
    ["ticket", "dispatch", "1", "--department", "D01", "--as", "admin"],
    ["calendar", "list", "--exceptions"], ["calendar", "add", "2026-10-09", "--holiday",
                                           "--as", "admin"],
    ["calendar", "remove", "2026-10-09", "--as", "admin"],
    ["department", "list"], ["department", "duty", "D01", "--clear", "--as", "admin"],
    ["grid", "show"], ["grid", "locate", "38.9", "121.6"], ["grid", "worker", "list"],
    ["grid", "addresses", "export"],
]

#: Runs every command in a fork of one interpreter that has imported the command line and what
#: its commands load, migrations and every subcommand's module included (a fresh interpreter
#: per command would take seconds each), two at a time; prints one JSON line per command.
_RUNNER = textwrap.dedent("""
    import gc, io, json, os, sys, tempfile
    from hotline.cli.main import build_parser, main
    import alembic.command, db.migrate, hotline.sample, hotline.cli.database, hotline.cli.reactor
    import hotline.web.accounts, hotline.reports.daily, hotline.reports.render, scheduler.store
    import hotline.directory.service, hotline.stt.models
    db.migrate.head_revision()  # the migration files, read once before the forks
    build_parser()  # the subcommands' modules (the PBX's pull in psycopg), imported once

    def child(argv, out):
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
        r, w = os.pipe()
        os.write(w, b"a-long-enough-password\\n")
        os.close(w)
        os.dup2(r, 0)
        sys.stdin = io.TextIOWrapper(os.fdopen(0, "rb"))
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:
            import traceback
            traceback.print_exc()
            code = 99
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(code or 0))

    gc.freeze()  # the imported modules stay out of the forks' collections
    running = {}

    def reap():
        pid, status = os.wait()
        argv, out = running.pop(pid)
        out.seek(0)
        print(json.dumps({"argv": argv, "status": os.waitstatus_to_exitcode(status),
                          "output": out.read().decode("utf-8", "replace")}), flush=True)

    for argv in json.loads(sys.argv[1]):
        if len(running) >= 2:
            reap()
        out = tempfile.TemporaryFile()
        pid = os.fork()
        if pid == 0:
            child(argv, out)
        running[pid] = (argv, out)
    while running:
        reap()
""")


_CSV = ("name,department_code,department_name,department_kind,number\n"
        "区自来水公司供水热线,water,区自来水公司,utility,96116\n")

#: What a raw database error looks like in output: never shown to a user as is.
_RAW = ("Traceback", "sqlalche.me", "sqlite3.", "psycopg.")


def _run_all(tmp_path: Path, prepare=None) -> list[dict]:
    argvs = []
    for i, command in enumerate(COMMANDS):
        folder = tmp_path / f"c{i}"
        state = folder / "state"
        folder.mkdir()
        (folder / "entries.csv").write_text(_CSV, "utf-8")
        conf = folder / "hotline.toml"
        # Ports nobody listens on: the PBX commands must say it is not running, not hang.
        conf.write_text(f'[site]\nstate_dir = "{state}"\n[pbx]\nami_port = 9\n'
                        "[city]\nami_port = 7\n")
        if prepare is not None:
            prepare(state)
        argvs.append(["--config", str(conf)] + [a.format(dir=folder) for a in command])
    proc = subprocess.run([sys.executable, "-c", _RUNNER, json.dumps(argvs)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def _tracebacks(results: list[dict]) -> list[str]:
    return [f"{' '.join(r['argv'][2:])}: {r['output'][-600:]}" for r in results
            if any(raw in r["output"] for raw in _RAW) or r["status"] == 99]


def test_every_subcommand_on_an_empty_state_directory(tmp_path):
    """No subcommand ends in a traceback on a state directory without a database; a failure
    is one line saying what to do."""
    results = _run_all(tmp_path)
    assert len(results) == len(COMMANDS)
    assert _tracebacks(results) == []
    by_command = {" ".join(r["argv"][2:4]): r for r in results}
    for reading in ("directory export", "callbacks list", "user apikey-list", "db current"):
        assert by_command[reading]["status"] == 0, by_command[reading]["output"]
    for r in results:
        if r["status"] != 0:
            assert r["output"].strip(), f"{' '.join(r['argv'][2:])} failed without a message"


def test_every_subcommand_on_an_old_schema(tmp_path):
    """On a database left at an older schema revision, no subcommand ends in a traceback."""
    template = tmp_path / "old.db"
    migrate.upgrade(f"sqlite:///{template}", "0005")

    def old_schema(state: Path) -> None:
        state.mkdir(parents=True)
        shutil.copyfile(template, state / "hotline.db")

    results = _run_all(tmp_path, old_schema)
    assert _tracebacks(results) == []


