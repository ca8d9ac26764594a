"""The 365 Hotline controller: drives Asterisk 22 over AMI and FastAGI for a citizen service line."""

__all__ = ["__version__"]

__version__ = "0.1.0"
