"""The console's web server: routing, sessions, auth, templates, static files and the event
streams that each package's plugin registers its routes into and pushes to
(``hotline.web.plugin``)."""

__all__: list[str] = []
