"""Benchmark server: ours, L{hotline.agi.server.listen} on Twisted's default reactor."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from agi_control import GET_NAME, SCRIPT, SET_NAME, SET_VALUE, report_when_told  # noqa: E402


def main() -> None:
    from twisted.internet import reactor
    from twisted.logger import Logger

    from hotline.agi.routes import RouteTable
    from hotline.agi.server import listen

    routes = RouteTable()

    @routes.register(SCRIPT)
    async def inbound(channel) -> None:  # type: ignore[no-untyped-def]
        await channel.get_variable(GET_NAME)
        await channel.set_variable(SET_NAME, SET_VALUE)
        await channel.exec("NoOp", "bench")

    port = listen(reactor, routes=routes, bind="127.0.0.1", port=0, allow=["127.0.0.1"],
                  log=Logger(observer=lambda event: None), backlog=512)
    report_when_told(port.getHost().port)
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
