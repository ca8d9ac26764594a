"""Tests for L{hotline.config}: defaults, overrides and the explanations of bad files."""

from pathlib import Path

import pytest

from hotline import config


def test_defaults_load_and_validate():
    """The embedded defaults are a valid sandbox configuration."""
    cfg = config.loads("")
    assert cfg["site"]["hotline_number"] == "83658365"
    assert cfg["site"]["mode"] == "sandbox"


def test_broken_toml_is_one_clear_problem():
    """A syntax error is reported with its line and a hint, and nothing else is attempted."""
    with pytest.raises(config.ConfigError) as e:
        config.loads("[ami\nport = 1", source="site.toml")
    assert len(e.value.problems) == 1
    assert "not valid TOML" in e.value.problems[0]
    assert "line 1" in e.value.problems[0]


def test_every_problem_is_listed_at_once():
    """Unknown keys, wrong types and bad values are all reported together."""
    text = '[ami]\nport = "x"\ncolour = 1\n[site]\nmode = "live"\ntimezone = "Mars/Base"\n'
    with pytest.raises(config.ConfigError) as e:
        config.loads(text)
    joined = "\n".join(e.value.problems)
    assert "'ami.port' must be int" in joined
    assert "unknown setting 'ami.colour'" in joined
    assert "'site.mode'" in joined
    assert "'site.timezone'" in joined


def test_port_clash_is_refused():
    """Two sandbox services on one port are refused before anything starts."""
    with pytest.raises(config.ConfigError, match="both 15070"):
        config.loads("[city]\nphones_port = 15070\n")


def test_production_needs_secrets_from_environment(monkeypatch):
    """Production mode refuses to start without the AMI secret in the environment."""
    monkeypatch.delenv("HOTLINE_AMI_SECRET", raising=False)
    text = '[site]\nmode = "production"\n[pbx]\nsandbox = false\n'
    with pytest.raises(config.ConfigError, match="HOTLINE_AMI_SECRET"):
        config.loads(text)
    monkeypatch.setenv("HOTLINE_AMI_SECRET", "s3cret-from-env")
    cfg = config.loads(text)
    assert cfg.secret("ami.secret") == "s3cret-from-env"


def test_relative_sqlite_path_lives_in_state_dir(tmp_path: Path):
    """The embedded database is placed in the state directory next to the site's file."""
    site = tmp_path / "site.toml"
    site.write_text('[site]\nstate_dir = "state"\n')
    cfg = config.load(site)
    assert cfg.database_url == f"sqlite:///{tmp_path / 'state' / 'hotline.db'}"


def test_missing_file_says_what_to_do(tmp_path: Path):
    """A configuration path that does not exist is one clear error."""
    with pytest.raises(config.ConfigError, match="no such file"):
        config.load(tmp_path / "nope.toml")


def _numbers(data, prefix=""):
    for key, value in data.items():
        if isinstance(value, dict):
            if prefix:  # a table of named entries (stt.models): no numbers to range
                continue
            yield from _numbers(value, f"{key}.")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield prefix + key


def test_every_numeric_setting_has_a_range():
    """Each number in the defaults is range-checked, so a new setting cannot slip past check."""
    from hotline.config_checks import CHECKED_BY_OWNER, RANGES

    missing = sorted(set(_numbers(config.loads("").data)) - set(RANGES) - CHECKED_BY_OWNER)
    assert missing == []


@pytest.mark.parametrize("text, expected", [
    ('[scheduler]\nquiet_hours = "25:00-08:00"\n', "'scheduler.quiet_hours' = '25:00-08:00'"),
    ("[scheduler]\nmax_attempts = -3\n", "'scheduler.max_attempts' = -3 must be between 1"),
    ("[scheduler]\nretry_factor = 0.5\n", "'scheduler.retry_factor'"),
    ("[web]\nsession_hours = 0\n", "'web.session_hours' = 0.0 must be between"),
    ('[reports]\ndaily_time = "24:10"\n', "'reports.daily_time' = '24:10' must be a time"),
    ("[stt]\nworkers = 0\n", "'stt.workers' = 0 must be between 1"),
    ('[stt]\nmodel = "fr"\n', "'stt.model' = 'fr' is not one of"),
    ("[queue]\nagents = [\"1001\", \"1001\"]\n", "'queue.agents' lists a seat twice"),
    ("[ami]\nmax_message_bytes = 65536\n", "'ami.max_message_bytes' = 65536 must be between"),
    ("[reports]\nsla_target = 1.5\n", "'reports.sla_target' = 1.5 must be between 0 and 1"),
])
def test_config_check_explains_values_out_of_range(tmp_path: Path, text, expected):
    """`hotline config check` refuses a value out of its range or form, naming the setting."""
    from hotline.cli.main import main

    site = tmp_path / "site.toml"
    site.write_text(text)
    with pytest.raises(config.ConfigError) as e:
        config.load(site)
    assert any(expected in p for p in e.value.problems), e.value.problems
    assert main(["--config", str(site), "config", "check"]) == 2
