"""MQTT against real Mosquitto brokers: the whole pipeline to 127.0.0.1:1883, TLS and auth on a private one."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import paho.mqtt.client as paho
import pytest
import trustme
from paho.mqtt.enums import CallbackAPIVersion

from contracts.event import normalise, parse_event
from contracts.integrations.mqtt import MqttSettings
from tests.harness import cli, wait_for
from workers.delivery.errors import DeliveryError
from workers.delivery.rendering import Rendering
from workers.delivery.templates import Templates
from workers.integrations import mqtt

pytestmark = pytest.mark.integration

BROKER = "tcp://127.0.0.1:1883"
EVENT = {
    "id": "evt-mqtt-1",
    "receiver": "ops-team",
    "externalURL": "https://grafana.example.com/",
    "alerts": [
        {
            "labels": {"alertname": "HighCPU", "grafana_folder": "Infra", "instance": "web-1", "severity": "critical"},
            "annotations": {"summary": "CPU at 97.5% <hot> & rising", "__values__": '{"B":97.5,"C":1}', "__orgId__": "1"},
            "startsAt": "2024-05-01T10:00:00Z",
            "generatorURL": "https://grafana.example.com/alerting/grafana/cpu/view",
        }
    ],
}
SILENCE = (
    "https://grafana.example.com/alerting/silence/new?alertmanager=grafana\\u0026matcher=alertname%3DHighCPU"
    "\\u0026matcher=grafana_folder%3DInfra\\u0026matcher=instance%3Dweb-1\\u0026matcher=severity%3Dcritical\\u0026orgId=1"
)
MESSAGE = (
    "**Firing**\\n\\nValue: B=97.5, C=1\\nLabels:\\n - alertname = HighCPU\\n - grafana_folder = Infra\\n"
    " - instance = web-1\\n - severity = critical\\nAnnotations:\\n - summary = CPU at 97.5% \\u003chot\\u003e \\u0026 rising\\n"
    "Source: https://grafana.example.com/alerting/grafana/cpu/view?orgId=1\\n"
    "Silence: " + SILENCE + "\\n"
)
LABELS = '{"alertname":"HighCPU","grafana_folder":"Infra","instance":"web-1","severity":"critical"}'
ANNOTATIONS = '{"summary":"CPU at 97.5% \\u003chot\\u003e \\u0026 rising"}'
PAYLOAD = (
    '{"receiver":"ops-team","status":"firing","alerts":[{"status":"firing","labels":' + LABELS + ","
    '"annotations":' + ANNOTATIONS + ',"startsAt":"2024-05-01T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",'
    '"generatorURL":"https://grafana.example.com/alerting/grafana/cpu/view?orgId=1","fingerprint":"2d7294e4022f08fc",'
    '"silenceURL":"' + SILENCE + '","dashboardURL":"","panelURL":"","values":{"B":97.5,"C":1},"valueString":"",'
    '"orgId":1}],"groupLabels":{"alertname":"HighCPU","grafana_folder":"Infra"},"commonLabels":' + LABELS + ","
    '"commonAnnotations":' + ANNOTATIONS + ',"externalURL":"https://grafana.example.com/","version":"1",'
    '"groupKey":"{}:{alertname=\\"HighCPU\\", grafana_folder=\\"Infra\\"}","message":"' + MESSAGE + '"}'
).encode()


def config(topic: str, broker: str = BROKER, **settings: Any) -> str:
    extra = "".join(f"\n          {k}: {json.dumps(v)}" for k, v in settings.items())
    return f"""
apiVersion: 1
contactPoints:
  - name: ops-team
    receivers:
      - uid: ops-mqtt
        type: mqtt
        settings:
          brokerUrl: {broker}
          topic: {topic}{extra}
"""


class Subscriber:
    """A paho client subscribed to one topic, keeping every message it receives."""

    def __init__(self, topic: str, port: int = 1883, **auth: Any):
        self.messages: list[paho.MQTTMessage] = []
        self.ready = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"test-sub-{uuid.uuid4().hex[:8]}")
        if auth.get("tls_ca"):
            self.client.tls_set(ca_certs=auth["tls_ca"])
        if auth.get("username"):
            self.client.username_pw_set(auth["username"], auth["password"])
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=2)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.ready.set()
        self.client.on_message = lambda c, u, message: self.messages.append(message)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.ready.wait(10), "subscription not confirmed"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def subscribe() -> Iterator[Any]:
    subscribers: list[Subscriber] = []

    def make(topic: str, port: int = 1883, **auth: Any) -> Subscriber:
        subscriber = Subscriber(topic, port, **auth)
        subscribers.append(subscriber)
        return subscriber

    yield make
    for subscriber in subscribers:
        subscriber.close()


def test_pipeline_publishes_grafanas_payload_with_qos1(pipeline_factory, subscribe):
    topic = f"alertrelay-test/{uuid.uuid4().hex}"
    subscriber = subscribe(topic)
    with pipeline_factory(config(topic, qos=1), types=("mqtt",)) as pipeline:
        pipeline.publish(EVENT)
        wait_for(lambda: subscriber.messages, timeout=30, what="the MQTT message")
        time.sleep(0.3)  # nothing more may arrive
        assert pipeline.dead_letters() == []
    assert len(subscriber.messages) == 1
    message = subscriber.messages[0]
    assert message.topic == topic and message.qos == 1 and not message.retain
    assert message.payload == PAYLOAD


def test_preview(tmp_path: Path):
    path = tmp_path / "provisioning.yaml"
    path.write_text(config("grafana/alerts", qos="2", retain=True, messageFormat="text",
                           message="{{ Status }}: {{ CommonLabels.instance }}", password="mqtt-secret-pw", username="u"))
    event = tmp_path / "event.json"
    event.write_text(json.dumps(EVENT))
    out = cli(dict(os.environ), "preview", "--config", str(path), "--event", str(event)).stdout
    line = json.loads(out)
    assert (line["uid"], line["type"]) == ("ops-mqtt", "mqtt")
    assert line["request"] == {"topic": "grafana/alerts", "qos": 2, "retain": True, "payload": "firing: web-1"}
    assert "mqtt-secret-pw" not in out
    path.write_text(config("grafana/alerts"))
    request = json.loads(cli(dict(os.environ), "preview", "--config", str(path), "--event", str(event),
                             "--now", "2024-05-01T10:30:00Z").stdout)["request"]
    assert request["payload"] == json.loads(PAYLOAD)


# --- a private broker with TLS and a password -------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory) -> Iterator[dict[str, Any]]:
    """Mosquitto on a free loopback port: TLS with a throwaway CA, user ``alice`` / ``wonderland``."""
    if not shutil.which("mosquitto") or not shutil.which("mosquitto_passwd"):
        pytest.fail("mosquitto is not installed (apt-get install mosquitto); the MQTT TLS tests need a private broker")
    folder = tmp_path_factory.mktemp("mosquitto")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(str(folder / "server.pem"))
    cert.private_key_pem.write_to_path(str(folder / "server.key"))
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(folder / "passwd"), "alice", "wonderland"], check=True,
                   capture_output=True)
    port = free_port()
    (folder / "mosquitto.conf").write_text(
        f"user root\npersistence false\nlog_dest stderr\nper_listener_settings true\n"
        f"listener {port} 127.0.0.1\ncafile {folder / 'ca.pem'}\ncertfile {folder / 'server.pem'}\n"
        f"keyfile {folder / 'server.key'}\nallow_anonymous false\npassword_file {folder / 'passwd'}\n"
    )
    process = subprocess.Popen(["mosquitto", "-c", str(folder / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else "mosquitto exited"
            return False

    wait_for(listening, timeout=10, what="the TLS broker")
    yield {"port": port, "ca": str(folder / "ca.pem"), "ca_pem": ca.cert_pem.bytes().decode()}
    process.terminate()
    process.wait(10)


def build(**settings: Any) -> tuple[mqtt.MqttRequest, MqttSettings]:
    model = MqttSettings.model_validate(settings)
    now = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)
    rendering = Rendering(normalise(parse_event(json.dumps(EVENT).encode()), now), Templates(), now, 1)
    return mqtt.build(rendering, model), model


def test_tls_with_password_and_qos2(tls_broker, subscribe):
    topic = f"alertrelay-test/{uuid.uuid4().hex}"
    port = tls_broker["port"]
    subscriber = subscribe(topic, port, tls_ca=tls_broker["ca"], username="alice", password="wonderland")
    request, settings = build(brokerUrl=f"ssl://127.0.0.1:{port}", topic=topic, qos=2, retain=False,
                              username="alice", password="wonderland", clientId="alertrelay-tls-test",
                              tlsConfig={"caCertificate": tls_broker["ca_pem"]})
    mqtt.send(request, settings)
    wait_for(lambda: subscriber.messages, timeout=10, what="the TLS message")
    assert subscriber.messages[0].payload == PAYLOAD and subscriber.messages[0].qos == 2


def test_wrong_password_is_permanent_and_not_in_the_error(tls_broker):
    port = tls_broker["port"]
    request, settings = build(brokerUrl=f"mqtts://127.0.0.1:{port}", topic="t", qos=1, username="alice",
                              password="not-wonderland", tlsConfig={"caCertificate": tls_broker["ca_pem"]})
    with pytest.raises(DeliveryError) as caught:
        mqtt.send(request, settings)
    assert caught.value.kind == "permanent" and "Not authorized (CONNACK 135)" in caught.value.message
    assert "not-wonderland" not in caught.value.message


def test_untrusted_broker_certificate_is_refused_unless_verification_is_off(tls_broker, subscribe):
    port = tls_broker["port"]
    topic = f"alertrelay-test/{uuid.uuid4().hex}"
    request, settings = build(brokerUrl=f"tls://127.0.0.1:{port}", topic=topic, qos=1, username="alice",
                              password="wonderland")
    with pytest.raises(DeliveryError) as caught:
        mqtt.send(request, settings)
    assert caught.value.kind == "transient" and "CERTIFICATE_VERIFY_FAILED" in caught.value.message
    subscriber = subscribe(topic, port, tls_ca=tls_broker["ca"], username="alice", password="wonderland")
    request, settings = build(brokerUrl=f"tls://127.0.0.1:{port}", topic=topic, qos=1, username="alice",
                              password="wonderland", tlsConfig={"insecureSkipVerify": True})
    mqtt.send(request, settings)
    wait_for(lambda: subscriber.messages, timeout=10, what="the message over unverified TLS")
