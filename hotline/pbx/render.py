# -*- test-case-name: tests.pbx.test_sandbox -*-
"""Render asterisk-config/ and dialplan/ for the two sandbox instances."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from hotline.private import write_private

__all__ = ["InstanceDirs", "render_instance", "repo_file", "environment", "CHROOT_BASE"]

#: Where the sandbox's run directory appears inside the root (a bind mount of RUN/var).
CHROOT_BASE = "/srv/hotline"


def repo_file(*parts: str) -> Path:
    """A file shipped beside the package (asterisk-config/, dialplan/), found from the source tree."""
    here = Path(__file__).resolve().parents[2]
    return here.joinpath(*parts)


@dataclass(frozen=True)
class InstanceDirs:
    """One instance's directories, as seen from inside the root."""

    instance: str

    def _p(self, *parts: str) -> str:
        return "/".join((CHROOT_BASE, self.instance, *parts))

    @property
    def etc(self) -> str:
        return self._p("etc")

    @property
    def lib(self) -> str:
        return self._p("lib")

    @property
    def spool(self) -> str:
        return self._p("spool")

    @property
    def run(self) -> str:
        return self._p("run")

    @property
    def log(self) -> str:
        return self._p("log")

    @property
    def cache(self) -> str:
        return self._p("cache")

    @property
    def recordings(self) -> str:
        return self._p("recordings")

    @property
    def sounds(self) -> str:
        return f"{CHROOT_BASE}/sounds"

    @property
    def conf(self) -> str:
        return self._p("etc", "asterisk.conf")

    def host(self, var_dir: Path, inside: str) -> Path:
        """The host path of a path inside the root."""
        return var_dir / inside[len(CHROOT_BASE) + 1:]

    def all(self) -> list[str]:
        return [self.etc, self.lib, self.spool, self.run, self.log, self.cache, self.recordings]


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(repo_file("asterisk-config")), str(repo_file())]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render_instance(instance: str, var_dir: Path, context: dict[str, Any], *,
                    kind: str | None = None) -> list[Path]:
    """Write one instance's configuration under ``var_dir``; returns the files written.

    The templates of the instance's kind (``asterisk-config/<kind>/``, ``kind`` defaulting to
    the instance's name: ``pbx2``, a cluster's second hotline PBX, is of kind ``pbx``) win
    over the common ones; a hotline PBX also gets every ``dialplan/*.conf.j2``. A template that names a value the
    context lacks fails here, at start, rather than as a silent empty string in Asterisk.
    """
    env = environment()
    dirs = InstanceDirs(instance)
    for inside in dirs.all():
        dirs.host(var_dir, inside).mkdir(parents=True, exist_ok=True)
    dirs.host(var_dir, dirs.lib + "/keys").mkdir(exist_ok=True)
    etc = dirs.host(var_dir, dirs.etc)
    # Start from a clean etc so a template removed from the repository leaves no stale file.
    shutil.rmtree(etc)
    etc.mkdir()
    ctx = dict(context, instance=instance, dirs=dirs)
    written: list[Path] = []
    names: dict[str, str] = {}
    kind = kind or instance
    for folder in ("common", kind):
        for tpl in sorted(repo_file("asterisk-config", folder).glob("*.j2")):
            names[tpl.name[:-3]] = f"{folder}/{tpl.name}"
    for target, template in sorted(names.items()):
        out = etc / target
        write_private(out, env.get_template(template).render(ctx))  # secrets: 0600 at once
        written.append(out)
    if kind == "pbx":
        (etc / "dialplan").mkdir()
        for tpl in sorted(repo_file("dialplan").glob("*.conf.j2")):
            out = etc / "dialplan" / tpl.name[:-3]
            write_private(out, env.get_template(f"dialplan/{tpl.name}").render(ctx))
            written.append(out)
    return written
