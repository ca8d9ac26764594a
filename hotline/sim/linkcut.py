# -*- test-case-name: tests.sim.test_linkcut -*-
"""A TCP proxy that can be cut and restored, as a broken network between two hosts is.

It runs on threads and plain sockets of its own, never on the reactor of the program under
test: cutting it then costs that program exactly what a network failure costs (its connection
drops, new ones are refused until the link is restored), and nothing of the proxy's own
teardown runs in the reactor being measured. (A proxy built on Twisted's ``portforward`` in the
same reactor kept that reactor busy after a cut, so the fault could not be measured.)
"""

from __future__ import annotations

import contextlib
import socket
import threading

__all__ = ["LinkCutter"]

_CHUNK = 65536


class LinkCutter:
    """Forwards ``127.0.0.1:port`` (chosen at the first L{listen}) to ``host:target_port``.

    L{cut} closes the listening socket and every forwarded connection; L{restore} listens on
    the same port again. Safe to call from any thread; L{close} ends it for good."""

    def __init__(self, host: str, target_port: int) -> None:
        self.host = host
        self.target_port = target_port
        self.port = 0
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._links: set[socket.socket] = set()
        #: Connections forwarded since the start (each accepted one counts once).
        self.accepted = 0

    def listen(self) -> int:
        """Accept connections (again, on the same port after a cut); returns the port."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(16)
        sock.settimeout(0.2)
        self.port = sock.getsockname()[1]
        with self._lock:
            self._listener = sock
        threading.Thread(target=self._accept, args=(sock,), daemon=True,
                         name=f"linkcut-accept-{self.port}").start()
        return self.port

    restore = listen

    def cut(self) -> None:
        """Drop every forwarded connection and refuse new ones."""
        with self._lock:
            listener, self._listener = self._listener, None
            links, self._links = self._links, set()
        if listener is not None:
            _drop(listener)  # shutdown wakes the accept thread and stops listening at once
        for sock in links:
            _drop(sock)

    close = cut

    def _accept(self, listener: socket.socket) -> None:
        while True:
            with self._lock:
                if self._listener is not listener:
                    return
            try:
                inner, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            inner.settimeout(None)
            try:
                outer = socket.create_connection((self.host, self.target_port), timeout=5)
            except OSError:
                _drop(inner)
                continue
            outer.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut while connecting
                    _drop(inner)
                    _drop(outer)
                    return
                self._links |= {inner, outer}
                self.accepted += 1
            for src, dst in ((inner, outer), (outer, inner)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True,
                                 name=f"linkcut-pump-{self.port}").start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(_CHUNK):
                dst.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._links -= {src, dst}
        _drop(src)
        _drop(dst)


def _drop(sock: socket.socket) -> None:
    """Close ``sock`` at once, waking a thread blocked reading it."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
