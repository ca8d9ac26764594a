"""Supervisor reports: the callback SLA report, the three rates, the live wall board, the daily
public-sentiment report (民情报告) and their charts, as HTML pages and fragments, CSV and SVG."""

__all__ = ["periods", "sla", "rates", "wallboard", "daily", "charts", "render", "exceptions",
           "job"]
