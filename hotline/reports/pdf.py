# -*- test-case-name: tests.reports.test_mail -*-
"""The daily report as a PDF: its own HTML page laid out by WeasyPrint, with the Chinese font
the project installs (fonts-wqy-zenhei), so the PDF reads the same as the page."""

from __future__ import annotations

__all__ = ["html_to_pdf", "PDF_FONT"]

#: The font family every text of the PDF is set in (Debian's fonts-wqy-zenhei).
PDF_FONT = "WenQuanYi Zen Hei"
_CSS = (f"@page {{ size: A4; margin: 15mm }} "
        f"* {{ font-family: '{PDF_FONT}', sans-serif !important }}")


def html_to_pdf(html: str) -> bytes:
    """The PDF of a whole report page (blocking: call it off the reactor)."""
    from weasyprint import CSS, HTML

    return HTML(string=html).write_pdf(stylesheets=[CSS(string=_CSS)])
