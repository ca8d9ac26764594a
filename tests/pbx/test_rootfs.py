"""Unit tests for the sandbox root's build guard rails and mirror discovery.

These use fakes for conditions a real machine cannot produce on demand (not being root, no
mmdebstrap); the real build is exercised by every test run through `make test`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hotline.pbx import rootfs


def _fake_root(path: Path, packages=rootfs.PACKAGES, suite="sid") -> None:
    (path / "usr/sbin").mkdir(parents=True)
    (path / "usr/sbin/asterisk").write_text("")
    (path / ".hotline-root.json").write_text(json.dumps(
        {"suite": suite, "mirror": "http://m/debian", "packages": list(packages),
         "asterisk_version": "Asterisk 22.10.1", "build_seconds": 40.0}))


def test_mirror_from_deb822_sources(tmp_path: Path):
    """The mirror is read from a deb822 .sources file, skipping the security archive."""
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d/debian.sources").write_text(
        "Types: deb\n# comment\nURIs: http://mirror.example/debian-security\n"
        "Suites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n")
    assert rootfs.host_mirror(tmp_path) == "http://mirror.example/debian"


def test_mirror_from_one_line_sources(tmp_path: Path):
    """A classic sources.list line with options is understood."""
    (tmp_path / "sources.list").write_text(
        "deb [signed-by=/k.gpg] http://ftp.example/debian bookworm main\n")
    assert rootfs.host_mirror(tmp_path) == "http://ftp.example/debian"


def test_mirror_falls_back_to_debian(tmp_path: Path):
    """With no sources at all the official mirror name is used."""
    assert rootfs.host_mirror(tmp_path) == "http://deb.debian.org/debian"


def test_cached_root_is_reused_without_root_or_mmdebstrap(tmp_path: Path, monkeypatch):
    """A complete root with the same package list is reused; nothing is built."""
    _fake_root(tmp_path / "root")
    monkeypatch.setattr(rootfs.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(rootfs.shutil, "which", lambda _name: None)
    info, built = rootfs.build_root(tmp_path / "root")
    assert not built
    assert info.asterisk_version == "Asterisk 22.10.1"


def test_not_root_is_a_clear_error(tmp_path: Path, monkeypatch):
    """Building as an ordinary user says to run as root, and creates nothing."""
    monkeypatch.setattr(rootfs.os, "geteuid", lambda: 1000)
    with pytest.raises(rootfs.RootBuildError, match="needs root"):
        rootfs.build_root(tmp_path / "root")
    assert list(tmp_path.iterdir()) == []


def test_missing_mmdebstrap_is_a_clear_error(tmp_path: Path, monkeypatch):
    """Without mmdebstrap the error names the package to install, and creates nothing."""
    monkeypatch.setattr(rootfs.os, "geteuid", lambda: 0)
    monkeypatch.setattr(rootfs.shutil, "which", lambda _name: None)
    with pytest.raises(rootfs.RootBuildError, match="apt-get install mmdebstrap"):
        rootfs.build_root(tmp_path / "root")
    assert list(tmp_path.iterdir()) == []


def test_changed_package_list_means_rebuild(tmp_path: Path, monkeypatch):
    """A cached root built with other packages is not taken for the wanted one."""
    _fake_root(tmp_path / "root", packages=("asterisk",))
    monkeypatch.setattr(rootfs.os, "geteuid", lambda: 1000)
    with pytest.raises(rootfs.RootBuildError, match="needs root"):
        rootfs.build_root(tmp_path / "root")


def test_cli_reports_missing_mmdebstrap_in_one_line(tmp_path: Path, monkeypatch, capsys):
    """`hotline pbx build` turns the build error into one line on stderr and exit status 1."""
    from hotline.cli import main as cli
    monkeypatch.setattr(rootfs.os, "geteuid", lambda: 0)
    monkeypatch.setattr(rootfs.shutil, "which", lambda _name: None)
    site = tmp_path / "site.toml"
    site.write_text(f'[pbx]\nroot = "{tmp_path / "root"}"\n')
    assert cli.main(["--config", str(site), "pbx", "build"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "mmdebstrap is not installed" in err[0]


def test_broken_toml_stops_pbx_start_in_one_line(tmp_path: Path, capsys):
    """A broken configuration file is one line on stderr and nothing is started."""
    from hotline.cli import main as cli
    site = tmp_path / "site.toml"
    site.write_text("[pbx\nsip_port = 1\n")
    assert cli.main(["--config", str(site), "pbx", "start"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not valid TOML" in err[0] and "line 1" in err[0]
    assert not (tmp_path / "var").exists()
