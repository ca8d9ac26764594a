"""Tests for L{hotline.agi.routes}: registration, duplicates and setup hooks."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from hotline.agi.channel import AGIChannel
from hotline.agi.routes import DuplicateRouteError, RouteTable


async def survey(channel: AGIChannel) -> None:
    """A do-nothing script."""


class RouteTableTests(SynchronousTestCase):
    """A registry keyed by script name."""

    def test_decorator(self) -> None:
        """register() works as a decorator and returns the script unchanged."""
        routes = RouteTable()

        @routes.register("inbound")
        async def inbound(channel: AGIChannel) -> None:
            pass

        route = routes.lookup("inbound")
        assert route is not None
        self.assertIs(route.script, inbound)
        self.assertIn("inbound", routes)

    def test_duplicate_refused(self) -> None:
        """A second script under the same name raises a clear error naming the first."""
        routes = RouteTable()
        routes.add("survey", survey)
        error = self.assertRaises(DuplicateRouteError, routes.add, "/survey", survey)
        self.assertIn("survey", str(error))

    def test_leading_slash(self) -> None:
        """A script path with a leading slash finds the route."""
        routes = RouteTable()
        routes.add("survey", survey)
        self.assertIsNotNone(routes.lookup("/survey"))
        self.assertIsNone(routes.lookup("other"))

    def test_bad_name(self) -> None:
        """An empty name or one with a query string is refused."""
        routes = RouteTable()
        self.assertRaises(ValueError, routes.add, "", survey)
        self.assertRaises(ValueError, routes.add, "a?b=1", survey)

    def test_timeout(self) -> None:
        """A route keeps its own time limit (None: the server's); a limit of zero is refused."""
        routes = RouteTable()
        routes.add("survey", survey, timeout=120.0)
        self.assertEqual(routes.lookup("survey").timeout, 120.0)
        self.assertIsNone(routes.add("other", survey).timeout)
        self.assertRaises(ValueError, routes.add, "third", survey, timeout=0)

    def test_setup_hooks(self) -> None:
        """run_setup() calls each route's hook in registration order."""
        calls: list[str] = []
        routes = RouteTable()
        routes.add("a", survey, setup=lambda: calls.append("a"))
        routes.add("b", survey)
        routes.add("c", survey, setup=lambda: calls.append("c"))
        routes.run_setup()
        self.assertEqual(calls, ["a", "c"])
        self.assertEqual(routes.names(), ["a", "b", "c"])
        self.assertEqual(len(routes), 3)
