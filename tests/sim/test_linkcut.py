"""The fault suite's cuttable TCP link: bytes pass both ways, a cut drops the connection and
refuses new ones, a restore accepts on the same port again."""

from __future__ import annotations

import socket
import socketserver
import threading

import pytest

from hotline.sim.linkcut import LinkCutter


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)


@pytest.fixture
def echo():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _talk(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"ping")
    assert sock.recv(16) == b"ping"
    return sock


def test_cut_drops_the_link_and_restore_brings_it_back(echo):
    """A cut closes the forwarded connection and refuses new ones; after a restore the same
    port forwards again."""
    cutter = LinkCutter("127.0.0.1", echo)
    port = cutter.listen()
    try:
        sock = _talk(port)
        cutter.cut()
        assert sock.recv(16) == b""  # dropped, as a broken network drops it
        sock.close()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2)
        assert cutter.restore() == port
        _talk(port).close()
        assert cutter.accepted == 2
    finally:
        cutter.close()
