"""MQTT messages built without a broker: whole payload bytes, settings validation, no secret in errors."""

import json
import ssl
from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from contracts.event import normalise, parse_event
from contracts.integrations.mqtt import MqttSettings
from workers.delivery.errors import DeliveryError
from workers.delivery.rendering import Rendering
from workers.delivery.templates import Templates
from workers.integrations import mqtt

NOW = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)

#: Grafana's own webhook shape (fields precomputed), after grafana/alerting's MQTT test case.
GRAFANA_EVENT = {
    "receiver": "cp",
    "status": "firing",
    "version": "1",
    "groupKey": "alertname",
    "groupLabels": {"alertname": ""},
    "externalURL": "http://localhost/base",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "alert1", "lbl1": "val1"},
            "annotations": {"ann1": "annv1"},
            "startsAt": "2024-05-01T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "a URL",
            "fingerprint": "fac0861a85de433a",
            "silenceURL": "http://localhost/base/alerting/silence/new?alertmanager=grafana&matcher=alertname%3Dalert1"
            "&matcher=lbl1%3Dval1",
            "dashboardURL": "http://localhost/base/d/abcd",
            "panelURL": "http://localhost/base/d/abcd?viewPanel=efgh",
            "values": None,
            "valueString": "",
        }
    ],
}

SILENCE = (
    "http://localhost/base/alerting/silence/new?alertmanager=grafana\\u0026matcher=alertname%3Dalert1"
    "\\u0026matcher=lbl1%3Dval1"
)
MESSAGE = (
    "**Firing**\\n\\nValue: [no value]\\nLabels:\\n - alertname = alert1\\n - lbl1 = val1\\nAnnotations:\\n"
    " - ann1 = annv1\\nSource: a URL\\nSilence: " + SILENCE + "\\nDashboard: http://localhost/base/d/abcd\\n"
    "Panel: http://localhost/base/d/abcd?viewPanel=efgh\\n"
)
GRAFANA_PAYLOAD = (
    '{"receiver":"cp","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"alert1","lbl1":"val1"},'
    '"annotations":{"ann1":"annv1"},"startsAt":"2024-05-01T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",'
    '"generatorURL":"a URL","fingerprint":"fac0861a85de433a","silenceURL":"' + SILENCE + '",'
    '"dashboardURL":"http://localhost/base/d/abcd","panelURL":"http://localhost/base/d/abcd?viewPanel=efgh",'
    '"values":null,"valueString":""}],"groupLabels":{"alertname":""},"commonLabels":{"alertname":"alert1","lbl1":"val1"},'
    '"commonAnnotations":{"ann1":"annv1"},"externalURL":"http://localhost/base","version":"1","groupKey":"alertname",'
    '"message":"' + MESSAGE + '"}'
)


def rendering(event: dict) -> Rendering:
    return Rendering(normalise(parse_event(json.dumps(event).encode()), NOW), Templates(), NOW, 1)


def minimal(resolved: bool = False) -> dict:
    return {
        "receiver": "ops",
        "alerts": [
            {"labels": {"alertname": "Disk", "instance": "a"}, "annotations": {"summary": "disk <a> & b"},
             "startsAt": "2024-05-01T10:00:00Z", **({"endsAt": "2024-05-01T10:20:00Z"} if resolved else {})}
        ],
    }


def settings(**kw) -> MqttSettings:
    return MqttSettings.model_validate({"brokerUrl": "tcp://127.0.0.1:1883", "topic": "grafana/alerts", **kw})


@pytest.mark.parametrize(
    "extra, qos, retain",
    [({}, 0, False), ({"qos": "1", "retain": True}, 1, True), ({"qos": 2}, 2, False)],
)
def test_json_payload_is_grafanas_byte_for_byte(extra, qos, retain):
    request = mqtt.build(rendering(GRAFANA_EVENT), settings(**extra))
    assert request.payload.decode() == GRAFANA_PAYLOAD
    assert (request.topic, request.qos, request.retain) == ("grafana/alerts", qos, retain)


def test_json_payload_key_order_without_orgid_title_state():
    body = json.loads(mqtt.build(rendering(minimal()), settings()).payload)
    assert list(body) == ["receiver", "status", "alerts", "groupLabels", "commonLabels", "commonAnnotations",
                          "externalURL", "version", "groupKey", "message"]
    assert body["groupKey"] == '{}:{alertname="Disk"}'
    assert b"\\u003ca\\u003e \\u0026 b" in mqtt.build(rendering(minimal()), settings()).payload


def test_resolved_notification():
    body = json.loads(mqtt.build(rendering(minimal(resolved=True)), settings()).payload)
    assert body["status"] == "resolved" and body["alerts"][0]["endsAt"] == "2024-05-01T10:20:00Z"
    assert body["message"].startswith("**Resolved**\n")


@pytest.mark.parametrize(
    "extra, payload",
    [
        ({"messageFormat": "text"}, None),  # the default message alone
        ({"messageFormat": "text", "message": "{{ Status }}: {{ CommonLabels.alertname }}"}, "firing: Disk"),
    ],
)
def test_text_payload(extra, payload):
    request = mqtt.build(rendering(minimal()), settings(**extra))
    if payload is None:
        payload = json.loads(mqtt.build(rendering(minimal()), settings()).payload)["message"]
    assert request.payload == payload.encode()
    assert request.preview([], False) == {"topic": "grafana/alerts", "qos": 0, "retain": False, "payload": payload}


def test_custom_message_in_json_mode_and_preview_parses_json():
    request = mqtt.build(rendering(minimal()), settings(message="{{ CommonAnnotations.summary }}"))
    view = request.preview([], False)
    assert list(view) == ["topic", "qos", "retain", "payload"]
    assert view["payload"]["message"] == "disk <a> & b"


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"topic": "t"}, "brokerUrl"),
        ({"brokerUrl": "tcp://h:1883"}, "topic"),
        ({"brokerUrl": "tcp://h:1883", "topic": ""}, "MQTT topic must be specified"),
        ({"brokerUrl": "tcp://h:1883", "topic": "a/#"}, "wildcards"),
        ({"brokerUrl": "tcp://h", "topic": "t"}, "must include a port"),
        ({"brokerUrl": "http://h:80", "topic": "t"}, "unsupported scheme"),
        ({"brokerUrl": "tcp://h:99999", "topic": "t"}, "failed to parse broker URL"),
        ({"brokerUrl": "tcp://h:1883", "topic": "t", "messageFormat": "xml"}, "must be 'json' or 'text'"),
        ({"brokerUrl": "tcp://h:1883", "topic": "t", "qos": 3}, "invalid QoS level: 3"),
        ({"brokerUrl": "tcp://h:1883", "topic": "t", "qos": "high"}, "failed to parse QoS"),
    ],
)
def test_invalid_settings(bad, message):
    with pytest.raises(ValidationError, match=message):
        MqttSettings.model_validate(bad)


def test_defaults_and_secrets():
    s = MqttSettings.model_validate({
        "brokerUrl": "ssl://broker:8883", "topic": "t", "messageFormat": "", "message": "", "qos": "",
        "username": "u", "password": "mqtt-secret-pw", "tlsConfig": {"clientKey": "KEYPEM"},
    })
    assert (s.messageFormat, s.message, s.qos, s.clientId) == ("json", '{{ template("default.message") }}', 0, "")
    assert s.uses_tls and set(s.secret_values()) == {"mqtt-secret-pw", "KEYPEM"}
    assert "mqtt-secret-pw" not in repr(s)


def test_insecure_tls_context():
    context = mqtt._tls_context(settings(brokerUrl="ssl://h:8883", tlsConfig={"insecureSkipVerify": True}))
    assert context.verify_mode == ssl.CERT_NONE and context.check_hostname is False
    assert mqtt._tls_context(settings(brokerUrl="ssl://h:8883")).verify_mode == ssl.CERT_REQUIRED


def test_connection_refused_is_transient_and_names_no_secret(monkeypatch):
    monkeypatch.setenv("ALERTRELAY_HTTP_TIMEOUT", "2")
    s = settings(brokerUrl="tcp://127.0.0.1:1", username="alice", password="mqtt-secret-pw", qos=1)
    with pytest.raises(DeliveryError) as caught:
        mqtt.send(mqtt.build(rendering(minimal()), s), s)
    assert caught.value.kind == "transient"
    assert caught.value.message.startswith("failed to connect to MQTT broker")
    assert "mqtt-secret-pw" not in caught.value.message


@pytest.mark.parametrize("code, kind", [(134, "permanent"), (135, "permanent"), (133, "permanent"), (136, "transient")])
def test_connack_classification(code, kind):
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.reasoncodes import ReasonCode

    error = mqtt._connack_error(ReasonCode(PacketTypes.CONNACK, identifier=code))
    assert error.kind == kind and f"CONNACK {code}" in error.message
