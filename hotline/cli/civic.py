# -*- test-case-name: tests.civic.test_cli -*-
"""``hotline council ...`` (residents' hearings, 听证议事) and ``hotline project ...``
(proposals 申领制, applications 申报制, organisations) from the command line, as a console
account (``--as USER``) with the console's checks and audit: the two command groups share this
module's plumbing (registered by hotline.cli.council and hotline.cli.project)."""

from __future__ import annotations

import argparse
import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hotline.cli.main import CommandError
from hotline.cli.ticket import acting_as, console_user, run_unit

__all__ = ["register_council", "register_project"]


def _sub(parent: Any, name: str, help: str, func: Callable[..., int]) -> argparse.ArgumentParser:
    p = parent.add_parser(name, help=help)
    acting_as(p)
    p.set_defaults(func=func)
    return p


def register_council(sub: argparse._SubParsersAction) -> None:
    """``hotline council ...`` (registered by hotline.cli.council)."""
    c = sub.add_parser("council", help="residents' hearings: topics noticed, met and reported "
                                       "(听证议事)")
    cs = c.add_subparsers(dest="council_command", metavar="ACTION")
    cs.required = True
    _sub(cs, "list", "the newest topics", lambda a, cfg: _list(a, cfg, "topics"))
    p = _sub(cs, "show", "one topic with its tickets", lambda a, cfg: _show(a, cfg, "topics"))
    p.add_argument("id", type=int)
    p = _sub(cs, "create", "collect a topic from tickets (numbers) or an incident",
             lambda a, cfg: _act(a, cfg, "topics", "create", None, {
                 "title": a.title, "category": a.category, "level": a.level,
                 "council": a.council, "summary": a.summary, "tickets": a.tickets or None,
                 "incident": a.incident}))
    p.add_argument("tickets", nargs="*", help="ticket numbers (RX...) or ids")
    p.add_argument("--incident", type=int)
    p.add_argument("--title", required=True)
    p.add_argument("--category", required=True)
    p.add_argument("--level", required=True, choices=["street", "community"])
    p.add_argument("--council", required=True, help="the council's name")
    p.add_argument("--summary", required=True, help="what the public notice says")
    p = _sub(cs, "notice", "publish the notice: days, meeting time and place",
             lambda a, cfg: _act(a, cfg, "topics", "notice", a.id, {
                 "notice_days": a.days, "meeting_place": a.place, "meeting_at": a.at}))
    p.add_argument("id", type=int)
    p.add_argument("--days", type=int, required=True)
    p.add_argument("--place", required=True)
    p.add_argument("--at", help="site-local time, 2026-12-20T19:30")
    p = _sub(cs, "meeting", "record the meeting",
             lambda a, cfg: _act(a, cfg, "topics", "meeting", a.id, {
                 "participants": a.participants, "minutes": a.minutes,
                 "decisions": a.decisions}))
    p.add_argument("id", type=int)
    p.add_argument("--participants", required=True)
    p.add_argument("--minutes", required=True)
    p.add_argument("--decisions", required=True)
    p = _sub(cs, "report", "publish the after-report; every linked ticket is told",
             lambda a, cfg: _act(a, cfg, "topics", "report", a.id, {"report": a.text}))
    p.add_argument("id", type=int)
    p.add_argument("--text", required=True)


def register_project(sub: argparse._SubParsersAction) -> None:
    """``hotline project ...`` (registered by hotline.cli.project)."""
    j = sub.add_parser("project", help="public-welfare projects: proposals (申领制), "
                                       "applications (申报制), organisations")
    js = j.add_subparsers(dest="project_command", metavar="ACTION")
    js.required = True
    _sub(js, "list", "proposals, applications and organisations", _list_all)
    p = _sub(js, "show", "one proposal", lambda a, cfg: _show(a, cfg, "proposals"))
    p.add_argument("id", type=int)
    p = _sub(js, "create", "merge tickets into a published proposal",
             lambda a, cfg: _act(a, cfg, "proposals", "create", None, {
                 "title": a.title, "category": a.category, "area": a.area,
                 "summary": a.summary, "estimated_cost": a.cost,
                 "tickets": a.tickets or None, "incident": a.incident}))
    p.add_argument("tickets", nargs="*", help="ticket numbers (RX...) or ids")
    p.add_argument("--incident", type=int)
    p.add_argument("--title", required=True)
    p.add_argument("--category", required=True)
    p.add_argument("--area", required=True)
    p.add_argument("--summary", required=True)
    p.add_argument("--cost", required=True, help="estimated cost, yuan")
    p = _sub(js, "claim", "claim a proposal for your organisation",
             lambda a, cfg: _act(a, cfg, "proposals", "claim", a.id, {}))
    p.add_argument("id", type=int)
    p = _sub(js, "progress", "report progress, with photos",
             lambda a, cfg: _act(a, cfg, "proposals", "progress", a.id, {"text": a.text},
                                 photos=a.photo))
    p.add_argument("id", type=int)
    p.add_argument("--text", required=True)
    p.add_argument("--photo", action="append", default=[], metavar="FILE")
    p = _sub(js, "finish", "finish the project; every linked ticket is told",
             lambda a, cfg: _act(a, cfg, "proposals", "finish", a.id, {"result": a.result}))
    p.add_argument("id", type=int)
    p.add_argument("--result", required=True)
    p = _sub(js, "apply", "apply with your organisation's own project",
             lambda a, cfg: _act(a, cfg, "applications", "create", None, {
                 "title": a.title, "summary": a.summary, "budget": a.budget,
                 "benefit": a.benefit}))
    p.add_argument("--title", required=True)
    p.add_argument("--summary", required=True)
    p.add_argument("--budget", required=True, help="yuan")
    p.add_argument("--benefit", required=True)
    p = _sub(js, "application", "one application with its reviews",
             lambda a, cfg: _show(a, cfg, "applications"))
    p.add_argument("id", type=int)
    p = _sub(js, "review", "score an application 0-100",
             lambda a, cfg: _act(a, cfg, "applications", "review", a.id, {
                 "score": a.score, "comment": a.comment}))
    p.add_argument("id", type=int)
    p.add_argument("--score", required=True)
    p.add_argument("--comment")
    p = _sub(js, "decide", "decide an application with the subsidy ratio (percent)",
             lambda a, cfg: _act(a, cfg, "applications", "decide", a.id, {
                 "approve": not a.reject, "subsidy_ratio": a.ratio, "note": a.note}))
    p.add_argument("id", type=int)
    p.add_argument("--reject", action="store_true", help="不予立项 (default: approve)")
    p.add_argument("--ratio", help="subsidy ratio, percent of the budget")
    p.add_argument("--note")
    p = _sub(js, "org-add", "register an organisation",
             lambda a, cfg: _org(a, cfg, "add", {"code": a.code, "name": a.name}))
    p.add_argument("code")
    p.add_argument("name")
    p = _sub(js, "org-member", "let an account (role organisation) act for an organisation",
             lambda a, cfg: _org(a, cfg, "add_member", {"username": a.username}, a.code))
    p.add_argument("code")
    p.add_argument("username")


def _service(cfg: Any) -> Any:
    from hotline.tickets.clock import DeadlineRules
    from hotline.tickets.service import TicketService

    return TicketService(timezone=cfg["site"]["timezone"],
                         rules=DeadlineRules.from_settings(cfg["tickets"]))


def _store(cfg: Any) -> Any:
    from hotline.tickets.attachments import AttachmentStore

    settings = cfg["tickets"]
    return AttachmentStore(cfg.state_dir / settings["attachment_dir"],
                           max_bytes=int(settings["attachment_max_bytes"]),
                           types=settings["attachment_types"])


def _unit(args: argparse.Namespace, cfg: Any, action: str, target: str | None,
          work: Callable[..., Any], *rest: Any, **kw: Any) -> Any:
    """``work`` as the ``--as`` account in one unit of work; a refusal is audited and becomes
    a one-line CommandError."""
    from hotline.civic import demands
    from hotline.tickets.exceptions import TicketError

    user = console_user(cfg, args)
    service = _service(cfg)
    try:
        return run_unit(cfg, lambda s: work(s, service, user, *rest, **kw))
    except TicketError as e:
        if action:
            run_unit(cfg, demands.audit_refusal, user, action, target, e, ip="cli")
        raise CommandError(e.message) from None


def _act(args: argparse.Namespace, cfg: Any, kind: str, step: str, item_id: int | None,
         body: dict[str, Any], photos: list[str] | None = None) -> int:
    from hotline.civic.http import KINDS
    from hotline.tickets.actions import UploadedFile

    spec = KINDS[kind]
    body = {k: v for k, v in body.items() if v is not None}
    if step == "create":
        data = _unit(args, cfg, f"{spec.audit}.create", None, spec.create, body, ip="cli")
    else:
        extra: dict[str, Any] = {}
        if step == "progress":
            files = []
            for name in photos or []:
                path = Path(name)
                if not path.is_file():
                    raise CommandError(f"no file {name}")
                files.append(UploadedFile(path.name, mimetypes.guess_type(path.name)[0] or "",
                                          path.read_bytes()))
            extra = {"store": _store(cfg), "files": files}
        data = _unit(args, cfg, f"{spec.audit}.{step}", str(item_id),
                     getattr(spec.module, step), item_id, body, ip="cli", **extra)
    _print(kind, data)
    return 0


def _print(kind: str, d: dict[str, Any]) -> None:
    if kind == "topics":
        print(f"topic {d['id']}: {d['title']}  {d['status']}  {d['level']} {d['council']}  "
              f"{d['demands']} tickets")
    elif kind == "proposals":
        print(f"proposal {d['id']}: {d['title']}  {d['status']}  {d['area']}  "
              f"{d['citizens']} citizens  {d['estimated_cost']} yuan  "
              f"{d['organisation'] or '-'}")
        for r in d.get("progress", []):
            print(f"  progress {r['at'][:16]} {r['text'][:60]}  photos {len(r['photos'])}")
    else:
        ratio = d["subsidy_ratio"]
        subsidy = f"{ratio}% ({d['subsidy']} yuan)" if ratio is not None else "-"
        print(f"application {d['id']}: {d['title']}  {d['status']}  {d['organisation']}  "
              f"budget {d['budget']}  reviews {d['reviews']}  average "
              f"{d['average_score'] if d['average_score'] is not None else '-'}  "
              f"subsidy {subsidy}")
        for r in d.get("review_list", []):
            print(f"  review {r['reviewer']}: {r['score']}")
    for t in d.get("tickets", []):
        told = f"  told: {t['told']}" if t.get("told") else ""
        print(f"  {t['number']:<18} {t['status']:<11}{told}")


def _show(args: argparse.Namespace, cfg: Any, kind: str) -> int:
    from hotline.civic.http import KINDS

    _print(kind, _unit(args, cfg, "", None, KINDS[kind].module.view, args.id))
    return 0


def _list(args: argparse.Namespace, cfg: Any, kind: str) -> int:
    from hotline.civic.http import KINDS

    rows = _unit(args, cfg, "", None, KINDS[kind].module.overview)
    for row in rows:
        _print(kind, {k: v for k, v in row.items() if k not in ("tickets", "review_list")})
    if not rows:
        print("(none)")
    return 0


def _list_all(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.civic import organisations

    for org in _unit(args, cfg, "", None, organisations.listing):
        print(f"organisation {org['code']}: {org['name']}  {', '.join(org['members']) or '-'}")
    _list(args, cfg, "proposals")
    return _list(args, cfg, "applications")


def _org(args: argparse.Namespace, cfg: Any, what: str, body: dict[str, Any],
         *code: str) -> int:
    from hotline.civic import organisations

    org = _unit(args, cfg, f"civic.organisation.{'add' if what == 'add' else 'member'}",
                code[0] if code else None, getattr(organisations, what), *code, body,
                ip="cli")
    print(f"organisation {org['code']}: {org['name']}  {', '.join(org['members']) or '-'}")
    return 0
