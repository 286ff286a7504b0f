"""A raw-socket HTTP/1.1 receiver for tests that control the connection itself: how many were
opened, what arrived on each, when the server answers, hangs or hangs up."""

from __future__ import annotations

import socket
import ssl
import threading
from typing import Callable

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"

#: What the server does with one request on one connection: the bytes to answer (None: say
#: nothing and hold the connection until the server closes) and whether to close it afterwards.
Reply = Callable[[int, bytes], tuple[bytes | None, bool]]


def read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


def body_of(request: bytes) -> bytes:
    return request.partition(b"\r\n\r\n")[2]


class RawServer:
    """A one-thread-per-connection HTTP/1.1 server that records every request by connection."""

    def __init__(self, reply: Reply = lambda n, req: (OK, False), tls: ssl.SSLContext | None = None):
        self.reply = reply
        self.tls = tls
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.port = self.sock.getsockname()[1]
        self.requests: list[tuple[int, bytes]] = []  # (connection number, request bytes)
        self.connections = 0
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn, self.connections), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            with conn:
                while True:
                    request = read_request(conn)
                    if not request:
                        return
                    self.requests.append((number, request))
                    answer, close = self.reply(len(self.requests), request)
                    if answer is None:
                        self._closed.wait()
                        return
                    conn.sendall(answer)
                    if close:
                        return
        except OSError:  # the client gave up on a held or half-read connection
            return

    def close(self) -> None:
        self._closed.set()
        self.sock.close()
