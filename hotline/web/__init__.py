"""The agent console, the JSON API and the Open311 intake endpoint, served by the controller
(``hotline.web.app.attach``)."""

__all__: list[str] = []
