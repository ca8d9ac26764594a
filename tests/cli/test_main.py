"""The ``hotline`` command's entry point: its command groups, and how it reports failures."""

from __future__ import annotations

import pytest

from hotline.cli import main as cli_main


def test_every_command_group_is_reachable_from_the_top_level_help(capsys):
    """`hotline --help` lists each command group the package registers."""
    with pytest.raises(SystemExit) as exited:
        cli_main.main(["--help"])
    assert exited.value.code == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines()
              if line.startswith("    ") and not line.startswith("     ")}
    expected = {{"sched": "callbacks"}.get(name, name) for name in cli_main.COMMAND_MODULES}
    assert expected | {"demo"} == listed


def test_a_broken_configuration_is_explained_line_by_line_with_status_2(tmp_path, capsys):
    """Every problem of the file is one line on stderr, and nothing runs (exit status 2)."""
    site = tmp_path / "site.toml"
    site.write_text('[site]\nmode = "cloud"\nhotline_number = "83-65"\n')
    assert cli_main.main(["--config", str(site), "callbacks", "list"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) >= 2 and all(line.startswith("hotline: configuration: ") for line in err)
    assert any("site.mode" in line for line in err)
    assert any("site.hotline_number" in line for line in err)


def test_a_command_error_is_one_line_and_status_1(monkeypatch, capsys):
    """A command that cannot do what was asked says why in one line and exits 1."""
    def refuse(args, cfg):
        raise cli_main.CommandError("the sandbox is not running: run `hotline pbx start`")
    parser = cli_main.build_parser()
    real_parse = parser.parse_args

    def parse(argv):
        args = real_parse(argv)
        args.func = refuse
        return args
    monkeypatch.setattr(cli_main, "build_parser", lambda: type(
        "P", (), {"parse_args": staticmethod(parse)})())
    assert cli_main.main(["config", "defaults"]) == 1
    assert capsys.readouterr().err == \
        "hotline: the sandbox is not running: run `hotline pbx start`\n"
