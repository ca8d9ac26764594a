# -*- test-case-name: tests.test_config -*-
"""What each setting may be, beyond its type: ranges, forms and windows, for every section.

``hotline.config`` checks types against the defaults; this module checks values, so that
``hotline config check`` explains ``quiet_hours = "25:00-08:00"`` or ``max_attempts = -3``
before anything starts. Quiet hours are read by the parser the scheduler uses
(``hotline.daytime``), never a second copy of the rule.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from hotline.daytime import BadTime, daily_window

__all__ = ["check_values", "RANGES", "CHECKED_BY_OWNER"]

_MIB = 1024 * 1024

#: Numeric settings and their inclusive bounds (None: unbounded on that side). Every number in
#: the defaults is listed: a test holds the table to that.
RANGES: dict[str, tuple[float | None, float | None]] = {
    "database.threads": (1, 256),
    "ami.port": (1, 65535), "ami.keepalive_s": (1, 3600), "ami.action_timeout_s": (0.1, 600),
    "ami.max_message_bytes": (_MIB, 256 * _MIB),
    "agi.port": (1, 65535), "agi.script_timeout_s": (0.1, 60),
    "pbx.sip_port": (1, 65535), "pbx.ami_port": (1, 65535), "pbx.http_port": (1, 65535),
    "pbx.rtp_start": (1024, 65535), "pbx.rtp_end": (1024, 65535),
    "city.sip_port": (1, 65535), "city.phones_port": (1, 65535), "city.ami_port": (1, 65535),
    "city.rtp_start": (1024, 65535), "city.rtp_end": (1024, 65535),
    "queue.ring_timeout_s": (1, 600), "queue.max_length": (0, 100_000),
    "queue.max_wait_s": (0, 86400), "queue.overflow_callback_in_s": (0, 86400 * 7),
    "status_line.menu_wait_s": (0.1, 30), "status_line.digit_timeout_s": (1, 60),
    "status_line.tries": (1, 10), "status_line.script_timeout_s": (10, 3600),
    "calls.reconcile_interval_s": (1, 86400), "calls.min_free_disk_mb": (0, 10_000_000),
    "calls.disk_check_s": (1, 3600), "stt.skip_abandoned_under_s": (0, 86400),
    "stt.workers": (1, 64), "stt.retries": (1, 100), "stt.retry_delay_s": (0, 86400),
    "stt.chunk_frames": (100, 1_000_000), "stt.lease_s": (10, 86400 * 7),
    "stt.poll_s": (0.1, 3600),
    "scheduler.sync_interval_s": (0.1, 3600), "scheduler.horizon_s": (1, 86400 * 7),
    "scheduler.late_tolerance_s": (0, 86400), "scheduler.sla_grace_s": (0, 86400 * 7),
    "scheduler.max_attempts": (1, 100), "scheduler.retry_initial_s": (1, 86400 * 7),
    "scheduler.retry_factor": (1, 100), "scheduler.retry_max_s": (1, 86400 * 7),
    "scheduler.agent_retry_s": (1, 86400), "scheduler.handover_after_s": (0, 86400 * 7),
    "scheduler.remind_department_before_s": (0, 86400 * 30),
    "scheduler.remind_agent_before_s": (0, 86400 * 30),
    "scheduler.escalate_before_s": (0, 86400 * 30),
    "scheduler.agent_ring_s": (1, 600), "scheduler.citizen_ring_s": (1, 600),
    "scheduler.max_talk_s": (1, 86400), "scheduler.min_talk_s": (0, 600),
    "scheduler.agent_wait_s": (0.1, 3600), "scheduler.max_concurrent": (1, 1000),
    "scheduler.survey_delay_s": (0, 86400 * 30), "scheduler.survey_retry_s": (1, 86400 * 30),
    "scheduler.survey_ring_s": (1, 600), "scheduler.reminder_ring_s": (1, 600),
    "scheduler.reminder_max_attempts": (1, 100), "scheduler.reminder_retry_s": (1, 86400 * 7),
    "scheduler.leader_lock_key": (-(2**63), 2**63 - 1), "scheduler.leader_poll_s": (0.1, 600),
    "web.port": (0, 65535), "web.session_hours": (0.05, 24 * 90),
    "web.login_attempts": (1, 1000), "web.login_window_s": (1, 86400),
    "web.session_check_s": (0.5, 3600), "web.max_streams_per_user": (1, 100),
    "web.status_address_attempts": (1, 100_000),
    "web.status_address_window_s": (1, 86400 * 7),
    "web.login_delay_s": (0, 3600), "web.login_max_delay_s": (0, 86400),
    "web.hash_threads": (1, 32), "web.max_body_bytes": (1024, 64 * _MIB),
    "web.max_connections": (10, 100_000), "web.max_connections_per_address": (2, 100_000),
    "reports.service_level_s": (1, 3600), "reports.wallboard_interval_s": (0.5, 3600),
    "reports.calls_per_agent_hour": (0.1, 1000), "reports.satisfied_min_score": (1, 5),
    "reports.sla_target": (0, 1), "reports.smtp_port": (1, 65535),
    "reports.pressure_calls_waiting": (0, 10_000), "reports.pressure_service_level": (0, 1),
    "reports.pressure_agents_free": (0, 10_000), "reports.pressure_step_min": (5, 60),
    "indices.refresh_s": (0, 86400),
    "softphone.register_expires_s": (30, 3600), "softphone.qualify_s": (1, 600),
    "bridge.ring_timeout_s": (1, 600), "bridge.action_timeout_s": (0.5, 120),
    "cluster.nodes": (1, 64), "cluster.node": (1, 64), "cluster.edge_port": (1, 65535),
    "cluster.probe_interval_s": (0.1, 3600), "cluster.reply_timeout_ms": (10, 600_000),
    "grid.photo_max_bytes": (1, 256 * _MIB), "grid.photo_max_px": (1, 20_000),
    "grid.photos_per_report": (1, 100), "grid.map_max_bytes": (1, 1024 * _MIB),
    "tickets.attachment_max_bytes": (1, 1024 * _MIB), "tickets.reopen_max_score": (1, 4),
    "tickets.duplicate_days": (0.01, 365), "tickets.duplicate_limit": (1, 50),
    "queue.wrapup_s": (0, 3600), "queue.wrapup_guard_s": (0, 60),
    "queue.keep_place_after_s": (0, 86400), "queue.keep_place_ring_s": (1, 600),
    "queue.keep_place_handover_s": (1, 120),
    "captions.port": (0, 65535), "captions.workers": (1, 64), "captions.chunk_ms": (20, 10_000),
    "captions.shed_after_s": (0, 3600),
}

#: Numeric settings checked by a rule that needs more than a range
#: (hotline.config.check_ticket_settings, which the ticket clock also applies): not ranged twice.
CHECKED_BY_OWNER = frozenset({"tickets.warn_fraction", "tickets.dispatch_days",
                              "tickets.first_contact_hours"})

#: Text settings that must not be empty.
_REQUIRED_TEXT = ("database.url", "ami.host", "ami.username", "pbx.suite", "pbx.run_dir",
                  "queue.name", "stt.model", "stt.call_language", "stt.model_dir",
                  "scheduler.supervisor", "scheduler.trunk", "bridge.trunk", "site.name",
                  "site.state_dir")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _get(data: dict[str, Any], dotted: str) -> Any:
    section, key = dotted.split(".")
    return data[section][key]


def _bound(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def check_values(data: dict[str, Any], problems: list[str]) -> None:
    """Append one line per value out of its range or form; ``data`` is already typed."""
    for dotted, (lo, hi) in RANGES.items():
        value = _get(data, dotted)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            if hi is None:
                want = f"at least {_bound(lo)}"
            elif lo is None:
                want = f"at most {_bound(hi)}"
            else:
                want = f"between {_bound(lo)} and {_bound(hi)}"
            problems.append(f"'{dotted}' = {value!r} must be {want}")
    for dotted in _REQUIRED_TEXT:
        if not str(_get(data, dotted)).strip():
            problems.append(f"'{dotted}' must not be empty")
    _check_queue(data["queue"], problems)
    _check_stt(data["stt"], problems)
    _check_scheduler(data, problems)
    _check_web(data["web"], problems)
    reports = data["reports"]
    if reports["pressure_step_min"] not in (5, 10, 15, 20, 30, 60):
        problems.append(f"'reports.pressure_step_min' = {reports['pressure_step_min']!r} must "
                        "be 5, 10, 15, 20, 30 or 60 (minutes dividing an hour)")
    if not _HHMM.match(reports["daily_time"]):
        problems.append(f"'reports.daily_time' = {reports['daily_time']!r} must be a time of "
                        "day HH:MM (00:00-23:59), e.g. \"07:30\"")


def _check_queue(queue: dict[str, Any], problems: list[str]) -> None:
    if queue["overflow"] not in ("callback", "message"):
        problems.append(f"'queue.overflow' = {queue['overflow']!r} must be \"callback\" or "
                        "\"message\"")
    if not _NAME.match(queue["name"]):
        problems.append(f"'queue.name' = {queue['name']!r}: letters, digits, _ and - only")
    agents = queue["agents"]
    bad = [a for a in agents if not (isinstance(a, str) and a.isdigit() and len(a) <= 10)]
    if bad:
        problems.append(f"'queue.agents' entries must be seat codes of digits, got {bad!r}")
    elif len(set(agents)) != len(agents):
        problems.append("'queue.agents' lists a seat twice")


def _check_stt(stt: dict[str, Any], problems: list[str]) -> None:
    models = stt["models"]
    if stt["model"] and stt["model"] not in models:
        problems.append(f"'stt.model' = {stt['model']!r} is not one of [stt.models.*] "
                        f"({', '.join(sorted(models))})")
    for name, model in models.items():
        if not isinstance(model, dict):
            problems.append(f"'stt.models.{name}' must be a [section]")
            continue
        for key in ("path", "language", "url", "sha256"):
            if not isinstance(model.get(key, ""), str):
                problems.append(f"'stt.models.{name}.{key}' must be a string")


def _check_scheduler(data: dict[str, Any], problems: list[str]) -> None:
    s = data["scheduler"]
    try:
        daily_window(s["quiet_hours"], "quiet hours")
    except BadTime as e:
        problems.append(f"'scheduler.quiet_hours' = {s['quiet_hours']!r}: {e}")
    if s["retry_max_s"] < s["retry_initial_s"]:
        problems.append(f"'scheduler.retry_max_s' ({s['retry_max_s']:g}) is shorter than "
                        f"'scheduler.retry_initial_s' ({s['retry_initial_s']:g})")


def _check_web(web: dict[str, Any], problems: list[str]) -> None:
    try:
        ipaddress.ip_address(web["bind"])
    except ValueError:
        problems.append(f"'web.bind' = {web['bind']!r} is not an IP address")
    for entry in web["trusted_proxies"]:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            problems.append(f"'web.trusted_proxies' entry {entry!r} is not an address or "
                            "network")

