"""Kafka REST Proxy requests built without a network: whole v2 and v3 bodies, and v3's success test."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timezone

import httpx
import pytest
from pydantic import ValidationError

from contracts.event import normalise, parse_event
from contracts.integrations.kafka import KafkaSettings
from workers.delivery.errors import DeliveryError
from workers.delivery.rendering import Rendering
from workers.delivery.templates import Templates
from workers.integrations import kafka

NOW = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)
IMAGE = "https://www.example.com/test-image-{}.jpg"
INCIDENT_KEY = "6e3538104c14b583da237e9693b76debbc17f0f8058ef20492e5853096cf8733"  # sha256("alertname")
RECORD_ORDER = ["description", "client", "details", "alert_state", "client_url", "contexts", "incident_key"]


def rendering(*values: str, resolved: bool = False, images: bool = True, external_url: str = "http://localhost") -> Rendering:
    """Grafana's test notification: group key ``alertname``, group labels ``{alertname: ""}``."""
    alerts = [
        {
            "labels": {"alertname": "alert1", "lbl1": value},
            "annotations": {"ann1": f"annv{index}"},
            "startsAt": "2024-05-01T10:00:00Z",
            **({"endsAt": "2024-05-01T10:20:00Z"} if resolved else {}),
            **({"imageURL": IMAGE.format(index)} if images else {}),
        }
        for index, value in enumerate(values, 1)
    ]
    event = {"receiver": "my_receiver", "externalURL": external_url, "groupLabels": {"alertname": ""},
             "groupKey": "alertname", "alerts": alerts}
    return Rendering(normalise(parse_event(json.dumps(event).encode()), NOW), Templates(), NOW, 1)


def settings(**kw: object) -> KafkaSettings:
    return KafkaSettings.model_validate({"kafkaRestProxy": "http://localhost", "kafkaTopic": "sometopic", **kw})


TWO_ALERTS_DETAILS = (
    "**Firing**\n\nValue: [no value]\nLabels:\n - alertname = alert1\n - lbl1 = val1\nAnnotations:\n - ann1 = annv1\n"
    "Silence: http://localhost/alerting/silence/new?alertmanager=grafana&matcher=alertname%3Dalert1&matcher=lbl1%3Dval1\n"
    "\nValue: [no value]\nLabels:\n - alertname = alert1\n - lbl1 = val2\nAnnotations:\n - ann1 = annv2\n"
    "Silence: http://localhost/alerting/silence/new?alertmanager=grafana&matcher=alertname%3Dalert1&matcher=lbl1%3Dval2\n"
)
TWO_ALERTS_RECORD = {  # Grafana's receivers/kafka/v1/kafka_test.go, "Multiple alerts with images with default ..."
    "description": "[FIRING:2]  ",
    "client": "Grafana",
    "details": TWO_ALERTS_DETAILS,
    "alert_state": "alerting",
    "client_url": "http://localhost/alerting/list",
    "contexts": [{"type": "image", "src": IMAGE.format(1)}, {"type": "image", "src": IMAGE.format(2)}],
    "incident_key": INCIDENT_KEY,
}
CUSTOM_RECORD = {
    "description": "customDescription",
    "client": "Grafana",
    "details": "customDetails",
    "alert_state": "alerting",
    "client_url": "http://localhost/alerting/list",
    "contexts": [{"type": "image", "src": IMAGE.format(1)}],
    "incident_key": INCIDENT_KEY,
}
V2 = {"Content-Type": "application/vnd.kafka.json.v2+json", "Accept": "application/vnd.kafka.v2+json", "User-Agent": "Grafana"}
V3 = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "Grafana"}
CUSTOM = {"description": "customDescription", "details": "customDetails"}


@pytest.mark.parametrize(
    "notification, config, url, headers, body",
    [
        pytest.param(rendering("val1", "val2"), settings(), "http://localhost/topics/sometopic", V2,
                     {"records": [{"value": TWO_ALERTS_RECORD}]}, id="grafana-v2-two-alerts-default-templates"),
        pytest.param(rendering("val1"), settings(**CUSTOM), "http://localhost/topics/sometopic", V2,
                     {"records": [{"value": CUSTOM_RECORD}]}, id="grafana-v2-custom-templates"),
        pytest.param(rendering("val1", "val2"), settings(kafkaRestProxy="http://localhost:882", kafkaTopic="myTopic",
                                                         apiVersion="v3", kafkaClusterId="lkc-abcd"),
                     "http://localhost:882/v3/clusters/lkc-abcd/topics/myTopic/records", V3,
                     {"value": {"type": "JSON", "data": TWO_ALERTS_RECORD}}, id="grafana-v3-two-alerts-default-templates"),
        pytest.param(rendering("val1"), settings(kafkaRestProxy="http://localhost:882/kafka//", kafkaTopic="myTopic",
                                                 apiVersion="v3", kafkaClusterId="lkc-abcd", **CUSTOM),
                     "http://localhost:882/kafka/v3/clusters/lkc-abcd/topics/myTopic/records", V3,
                     {"value": {"type": "JSON", "data": CUSTOM_RECORD}}, id="grafana-v3-confluent-cloud-path"),
        pytest.param(rendering("val1", resolved=True, images=False, external_url="https://grafana.example.com/sub/"),
                     settings(kafkaTopic="alerts-{{ CommonLabels.alertname }}", details="{{ Status }}"),
                     "http://localhost/topics/alerts-alert1", V2,
                     {"records": [{"value": {"description": "[RESOLVED]  (val1)", "client": "Grafana", "details": "resolved",
                                             "alert_state": "ok", "client_url": "https://grafana.example.com/sub/alerting/list",
                                             "incident_key": INCIDENT_KEY}}]},
                     id="resolved-templated-topic-no-images"),
    ],
)
def test_whole_request(notification, config, url, headers, body):
    request = kafka.build(notification, config)
    assert (request.method, request.url, request.headers) == ("POST", url, headers)
    parsed = json.loads(request.body)
    assert parsed == body
    record = parsed["value"]["data"] if "value" in parsed else parsed["records"][0]["value"]
    assert list(record) == [key for key in RECORD_ORDER if key in record]
    assert (request.check is None) == (config.apiVersion == "v2")


def test_empty_optional_fields_are_left_out_but_description_stays():
    request = kafka.build(rendering("val1", images=False, external_url=""), settings(description="{{ Vars.none }}", details=" "))
    record = json.loads(request.body)["records"][0]["value"]
    assert record == {"description": "", "client": "Grafana", "details": " ", "alert_state": "alerting",
                      "client_url": "/alerting/list", "incident_key": INCIDENT_KEY}


def test_incident_key_is_sha256_of_the_group_key():
    assert hashlib.sha256(b"alertname").hexdigest() == INCIDENT_KEY


def test_basic_auth_only_with_username_and_password():
    assert "Authorization" not in kafka.build(rendering("val1"), settings(password="BruceWayne")).headers
    s = settings(username="batman", password="BruceWayne")
    request = kafka.build(rendering("val1"), s)
    token = base64.b64encode(b"batman:BruceWayne").decode()
    assert request.headers["Authorization"] == f"Basic {token}"
    preview = request.preview(s.secret_values())
    assert preview["headers"]["Authorization"] == "[REDACTED]" and token not in json.dumps(preview)


def _response(status: int, body: bytes | str) -> httpx.Response:
    content = body if isinstance(body, bytes) else body.encode()
    return httpx.Response(status, content=content, request=httpx.Request("POST", "http://kafka/v3/x"))


@pytest.mark.parametrize("body", ['{"error_code": 200, "cluster_id": "lkc-abcd"}', '{"error_code": 201}', '{"Error_Code": 200}'])
def test_v3_success(body):
    kafka.check_v3_response(_response(200, body))


@pytest.mark.parametrize(
    "body, kind, shown",
    [
        ('{"error_code": 400, "message": "bad record"}', "permanent", "error_code 400"),
        ('{"error_code": 404, "message": "topic not found"}', "permanent", "error_code 404"),
        ('{"error_code": 429}', "transient", "error_code 429"),
        ('{"error_code": 500}', "transient", "error_code 500"),
        ('{"cluster_id": "lkc-abcd"}', "permanent", "error_code missing"),
        ('{"error_code": 0}', "permanent", "error_code 0"),
        ('{"error_code": "200"}', "permanent", "error_code missing"),
        ('[{"error_code": 200}]', "permanent", "error_code missing"),
        ("accepted", "permanent", "error_code missing"),
    ],
)
def test_v3_failures_in_a_2xx_body(body, kind, shown):
    with pytest.raises(DeliveryError) as info:
        kafka.check_v3_response(_response(200, body))
    error = info.value
    assert error.kind == kind and shown in error.message
    assert error.message.startswith("failed to publish message to Kafka")
    assert error.status_code == 200 and error.body_excerpt == body


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"kafkaRestProxy": ""}, "must not be empty"),
        ({"kafkaRestProxy": "kafka:8082"}, "http:// or https://"),
        ({"kafkaTopic": ""}, "must not be empty"),
        ({"apiVersion": "v4"}, "unsupported api version: v4"),
        ({"apiVersion": "v3"}, "kafkaClusterId must be set"),
    ],
)
def test_invalid_settings(bad, message):
    with pytest.raises(ValidationError, match=message):
        settings(**bad)


def test_defaults_and_templated_fields():
    s = settings(apiVersion="", description="", details=None)
    assert s.apiVersion == "v2" and s.kafkaRestProxy == "http://localhost"
    assert (s.description, s.details) == ('{{ template("default.title") }}', '{{ template("default.message") }}')
    assert set(settings(apiVersion="v3", kafkaClusterId="c").templated()) == {"kafkaTopic", "kafkaClusterId", "description", "details"}
