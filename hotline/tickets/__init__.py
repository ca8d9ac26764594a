"""Tickets (诉求): intake from every channel, the 接-派-办-评 lifecycle, incidents, caller lookup."""

__all__ = ["exceptions", "schemas", "service"]
