"""A fake Asterisk for bench.ami: banner, login, then N realistic events as fast as it can."""

import socket
import sys
import threading

CALLERS = ["张三", "李四", "王五", "José", "Müller", "13800000000", "Anonymous"]


def build_events(n: int) -> bytes:
    """N events of about ten lines each, cycling Newchannel/Newstate/VarSet/Hangup."""
    out = []
    for i in range(n):
        call = i // 4
        uid = f"1700000000.{call}"
        chan = f"PJSIP/trunk-{call:08x}"
        name = CALLERS[call % len(CALLERS)]
        num = f"1380000{call % 10000:04d}"
        kind = i % 4
        common = (
            f"Privilege: call,all\r\nChannel: {chan}\r\nChannelState: {4 + kind}\r\n"
            f"ChannelStateDesc: Ring\r\nCallerIDNum: {num}\r\nCallerIDName: {name}\r\n"
            f"Uniqueid: {uid}\r\nLinkedid: {uid}\r\n"
        )
        if kind == 0:
            body = f"Event: Newchannel\r\n{common}Exten: 83658365\r\nContext: from-trunk\r\n"
        elif kind == 1:
            body = f"Event: Newstate\r\n{common}ChanVariable: TICKET={call}\r\nChanVariable: LANG=zh\r\n"
        elif kind == 2:
            body = f"Event: VarSet\r\n{common}Variable: HOTLINE_STEP\r\nValue: queue\r\n"
        else:
            body = f"Event: Hangup\r\n{common}Cause: 16\r\nCause-txt: Normal Clearing\r\n"
        out.append(body + "\r\n")
    return "".join(out).encode("utf-8")


def read_message(conn: socket.socket, buf: bytearray) -> bytes | None:
    while b"\r\n\r\n" not in buf:
        data = conn.recv(65536)
        if not data:
            return None
        buf += data
    end = buf.index(b"\r\n\r\n") + 4
    message = bytes(buf[:end])
    del buf[:end]
    return message


def header(message: bytes, name: bytes) -> bytes:
    for line in message.split(b"\r\n"):
        key, _, value = line.partition(b":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return b""


def reply(conn: socket.socket, message: bytes, extra: bytes = b"") -> None:
    action_id = header(message, b"ActionID")
    response = b"Goodbye" if header(message, b"Action").lower() == b"logoff" else b"Success"
    conn.sendall(b"Response: " + response + b"\r\nActionID: " + action_id + b"\r\n" + extra + b"\r\n")


def serve_one(conn: socket.socket, payload: bytes) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        conn.sendall(b"Asterisk Call Manager/9.0.0\r\n")
        buf = bytearray()
        while True:
            message = read_message(conn, buf)
            if message is None:
                return
            action = header(message, b"Action").lower()
            if action == b"challenge":
                reply(conn, message, b"Challenge: 123456789\r\n")
                continue
            reply(conn, message, b"Message: Authentication accepted\r\n")
            if action == b"login":
                break
        conn.sendall(payload)
        while True:  # answer whatever comes (Ping, Logoff) until the client goes
            message = read_message(conn, buf)
            if message is None:
                return
            reply(conn, message)
    except OSError:
        return
    finally:
        conn.close()


def main() -> None:
    n = int(sys.argv[1])
    payload = build_events(n)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    print(listener.getsockname()[1], len(payload), flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve_one, args=(conn, payload), daemon=True).start()


if __name__ == "__main__":
    main()
