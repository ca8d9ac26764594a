"""Benchmark server: panoramisk's FastAGI C{Application} on asyncio (runs in its own venv)."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from agi_control import GET_NAME, SCRIPT, SET_NAME, SET_VALUE, report_when_told  # noqa: E402


def main() -> None:
    from panoramisk.fast_agi import Application

    logging.disable(logging.CRITICAL)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app = Application(loop=loop)

    async def inbound(request) -> None:  # type: ignore[no-untyped-def]
        await request.send_command(f"GET VARIABLE {GET_NAME}")
        await request.send_command(f"SET VARIABLE {SET_NAME} {SET_VALUE}")
        await request.send_command("EXEC NoOp bench")

    # panoramisk routes on the whole agi_network_script, query string included.
    app.add_route(f"{SCRIPT}?lang=zh", inbound)
    server = loop.run_until_complete(
        asyncio.start_server(app.handler, "127.0.0.1", 0, backlog=512))
    report_when_told(server.sockets[0].getsockname()[1])
    loop.run_forever()


if __name__ == "__main__":
    main()
