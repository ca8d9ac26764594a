# -*- test-case-name: tests.pbx.test_rootfs -*-
"""The PBX sandbox's Debian sid root file system with Asterisk 22, built once and cached."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RootBuildError", "RootInfo", "build_root", "host_mirror", "root_info", "PACKAGES"]

#: What the sandbox root holds. Changing this list makes `build` rebuild the cached root.
PACKAGES: tuple[str, ...] = (
    "asterisk",
    "asterisk-modules",
    "asterisk-core-sounds-en",
    "espeak-ng",
    "sox",
)

_STAMP = ".hotline-root.json"
_FALLBACK_MIRROR = "http://deb.debian.org/debian"


class RootBuildError(Exception):
    """The root cannot be built; the message says what to do about it."""


@dataclass(frozen=True)
class RootInfo:
    """What a built root holds, as recorded when it was built."""

    path: Path
    suite: str
    mirror: str
    packages: tuple[str, ...]
    asterisk_version: str
    build_seconds: float


def host_mirror(sources_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror named in the host's apt sources, so the sandbox uses the same one."""
    candidates: list[str] = []
    one_line = sources_dir / "sources.list"
    if one_line.exists():
        for line in one_line.read_text(errors="replace").splitlines():
            m = re.match(r"\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
            if m:
                candidates.append(m.group(1))
    parts = sources_dir / "sources.list.d"
    if parts.is_dir():
        for f in sorted(parts.glob("*.sources")):
            for stanza in f.read_text(errors="replace").split("\n\n"):
                fields = dict(
                    (k.strip().lower(), v.strip())
                    for k, _, v in (ln.partition(":") for ln in stanza.splitlines()
                                    if ln and not ln.startswith("#") and ":" in ln)
                )
                if "deb" in fields.get("types", "").split() and fields.get("uris"):
                    candidates.extend(fields["uris"].split())
    for uri in candidates:
        # The security archive is not a full mirror; anything else named .../debian is.
        if "security" not in uri and uri.rstrip("/").endswith("/debian"):
            return uri.rstrip("/")
    return candidates[0].rstrip("/") if candidates else _FALLBACK_MIRROR


def root_info(root: Path) -> RootInfo | None:
    """The stamp of a completely built root, or ``None`` if there is no usable root there."""
    try:
        stamp = json.loads((root / _STAMP).read_text())
    except (OSError, ValueError):
        return None
    if not (root / "usr/sbin/asterisk").exists():
        return None
    return RootInfo(path=root, suite=stamp["suite"], mirror=stamp["mirror"],
                    packages=tuple(stamp["packages"]),
                    asterisk_version=stamp.get("asterisk_version", ""),
                    build_seconds=float(stamp.get("build_seconds", 0.0)))


def build_root(root: Path, *, suite: str = "sid", mirror: str = "",
               packages: tuple[str, ...] = PACKAGES, log=print) -> tuple[RootInfo, bool]:
    """Build the root at ``root`` unless an equal one is cached there.

    Returns the root's info and whether it was built now. The build goes to a sibling
    directory renamed into place at the end, so an interrupted build leaves no half root.
    Raises RootBuildError when not root, when mmdebstrap is missing or when the build fails.
    """
    info = root_info(root)
    if info and set(info.packages) == set(packages) and info.suite == suite:
        return info, False
    if os.geteuid() != 0:
        raise RootBuildError("building the PBX root needs root (mmdebstrap creates device "
                             "nodes and chroots): run it as root, e.g. with sudo")
    mmdebstrap = shutil.which("mmdebstrap")
    if not mmdebstrap:
        raise RootBuildError("mmdebstrap is not installed: run `apt-get install mmdebstrap` "
                             "(or `make deps`) and try again")
    mirror = mirror or host_mirror()
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = root.with_name(root.name + f".building-{os.getpid()}")
    if staging.exists():
        shutil.rmtree(staging)
    cmd = [mmdebstrap, "--variant=apt", "--include=" + ",".join(packages),
           '--aptopt=Acquire::Check-Valid-Until "false"',
           "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*",
           suite, str(staging), mirror]
    log(f"building the PBX root ({suite} from {mirror}) into {root}; this takes about a minute")
    started = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = "\n".join(proc.stdout.splitlines()[-15:])
        raise RootBuildError(f"mmdebstrap failed (exit {proc.returncode}); its last lines:\n"
                             f"{tail}\nCheck the mirror ({mirror}; set pbx.mirror to change it).")
    elapsed = time.monotonic() - started
    # Without the host's names Asterisk cannot resolve its own host name and goes to the
    # root DNS servers during ICE.
    shutil.copyfile("/etc/hosts", staging / "etc/hosts")
    version = subprocess.run(["chroot", str(staging), "asterisk", "-V"], capture_output=True,
                             text=True).stdout.strip()
    (staging / _STAMP).write_text(json.dumps({
        "suite": suite, "mirror": mirror, "packages": list(packages),
        "asterisk_version": version, "build_seconds": round(elapsed, 1),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }, indent=2))
    if root.exists():
        old = root.with_name(root.name + f".old-{os.getpid()}")
        root.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    staging.rename(root)
    info = root_info(root)
    assert info is not None
    return info, True
