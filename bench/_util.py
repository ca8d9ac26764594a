"""Small helpers shared by benchmarks: peer virtualenvs, peer subprocesses, tables, the JSON line."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

__all__ = [
    "BENCH_DIR", "median", "peer_python", "print_json_line", "print_table", "run_peer", "spread",
]

BENCH_DIR = Path(__file__).resolve().parent


def peer_python(name: str, requirements: list[str]) -> tuple[Path | None, str]:
    """
    The interpreter of peer C{name}'s own venv (bench/.venvs/NAME), created on first use.

    Each peer gets its own venv because pyst2, pyst and asterisk-ami all install a top-level
    C{asterisk} package and overwrite each other.

    @return: (python path, "") or (None, why it could not be made).
    """
    home = BENCH_DIR / ".venvs" / name
    python = home / "bin" / "python"
    marker = home / ".installed"
    if marker.exists() and marker.read_text() == "\n".join(requirements):
        return python, ""
    try:
        if not python.exists():
            venv.EnvBuilder(with_pip=True, clear=True).create(home)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *requirements],
            check=True, capture_output=True, text=True, timeout=600,
        )
    except (OSError, subprocess.SubprocessError) as e:
        detail = getattr(e, "stderr", "") or str(e)
        return None, f"venv/pip failed: {detail.strip().splitlines()[-1:] or e}"
    marker.write_text("\n".join(requirements))
    return python, ""


def run_peer(python: Path | str, script: Path, args: list[str], timeout: float) -> dict:
    """Run one peer script; its last stdout line is a JSON object (or we report why not)."""
    try:
        done = subprocess.run(
            [str(python), str(script), *args],
            capture_output=True, text=True, timeout=timeout, cwd=BENCH_DIR.parent,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"no result within {timeout:.0f}s (killed)"}
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {tail[:160]}"}


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    """Print rows under headers as an aligned text table."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


def print_json_line(obj: dict) -> None:
    """The machine-readable result: one JSON object, the last line printed."""
    sys.stdout.flush()
    print(json.dumps(obj, sort_keys=True), flush=True)


def median(values: list[float]) -> float | None:
    """The median of repeated runs, or None when no run gave a figure."""
    return statistics.median(values) if values else None


def spread(values: list[float], spec: str = ",.0f") -> str:
    """C{min-max} of repeated runs as text (C{-} when none), to print beside the median."""
    if not values:
        return "-"
    if len(values) == 1:
        return format(values[0], spec)
    return f"{format(min(values), spec)}-{format(max(values), spec)}"


def remove_sandbox_state(sandbox: Any, state: Path) -> None:
    """Remove a benchmark's PBX sandbox directory once the sandbox is stopped (a few hundred
    MB each run); kept, with a note, if any of its mounts is still there."""
    left = sandbox.mounts()
    if left:
        print(f"kept {state}: still mounted {left}", file=sys.stderr)
        return
    shutil.rmtree(state, ignore_errors=True)
