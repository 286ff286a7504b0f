"""Grafana OnCall requests built without a network: whole JSON bodies compared, in Go field order."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Any

import pytest
from pydantic import ValidationError
from werkzeug import Response

from contracts.event import normalise, parse_event
from contracts.integrations.oncall import OnCallSettings
from contracts.provisioning import Integration
from workers.delivery.core import Prepared, send_prepared
from workers.delivery.errors import DeliveryError
from workers.delivery.rendering import Rendering
from workers.delivery.templates import Templates
from workers.integrations import oncall

NOW = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)
FINGERPRINTS = {"val1": "fac0861a85de433a", "val2": "fab6861a85d5eeb5", "val3": "fab8861a85d6718c"}
KEY_ORDER = ["receiver", "status", "alerts", "groupLabels", "commonLabels", "commonAnnotations", "externalURL",
             "version", "groupKey", "orgId", "title", "state", "message", "truncatedAlerts"]


def rendering(*values: str, resolved: bool = False, org_id: int = 1) -> Rendering:
    """Grafana's test notification: group key ``alertname``, group labels ``{alertname: ""}``."""
    alerts = [
        {
            "labels": {"alertname": "alert1", "lbl1": value},
            "annotations": {"ann1": f"annv{value[-1]}"},
            "startsAt": "2024-05-01T10:00:00Z",
            **({"endsAt": "2024-05-01T10:20:00Z"} if resolved else {}),
        }
        for value in values
    ]
    event = {"receiver": "my_receiver", "externalURL": "http://localhost", "groupLabels": {"alertname": ""},
             "groupKey": "alertname", "alerts": alerts}
    return Rendering(normalise(parse_event(json.dumps(event).encode()), NOW), Templates(), NOW, org_id)


def settings(**kw: object) -> OnCallSettings:
    return OnCallSettings.model_validate({"url": "http://localhost/test", **kw})


def alert(value: str, resolved: bool = False) -> dict[str, Any]:
    return {
        "status": "resolved" if resolved else "firing",
        "labels": {"alertname": "alert1", "lbl1": value},
        "annotations": {"ann1": f"annv{value[-1]}"},
        "startsAt": "2024-05-01T10:00:00Z",
        "endsAt": "2024-05-01T10:20:00Z" if resolved else "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": FINGERPRINTS[value],
        "silenceURL": "http://localhost/alerting/silence/new?alertmanager=grafana"
        f"&matcher=alertname%3Dalert1&matcher=lbl1%3D{value}",
        "dashboardURL": "",
        "panelURL": "",
        "values": None,
        "valueString": "",
    }


def alert_text(value: str) -> str:
    return (
        f"\nValue: [no value]\nLabels:\n - alertname = alert1\n - lbl1 = {value}\nAnnotations:\n - ann1 = annv{value[-1]}\n"
        "Silence: http://localhost/alerting/silence/new?alertmanager=grafana"
        f"&matcher=alertname%3Dalert1&matcher=lbl1%3D{value}\n"
    )


def payload(alerts: list[dict[str, Any]], common_labels: dict[str, str], common_annotations: dict[str, str],
            title: str, message: str, truncated: int = 0, status: str = "firing", org_id: int = 1) -> dict[str, Any]:
    return {
        "receiver": "my_receiver",
        "status": status,
        "alerts": alerts,
        "groupLabels": {"alertname": ""},
        "commonLabels": common_labels,
        "commonAnnotations": common_annotations,
        "externalURL": "http://localhost",
        "version": "1",
        "groupKey": "alertname",
        "orgId": org_id,
        "title": title,
        "state": "ok" if status == "resolved" else "alerting",
        "message": message,
        "truncatedAlerts": truncated,
    }


CASES = [
    pytest.param(
        rendering("val1"), settings(message="Custom message"), "POST", "http://localhost/test",
        payload([alert("val1")], {"alertname": "alert1", "lbl1": "val1"}, {"ann1": "annv1"},
                "[FIRING:1]  (val1)", "Custom message"),
        id="grafana-default-config-custom-message",
    ),
    pytest.param(
        rendering("val1", "val2", "val3"),
        settings(url="http://localhost/test1", httpMethod="PUT", maxAlerts="2", title="Alerts firing: {{ Alerts.Firing | length }}"),
        "PUT", "http://localhost/test1",
        payload([alert("val1"), alert("val2")], {"alertname": "alert1"}, {}, "Alerts firing: 2",
                "**Firing**\n" + alert_text("val1") + alert_text("val2"), truncated=1),
        id="grafana-max-alerts-custom-title",
    ),
    pytest.param(
        rendering("val1", "val2"), settings(url="http://localhost/test?numAlerts={{ Alerts | length }}&status={{ .Status }}"),
        "POST", "http://localhost/test?numAlerts=2&status=firing",
        payload([alert("val1"), alert("val2")], {"alertname": "alert1"}, {}, "[FIRING:2]  ",
                "**Firing**\n" + alert_text("val1") + alert_text("val2")),
        id="grafana-templated-url",
    ),
    pytest.param(
        rendering("val1", resolved=True, org_id=3), settings(), "POST", "http://localhost/test",
        payload([alert("val1", resolved=True)], {"alertname": "alert1", "lbl1": "val1"}, {"ann1": "annv1"},
                "[RESOLVED]  (val1)", "**Resolved**\n" + alert_text("val1"), status="resolved", org_id=3),
        id="resolved",
    ),
]


@pytest.mark.parametrize("notification, config, method, url, expected", CASES)
def test_whole_payload(notification, config, method, url, expected):
    request = oncall.build(notification, config)
    assert (request.method, request.url) == (method, url)
    body = json.loads(request.body)
    assert body == expected
    assert list(body) == KEY_ORDER
    assert list(body["alerts"][0]) == list(expected["alerts"][0])


def test_basic_auth_header():
    request = oncall.build(rendering("val1"), settings(username="user1", password="mysecret"))
    token = base64.b64encode(b"user1:mysecret").decode()
    assert request.headers == {"Content-Type": "application/json", "User-Agent": "Grafana", "Authorization": f"Basic {token}"}
    assert request.preview([])["headers"]["Authorization"] == "[REDACTED]"
    assert "mysecret" not in json.dumps(request.preview(settings(password="mysecret").secret_values()))


@pytest.mark.parametrize(
    "extra, header",
    [
        ({"authorization_credentials": "mysecret"}, "Bearer mysecret"),
        ({"authorization_scheme": "Token", "authorization_credentials": "mysecret"}, "Token mysecret"),
        ({"authorization_scheme": "Token"}, None),
        ({"username": "user1"}, None),
    ],
)
def test_authorization_header(extra, header):
    request = oncall.build(rendering("val1"), settings(**extra))
    assert request.headers.get("Authorization") == header


def test_max_alerts_parsing_follows_grafanas_atoi():
    assert [settings(maxAlerts=v).maxAlerts for v in (2, "2", '"3"', "", None, "2.5", 2.5, "x", -1)] == [2, 2, 3, 0, 0, 0, 0, 0, 0]


def test_max_alerts_keeps_status_of_the_kept_alerts():
    rendered = rendering("val1", "val2")
    body = json.loads(oncall.build(rendered, settings(maxAlerts=1)).body)
    assert [a["labels"]["lbl1"] for a in body["alerts"]] == ["val1"]
    assert body["truncatedAlerts"] == 1 and body["title"] == "[FIRING:1]  (val1)"


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"url": ""}, "must not be empty"),
        ({"httpMethod": "GET"}, "httpMethod"),
        ({"username": "u", "password": "p", "authorization_credentials": "t"}, "use one"),
    ],
)
def test_invalid_settings(bad, message):
    with pytest.raises(ValidationError, match=message):
        settings(**bad)


def test_defaults():
    s = settings(httpMethod="put", title="", message=None)
    assert s.httpMethod == "PUT"
    assert (s.title, s.message) == ('{{ template("default.title") }}', '{{ template("default.message") }}')
    assert set(s.templated()) == {"url", "title", "message"}


@pytest.mark.parametrize("status, kind", [(400, "permanent"), (403, "permanent"), (408, "transient"), (503, "transient")])
def test_failures_are_classified_and_never_show_credentials(make_receiver, status, kind):
    server = make_receiver()
    server.expect_request("/oncall").respond_with_handler(
        lambda r: Response("denied: " + r.headers.get("Authorization", ""), status=status)
    )
    s = settings(url=server.url_for("/oncall"), authorization_credentials="tok-9f8e7d6c5b")
    request = oncall.build(rendering("val1"), s)
    secrets = sorted(set(s.secret_values() + request.sensitive_values()), key=len, reverse=True)
    with pytest.raises(DeliveryError) as info:
        send_prepared(Prepared(Integration(uid="o", type="oncall", settings=s, contact_point="cp"), request, secrets))
    assert info.value.kind == kind and info.value.status_code == status
    assert "tok-9f8e7d6c5b" not in info.value.message + (info.value.body_excerpt or "")
