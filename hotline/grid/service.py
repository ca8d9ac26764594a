# -*- test-case-name: tests.grid.test_service -*-
"""The grid workers' work: accounts bound to a level-1 grid, reports that become tickets (once
per idempotency key), visits (走访), verification tasks (核实) and the daily log (民情日志).

Every method takes the caller's session and never commits. Photos are written to the photo
store before the caller commits, so a committed photo row always has its file (a rolled-back
unit of work leaves at most an unreferenced file, named by its hash).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from db.models import (
    ConsoleUser,
    Grid,
    GridLog,
    GridReport,
    GridVisit,
    GridWorker,
    Ticket,
    TicketPhoto,
    VerificationTask,
    utcnow,
)
from hotline.grid.exceptions import (
    GridError,
    InvalidInput,
    NoGridWorker,
    NoSuchArea,
    NoSuchTask,
    NotAGridWorker,
    TaskClosed,
)
from hotline.grid.locate import GridLocator
from hotline.grid.photos import PhotoStore, StoredPhoto
from hotline.grid.schemas import (
    RESULT_LABELS,
    AnswerRequest,
    LogRequest,
    ReportRequest,
    TaskStatus,
    VisitRequest,
)
from hotline.tickets.exceptions import NoSuchTicket
from hotline.tickets.service import TicketService

__all__ = ["GridWorkerService", "Filed", "Photo", "level1_of", "worker_for_user"]

#: A photo as handed to the service: what the store prepared and the bytes to keep.
Photo = tuple[StoredPhoto, bytes]
#: A report sent this long after it was made says so on the ticket (it waited on the phone).
_LATE_NOTE = dt.timedelta(minutes=2)
#: How far back a grid worker may still write or correct a daily log.
LOG_DAYS_BACK = 7


@dataclass(frozen=True)
class Filed:
    """What a report became: the ticket, and whether this call created it (False: the key was
    seen before and the first ticket is returned)."""

    ticket_id: int
    number: str
    grid: str | None
    created: bool


def level1_of(grid: Grid | None) -> Grid | None:
    """The level-1 grid a grid or sub-grid belongs to."""
    if grid is None:
        return None
    return grid.parent if grid.level == 2 and grid.parent is not None else grid


def worker_for_user(session: Session, user_id: int) -> GridWorker | None:
    """The grid worker record bound to a console account, if any."""
    return session.scalar(select(GridWorker).options(joinedload(GridWorker.grid))
                          .where(GridWorker.user_id == user_id))


class GridWorkerService:
    """The grid workers' rules over the ticket service, the locator and the photo store.

    ``clock`` gives the current aware UTC time; ``timezone`` is the site's, which dates the
    daily logs.
    """

    def __init__(self, *, tickets: TicketService, photos: PhotoStore,
                 locator: GridLocator | None = None, timezone: str = "Asia/Shanghai",
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.tickets = tickets
        self.photos = photos
        self.locator = locator or tickets.locator or GridLocator()
        self.zone = zoneinfo.ZoneInfo(timezone)
        self.clock = clock

    # -- accounts --------------------------------------------------------------------------------

    def worker(self, session: Session, user_id: int, username: str) -> GridWorker:
        """The grid worker signed in as ``username``. Raises NotAGridWorker."""
        worker = worker_for_user(session, user_id)
        if worker is None:
            raise NotAGridWorker(username)
        return worker

    def bind(self, session: Session, username: str, grid_code: str, *,
             name: str | None = None, phone: str | None = None) -> GridWorker:
        """Bind the grid_worker account ``username`` to the level-1 grid ``grid_code``: it
        takes over the grid's worker record that has no account yet (the seeded or imported
        one), else a new record is made. Raises GridError, NoSuchArea."""
        user = session.scalar(select(ConsoleUser).where(ConsoleUser.username == username))
        if user is None:
            raise GridError(f"no console account {username!r}", {"user": username})
        if user.role != "grid_worker":
            raise GridError(f"{username} is a {user.role} account, not a grid_worker",
                            {"user": username, "role": user.role})
        grid = session.scalar(select(Grid).where(Grid.code == grid_code))
        if grid is None:
            raise NoSuchArea(grid_code)
        if grid.level != 1:
            raise GridError(f"{grid_code} is a sub-grid: a grid worker is bound to a level-1 "
                            "grid (and so to all its sub-grids)", {"grid": grid_code})
        worker = worker_for_user(session, user.id)
        if worker is None:
            worker = session.scalar(select(GridWorker).where(
                GridWorker.grid_id == grid.id, GridWorker.user_id.is_(None))
                .order_by(GridWorker.id).limit(1))
        if worker is None:
            worker = GridWorker(name=name or user.display_name, grid=grid)
            session.add(worker)
        worker.grid, worker.user_id = grid, user.id
        if name:
            worker.name = name
        if phone:
            worker.phone = phone
        session.flush()
        return worker

    def workers(self, session: Session) -> list[dict[str, Any]]:
        """Every grid worker with their grid and account (for the command line and admins)."""
        rows = session.execute(
            select(GridWorker, Grid.code, ConsoleUser.username).join(Grid)
            .outerjoin(ConsoleUser, ConsoleUser.id == GridWorker.user_id)
            .order_by(Grid.code, GridWorker.id))
        return [{"id": w.id, "name": w.name, "grid": code, "user": user,
                 "phone": w.phone} for w, code, user in rows]

    def profile(self, session: Session, worker: GridWorker) -> dict[str, Any]:
        """What the phone page shows about its worker: name, grid, sub-grids, open tasks."""
        grid = worker.grid
        subs = session.scalars(select(Grid).where(Grid.parent_id == grid.id)
                               .order_by(Grid.code))
        open_tasks = len(self._tasks(session, worker, open_only=True))
        return {"name": worker.name, "grid": {"code": grid.code, "name": grid.name},
                "community": grid.community.name if grid.community else None,
                "street": grid.community.street.name if grid.community else None,
                "sub_grids": [{"code": g.code, "name": g.name} for g in subs],
                "open_tasks": open_tasks, "today": self.today()}

    def today(self) -> str:
        return self.clock().astimezone(self.zone).date().isoformat()

    # -- reports ---------------------------------------------------------------------------------

    def report(self, session: Session, worker: GridWorker, request: ReportRequest,
               photos: Sequence[Photo], *, actor: str) -> Filed:
        """File a problem found on a walk as a ticket on the grid_worker channel, in the
        sub-grid its position falls in (else its address's, else the worker's own grid), with
        its photos. A key seen before returns the first ticket and changes nothing."""
        seen = session.scalar(select(GridReport).where(GridReport.key == request.key))
        if seen is not None:
            if seen.worker_id != worker.id:
                raise GridError("this report key was used by another grid worker",
                                {"key": request.key})
            return Filed(seen.ticket.id, seen.ticket.number,
                         seen.ticket.grid.code if seen.ticket.grid else None, False)
        placed = self.locator.place(session, latitude=request.latitude,
                                    longitude=request.longitude, address=request.address)
        grid_code = placed.code if placed is not None else worker.grid.code
        now = self.clock()
        place_text = request.address or (
            f"{request.latitude:.6f},{request.longitude:.6f}"
            if request.latitude is not None else None)
        ticket = self.tickets.intake(session, {
            "channel": "grid_worker", "kind": request.kind.value,
            "category": request.category, "description": request.description,
            "address": place_text, "grid": grid_code,
            "latitude": request.latitude, "longitude": request.longitude,
            "citizen_name": None}, actor=actor)
        notes = [f"网格员 {worker.name}（{worker.grid.code}）上报"]
        if placed is None:
            notes.append("位置不在地图内或未知，按网格员所属网格登记")
        if now - request.made_at > _LATE_NOTE:
            local = request.made_at.astimezone(self.zone).strftime("%m-%d %H:%M")
            notes.append(f"手机上 {local} 记录，网络恢复后送达")
        self.tickets.add_note(session, ticket.id, actor=actor, text="；".join(notes))
        self._attach(session, ticket, photos, actor=actor, task=None)
        session.add(GridReport(key=request.key, worker=worker, ticket=ticket,
                               made_at=request.made_at, received_at=now))
        session.flush()
        return Filed(ticket.id, ticket.number, grid_code, True)

    def report_by_key(self, session: Session, key: str) -> Filed | None:
        """The ticket a report key filed, if any (after a race lost on the unique key)."""
        seen = session.scalar(select(GridReport).where(GridReport.key == key))
        if seen is None:
            return None
        return Filed(seen.ticket.id, seen.ticket.number,
                     seen.ticket.grid.code if seen.ticket.grid else None, False)

    def reports(self, session: Session, worker: GridWorker, *, limit: int = 30
                ) -> list[dict[str, Any]]:
        """The worker's own reports, newest first, with their tickets' status."""
        rows = session.execute(
            select(GridReport, Ticket).join(Ticket, Ticket.id == GridReport.ticket_id)
            .where(GridReport.worker_id == worker.id)
            .order_by(GridReport.made_at.desc(), GridReport.id.desc()).limit(limit))
        return [{"key": r.key, "ticket": t.number, "ticket_id": t.id, "status": t.status,
                 "category": t.category, "description": t.description,
                 "grid": t.grid.code if t.grid else None, "made_at": r.made_at.isoformat(),
                 "received_at": r.received_at.isoformat()} for r, t in rows]

    def _attach(self, session: Session, ticket: Ticket, photos: Sequence[Photo], *,
                actor: str, task: VerificationTask | None) -> None:
        for stored, body in photos:
            self.photos.keep(stored, body)
            session.add(TicketPhoto(ticket_id=ticket.id, sha256=stored.sha256,
                                    content_type=stored.content_type, width=stored.width,
                                    height=stored.height, size=stored.size,
                                    task_id=task.id if task is not None else None,
                                    taken_by=actor, created_at=self.clock()))

    # -- visits ----------------------------------------------------------------------------------

    def record_visit(self, session: Session, worker: GridWorker, request: VisitRequest
                     ) -> tuple[GridVisit, bool]:
        """Keep a visit record; the sub-grid of its position when that lies in the worker's
        grid, else the grid. Returns (visit, created); a key seen before changes nothing."""
        seen = session.scalar(select(GridVisit).where(GridVisit.key == request.key))
        if seen is not None:
            if seen.worker_id != worker.id:
                raise GridError("this visit key was used by another grid worker",
                                {"key": request.key})
            return seen, False
        grid = worker.grid
        placed = self.locator.place(session, latitude=request.latitude,
                                    longitude=request.longitude)
        if placed is not None:
            found = session.get(Grid, placed.grid_id)
            if level1_of(found) is not None and level1_of(found).id == worker.grid_id:
                grid = found
        visit = GridVisit(key=request.key, worker=worker, grid=grid, subject=request.subject,
                          visitee=request.visitee, notes=request.notes,
                          visited_at=request.visited_at, created_at=self.clock())
        session.add(visit)
        session.flush()
        return visit, True

    def visits(self, session: Session, worker: GridWorker, *, limit: int = 30
               ) -> list[dict[str, Any]]:
        return [{"id": v.id, "subject": v.subject, "visitee": v.visitee, "notes": v.notes,
                 "grid": v.grid.code, "visited_at": v.visited_at.isoformat()}
                for v in session.scalars(select(GridVisit).where(GridVisit.worker_id == worker.id)
                                         .order_by(GridVisit.visited_at.desc(),
                                                   GridVisit.id.desc()).limit(limit))]

    # -- verification tasks ----------------------------------------------------------------------

    def send_task(self, session: Session, ticket_id: int, *, actor: str,
                  note: str | None = None) -> VerificationTask:
        """Send a ticket to the grid worker of its grid to verify on site (核实). Raises
        NoSuchTicket, NoGridWorker (no grid, or nobody with an account on it), TaskClosed
        (one is already open)."""
        ticket = self.tickets.get(session, ticket_id)
        grid = level1_of(ticket.grid)
        if grid is None:
            raise NoGridWorker(f"{ticket.number} has no grid: place it first",
                               {"ticket": ticket.number})
        worker = session.scalar(select(GridWorker).where(
            GridWorker.grid_id == grid.id, GridWorker.user_id.is_not(None))
            .order_by(GridWorker.id).limit(1))
        if worker is None:
            raise NoGridWorker(f"grid {grid.code} has no grid worker with an account",
                               {"ticket": ticket.number, "grid": grid.code})
        if note is not None and len(note) > 2000:
            raise InvalidInput({"note": "at most 2000 characters"})
        open_task = session.scalar(select(VerificationTask).where(
            VerificationTask.ticket_id == ticket.id,
            VerificationTask.status == TaskStatus.OPEN))
        if open_task is not None:
            raise TaskClosed(f"{ticket.number} already waits for verification (task "
                             f"{open_task.id})", {"task": open_task.id})
        task = VerificationTask(ticket=ticket, worker=worker, status=TaskStatus.OPEN.value,
                                requested_by=actor, requested_at=self.clock(),
                                note=(note or "").strip() or None)
        session.add(task)
        session.flush()
        self.tickets.add_note(session, ticket.id, actor=actor,
                              text=f"【核实】发网格员 {worker.name}（{grid.code}）现场核实"
                                   + (f"：{task.note}" if task.note else ""))
        return task

    def cancel_task(self, session: Session, task_id: int, *, actor: str) -> VerificationTask:
        """Withdraw an open task (the ticket was settled otherwise)."""
        task = session.get(VerificationTask, task_id)
        if task is None:
            raise NoSuchTask(task_id)
        if task.status != TaskStatus.OPEN:
            raise TaskClosed(f"task {task_id} is {task.status}", {"task": task_id})
        task.status = TaskStatus.CANCELLED.value
        self.tickets.add_note(session, task.ticket_id, actor=actor,
                              text=f"【核实】撤销核实任务 {task.id}")
        return task

    def _tasks(self, session: Session, worker: GridWorker | None, *, open_only: bool,
               ticket_id: int | None = None, limit: int = 100) -> list[VerificationTask]:
        query = select(VerificationTask).options(joinedload(VerificationTask.ticket),
                                                 joinedload(VerificationTask.worker))
        if worker is not None:
            query = query.where(VerificationTask.worker_id == worker.id)
        if ticket_id is not None:
            query = query.where(VerificationTask.ticket_id == ticket_id)
        if open_only:
            query = query.where(VerificationTask.status == TaskStatus.OPEN)
        return list(session.scalars(query.order_by(VerificationTask.id.desc()).limit(limit)))

    def task_view(self, session: Session, task: VerificationTask) -> dict[str, Any]:
        return task_view(session, task)

    def tasks(self, session: Session, worker: GridWorker | None, *, open_only: bool = False,
              ticket_id: int | None = None) -> list[dict[str, Any]]:
        """Tasks, newest first: a worker's own (``worker``), or everyone's for a dispatcher."""
        return [self.task_view(session, t) for t in
                self._tasks(session, worker, open_only=open_only, ticket_id=ticket_id)]

    def answer_task(self, session: Session, worker: GridWorker, task_id: int,
                    request: AnswerRequest, photos: Sequence[Photo], *, actor: str
                    ) -> tuple[VerificationTask, bool]:
        """Record what the worker found, with photos, on the task and on the ticket. Returns
        (task, created); an answer key seen before changes nothing. Raises NoSuchTask (not
        theirs), TaskClosed."""
        task = session.get(VerificationTask, task_id)
        if task is None or task.worker_id != worker.id:
            raise NoSuchTask(task_id)
        if task.answer_key == request.key:
            return task, False
        if task.status != TaskStatus.OPEN:
            raise TaskClosed(f"task {task_id} is already {task.status}",
                             {"task": task_id, "status": task.status})
        task.status = TaskStatus.ANSWERED.value
        task.result, task.answer = request.result.value, request.answer
        task.answered_at, task.answer_key = self.clock(), request.key
        self._attach(session, task.ticket, photos, actor=actor, task=task)
        self.tickets.add_note(
            session, task.ticket_id, actor=actor,
            text=f"【核实反馈】{RESULT_LABELS[request.result]}：{request.answer}"
                 + (f"（附照片 {len(photos)} 张）" if photos else ""))
        session.flush()
        return task, True

    # -- the daily log (民情日志) ------------------------------------------------------------------

    def write_log(self, session: Session, worker: GridWorker, request: LogRequest) -> GridLog:
        """Write (or rewrite) the worker's log of a day: today unless said, at most
        ``LOG_DAYS_BACK`` days back, never ahead."""
        today = dt.date.fromisoformat(self.today())
        day = dt.date.fromisoformat(request.day) if request.day else today
        if day > today or day < today - dt.timedelta(days=LOG_DAYS_BACK):
            raise InvalidInput({"day": f"a log is for today or up to {LOG_DAYS_BACK} days back"})
        log = session.scalar(select(GridLog).where(GridLog.worker_id == worker.id,
                                                   GridLog.day == day.isoformat()))
        now = self.clock()
        if log is None:
            log = GridLog(worker=worker, day=day.isoformat(), text=request.text,
                          created_at=now, updated_at=now)
            session.add(log)
        else:
            log.text, log.updated_at = request.text, now
        session.flush()
        return log

    def log_of(self, session: Session, worker: GridWorker, day: str) -> dict[str, Any] | None:
        log = session.scalar(select(GridLog).where(GridLog.worker_id == worker.id,
                                                   GridLog.day == day))
        if log is None:
            return None
        return {"day": log.day, "text": log.text, "updated_at": log.updated_at.isoformat()}


def task_view(session: Session, task: VerificationTask) -> dict[str, Any]:
    """A task with its ticket and photos as the phone and the dispatcher see it."""
    t = task.ticket
    photos = session.scalars(select(TicketPhoto).where(TicketPhoto.ticket_id == t.id)
                             .order_by(TicketPhoto.id))
    return {"id": task.id, "status": task.status, "note": task.note,
            "requested_by": task.requested_by, "requested_at": task.requested_at.isoformat(),
            "result": task.result, "result_label": RESULT_LABELS.get(task.result or "", ""),
            "answer": task.answer,
            "answered_at": task.answered_at.isoformat() if task.answered_at else None,
            "worker": task.worker.name,
            "ticket": {"id": t.id, "number": t.number, "category": t.category,
                       "description": t.description, "address": t.address,
                       "grid": t.grid.code if t.grid else None, "status": t.status,
                       "latitude": t.latitude, "longitude": t.longitude},
            "photos": [{"id": p.id, "task": p.task_id, "width": p.width, "height": p.height,
                        "url": f"/api/tickets/{t.id}/photos/{p.id}"} for p in photos]}


def day_logs(session: Session, day: str) -> list[dict[str, Any]]:
    """Every grid worker's log of a site-local day (YYYY-MM-DD), by grid: what the daily
    public-sentiment report shows."""
    rows = session.execute(select(GridLog, GridWorker.name, Grid.code, Grid.name)
                           .join(GridWorker, GridWorker.id == GridLog.worker_id)
                           .join(Grid, Grid.id == GridWorker.grid_id)
                           .where(GridLog.day == day).order_by(Grid.code, GridWorker.name))
    return [{"worker": worker, "grid": code, "grid_name": grid_name, "text": log.text,
             "updated_at": log.updated_at.isoformat()}
            for log, worker, code, grid_name in rows]


def may_see_ticket(session: Session, worker: GridWorker, ticket: Ticket) -> bool:
    """Whether a grid worker may see a ticket: in their grid, their own report, or sent to
    them to verify."""
    top = level1_of(ticket.grid)
    if top is not None and top.id == worker.grid_id:
        return True
    if session.scalar(select(GridReport.id).where(GridReport.ticket_id == ticket.id,
                                                  GridReport.worker_id == worker.id)):
        return True
    return session.scalar(select(VerificationTask.id).where(
        VerificationTask.ticket_id == ticket.id,
        VerificationTask.worker_id == worker.id)) is not None


def ticket_of_photo(session: Session, photo_id: int) -> tuple[Ticket, TicketPhoto]:
    """The photo and its ticket. Raises NoSuchTicket (as 404) when there is no such photo."""
    photo = session.get(TicketPhoto, photo_id)
    if photo is None:
        raise NoSuchTicket(f"photo {photo_id}")
    return session.get(Ticket, photo.ticket_id), photo  # type: ignore[return-value]


__all__ += ["may_see_ticket", "ticket_of_photo", "task_view", "day_logs", "LOG_DAYS_BACK"]
