"""The agent console, the JSON API and the Open311 intake endpoint, served by the controller."""

__all__ = ["attach", "WebConsole"]


def __getattr__(name: str):  # the package stays cheap to import for the command line
    if name in __all__:
        from hotline.web import app

        return getattr(app, name)
    raise AttributeError(name)
