"""Real TLS handshakes: an HTTPS receiver with a certificate nobody trusts is refused unless the
webhook names its CA or skips verification; and the whole pipeline runs over ``amqps://``
(RabbitMQ behind a local TLS terminator, since the test broker has no TLS listener)."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import threading
from datetime import datetime, timezone
from typing import Any, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
import trustme
from pytest_httpserver import HTTPServer

from contracts import topology
from contracts.event import normalise, parse_event
from contracts.integrations.webhook import WebhookSettings
from tests import secret_markers as sm
from tests.harness import Pipeline, cli, peek, wait_for
from workers.delivery import http
from workers.delivery.errors import DeliveryError
from workers.delivery.rendering import Rendering
from workers.delivery.templates import Templates
from workers.integrations import webhook

pytestmark = pytest.mark.integration

NOW = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def https_receiver(server_context: ssl.SSLContext) -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=server_context)
    server.expect_request("/hook").respond_with_data("ok")
    server.start()
    yield server
    server.clear()
    server.stop()


def send_webhook(url: str, **settings: Any) -> None:
    model = WebhookSettings.model_validate({"url": url, **settings})
    rendering = Rendering(normalise(parse_event(json.dumps(sm.event("evt-tls")).encode()), NOW), Templates(), NOW, 1)
    http.send(webhook.build(rendering, model))


def test_an_untrusted_certificate_is_refused_unless_the_webhook_trusts_its_ca_or_skips_verification(https_receiver, ca):
    url = https_receiver.url_for("/hook")
    with pytest.raises(DeliveryError) as caught:
        send_webhook(url)
    assert caught.value.transient and "CERTIFICATE_VERIFY_FAILED" in caught.value.message
    send_webhook(url, tlsConfig={"caCertificate": ca.cert_pem.bytes().decode()})
    send_webhook(url, tlsConfig={"insecureSkipVerify": True})
    assert len(https_receiver.log) == 2
    other = trustme.CA().cert_pem.bytes().decode()
    with pytest.raises(DeliveryError):
        send_webhook(url, tlsConfig={"caCertificate": other})


class TlsTerminator:
    """Accepts TLS on a local port and relays the plain bytes to RabbitMQ's 5672 (asyncio, in a thread)."""

    def __init__(self, context: ssl.SSLContext, upstream: tuple[str, int]):
        self.upstream = upstream
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._relay, "127.0.0.1", 0, ssl=context), self.loop
        ).result(10)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def amqps(broker, server_context, ca, tmp_path) -> Iterator[dict[str, str]]:  # type: ignore[no-untyped-def]
    """The test broker as an ``amqps://`` URL, and the CA file that makes its certificate trusted."""
    parts = urlsplit(broker)
    terminator = TlsTerminator(server_context, (parts.hostname or "127.0.0.1", parts.port or 5672))
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    netloc = f"{parts.username}:{parts.password}@127.0.0.1:{terminator.port}"
    yield {"url": urlunsplit(("amqps", netloc, parts.path, parts.query, "")), "ca_file": str(ca_file), "plain": broker}
    terminator.close()


def test_amqps_is_verified_and_carries_the_whole_pipeline(amqps, make_receiver, monkeypatch, tmp_path):
    event = sm.event("evt-amqps")
    env = {**os.environ, "RABBITMQ_URL": amqps["url"], "ALERTRELAY_PUBLISH_RETRY_SECONDS": "1"}
    refused = cli(env, "publish", "-", input_text=json.dumps(event), check=False)
    assert refused.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in refused.stdout + refused.stderr
    assert peek(amqps["plain"], topology.EVENTS_QUEUE) == []

    monkeypatch.setenv("SSL_CERT_FILE", amqps["ca_file"])  # the trust store of every process from here on
    receiver = make_receiver()
    receiver.expect_request("/hook").respond_with_data("ok")
    config = (f"apiVersion: 1\ncontactPoints:\n  - name: {sm.CONTACT_POINT}\n    receivers:\n"
              f"      - uid: hook\n        type: webhook\n        settings:\n          url: {receiver.url_for('/hook')}\n")
    with Pipeline(tmp_path, config, amqps["url"], env={"ALERTRELAY_LOG_DELIVERIES": "on"}) as pipeline:
        pipeline.publish(event)
        wait_for(lambda: len(receiver.log) == 1, what="the webhook delivered over amqps")
    logs = pipeline.logs()
    assert "delivered job" in logs and f"{urlsplit(amqps['url']).password}@" not in logs
