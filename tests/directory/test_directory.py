"""The directory: CSV import (all or nothing, line-numbered errors), export, search, hours."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from sqlalchemy import func, select

from db.models import Department, MunicipalHotline
from hotline.cli.main import main
from hotline.directory.exceptions import DirectoryImportError, InvalidServiceHours
from hotline.directory.hours import parse_hours
from hotline.directory.index import pinyin_initials
from hotline.directory.service import DirectoryService
from hotline.sample import sample_directory_text

ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")
HEADER = "name,department_code,department_name,department_kind,number,fallback_numbers," \
         "categories,keywords,service_hours,notes\n"
GOOD = HEADER + (
    "区自来水公司供水抢修,U01,区自来水公司,utility,9990-0001,99905001,供水,停水|水压,24/7,\n"
    "区住建委物业科,D01,区住建委,partner,99900002,,物业,物业|维修,mon-fri 08:30-17:30,样例\n"
    '"区燃气集团抢修, 24小时",U03,区燃气集团,utility,99900003,,燃气,燃气泄漏,24/7,\n'
)


def _count(session) -> int:
    return session.scalar(select(func.count(MunicipalHotline.id)))


def test_good_file_imports_and_creates_departments(session):
    """A valid file adds every entry with normalised numbers and creates unknown departments."""
    service = DirectoryService()
    result = service.import_csv(session, "# SAMPLE\n" + GOOD)
    session.commit()
    assert (result.added, result.departments_created) == (3, ("U01", "D01", "U03"))
    water = session.scalars(select(MunicipalHotline).where(
        MunicipalHotline.number == "99900001")).one()
    assert water.fallback_numbers == ["99905001"] and water.keywords == ["停水", "水压"]
    assert water.pinyin_initials == pinyin_initials("区自来水公司供水抢修")
    assert session.scalars(select(Department.kind).where(Department.code == "U01")).one() == \
        "utility"


def test_bad_lines_are_reported_by_line_and_nothing_imported(session):
    """Every bad line is named with its file line number and the directory stays empty."""
    text = "# comment line 1\n" + HEADER + (
        "好的条目,D01,区住建委,partner,99900010,,物业,,24/7,\n"     # line 3 fine
        ",D01,区住建委,partner,99900011,,物业,,24/7,\n"             # line 4 no name
        "坏号码,D01,区住建委,partner,99-ab,,物业,,24/7,\n"         # line 5 bad number
        "坏时间,D01,区住建委,partner,99900013,,物业,,mon 25:00-26:00,\n"  # line 6 bad hours
        "少字段,D01\n"                                               # line 7 short
        "坏类型,D01,区住建委,company,99900015,,物业,,24/7,\n"       # line 8 bad kind
    )
    with pytest.raises(DirectoryImportError) as caught:
        DirectoryService().import_csv(session, text)
    session.rollback()
    lines = [line for line, _ in caught.value.problems]
    assert lines == [4, 5, 6, 7, 8]
    assert "name is empty" in caught.value.problems[0][1]
    assert "line 5: number" in str(caught.value)
    assert _count(session) == 0


def test_duplicate_numbers_in_file_refused(session):
    """A number used twice in one file is refused, naming both lines, nothing imported."""
    text = HEADER + ("甲,D01,区住建委,partner,99900020,,物业,,24/7,\n"
                     "乙,D01,区住建委,partner,9990 0020,,物业,,24/7,\n")
    with pytest.raises(DirectoryImportError) as caught:
        DirectoryService().import_csv(session, text)
    assert caught.value.problems == [(3, "number 99900020 is already used on line 2")]
    session.rollback()
    assert _count(session) == 0


def test_number_already_in_directory_refused_unless_replace(session):
    """Importing a number the directory already has is refused; replace swaps the directory."""
    service = DirectoryService()
    service.import_csv(session, GOOD)
    session.commit()
    again = HEADER + "新条目,D01,区住建委,partner,99900099,,物业,,24/7,\n" + \
        "重复,D01,区住建委,partner,99900002,,物业,,24/7,\n"
    with pytest.raises(DirectoryImportError) as caught:
        service.import_csv(session, again)
    session.rollback()
    assert [line for line, _ in caught.value.problems] == [3]
    assert _count(session) == 3
    result = service.import_csv(session, again, replace=True)
    session.commit()
    assert (result.added, result.removed) == (2, 3)
    assert _count(session) == 2


def test_header_problems(session):
    """A missing required column or an unknown one is reported on the header's line."""
    with pytest.raises(DirectoryImportError) as caught:
        DirectoryService().import_csv(session, "# c\nname,number,colour\n")
    assert caught.value.problems[0][0] == 2
    assert "department_code" in caught.value.problems[0][1]
    assert "colour" in caught.value.problems[0][1]


def test_export_round_trip(session):
    """Exporting and importing into a fresh directory gives the same entries."""
    service = DirectoryService()
    service.import_csv(session, GOOD)
    session.commit()
    exported = service.export_csv(session)
    before = [e.as_dict() for e in service.refresh(session).search(limit=100)]
    service.import_csv(session, exported, replace=True)
    session.commit()
    after = [e.as_dict() for e in service.refresh(session).search(limit=100)]
    strip = [{k: v for k, v in d.items() if k != "id"} for d in before]
    assert strip == [{k: v for k, v in d.items() if k != "id"} for d in after]


@pytest.fixture
def sample(session) -> DirectoryService:
    """The shipped sample directory, imported and indexed."""
    service = DirectoryService()
    service.import_csv(session, sample_directory_text())
    session.commit()
    service.refresh(session)
    return service


def test_sample_directory_is_big_enough_and_fake(sample):
    """The sample has 700+ entries from 46 partner departments and utilities, all in 9990."""
    entries = sample.search(limit=10_000)
    assert len(entries) >= 700
    codes = {e.department_code for e in entries}
    assert len([c for c in codes if c.startswith("D")]) == 46
    assert {"U01", "U02", "U03", "U04", "U06"} <= codes
    assert all(e.number.startswith("9990") for e in entries)
    assert sample_directory_text().startswith("# SAMPLE DATA")


def test_search_by_pinyin_initials(sample):
    """`gs` finds the water supply (供水) lines, and `rljt` the heating company (热力集团)."""
    hits = sample.search("gs")
    assert hits and any("供水" in e.name for e in hits)
    assert any("热力" in e.name for e in sample.search("rljt"))


def test_search_by_name_keyword_and_category(sample):
    """Name words, keywords and categories all find entries; the exact name ranks first."""
    assert sample.search("区供电公司电力服务热线")[0].name == "区供电公司电力服务热线"
    assert any(e.department_code == "U01" for e in sample.search("停水"))
    hits = sample.search("", category="燃气", limit=100)
    assert hits and all("燃气" in e.categories for e in hits)
    assert sample.search("不存在的东西") == []


def test_open_now_filter(sample):
    """At 3 a.m. on a Sunday only 24/7 lines are open; on Monday 10:00 office lines are too."""
    sunday_night = dt.datetime(2026, 11, 29, 3, 0, tzinfo=ZONE)
    monday_morning = dt.datetime(2026, 11, 30, 10, 0, tzinfo=ZONE)
    night = sample.search("区住房和城乡建设委员会", open_now=True, at=sunday_night, limit=50)
    assert [e.name for e in night] == ["区住房和城乡建设委员会总值班室"]
    day = sample.search("区住房和城乡建设委员会", open_now=True, at=monday_morning, limit=50)
    assert len(day) > 5


def test_refresh_if_changed(session, sample):
    """The index is rebuilt only when the directory changed since the last refresh."""
    assert not sample.refresh_if_changed(session)
    sample.import_csv(session, HEADER + "新热线,D01,区住建委,partner,99909999,,物业,,24/7,\n")
    session.commit()
    assert sample.refresh_if_changed(session)
    assert sample.search("新热线")[0].number == "99909999"


@pytest.mark.parametrize(("text", "local", "is_open"), [
    ("24/7", "2026-11-29 03:00", True),
    ("mon-fri 08:30-12:00 14:00-17:30", "2026-11-30 12:30", False),
    ("mon-fri 08:30-12:00 14:00-17:30", "2026-11-30 14:00", True),
    ("mon-fri 08:30-17:30", "2026-11-29 10:00", False),
    ("sat-sun 22:00-06:00", "2026-11-30 05:59", True),
    ("sat-sun 22:00-06:00", "2026-11-30 06:00", False),
    ("mon 00:00-24:00", "2026-11-30 23:59", True),
])
def test_service_hours(text, local, is_open):
    """Service hours are read in the site's zone, with ranges past midnight."""
    at = dt.datetime.fromisoformat(local).replace(tzinfo=ZONE).astimezone(dt.UTC)
    assert parse_hours(text).is_open(at, ZONE) is is_open


@pytest.mark.parametrize("text", ["", "mon", "funday 08:00-09:00", "mon 8-9", "mon 09:00-09:00"])
def test_bad_service_hours(text):
    """Unreadable service hours are refused with the expected form in the message."""
    with pytest.raises(InvalidServiceHours) as caught:
        parse_hours(text)
    assert "24/7" in str(caught.value)


def test_cli_import_search_export(db_url, monkeypatch, tmp_path, capsys):
    """`hotline directory import`, `search` and `export` work on the configured database."""
    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + ",D01,x,partner,1,,,,24/7,\n", "utf-8")
    assert main(["directory", "import", str(bad)]) == 1
    assert "line 2" in capsys.readouterr().err
    good = tmp_path / "good.csv"
    good.write_text(GOOD, "utf-8")
    assert main(["directory", "import", str(good)]) == 0
    assert "imported 3 entries" in capsys.readouterr().out
    assert main(["directory", "search", "gs"]) == 0
    assert "99900001" in capsys.readouterr().out
    assert main(["directory", "search", "zzzz"]) == 1
    out = tmp_path / "out.csv"
    assert main(["directory", "export", "-o", str(out)]) == 0
    assert "99900003" in out.read_text("utf-8")
