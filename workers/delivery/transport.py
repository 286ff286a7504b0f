"""An httpx transport with a C response parser: the same requests as httpx's own, less CPU.

Profiling a worker (py-spy, ``--gil``) showed the HTTP exchange as the largest cost of a
webhook delivery: httpcore and h11 are pure Python, and the standard library's
``http.client`` parses every response's headers with the ``email`` package. Here responses
are parsed by httptools (llhttp, the parser under uvicorn) and a request is written in one
``sendall``. httpx stays the API every integration uses: its requests, responses (content
decoding included), exceptions and timeouts; proxies from the environment stay httpx's.

Connections are kept alive per (scheme, host, port). A pooled connection the server closed
while it sat idle is noticed before reuse and replaced, so no request is sent twice because
of a stale connection.
"""

from __future__ import annotations

import re
import socket
import ssl
import threading
from typing import Any

import httpx
import httptools

#: Idle keep-alive connections kept per destination.
MAX_IDLE_PER_ORIGIN = 8
_READ_SIZE = 65536
#: RFC 9110 token characters for a header name; a value must not break the line.
_HEADER_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_ILLEGAL_VALUE = re.compile(rb"[\r\n\x00]")

_Key = tuple[str, str, int]


class KeepAliveTransport(httpx.BaseTransport):
    """HTTP/1.1 with keep-alive over sockets (TLS from :mod:`ssl`); raises httpx's own exceptions."""

    def __init__(self, verify: Any = True) -> None:
        self._ssl = verify if isinstance(verify, ssl.SSLContext) else None
        self._verify = verify
        self._idle: dict[_Key, list[socket.socket]] = {}
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"Request URL has an unsupported protocol '{url.scheme}://'.", request=request)
        if not url.host:
            raise httpx.UnsupportedProtocol("Request URL is missing a host.", request=request)
        head = _request_head(request)
        host = url.raw_host.decode("ascii")  # IDNA-encoded, as DNS and TLS (SNI) need it
        key = (url.scheme, host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout") or {}
        sock = self._take(key) or self._connect(key, timeouts.get("connect"), request)
        try:
            received = _exchange(sock, head + request.read(), request, timeouts)
        except BaseException:
            sock.close()
            raise
        if received.keep_alive:
            self._give_back(key, sock)
        else:
            sock.close()
        return received.response(request)

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context of this transport's HTTPS connections (made on first use)."""
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context(verify=self._verify)
        return self._ssl

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for sockets in idle.values():
            for sock in sockets:
                sock.close()

    # -- connections ---------------------------------------------------------------------

    def _take(self, key: _Key) -> socket.socket | None:
        """An idle connection still open at the other end, or ``None``."""
        while True:
            with self._lock:
                pool = self._idle.get(key)
                if not pool:
                    return None
                sock = pool.pop()
            if _still_open(sock):
                return sock
            sock.close()

    def _give_back(self, key: _Key, sock: socket.socket) -> None:
        with self._lock:
            pool = self._idle.setdefault(key, [])
            if len(pool) < MAX_IDLE_PER_ORIGIN:
                pool.append(sock)
                return
        sock.close()

    def _connect(self, key: _Key, timeout: float | None, request: httpx.Request) -> socket.socket:
        scheme, host, port = key
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "timed out", request=request) from exc
        except OSError as exc:  # refused, unreachable, name not known
            raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if scheme != "https":
            return sock
        try:
            return self.ssl_context().wrap_socket(sock, server_hostname=host)
        except TimeoutError as exc:
            sock.close()
            raise httpx.ConnectTimeout(str(exc) or "timed out", request=request) from exc
        except OSError as exc:  # certificate and handshake failures (ssl.SSLError is an OSError)
            sock.close()
            raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from exc


def _request_head(request: httpx.Request) -> bytes:
    """The request line and headers, refusing what would break the message (CR, LF, NUL)."""
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    for name, value in request.headers.raw:
        if not _HEADER_NAME.fullmatch(name):
            raise httpx.LocalProtocolError(f"Invalid header name {name!r}", request=request)
        if _ILLEGAL_VALUE.search(value):
            raise httpx.LocalProtocolError(f"Invalid header value {value!r}", request=request)
        lines.append(name + b": " + value)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _exchange(sock: socket.socket, message: bytes, request: httpx.Request, timeouts: dict[str, Any]) -> "_Received":
    sock.settimeout(timeouts.get("write"))
    try:
        sock.sendall(message)
    except TimeoutError as exc:
        raise httpx.WriteTimeout(str(exc) or "timed out", request=request) from exc
    except OSError as exc:
        raise httpx.WriteError(str(exc) or type(exc).__name__, request=request) from exc
    sock.settimeout(timeouts.get("read"))
    received = _Received(head_only=request.method == "HEAD")
    parser = httptools.HttpResponseParser(received)
    received.parser = parser
    while not received.complete:
        try:
            data = sock.recv(_READ_SIZE)
        except TimeoutError as exc:
            raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        if not data:
            received.end_of_stream(request)
            break
        try:
            parser.feed_data(data)
        except httptools.HttpParserError as exc:
            raise httpx.RemoteProtocolError(f"invalid HTTP response: {exc}", request=request) from exc
    return received


class _Received:
    """httptools' callbacks, collecting one response (interim 1xx responses are skipped)."""

    def __init__(self, head_only: bool = False) -> None:
        self.parser: Any = None
        self.head_only = head_only
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.headers_complete = False
        self.complete = False
        self.keep_alive = False

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.headers_complete = True
        if self.head_only:
            self._finish()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self.parser.get_status_code() < 200:  # 100 Continue, 103 Early Hints: the real answer follows
            self.reason, self.headers, self.body, self.headers_complete = b"", [], [], False
            return
        self._finish()

    def _finish(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = bool(self.parser.should_keep_alive()) and not self.head_only
        self.complete = True

    def end_of_stream(self, request: httpx.Request) -> None:
        """The server closed the connection: the end of a body sent without a length, or an error."""
        delimited = any(name.lower() in (b"content-length", b"transfer-encoding") for name, _ in self.headers)
        if not self.headers_complete:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        if delimited:
            raise httpx.RemoteProtocolError("Server disconnected in the middle of the response body.", request=request)
        self._finish()
        self.keep_alive = False

    def response(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            self.status,
            headers=self.headers,
            stream=httpx.ByteStream(b"".join(self.body)),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": self.reason},
        )


def _still_open(sock: socket.socket) -> bool:
    """Whether an idle keep-alive connection is still usable: nothing to read on it yet.

    A closed connection reads as end-of-stream; TLS session tickets a server sends after the
    handshake are consumed by the TLS layer and leave nothing to read, so they do not count.
    """
    try:
        sock.setblocking(False)
        try:
            sock.recv(1) if isinstance(sock, ssl.SSLSocket) else sock.recv(1, socket.MSG_PEEK)
        finally:
            sock.setblocking(True)
    except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
        return True
    except OSError:
        return False
    return False  # end of stream, or bytes nobody asked for: either way not reusable
