"""Tests for L{hotline.cli.report}: the report commands over a seeded database."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from hotline.cli.main import main
from tests.reports.seed import SLA_BY_DEPARTMENT, SLA_TOTALS, seed_rates, seed_sla


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return db_url


def _csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text("utf-8-sig"))))


def test_sla_csv_by_department(env: str, session: Session, tmp_path: Path) -> None:
    """``hotline report sla --format csv`` writes one row per department and a total row with
    the seeded counts."""
    seed_sla(session)
    out = tmp_path / "sla.csv"
    assert main(["report", "sla", "--from", "2026-11-02", "--to", "2026-11-08",
                 "--by", "department", "--format", "csv", "-o", str(out)]) == 0
    rows = _csv(out)
    by_code = {r["department"]: r for r in rows if r["label"] != "total"}
    for code, counts in SLA_BY_DEPARTMENT.items():
        assert {k: int(by_code[code][k]) for k in counts} == counts
    total = next(r for r in rows if r["label"] == "total")
    assert {k: int(total[k]) for k in SLA_TOTALS} == SLA_TOTALS


def test_sla_html_and_ticket_list(env: str, session: Session, tmp_path: Path) -> None:
    """The HTML report filtered to a department lists its late callbacks, escaped."""
    seed_sla(session)
    out = tmp_path / "sla.html"
    assert main(["report", "sla", "--from", "2026-11-02", "--to", "2026-11-08",
                 "--department", "D3", "--tickets", "late", "-o", str(out)]) == 0
    html = out.read_text("utf-8")
    assert html.startswith("<!doctype html>")
    assert "承办部门 = D3" in html
    assert html.count("<tr data-ticket=") == 13
    assert '住建 &lt;b&gt;&amp;&#34;局' in html and '住建 <b>' not in html


def test_rates_csv(env: str, session: Session, tmp_path: Path) -> None:
    """``hotline report rates --format csv`` has a row per department and the total."""
    seed_rates(session)
    out = tmp_path / "rates.csv"
    assert main(["report", "rates", "--from", "2026-11-02", "--to", "2026-11-08",
                 "--format", "csv", "-o", str(out)]) == 0
    rows = _csv(out)
    assert [r["department"] for r in rows] == ["D1", "D2", "D3", ""]
    assert rows[-1]["name"] == "total" and int(rows[-1]["dispatched"]) == 62


@pytest.mark.parametrize("argv, message", [
    (["report", "sla", "--from", "2026-13-01", "--to", "2026-11-08"], "is not a date"),
    (["report", "sla", "--from", "2026-11-08", "--to", "2026-11-01"], "before it starts"),
    (["report", "sla", "--from", "2026-11-01", "--to", "2026-11-08", "--department", "X"],
     "no department with code 'X'"),
    (["report", "daily", "--date", "yesterday"], "is not a date"),
])
def test_bad_input_is_one_clear_line(env: str, capsys: pytest.CaptureFixture[str],
                                     argv: list[str], message: str) -> None:
    """A malformed date, reversed period or unknown code exits 1 with one line saying why."""
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_daily_store_and_json(env: str, session: Session, tmp_path: Path) -> None:
    """``hotline report daily --date D --store`` writes the page and keeps it in the database;
    ``--format json`` prints the figures."""
    import json

    from db.models import ReportRecord
    from tests.reports.seed import DAY, seed_daily

    seed_daily(session)
    session.rollback()  # end the read the seed's return value made: the command writes
    out = tmp_path / "daily.html"
    assert main(["report", "daily", "--date", DAY, "--store", "-o", str(out)]) == 0
    assert "民情报告" in out.read_text("utf-8")
    session.expire_all()
    assert session.query(ReportRecord).filter_by(day=DAY).one().html == out.read_text("utf-8")
    session.rollback()
    data = tmp_path / "daily.json"
    assert main(["report", "daily", "--date", DAY, "--format", "json", "-o", str(data)]) == 0
    assert json.loads(data.read_text("utf-8"))["tickets"] == 12
