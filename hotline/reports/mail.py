# -*- test-case-name: tests.reports.test_mail -*-
"""The daily report by e-mail: one message per morning to the leaders, the PDF attached,
through the site's SMTP server (``[reports] smtp_host``); nothing is sent without one."""

from __future__ import annotations

import os
import smtplib
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

__all__ = ["mail_configured", "daily_message", "send_message"]


def mail_configured(settings: Mapping[str, Any]) -> bool:
    """Whether ``[reports]`` names an SMTP server and at least one recipient."""
    return bool(settings.get("smtp_host")) and bool(settings.get("daily_recipients"))


def daily_message(*, day: str, pdf: bytes, sender: str, recipients: list[str],
                  site_name: str, tickets: int) -> EmailMessage:
    """The morning's message: a short Chinese text and the report as ``民情报告-DAY.pdf``."""
    message = EmailMessage()
    message["Subject"] = f"{site_name} 民情报告 {day}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message.set_content(f"{day} 民情报告已生成：当日受理诉求 {tickets} 件，详见附件 PDF。\n"
                        "此邮件由 365 热线系统自动发送。\n")
    message.add_attachment(pdf, maintype="application", subtype="pdf",
                           filename=f"民情报告-{day}.pdf")
    return message


def send_message(settings: Mapping[str, Any], message: EmailMessage) -> None:
    """Send through ``[reports] smtp_*`` (blocking: off the reactor); raises smtplib or
    OSError errors as they come."""
    with smtplib.SMTP(settings["smtp_host"], int(settings["smtp_port"]), timeout=30) as smtp:
        if settings.get("smtp_starttls"):
            smtp.starttls()
        if settings.get("smtp_username"):
            smtp.login(settings["smtp_username"], os.environ.get("HOTLINE_SMTP_PASSWORD", ""))
        smtp.send_message(message)
