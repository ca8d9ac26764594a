"""`hotline grid ...` on SQLite and PostgreSQL: a bad map is refused whole with every problem
named and the database unchanged; the sample map imports, exports and imports back; addresses,
placement, grid workers, reports, tasks and logs from the command line."""

from __future__ import annotations

import io
import json

from sqlalchemy import func, select

from db.models import Community, Grid, MapImport, Street, Ticket, VerificationTask
from hotline.cli.main import main
from hotline.grid.maps import sample_map_path
from tests.grid.support import collection, feature, square, tiny_map


def _counts(session) -> tuple[int, ...]:
    return tuple(session.scalar(select(func.count()).select_from(m))
                 for m in (Street, Community, Grid, MapImport))


def test_bad_map_is_refused_whole_and_changes_nothing(db_url, monkeypatch, capsys, session,
                                                      tmp_path):
    """A file with a self-intersecting polygon, a duplicate code and a sub-grid outside its
    grid exits 1 naming all three problems, and the database (holding the sample map) is
    exactly as before."""
    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    assert main(["grid", "import", str(sample_map_path())]) == 0
    capsys.readouterr()
    before = _counts(session)
    features = tiny_map()
    features[2] = feature("grid", "T1", "CM", {"type": "Polygon", "coordinates": [[
        [100, 30], [101, 31], [101, 30], [100, 31], [100, 30]]]})
    features.append(feature("grid", "T2", "CM", square(101, 30, 0.5)))
    features.append(feature("sub_grid", "T2-09", "T2", square(103, 30, 0.2)))
    bad = tmp_path / "bad.geojson"
    bad.write_text(collection(features), "utf-8")
    assert main(["grid", "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "refused, nothing changed; 3 problem(s)" in err
    assert "feature #2 (T1): invalid polygon: Self-intersection" in err
    assert "feature #8 (T2): duplicate code T2: also feature #3" in err
    assert "feature #9 (T2-09): sub_grid T2-09 is not inside its grid T2 (100.0% of its " \
           "area lies outside)" in err
    session.expire_all()
    assert _counts(session) == before


def test_sample_round_trip_and_dry_run(db_url, monkeypatch, capsys, tmp_path):
    """The sample map imports as SAMPLE, exports to a file that imports back unchanged; a dry
    run checks without importing."""
    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    assert main(["grid", "import", "--dry-run", str(sample_map_path())]) == 0
    assert "dry run" in capsys.readouterr().out
    assert main(["grid", "show"]) == 0
    assert "no map imported yet" in capsys.readouterr().out
    assert main(["grid", "import", str(sample_map_path())]) == 0
    assert "SAMPLE map" in capsys.readouterr().out
    out = tmp_path / "export.geojson"
    assert main(["grid", "export", "-o", str(out)]) == 0
    exported = json.loads(out.read_text("utf-8"))
    assert exported["sample"] is True and len(exported["features"]) == 704
    assert main(["grid", "import", str(out)]) == 0
    assert "7 streets, 45 communities, 120 grids, 532 sub-grids" in capsys.readouterr().out
    assert main(["grid", "show", "G001"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("网格 G001 第1网格 (in C01)") and "子网格 G001-01" in shown


def test_workers_reports_tasks_and_logs(db_url, monkeypatch, capsys, session, tmp_path):
    """From the command line: bind a grid worker, file a report by address, send it to verify,
    answer it, write and list the day's log."""
    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    maps = tmp_path / "tiny.geojson"
    maps.write_text(collection(tiny_map()), "utf-8")
    assert main(["grid", "import", str(maps)]) == 0
    addresses = tmp_path / "a.csv"
    addresses.write_text("address,grid\n幸福路12号,T1-01\n", "utf-8")
    assert main(["grid", "addresses", "import", str(addresses)]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("wang-cli-pass-01\n"))
    assert main(["grid", "worker", "add", "wang", "--grid", "T1", "--name", "王伟",
                 "--password-stdin"]) == 0
    assert main(["grid", "locate", "--address", "幸福路12号2单元"]) == 0
    assert "T1-01 (level 2, by address)" in capsys.readouterr().out
    assert main(["grid", "report", "--user", "wang", "--category", "道路设施", "--text",
                 "人行道破损", "--address", "幸福路12号"]) == 0
    assert "in grid T1-01" in capsys.readouterr().out
    number = session.scalar(select(Ticket.number))
    assert main(["grid", "task", "send", number, "--note", "请核实"]) == 0
    session.rollback()  # a fresh snapshot: the command committed in its own transaction
    task_id = session.scalar(select(VerificationTask.id))
    assert main(["grid", "task", "answer", str(task_id), "--user", "wang", "--result",
                 "resolved", "--text", "已修复"]) == 0
    assert main(["grid", "task", "list"]) == 0
    assert "现场已解决: 已修复" in capsys.readouterr().out
    assert main(["grid", "log", "--user", "wang", "--text", "今日巡查正常"]) == 0
    assert main(["grid", "logs"]) == 0
    assert "T1 王伟: 今日巡查正常" in capsys.readouterr().out
    assert main(["grid", "task", "send", number]) == 0  # answered: a second look may be asked
    assert main(["grid", "task", "send", number]) == 1  # ...but one at a time
    assert "already waits for verification" in capsys.readouterr().err
    session.rollback()
    second = session.scalar(select(func.max(VerificationTask.id)))
    assert main(["grid", "task", "cancel", str(second)]) == 0
