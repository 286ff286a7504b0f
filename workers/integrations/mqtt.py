"""MQTT (``type: mqtt``): Grafana's notification published to a broker topic.

Settings: :class:`contracts.integrations.mqtt.MqttSettings`. Payload: with
``messageFormat: json`` Grafana's ``ExtendedData`` (without its ``groupKey``) followed by
``version``, ``groupKey`` and ``message``, Go-JSON encoded; with ``text`` the rendered
``message`` alone. Transport as in Grafana: MQTT 3.1.1, clean session, keep-alive 30 s,
one connection per notification.

Success: the broker acknowledged the connection, and the publish was written (QoS 0) or
confirmed by the broker (PUBACK for QoS 1, PUBCOMP for QoS 2) within the timeout
(``ALERTRELAY_HTTP_TIMEOUT``, default 10 s), so a job is acked only once the broker has
the message. Connection failures, timeouts, a lost connection and "server unavailable" are
transient; a broker that refuses the credentials or the client id is permanent.
"""

from __future__ import annotations

import json
import random
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from contracts.gocompat import go_json
from contracts.integrations.mqtt import WEBSOCKET_SCHEMES, MqttSettings
from workers.delivery.errors import DeliveryError, permanent, transient
from workers.delivery.http import ssl_context, timeout_seconds
from workers.delivery.rendering import Rendering
from workers.delivery.request import mask

KEEPALIVE_SECONDS = 30
#: CONNACK reason codes (MQTT 5 numbering, which paho uses for 3.1.1 too) worth retrying.
TRANSIENT_CONNACK = frozenset({136, 137, 151, 159})  # server unavailable / busy, quota exceeded, rate too high

_client_locks: dict[tuple[str, str], threading.Lock] = {}
_client_locks_guard = threading.Lock()


@dataclass
class MqttRequest:
    """One publish: where, how, and the exact payload bytes."""

    topic: str
    qos: int
    retain: bool
    payload: bytes
    message_format: str = "json"

    def preview(self, secrets: list[str], show_secrets: bool = False) -> dict[str, Any]:
        """``{"topic", "qos", "retain", "payload"}``; a JSON payload is shown parsed, text as text."""
        text = self.payload.decode("utf-8", errors="replace")
        payload: Any = text
        if self.message_format == "json":
            try:
                payload = json.loads(text)
            except ValueError:
                payload = text
        view = {"topic": self.topic, "qos": self.qos, "retain": self.retain, "payload": payload}
        return view if show_secrets else mask(view, secrets)


def build(rendering: Rendering, settings: MqttSettings) -> MqttRequest:
    """The message Grafana's MQTT notifier would publish."""
    data = rendering.template_data()
    message = rendering.render(settings.message, data)
    if settings.messageFormat == "text":
        payload = message
    else:
        extended = {k: v for k, v in rendering.data.items() if k != "groupKey"}
        payload = go_json({**extended, "version": "1", "groupKey": rendering.data["groupKey"], "message": message})
    return MqttRequest(
        topic=settings.topic,
        qos=settings.qos,
        retain=settings.retain,
        payload=payload.encode(),
        message_format=settings.messageFormat,
    )


def send(request: MqttRequest, settings: MqttSettings) -> None:
    """Connect, publish once, wait for the broker's confirmation, disconnect."""
    with _lock_for(settings):
        session = _Session(settings, timeout_seconds())
        try:
            session.connect()
            session.publish(request)
        finally:
            session.close()


def _lock_for(settings: MqttSettings) -> threading.Lock:
    """A fixed client id can be connected once per broker: threads of a process take turns.

    (A second connection with the same id makes the broker drop the first one.) Without a
    client id every connection draws its own, so nothing is shared.
    """
    if not settings.clientId:
        return threading.Lock()
    key = (settings.brokerUrl, settings.clientId)
    with _client_locks_guard:
        return _client_locks.setdefault(key, threading.Lock())


class _Session:
    """One paho client for one notification, with the events its callbacks report."""

    def __init__(self, settings: MqttSettings, timeout: float):
        self.settings = settings
        self.timeout = timeout
        self.url = urlsplit(settings.brokerUrl)
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.connack: Any = None
        self.started = False
        client_id = settings.clientId or f"grafana_{random.randrange(2**31)}"
        transport = "websockets" if settings.scheme in WEBSOCKET_SCHEMES else "tcp"
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=True,
            protocol=MQTTProtocolVersion.MQTTv311,
            transport=transport,
            reconnect_on_failure=False,
        )
        self.client.connect_timeout = timeout
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        if transport == "websockets":
            self.client.ws_set_options(path=self.url.path or "/")
        if settings.username:
            password = settings.password.get_secret_value() if settings.password else None
            self.client.username_pw_set(settings.username, password or None)
        if settings.uses_tls:
            self.client.tls_set_context(_tls_context(settings))
            if settings.tlsConfig is not None and settings.tlsConfig.insecureSkipVerify:
                self.client.tls_insecure_set(True)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        self.connack = reason_code
        self.connected.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        self.disconnected.set()

    def connect(self) -> None:
        """TCP (and TLS) connect, then wait for the broker's CONNACK."""
        try:
            self.client.connect(self.url.hostname or "", self.url.port or 1883, keepalive=KEEPALIVE_SECONDS)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise transient(f"failed to connect to MQTT broker: {type(exc).__name__}: {exc}") from None
        self.client.loop_start()
        self.started = True
        deadline = time.monotonic() + self.timeout
        while not self.connected.is_set():
            if self.disconnected.is_set():
                raise transient("failed to connect to MQTT broker: the connection was closed before CONNACK")
            if time.monotonic() > deadline:
                raise transient(f"failed to connect to MQTT broker: no CONNACK within {self.timeout:g}s")
            self.connected.wait(0.05)
        if self.connack is not None and self.connack.is_failure:
            raise _connack_error(self.connack)

    def publish(self, request: MqttRequest) -> None:
        """Publish and wait until the broker confirms (QoS 1/2) or the bytes are out (QoS 0)."""
        try:
            info = self.client.publish(request.topic, request.payload, qos=request.qos, retain=request.retain)
        except (ValueError, TypeError) as exc:
            raise permanent(f"failed to publish MQTT message: {exc}") from None
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise transient(f"failed to publish MQTT message: {paho.error_string(info.rc)}")
        deadline = time.monotonic() + self.timeout
        while not info.is_published():
            if self.disconnected.is_set():
                raise transient("failed to publish MQTT message: the broker closed the connection before confirming it")
            if time.monotonic() > deadline:
                raise transient(f"failed to publish MQTT message: not confirmed by the broker within {self.timeout:g}s")
            try:
                info.wait_for_publish(0.05)
            except (RuntimeError, ValueError) as exc:
                raise transient(f"failed to publish MQTT message: {exc}") from None

    def close(self) -> None:
        if not self.started:
            return
        try:
            if not self.disconnected.is_set():
                self.client.disconnect()
        finally:
            self.client.loop_stop()


def _connack_error(reason: Any) -> DeliveryError:
    text = f"failed to connect to MQTT broker: {reason} (CONNACK {reason.value})"
    return transient(text) if reason.value in TRANSIENT_CONNACK else permanent(text)


def _tls_context(settings: MqttSettings) -> ssl.SSLContext:
    """The TLS settings from ``tlsConfig`` (CA, client certificate, skip verification)."""
    tls = settings.tlsConfig

    def pem(value: Any) -> str:
        return value.get_secret_value() if value is not None else ""

    ca, cert, key = (pem(tls.caCertificate), pem(tls.clientCertificate), pem(tls.clientKey)) if tls else ("", "", "")
    insecure = bool(tls and tls.insecureSkipVerify)
    context = ssl_context(ca, cert, key, insecure)
    if context is False:  # the shared helper's "do not verify" for httpx
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context  # type: ignore[return-value]
