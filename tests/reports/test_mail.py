"""Tests for L{hotline.reports.mail} and L{hotline.reports.pdf}: the daily report's PDF reads
民情报告 and the day's figures (pdftotext), and the morning's run mails it to a real SMTP server
started by the test (aiosmtpd), on SQLite and PostgreSQL."""

from __future__ import annotations

import email
import subprocess
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session

from db.postgres import free_port
from db.session import make_engine, make_session_factory
from hotline import config as config_mod
from hotline.reports.daily import run_daily_report
from hotline.reports.mail import mail_configured
from tests.reports.seed import DAY, TZ, seed_daily


class _Inbox:
    """What the SMTP server received: (envelope recipients, raw message)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


def _zh_day(day: str) -> str:
    """2026-11-03 as the report writes it: 2026年11月3日."""
    y, m, d = map(int, day.split("-"))
    return f"{y}年{m}月{d}日"


@pytest.fixture
def smtp():
    inbox = _Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=free_port())
    server.start()
    try:
        yield server, inbox
    finally:
        server.stop()


def _text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True, timeout=60).stdout


def test_daily_run_mails_the_pdf_to_the_leaders(db_url: str, session: Session, smtp,
                                                tmp_path: Path) -> None:
    """With an SMTP server and two recipients configured, the morning's run stores the
    report and mails it once to both, the PDF attached; its text holds 民情报告, the day and
    the day's ticket count."""
    server, inbox = smtp
    seed_daily(session)
    session.commit()
    settings = dict(config_mod.loads("", source="tests")["reports"])
    assert not mail_configured(settings)
    settings.update(smtp_host="127.0.0.1", smtp_port=server.port, mail_from="hotline@example.org",
                    daily_recipients=["leader@example.org", "deputy@example.org"])
    engine = make_engine(db_url)
    try:
        run_daily_report(make_session_factory(engine), settings, timezone=TZ, day=DAY)
    finally:
        engine.dispose()
    assert len(inbox.messages) == 1
    recipients, raw = inbox.messages[0]
    assert sorted(recipients) == ["deputy@example.org", "leader@example.org"]
    message = email.message_from_bytes(raw, policy=policy.default)
    assert "民情报告" in message["Subject"]
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == f"民情报告-{DAY}.pdf"
    pdf = attachment.get_content()
    assert pdf.startswith(b"%PDF")
    text = _text(pdf, tmp_path)
    assert "民情报告" in text and _zh_day(DAY) in text
    assert "12" in text  # the seeded day's twelve tickets


def test_no_mail_without_a_server(db_url: str, session: Session, smtp) -> None:
    """Without smtp_host nothing is sent, and the report is still stored."""
    from hotline.reports.daily import load_daily

    _server, inbox = smtp
    seed_daily(session)
    session.commit()
    settings = dict(config_mod.loads("", source="tests")["reports"])
    settings["daily_recipients"] = ["leader@example.org"]
    engine = make_engine(db_url)
    try:
        run_daily_report(make_session_factory(engine), settings, timezone=TZ, day=DAY)
    finally:
        engine.dispose()
    assert inbox.messages == []
    session.expire_all()
    assert load_daily(session, DAY) is not None


def test_daily_report_reads_in_chinese(session: Session) -> None:
    """The daily report's headings, empty-table notes and chart legends are Chinese: none of
    the former English labels is left."""
    from hotline.reports.charts import load_geometry
    from hotline.reports.daily import build_daily
    from hotline.reports.render import daily_html

    seed_daily(session)
    html = daily_html(build_daily(session, DAY, timezone=TZ), load_geometry(None))
    for words in ("各渠道诉求量", "各类别诉求量", "网格热点", "民情日志", "分时话务压力曲线", "坐席接听能力"):
        assert words in html, words
    for english in ("Volumes by", "Hot spots", "Notable tickets", "Pressure by hour",
                    "agent capacity", "Daily public-sentiment"):
        assert english not in html, english
