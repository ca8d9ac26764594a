"""Benchmark server: a plain thread-per-session C{socketserver.ThreadingTCPServer} reference."""

from __future__ import annotations

import socketserver
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from agi_control import GET_NAME, SCRIPT, SET_NAME, SET_VALUE, report_when_told  # noqa: E402

COMMANDS = [
    f'GET VARIABLE "{GET_NAME}"\n'.encode(),
    f'SET VARIABLE "{SET_NAME}" "{SET_VALUE}"\n'.encode(),
    b'EXEC "NoOp" "bench"\n',
]


class FastAGISession(socketserver.StreamRequestHandler):
    """Read the variable block line by line, then send each command and read its reply."""

    def handle(self) -> None:
        variables = {}
        for raw in self.rfile:
            line = raw.rstrip(b"\r\n")
            if not line:
                break
            name, _, value = line.decode("utf-8", "replace").partition(": ")
            variables[name] = value
        else:
            return  # closed before the end of the block
        if variables.get("agi_network_script", "").partition("?")[0] != SCRIPT:
            return
        for command in COMMANDS:
            self.wfile.write(command)
            reply = self.rfile.readline()
            if not reply.startswith(b"200"):
                return


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512


def main() -> None:
    server = Server(("127.0.0.1", 0), FastAGISession)
    report_when_told(server.server_address[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
