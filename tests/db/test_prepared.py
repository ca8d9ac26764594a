"""Prepared statements on the DB-API cursor (L{db.prepared}) and the Session-less unit of work
(L{db.session.direct_unit_of_work}): the same rows, values and errors as through a Session,
on both back ends."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from db.models import Call, CallStatus, Citizen, Ticket
from db.prepared import Cursor, Prepared, cursor_for
from db.session import INSERT_BY_DIALECT, begin, direct_unit_of_work, make_engine
from db.session import make_session_factory as factory_for

WHEN = dt.datetime(2026, 12, 5, 8, 30, 15, 250000, tzinfo=dt.UTC)

_NEW_CALL = {name: Prepared(insert(Call).values(
    uniqueid=bindparam("uid"), linkedid=bindparam("uid"), direction="inbound",
    caller_number=bindparam("caller"), started_at=bindparam("started"),
    status=CallStatus.QUEUED).returning(Call.id, Call.started_at, Call.status))
    for name, insert in INSERT_BY_DIALECT.items()}
_CALL_BY_UID = Prepared(select(Call.started_at, Call.status).where(Call.uniqueid == bindparam("uid")))
_BACKEND_PID = Prepared(select(func.pg_backend_pid()))
_OPEN_TICKETS = Prepared(select(Ticket.id).where(
    Ticket.citizen_id == bindparam("citizen"), Ticket.status.in_(["received", "handling"])))


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _new_call(cursor: Cursor, uid: str) -> tuple:
    return cursor.first(_NEW_CALL[cursor.dialect.name], uid=uid, caller="13800138000",
                        started=WHEN)


def test_a_row_written_on_the_cursor_reads_back_as_the_orm_writes_it(engine):
    """Values go through the column types' processors: the time stored by the cursor is the
    one the ORM stores for the same value (on SQLite, the same text), and what RETURNING and
    a SELECT give back is aware and equal, the status a plain string."""
    returned = direct_unit_of_work(engine, _new_call, "prepared.1")
    assert returned[1:] == (WHEN, "queued")
    with begin(factory_for(engine)) as session:
        session.add(Call(uniqueid="orm.1", linkedid="orm.1", direction="inbound",
                         caller_number="13800138000", started_at=WHEN,
                         status=CallStatus.QUEUED))
    with begin(factory_for(engine)) as session:
        stored = dict(session.execute(text(
            "SELECT uniqueid, CAST(started_at AS TEXT) FROM call")).all())
        assert stored["prepared.1"] == stored["orm.1"]
        call = session.scalars(select(Call).where(Call.uniqueid == "prepared.1")).one()
        assert (call.id, call.started_at, call.status) == (returned[0], WHEN, "queued")
    assert direct_unit_of_work(engine, lambda c: c.first(_CALL_BY_UID, uid="orm.1")) \
        == (WHEN, "queued")
    assert direct_unit_of_work(engine, lambda c: c.scalar(_CALL_BY_UID, uid="none")) is None


def test_a_literal_list_is_compiled_in(engine):
    """An IN over a fixed list is expanded once; the rows are those the Session finds."""
    with begin(factory_for(engine)) as session:
        citizen = Citizen(phone="13800138000", created_at=WHEN)
        session.add(citizen)
        session.flush()
        for i, status in enumerate(("received", "handling", "closed")):
            session.add(Ticket(number=f"RX-{i}", kind="complaint", channel="phone",
                               status=status, description="x", citizen_id=citizen.id,
                               created_at=WHEN))
        session.flush()
        ids = sorted(session.scalars(_OPEN_TICKETS.statement, {"citizen": citizen.id}))
    assert len(ids) == 2
    assert sorted(r[0] for r in direct_unit_of_work(
        engine, lambda c: c.all(_OPEN_TICKETS, citizen=citizen.id))) == ids


def test_a_failed_unit_leaves_nothing_and_the_error_is_sqlalchemys(engine):
    """The driver's errors come back as SQLAlchemy's (so callers and the retry policy see one
    kind); a unit that raises is rolled back, and its connection serves the next unit."""
    direct_unit_of_work(engine, _new_call, "dup")

    def twice(cursor: Cursor) -> None:
        _new_call(cursor, "first-of-two")
        _new_call(cursor, "dup")
    with pytest.raises(IntegrityError):
        direct_unit_of_work(engine, twice)

    def boom(cursor: Cursor) -> None:
        _new_call(cursor, "then-boom")
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError):
        direct_unit_of_work(engine, boom)
    left = direct_unit_of_work(engine, lambda c: [c.scalar(_CALL_BY_UID, uid=u) for u in
                                                  ("dup", "first-of-two", "then-boom")])
    assert left[0] is not None and left[1:] == [None, None]


def test_the_cursor_of_a_session_shares_its_transaction(engine):
    """``cursor_for(session)`` sees what the session holds (flushed first, as the session's
    own statements would) and is undone with it."""
    session = factory_for(engine)()
    try:
        session.add(Citizen(phone="13900139000", created_at=WHEN))
        by_phone = Prepared(select(Citizen.id).where(Citizen.phone == bindparam("phone")))
        assert cursor_for(session).scalar(by_phone, phone="13900139000") is not None
        _new_call(cursor_for(session), "in-session")
        session.rollback()
        assert cursor_for(session).scalar(_CALL_BY_UID, uid="in-session") is None
    finally:
        session.close()


def test_what_cannot_be_prepared_once_is_refused_and_a_missing_value_named(engine):
    """A list given per call would need compiling per call: refused when compiled. A
    parameter left out is named, not sent as NULL."""
    per_call = Prepared(select(Call.id).where(
        Call.uniqueid.in_(bindparam("uids", expanding=True))))
    with pytest.raises(TypeError, match="uids"):
        per_call.form(engine.dialect)
    with pytest.raises(KeyError, match="caller"):
        direct_unit_of_work(engine, lambda c: c.first(
            _NEW_CALL[c.dialect.name], uid="x", started=WHEN))


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_connection_the_server_ended_is_not_used_again(db_url):
    """The server ends a unit's connection (a restart, an administrator): that unit fails with
    SQLAlchemy's error, and the next units get working connections, not the dead one back
    from the pool (pinging on checkout is off here: the dead one must not be kept)."""
    engine = make_engine(db_url, pool_size=1, max_overflow=0, pool_pre_ping=False)
    admin = make_engine(db_url)
    try:
        pid = direct_unit_of_work(engine, lambda c: c.scalar(_BACKEND_PID))
        with admin.begin() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(DBAPIError) as failed:
            direct_unit_of_work(engine, _new_call, "after-terminate")
        assert "terminat" in str(failed.value.orig)
        assert direct_unit_of_work(engine, _new_call, "after-terminate")[2] == "queued"
        assert direct_unit_of_work(engine, lambda c: c.scalar(_BACKEND_PID)) != pid
    finally:
        engine.dispose()
        admin.dispose()
