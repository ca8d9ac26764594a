"""The directory of municipal hotlines an agent can bring into a call, and its search."""

__all__ = ["exceptions", "hours", "index", "csvio", "service"]
