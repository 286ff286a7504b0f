"""An httpx transport on the standard library's ``http.client``: the same requests, less CPU.

Profiling a worker showed httpcore and h11 (httpx's default transport, pure Python) taking
about half of the CPU a webhook delivery costs. ``http.client`` sends the same bytes with a
C header parser under it. httpx stays the API every integration uses (requests, responses,
errors, timeouts, proxies from the environment); only the bytes on the wire are handled here.

Connections are kept alive per (scheme, host, port, TLS context). A pooled connection the
server closed while it was idle is noticed before reuse (its socket reads as ready) and
replaced, so a request is never sent twice because of a stale connection.
"""

from __future__ import annotations

import http.client
import select
import ssl
import threading
from typing import Any

import httpx

#: Idle keep-alive connections kept per destination.
MAX_IDLE_PER_ORIGIN = 8

_Key = tuple[str, str, int]


class StdlibTransport(httpx.BaseTransport):
    """HTTP/1.1 with keep-alive over ``http.client``; raises httpx's own exceptions."""

    def __init__(self, verify: Any = True) -> None:
        self._ssl = verify if isinstance(verify, ssl.SSLContext) else None
        self._verify = verify
        self._idle: dict[_Key, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"Request URL has an unsupported protocol '{url.scheme}://'.", request=request)
        if not url.host:
            raise httpx.UnsupportedProtocol("Request URL is missing a host.", request=request)
        key = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout") or {}
        connection = self._take(key) or self._connect(key, timeouts.get("connect"), request)
        try:
            response = self._exchange(connection, request, timeouts)
        except BaseException:
            connection.close()
            raise
        if response.will_close:
            connection.close()
        else:
            self._give_back(key, connection)
        return response.as_httpx

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context of this transport's HTTPS connections (made on first use)."""
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context(verify=self._verify)
        return self._ssl

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    # -- connections ---------------------------------------------------------------------

    def _take(self, key: _Key) -> http.client.HTTPConnection | None:
        """An idle connection still open at the other end, or ``None``."""
        while True:
            with self._lock:
                pool = self._idle.get(key)
                if not pool:
                    return None
                connection = pool.pop()
            if _still_open(connection):
                return connection
            connection.close()

    def _give_back(self, key: _Key, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            pool = self._idle.setdefault(key, [])
            if len(pool) < MAX_IDLE_PER_ORIGIN:
                pool.append(connection)
                return
        connection.close()

    def _connect(self, key: _Key, timeout: float | None, request: httpx.Request) -> http.client.HTTPConnection:
        scheme, host, port = key
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=self.ssl_context())
        else:
            connection = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            connection.connect()
        except TimeoutError as exc:
            connection.close()
            raise httpx.ConnectTimeout(str(exc) or "timed out", request=request) from exc
        except OSError as exc:  # refused, unreachable, name not known, TLS failures
            connection.close()
            raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from exc
        return connection

    # -- one request and its response -----------------------------------------------------

    def _exchange(self, connection: http.client.HTTPConnection, request: httpx.Request, timeouts: dict[str, Any]) -> "_Received":
        if connection.sock is not None:
            connection.sock.settimeout(timeouts.get("write"))
        try:
            connection.putrequest(request.method, request.url.raw_path.decode("ascii"), skip_host=True, skip_accept_encoding=True)
            for name, value in request.headers.raw:
                connection.putheader(name, value)
        except ValueError as exc:  # an illegal header name or value, a bad target
            raise httpx.LocalProtocolError(str(exc), request=request) from exc
        try:
            connection.endheaders(request.read() or None)
        except TimeoutError as exc:
            raise httpx.WriteTimeout(str(exc) or "timed out", request=request) from exc
        except OSError as exc:
            raise httpx.WriteError(str(exc) or type(exc).__name__, request=request) from exc
        if connection.sock is not None:
            connection.sock.settimeout(timeouts.get("read"))
        try:
            response = connection.getresponse()
            body = response.read()
        except TimeoutError as exc:
            raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
        except http.client.RemoteDisconnected as exc:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request) from exc
        except http.client.HTTPException as exc:
            raise httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc}", request=request) from exc
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        return _Received(response, body, request)


class _Received:
    """A complete response read from ``http.client``, and whether its connection must close."""

    __slots__ = ("will_close", "as_httpx")

    def __init__(self, response: http.client.HTTPResponse, body: bytes, request: httpx.Request):
        self.will_close = bool(response.will_close)
        self.as_httpx = httpx.Response(
            response.status,
            headers=response.getheaders(),
            stream=httpx.ByteStream(body),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": response.reason.encode("latin-1", "replace")},
        )


def _still_open(connection: http.client.HTTPConnection) -> bool:
    """An idle keep-alive socket that reads as ready was closed (or spoke out of turn)."""
    sock = connection.sock
    if sock is None:
        return False
    poller = select.poll()
    try:
        poller.register(sock, select.POLLIN)
        return not poller.poll(0)
    except (OSError, ValueError):
        return False
