"""Webhook payloads built without a network: whole bodies compared."""

import base64
import hashlib
import hmac
import json
from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from contracts.event import normalise, parse_event
from contracts.integrations.webhook import WebhookSettings
from workers.delivery.rendering import Rendering
from workers.delivery.templates import Templates
from workers.integrations import webhook

NOW = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)


def rendering(*instances: str, resolved: bool = False, org_id: int = 1) -> Rendering:
    alerts = [
        {"labels": {"alertname": "Disk", "instance": i}, "annotations": {"summary": f"disk {i}"},
         "startsAt": "2024-05-01T10:00:00Z", **({"endsAt": "2024-05-01T10:20:00Z"} if resolved else {})}
        for i in instances
    ]
    event = parse_event(json.dumps({"receiver": "ops", "alerts": alerts}).encode())
    return Rendering(normalise(event, NOW), Templates(), NOW, org_id)


def settings(**kw) -> WebhookSettings:
    return WebhookSettings.model_validate({"url": "http://hooks.local/x", **kw})


def test_default_body_is_grafanas_payload_in_go_field_order():
    request = webhook.build(rendering("a"), settings())
    assert request.method == "POST" and request.url == "http://hooks.local/x"
    assert request.headers == {"Content-Type": "application/json", "User-Agent": "Grafana"}
    body = json.loads(request.body)
    assert list(body) == ["receiver", "status", "alerts", "groupLabels", "commonLabels", "commonAnnotations",
                          "externalURL", "groupKey", "version", "truncatedAlerts", "orgId", "title", "state", "message"]
    assert list(body["alerts"][0]) == ["status", "labels", "annotations", "startsAt", "endsAt", "generatorURL",
                                       "fingerprint", "silenceURL", "dashboardURL", "panelURL", "values", "valueString"]
    assert body["title"] == "[FIRING:1] Disk (a)"
    assert body["state"] == "alerting" and body["truncatedAlerts"] == 0 and body["orgId"] == 1
    assert body["groupKey"] == '{}:{alertname="Disk"}'
    assert body["alerts"][0]["values"] is None


def test_resolved_notification():
    body = json.loads(webhook.build(rendering("a", resolved=True), settings()).body)
    assert (body["status"], body["state"], body["title"]) == ("resolved", "ok", "[RESOLVED] Disk (a)")
    assert body["alerts"][0]["endsAt"] == "2024-05-01T10:20:00Z"


def test_max_alerts_truncates_and_counts():
    body = json.loads(webhook.build(rendering("a", "b", "c"), settings(maxAlerts="2")).body)
    assert [a["labels"]["instance"] for a in body["alerts"]] == ["a", "b"]
    assert body["truncatedAlerts"] == 1
    assert body["title"] == "[FIRING:2] Disk "


def test_basic_auth_headers_and_put():
    request = webhook.build(rendering("a"), settings(httpMethod="put", username="u", password="p", headers={"X-Team": "ops"}))
    assert request.method == "PUT"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    assert request.headers["X-Team"] == "ops"
    assert request.preview(["p"])["headers"]["Authorization"] == "[REDACTED]"


def test_authorization_header_and_hmac_with_timestamp():
    s = settings(authorization_credentials="tok", hmacConfig={"secret": "k", "timestampHeader": "X-Ts"})
    request = webhook.build(rendering("a"), s)
    assert request.headers["Authorization"] == "Bearer tok"
    ts = request.headers["X-Ts"]
    assert ts == str(int(NOW.timestamp()))
    expected = hmac.new(b"k", ts.encode() + b":" + request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Grafana-Alerting-Signature"] == expected


def test_custom_payload_and_vars():
    s = settings(payload={"template": '{"who": "{{ Vars.team }}", "n": {{ Alerts | length }}}', "vars": {"team": "ops"}})
    assert json.loads(webhook.build(rendering("a", "b"), s).body) == {"who": "ops", "n": 2}
    pretty = webhook.build(rendering("a"), settings(payload={"template": '{{ template "webhook.default.payload" . }}'}))
    assert json.loads(pretty.body)["title"] == "[FIRING:1] Disk (a)"


def test_noop_url_sends_nothing():
    assert webhook.build(rendering("a"), settings(url="grafana://noop")) is None


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"url": ""}, "must not be empty"),
        ({"url": "http://x", "headers": {"Authorization": "x"}}, "cannot be set: Authorization"),
        ({"url": "http://x", "username": "u", "password": "p", "authorization_credentials": "t"}, "use one"),
        ({"url": "http://x", "httpMethod": "GET"}, "httpMethod"),
        ({"url": "http://x", "hmacConfig": {"secret": ""}}, "must not be empty"),
    ],
)
def test_invalid_settings(bad, message):
    with pytest.raises(ValidationError, match=message):
        WebhookSettings.model_validate(bad)
