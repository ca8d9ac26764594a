"""`hotline db seed-sample`: the district's grids, workers, departments and directory."""

from __future__ import annotations

from sqlalchemy import func, select

from db.models import Community, Grid, GridWorker, MapImport, MunicipalHotline, Street
from hotline.cli.main import main


def test_seed_sample_fills_an_empty_database(db_url, monkeypatch, capsys, session):
    """Seeding gives the SAMPLE map (7 streets, 45 communities, 120 level-1 grids each with
    its full-time grid worker, 532 level-2 grids, all with outlines) and 700+ hotlines;
    seeding again is refused."""
    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    assert main(["db", "seed-sample"]) == 0
    assert "532 level-2 grids" in capsys.readouterr().out
    count = lambda q: session.scalar(select(func.count()).select_from(q))  # noqa: E731
    assert count(select(Grid).where(Grid.level == 1).subquery()) == 120
    assert count(select(Grid).where(Grid.level == 2, Grid.parent_id.is_not(None)).subquery()) \
        == 532
    assert count(select(GridWorker).join(Grid).where(Grid.level == 1).subquery()) == 120
    assert count(select(GridWorker).subquery()) == 120
    assert count(select(Street).subquery()) == 7 and count(select(Community).subquery()) == 45
    assert count(select(Grid).where(Grid.geometry.is_(None)).subquery()) == 0
    assert session.scalar(select(MapImport.sample)) is True
    assert count(select(MunicipalHotline).subquery()) >= 700
    assert main(["db", "seed-sample"]) == 1
    assert "already" in capsys.readouterr().err
