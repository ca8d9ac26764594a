"""Benchmark floor: the least a Python FastAGI server can do, on a bare epoll loop.

No framework, no parsing beyond finding the blank line, the three commands fixed: what is left
is the interpreter's and the kernel's cost of a session. It shows how far any Python server
(ours included) can go on this machine; it is not a usable server.
"""

from __future__ import annotations

import select
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from agi_control import COMMANDS, report_when_told  # noqa: E402


def main() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(512)
    listener.setblocking(False)
    poller = select.epoll()
    poller.register(listener.fileno(), select.EPOLLIN)
    # fd -> [socket, buffer, commands sent]
    sessions: dict[int, list] = {}
    report_when_told(listener.getsockname()[1])
    lfd = listener.fileno()
    while True:
        for fd, _ in poller.poll():
            if fd == lfd:
                while True:
                    try:
                        sock, _ = listener.accept()
                    except BlockingIOError:
                        break
                    sock.setblocking(False)
                    sessions[sock.fileno()] = [sock, b"", 0]
                    poller.register(sock.fileno(), select.EPOLLIN)
                continue
            state = sessions[fd]
            sock = state[0]
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                poller.unregister(fd)
                del sessions[fd]
                sock.close()
                continue
            state[1] += data
            if state[2] == 0:
                if b"\n\n" not in state[1]:
                    continue
                state[1] = b""
            elif b"\n" not in state[1]:
                continue
            else:
                state[1] = b""
            if state[2] == len(COMMANDS):
                poller.unregister(fd)
                del sessions[fd]
                sock.close()
                continue
            sock.send(COMMANDS[state[2]])
            state[2] += 1


if __name__ == "__main__":
    main()
