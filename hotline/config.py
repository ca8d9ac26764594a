# -*- test-case-name: tests.test_config -*-
"""One TOML file over embedded defaults, plus secrets from the environment."""

from __future__ import annotations

import copy
import ipaddress
import os
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from hotline.config_checks import check_values

__all__ = ["Config", "ConfigError", "load", "DEFAULTS_TEXT", "toml_value"]

DEFAULTS_TEXT: str = resources.files("hotline").joinpath("defaults.toml").read_text("utf-8")

#: Environment variables that carry secrets, by the dotted key they fill.
SECRET_ENV: dict[str, str] = {
    "ami.secret": "HOTLINE_AMI_SECRET",
    "web.session_key": "HOTLINE_SESSION_KEY",
}


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` says why, one line each."""

    def __init__(self, problems: list[str], source: str = "") -> None:
        self.problems = problems
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__("\n".join(where + p for p in problems))


def _defaults() -> dict[str, Any]:
    return tomllib.loads(DEFAULTS_TEXT)


def _merge(base: dict[str, Any], override: Mapping[str, Any], prefix: str,
           problems: list[str]) -> None:
    """Overlay ``override`` on ``base`` in place, refusing unknown keys and wrong types."""
    for key, value in override.items():
        dotted = f"{prefix}{key}"
        if key not in base:
            known = ", ".join(sorted(base))
            problems.append(f"unknown setting '{dotted}' (known here: {known})")
            continue
        current = base[key]
        if isinstance(current, dict):
            if not isinstance(value, dict):
                problems.append(f"'{dotted}' must be a [section], not {type(value).__name__}")
                continue
            _merge(current, value, dotted + ".", problems)
            continue
        expected = type(current)
        ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            problems.append(
                f"'{dotted}' must be {expected.__name__} (like {current!r}), "
                f"got {type(value).__name__} {value!r}"
            )
            continue
        base[key] = value


def _validate(data: dict[str, Any], problems: list[str]) -> None:
    site = data["site"]
    if site["mode"] not in ("sandbox", "production"):
        problems.append(f"'site.mode' must be \"sandbox\" or \"production\", got {site['mode']!r}")
    try:
        zoneinfo.ZoneInfo(site["timezone"])
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        problems.append(f"'site.timezone' {site['timezone']!r} is not a known time zone "
                        "(use an IANA name such as \"Asia/Shanghai\")")
    if not site["hotline_number"].isdigit():
        problems.append(f"'site.hotline_number' must be digits, got {site['hotline_number']!r}")
    for section in ("pbx", "city"):
        lo, hi = data[section]["rtp_start"], data[section]["rtp_end"]
        if not lo < hi:
            problems.append(f"'{section}.rtp_start'..'{section}.rtp_end' ({lo}..{hi}) "
                            "must be an increasing range within 1024-65535")
    pbx, city = data["pbx"], data["city"]
    if data["pbx"]["sandbox"]:
        ports = {"pbx.sip_port": pbx["sip_port"], "pbx.ami_port": pbx["ami_port"],
                 "pbx.http_port": pbx["http_port"], "city.sip_port": city["sip_port"],
                 "city.phones_port": city["phones_port"], "city.ami_port": city["ami_port"],
                 "agi.port": data["agi"]["port"]}
        seen: dict[int, str] = {}
        for name, port in ports.items():
            if port in seen:
                problems.append(f"'{name}' and '{seen[port]}' are both {port}: give each its own")
            seen[port] = name
        if not (pbx["rtp_end"] < city["rtp_start"] or city["rtp_end"] < pbx["rtp_start"]):
            problems.append("'pbx.rtp_*' and 'city.rtp_*' overlap: the two instances need "
                            "separate RTP ranges")
    for entry in data["agi"]["allow"]:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            problems.append(f"'agi.allow' entry {entry!r} is not an address or network")
    try:
        bind = ipaddress.ip_address(data["agi"]["bind"])
    except ValueError:
        problems.append(f"'agi.bind' {data['agi']['bind']!r} is not an IP address")
    else:
        if not bind.is_loopback and site["mode"] == "production" and not data["agi"]["allow"]:
            problems.append("'agi.bind' is not loopback and 'agi.allow' is empty: list the PBX "
                            "hosts allowed to reach FastAGI")
    check_values(data, problems)
    _validate_tickets(data["tickets"], problems)
    _validate_cluster(data, problems)
    grid = data["grid"]
    for key in ("photo_max_bytes", "photo_max_px", "photos_per_report", "map_max_bytes"):
        if grid[key] < 1:
            problems.append(f"'grid.{key}' must be at least 1")
    if site["mode"] == "production":
        for dotted, env in SECRET_ENV.items():
            if dotted.startswith("ami.") and not os.environ.get(env):
                problems.append(f"production mode needs the secret '{dotted}': set {env}")
        if data["pbx"]["sandbox"]:
            problems.append("production mode cannot use the PBX sandbox: set 'pbx.sandbox = "
                            "false' and point [ami] at the site's Asterisk")


def _validate_tickets(tickets: dict[str, Any], problems: list[str]) -> None:
    check_ticket_settings(tickets, problems)
    if tickets["follow_up"] not in ("survey", "agent"):
        problems.append(f"'tickets.follow_up' must be \"survey\" or \"agent\", got "
                        f"{tickets['follow_up']!r}")


def check_ticket_settings(settings: Mapping[str, Any], problems: list[str]) -> None:
    """Append one line per ``[tickets]`` setting that makes no sense (``hotline config check``,
    and the deadline rules when they are built)."""
    for table in ("deadline_days", "reopen_days"):
        for kind, days in settings[table].items():
            if not isinstance(days, int | float) or isinstance(days, bool) or days <= 0:
                problems.append(f"'tickets.{table}.{kind}' must be a positive number of "
                                f"working days, got {days!r}")
    for kind, days in settings["reopen_days"].items():
        first = settings["deadline_days"].get(kind)
        if isinstance(first, int | float) and isinstance(days, int | float) and days > first:
            problems.append(f"'tickets.reopen_days.{kind}' ({days}) must not be longer than "
                            f"'tickets.deadline_days.{kind}' ({first}): a reopened ticket gets "
                            "a shorter deadline")
    if not 0 < settings["warn_fraction"] < 1:
        problems.append("'tickets.warn_fraction' must be between 0 and 1 (0.75 = yellow at 75 % "
                        "of the time used)")
    if settings["first_contact_hours"] <= 0:
        problems.append("'tickets.first_contact_hours' must be positive")
    if settings["dispatch_days"] <= 0:
        problems.append("'tickets.dispatch_days' must be positive")


def _validate_cluster(data: dict[str, Any], problems: list[str]) -> None:
    """[cluster]: a node count the addresses cover, this node among them, a node per seat."""
    cluster = data["cluster"]
    # cluster.edge_port is range-checked with every other number (hotline.config_checks).
    for dotted in ("pbx.address", "cluster.edge_address"):
        section, key = dotted.split(".")
        try:
            ipaddress.ip_address(data[section][key])
        except ValueError:
            problems.append(f"'{dotted}' {data[section][key]!r} is not an IP address")
    for entry in cluster["addresses"]:
        try:
            ipaddress.ip_address(entry)
        except ValueError:
            problems.append(f"'cluster.addresses' entry {entry!r} is not an IP address")
    count = cluster["nodes"]
    if not 1 <= count <= len(cluster["addresses"]):
        problems.append(f"'cluster.nodes' = {count}: it must be from 1 to the number of "
                        f"'cluster.addresses' ({len(cluster['addresses'])})")
        return
    if not 1 <= cluster["node"] <= count:
        problems.append(f"'cluster.node' = {cluster['node']} is not one of the {count} nodes")
    seats, agents = cluster["seats"], data["queue"]["agents"]
    if seats and (len(seats) != len(agents)
                  or any(not isinstance(n, int) or not 1 <= n <= count for n in seats)):
        problems.append(f"'cluster.seats' must give a node (1-{count}) for each of the "
                        f"{len(agents)} queue.agents, in order; got {seats!r}")
    if count > 1 and cluster["probe_interval_s"] < 1:
        problems.append("'cluster.probe_interval_s' must be at least 1")


@dataclass(frozen=True)
class Config:
    """A validated configuration. Sections are read as ``config["ami"]["port"]``."""

    data: dict[str, Any]
    source: str
    base_dir: Path

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.data[section]

    def __contains__(self, section: object) -> bool:
        return section in self.data

    @property
    def state_dir(self) -> Path:
        """Where the embedded database, logs and sandbox run files live."""
        return (self.base_dir / self.data["site"]["state_dir"]).resolve()

    @property
    def sandbox_run_dir(self) -> Path:
        return (self.state_dir / self.data["pbx"]["run_dir"]).resolve()

    @property
    def pbx_root(self) -> Path:
        """The cached Debian root with Asterisk, kept outside the checkout."""
        if self.data["pbx"]["root"]:
            return Path(self.data["pbx"]["root"]).expanduser().resolve()
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(cache) / "hotline" / "pbx-root"

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL, with a relative SQLite path placed in the state directory."""
        url = os.environ.get("HOTLINE_DATABASE_URL") or self.data["database"]["url"]
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix:
            path = url[len(prefix):]
            if path != ":memory:":
                return prefix + str(self.state_dir / path)
        return url

    def secret(self, dotted: str) -> str | None:
        """A secret from the environment, or ``None`` when the environment has none."""
        return os.environ.get(SECRET_ENV[dotted]) or None

    def to_toml(self) -> str:
        """The configuration as a site file (every section, tables of named entries left to
        the defaults): what a command started in another process reads back as this one."""
        lines = []
        for section, values in self.data.items():
            lines.append(f"[{section}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in values.items()
                      if not isinstance(v, dict)]
        return "\n".join(lines) + "\n"

    def with_overrides(self, overrides: Mapping[str, Any]) -> Config:
        """A copy with some settings replaced (tests, the sandbox); validated like a file."""
        data = copy.deepcopy(self.data)
        problems: list[str] = []
        _merge(data, overrides, "", problems)
        _validate(data, problems)
        if problems:
            raise ConfigError(problems, "overrides")
        return Config(data=data, source=self.source, base_dir=self.base_dir)


def loads(text: str, *, source: str = "<string>", base_dir: Path | None = None) -> Config:
    """Parse ``text`` over the defaults. Raises ConfigError listing every problem found."""
    try:
        user = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"not valid TOML: {e} (fix the syntax; see hotline/defaults.toml "
                           "for the layout)"], source) from None
    data = _defaults()
    problems: list[str] = []
    _merge(data, user, "", problems)
    _validate(data, problems)
    if problems:
        raise ConfigError(problems, source)
    return Config(data=data, source=source, base_dir=base_dir or Path.cwd())


def load(path: str | os.PathLike[str] | None = None) -> Config:
    """Load the site's file (argument, else HOTLINE_CONFIG) over the defaults; no file = defaults."""
    chosen = path or os.environ.get("HOTLINE_CONFIG")
    if not chosen:
        return loads("", source="defaults")
    p = Path(chosen)
    try:
        text = p.read_text("utf-8")
    except FileNotFoundError:
        raise ConfigError(["no such file (create it, or unset HOTLINE_CONFIG)"], str(p)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError([f"cannot read it: {e}"], str(p)) from None
    return loads(text, source=str(p), base_dir=p.resolve().parent)


def toml_value(value: Any) -> str:
    """A setting's value as TOML writes it (strings quoted, lists and tables inline)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # a nested table (e.g. models by name) as an inline table
        return "{ " + ", ".join(f"{toml_value(str(k))} = {toml_value(v)}"
                                for k, v in value.items()) + " }"
    return str(value)
