# -*- test-case-name: tests.tickets.test_actions -*-
"""Reply attachments: files kept under the state directory, size- and type-limited, read back
only for a user who may read the ticket (the caller checks that; see ``actions``).

Runs on the database's thread pool with the unit of work that records the row: the file is
written first under a name nobody can guess, and removed again if the unit fails.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from db.models import Ticket, TicketAttachment, utcnow
from hotline.tickets.exceptions import AttachmentRefused, InvalidRequest, NoSuchAttachment

__all__ = ["AttachmentStore", "clean_filename"]

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


def clean_filename(name: str) -> str:
    """A file name safe to store and to show: no path, no control characters, ≤ 200 chars."""
    name = unicodedata.normalize("NFC", os.path.basename(name.replace("\\", "/"))).strip()
    name = _UNSAFE.sub("_", name).lstrip(".")
    return name[-200:] or "附件"


class AttachmentStore:
    """Where attachments live and what is accepted.

    @param root: the folder (``tickets.attachment_dir`` under the state directory).
    @param max_bytes: the largest file accepted (413 above).
    @param types: the content types accepted (415 for another).
    """

    def __init__(self, root: Path, *, max_bytes: int, types: Sequence[str]) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.types = tuple(types)

    def check(self, filename: str, content_type: str, size: int) -> tuple[str, str]:
        """The cleaned name and type of an acceptable file; AttachmentRefused otherwise."""
        ctype = (content_type or "").split(";")[0].strip().lower()
        if size > self.max_bytes:
            raise AttachmentRefused(
                f"附件过大：{size} 字节，最多 {self.max_bytes} 字节 (the file is {size} bytes; "
                f"at most {self.max_bytes})", status=413,
                details={"size": size, "max_bytes": self.max_bytes})
        if size == 0:
            raise InvalidRequest({"file": "is empty"})
        if ctype not in self.types:
            raise AttachmentRefused(
                f"不支持的附件类型 {ctype or '(none)'} (accepted: {', '.join(self.types)})",
                status=415, details={"content_type": ctype, "accepted": list(self.types)})
        return clean_filename(filename or ""), ctype

    def save(self, session: Session, ticket: Ticket, data: bytes, *, filename: str,
             content_type: str, actor: str) -> TicketAttachment:
        """Store ``data`` for ``ticket`` and add its row (not yet tied to a reply)."""
        name, ctype, digest, relative = self.keep(data, folder=str(ticket.id),
                                                  filename=filename, content_type=content_type)
        path = self.root / relative
        row = TicketAttachment(ticket_id=ticket.id, filename=name, content_type=ctype,
                               size_bytes=len(data), sha256=digest, path=relative,
                               uploaded_by=actor[:50], uploaded_at=utcnow())
        session.add(row)
        try:
            session.flush()
        except Exception:
            path.unlink(missing_ok=True)
            raise
        return row

    def keep(self, data: bytes, *, folder: str, filename: str,
             content_type: str) -> tuple[str, str, str, str]:
        """Check and write ``data`` under ``folder`` (a ticket's id; ``civic/...`` for the
        photos of a project's progress): its cleaned name, type, SHA-256 and path relative to
        the store, for the caller's row. AttachmentRefused as ``check``."""
        name, ctype = self.check(filename, content_type, len(data))
        digest = hashlib.sha256(data).hexdigest()
        relative = f"{folder}/{secrets.token_hex(8)}-{digest[:12]}"
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return name, ctype, digest, relative

    def discard(self, relative: str) -> None:
        """Remove a stored file whose unit of work failed."""
        (self.root / relative).unlink(missing_ok=True)

    def read(self, attachment: Any) -> bytes:
        """The bytes of a stored file's row (``path``, ``id``); NoSuchAttachment if it is gone
        from disk."""
        path = (self.root / attachment.path).resolve()
        if self.root.resolve() not in path.parents or not path.is_file():
            raise NoSuchAttachment(attachment.id)
        return path.read_bytes()
