"""The keep-alive transport under httpx: the same bytes as httpx's own transport, keep-alive that
never sends a request twice, and httpx's exceptions for every failure (see workers/delivery/transport.py).

A raw socket server stands in for the receiver so each test controls the connection itself:
how many were opened, what arrived on each, and when the server closes one.
"""

from __future__ import annotations

import gzip
import socket
import ssl
import time

import httpx
import pytest
import trustme

from tests.raw_server import OK, RawServer, Reply
from workers.delivery import http
from workers.delivery.errors import DeliveryError
from workers.delivery.request import HttpRequest
from workers.delivery.transport import KeepAliveTransport

@pytest.fixture
def server_factory():  # type: ignore[no-untyped-def]
    servers: list[RawServer] = []

    def make(reply: Reply | None = None) -> RawServer:
        server = RawServer(reply) if reply else RawServer()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


def post(url: str, body: bytes = b'{"a":1}') -> httpx.Response:
    return http.send(HttpRequest("POST", url, {"Content-Type": "application/json", "User-Agent": "Grafana"}, body))


def test_requests_reuse_one_keep_alive_connection(server_factory):
    server = server_factory()
    http.close_clients()
    for _ in range(3):
        assert post(server.url()).text == "ok"
    assert [number for number, _ in server.requests] == [1, 1, 1]


def test_the_bytes_sent_match_httpx_own_transport(server_factory):
    server = server_factory()
    post(server.url("/ours?x=1"), b'{"k":"v"}')
    with httpx.Client(timeout=5) as plain:  # httpx's default transport (httpcore and h11)
        plain.post(server.url("/ours?x=1"), content=b'{"k":"v"}', headers={"Content-Type": "application/json", "User-Agent": "Grafana"})
    ours, theirs = (request for _, request in server.requests)

    def parsed(raw: bytes) -> tuple[bytes, list[tuple[bytes, bytes]], bytes]:
        head, _, body = raw.partition(b"\r\n\r\n")
        first, *lines = head.split(b"\r\n")
        return first, sorted((k.strip().lower(), v.strip()) for k, v in (line.split(b":", 1) for line in lines)), body

    assert parsed(ours) == parsed(theirs)
    assert parsed(ours)[0] == b"POST /ours?x=1 HTTP/1.1"


def test_a_connection_the_server_closed_while_idle_is_replaced_and_nothing_is_sent_twice(server_factory):
    server = server_factory(lambda n, req: (OK, True))  # answers, then closes the connection
    http.close_clients()
    post(server.url())
    time.sleep(0.2)  # the close reaches us while the connection sits in the pool
    post(server.url())
    assert [number for number, _ in server.requests] == [1, 2]


def test_connection_close_from_the_server_is_honoured(server_factory):
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    server = server_factory(lambda n, req: (answer, True))
    http.close_clients()
    post(server.url())
    post(server.url())
    assert server.connections == 2 and len(server.requests) == 2


def test_chunked_and_gzipped_answers_are_decoded(server_factory):
    payload = gzip.compress(b'{"ok":true}')
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload)
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\nContent-Type: application/json\r\n\r\n" + chunked
    server = server_factory(lambda n, req: (answer, False))
    assert post(server.url()).json() == {"ok": True}


def test_an_error_status_keeps_its_reason_and_body(server_factory):
    answer = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nRetry-After: 7\r\n\r\nbusy"
    server = server_factory(lambda n, req: (answer, False))
    with pytest.raises(DeliveryError) as caught:
        post(server.url())
    assert caught.value.message == "webhook response status 503 Service Unavailable: busy"
    assert caught.value.transient and caught.value.retry_after == 7


def test_a_refused_connection_is_a_transient_connect_error():
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    with pytest.raises(DeliveryError) as caught:
        post(f"http://127.0.0.1:{port}/hook")
    assert caught.value.transient and caught.value.message.startswith("connection error: ConnectError")


def test_a_receiver_that_never_answers_times_out(server_factory, monkeypatch):
    server = server_factory(lambda n, req: (None, False))
    transport = KeepAliveTransport()
    request = httpx.Request("POST", server.url(), content=b"x", extensions={"timeout": {"connect": 1, "read": 0.3, "write": 1}})
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        transport.handle_request(request)
    assert time.monotonic() - started < 3


def test_a_receiver_that_hangs_up_without_answering_is_a_protocol_error(server_factory):
    server = server_factory(lambda n, req: (b"", True))
    with pytest.raises(httpx.RemoteProtocolError, match="disconnected without sending a response"):
        KeepAliveTransport().handle_request(httpx.Request("POST", server.url(), content=b"x"))


def test_an_unsupported_scheme_is_refused_before_any_connection():
    with pytest.raises(httpx.UnsupportedProtocol):
        KeepAliveTransport().handle_request(httpx.Request("GET", "ftp://127.0.0.1/x"))


def test_tls_connections_are_kept_alive_too():
    """HTTPS connections are reused like plain ones (verified against the test CA)."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    server = RawServer(tls=server_context)
    try:
        transport = KeepAliveTransport(client_context)
        for _ in range(3):
            response = transport.handle_request(httpx.Request("POST", f"https://127.0.0.1:{server.port}/hook", content=b"x"))
            assert response.read() == b"ok"
            time.sleep(0.1)
        assert server.connections == 1 and len(server.requests) == 3
    finally:
        server.close()
