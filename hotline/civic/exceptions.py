"""Domain errors of hearings and projects; like the tickets' (whose base they share, so the
console renders them one way), each says its HTTP meaning and that nothing was changed."""

from __future__ import annotations

from hotline.tickets.exceptions import TicketError

__all__ = ["NoSuchThing", "WrongStep", "AlreadyClaimed", "PersonalData"]


class NoSuchThing(TicketError):
    """No topic, proposal, application or organisation of that id (or not one you may see)."""

    status_code = 404
    error_id = "not-found"

    def __init__(self, what: str, ident: int | str) -> None:
        super().__init__(f"no {what} {ident}", {what: ident})


class WrongStep(TicketError):
    """The step is not allowed from the current status."""

    status_code = 409
    error_id = "wrong-step"

    def __init__(self, step: str, status: str, allowed: list[str]) -> None:
        super().__init__(f"cannot {step} while {status} (only from {', '.join(allowed)})",
                         {"step": step, "status": status, "allowed": allowed})


class AlreadyClaimed(TicketError):
    """A second claim on a proposal: the first one stands."""

    status_code = 409
    error_id = "already-claimed"

    def __init__(self, proposal_id: int, organisation: str | None) -> None:
        super().__init__(f"项目 {proposal_id} 已被认领 (already claimed by {organisation})",
                         {"proposal": proposal_id, "organisation": organisation})


class PersonalData(TicketError):
    """Text meant for a public page names a linked citizen's phone, name or address."""

    status_code = 400
    error_id = "personal-data"

    def __init__(self, field: str, kind: str) -> None:
        super().__init__(f"{field}: 公开内容不得包含市民个人信息 (it contains a linked "
                         f"citizen's {kind})", {"fields": {field: f"contains a {kind}"}})
