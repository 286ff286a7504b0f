"""Alertmanager requests built without a network, and the any-URL-succeeds send step."""

from __future__ import annotations

import base64
import json
import socket
from datetime import datetime, timezone
from urllib.parse import urlsplit

import pytest
from pydantic import ValidationError
from werkzeug import Response

from contracts.event import normalise, parse_event
from contracts.integrations.prometheus_alertmanager import AlertmanagerSettings
from contracts.provisioning import Integration
from workers.delivery.core import Prepared, send_prepared
from workers.delivery.errors import DeliveryError
from workers.delivery.rendering import Rendering
from workers.delivery.templates import Templates
from workers.integrations import prometheus_alertmanager as am

NOW = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)
PASSWORD = "am-pa55-w0rd"


def rendering(*alerts: dict) -> Rendering:
    event = {"receiver": "ops", "externalURL": "https://grafana.example.com/", "alerts": list(alerts)}
    return Rendering(normalise(parse_event(json.dumps(event).encode()), NOW), Templates(), NOW, 1)


def settings(**kw: object) -> AlertmanagerSettings:
    return AlertmanagerSettings.model_validate({"url": "http://am1:9093", **kw})


FIRING = {
    "labels": {"alertname": "HighCPU", "instance": "web-1", "__alert_rule_uid__": "rule-1", "grafana_folder": "Infra"},
    "annotations": {"summary": "CPU > 90% & <rising>", "__values__": '{"A":93}', "__orgId__": "1", "__dashboardUid__": "d1"},
    "startsAt": "2024-05-01T10:00:00.123456Z",
    "generatorURL": "https://grafana.example.com/alerting/grafana/rule-1/view",
    "imageURL": "https://img.example/x.png",
}
RESOLVED = {
    "labels": {"alertname": "HighCPU", "instance": "web-2"},
    "annotations": {},
    "startsAt": "2024-05-01T09:00:00Z",
    "endsAt": "2024-05-01T10:20:00Z",
}

EXPECTED_BODY = (
    '[{"labels":{"__alert_rule_uid__":"rule-1","alertname":"HighCPU","grafana_folder":"Infra","instance":"web-1"},'
    '"annotations":{"__dashboardUid__":"d1","__orgId__":"1","__values__":"{\\"A\\":93}","image":"https://img.example/x.png",'
    '"summary":"CPU \\u003e 90% \\u0026 \\u003crising\\u003e"},'
    '"startsAt":"2024-05-01T10:00:00.123456Z","endsAt":"0001-01-01T00:00:00Z",'
    '"generatorURL":"https://grafana.example.com/alerting/grafana/rule-1/view"},'
    '{"labels":{"alertname":"HighCPU","instance":"web-2"},"annotations":{},'
    '"startsAt":"2024-05-01T09:00:00Z","endsAt":"2024-05-01T10:20:00Z","generatorURL":""}]'
)


def test_whole_body_raw_labels_and_annotations_for_every_url():
    request = am.build(rendering(RESOLVED, FIRING), settings(url=" http://am1:9093/ ,, https://am2.example/prefix//,"))
    assert [r.url for r in request.requests] == [
        "http://am1:9093/api/v2/alerts",
        "https://am2.example/prefix//api/v2/alerts",  # Grafana trims one trailing slash only
    ]
    for one in request.requests:
        assert one.method == "POST"
        assert one.headers == {"Content-Type": "application/json", "User-Agent": "Grafana"}
        assert one.body.decode() == EXPECTED_BODY
        assert one.check is None


def test_resolved_alert_without_end_time_ends_now():
    resolved = {"labels": {"alertname": "X"}, "startsAt": "2024-05-01T09:00:00Z", "status": "resolved"}
    [alert] = json.loads(am.build(rendering(resolved), settings()).requests[0].body)
    assert alert["endsAt"] == "2024-05-01T10:30:00Z"


def test_basic_auth_only_with_user_and_password_and_masked_in_preview():
    assert "Authorization" not in am.build(rendering(RESOLVED), settings(basicAuthUser="relay")).requests[0].headers
    assert "Authorization" not in am.build(rendering(RESOLVED), settings(basicAuthPassword=PASSWORD)).requests[0].headers
    s = settings(url="http://am1:9093,http://am2:9093", basicAuthUser="relay", basicAuthPassword=PASSWORD)
    request = am.build(rendering(RESOLVED), s)
    token = base64.b64encode(f"relay:{PASSWORD}".encode()).decode()
    assert [r.headers["Authorization"] for r in request.requests] == [f"Basic {token}"] * 2
    assert set(request.sensitive_values()) == {f"Basic {token}", token}
    preview = request.preview(s.secret_values())
    assert [r["url"] for r in preview["requests"]] == ["http://am1:9093/api/v2/alerts", "http://am2:9093/api/v2/alerts"]
    assert [r["headers"]["Authorization"] for r in preview["requests"]] == ["[REDACTED]"] * 2
    assert preview["requests"][0]["body"] == json.loads(request.requests[0].body)
    assert token not in json.dumps(preview) and PASSWORD not in json.dumps(preview)
    shown = request.preview(s.secret_values(), show_secrets=True)
    assert shown["requests"][1]["headers"]["Authorization"] == f"Basic {token}"


@pytest.mark.parametrize(
    "url, message",
    [
        ("", "at least one"),
        (" , ,", "at least one"),
        ("localhost:9093", "entry 1 of 1 is not an http"),
        ("http://ok:9093, ftp://user:hunter2@x", "entry 2 of 2 is not an http"),
        (9093, "must be a string"),
    ],
)
def test_invalid_settings(url, message):
    with pytest.raises(ValidationError, match=message) as info:
        settings(url=url)
    reasons = " ".join(e["msg"] for e in info.value.errors(include_input=False))
    assert "hunter2" not in reasons


def test_url_is_required():
    with pytest.raises(ValidationError, match="url"):
        AlertmanagerSettings.model_validate({"basicAuthUser": "x"})


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class Alertmanagers:
    """Fake Alertmanagers on one local server, told apart by a path prefix (one server keeps tests fast)."""

    def __init__(self, make_receiver):
        self.server = make_receiver()
        self.count = 0

    def add(self, status: int, headers: dict[str, str] | None = None) -> str:
        """A base URL whose ``/api/v2/alerts`` answers ``status`` and echoes the Authorization header."""
        self.count += 1
        prefix = f"/am{self.count}"
        self.server.expect_request(f"{prefix}/api/v2/alerts", method="POST").respond_with_handler(
            lambda r: Response(f"answer {status}: " + r.headers.get("Authorization", ""), status=status, headers=headers)
        )
        return self.server.url_for(prefix)

    def hits(self, base: str) -> list:
        path = urlsplit(base).path + "/api/v2/alerts"
        return [request for request, _ in self.server.log if request.path == path]


def _send(s: AlertmanagerSettings) -> None:
    request = am.build(rendering(FIRING), s)
    secrets = sorted(set(s.secret_values() + request.sensitive_values()), key=len, reverse=True)
    integration = Integration(uid="am", type="prometheus-alertmanager", settings=s, contact_point="cp")
    send_prepared(Prepared(integration, request, secrets))


def test_one_success_is_enough_and_every_url_is_tried(make_receiver):
    ams = Alertmanagers(make_receiver)
    failing, working = ams.add(503), ams.add(200)
    _send(settings(url=f"{failing},{_dead_url()},{working}"))
    assert len(ams.hits(failing)) == 1 and len(ams.hits(working)) == 1
    working_first = [ams.add(200), ams.add(400)]
    _send(settings(url=",".join(working_first)))
    assert [len(ams.hits(u)) for u in working_first] == [1, 1], "Grafana posts to every URL, not only until one succeeds"
    sent = ams.hits(working)[0].get_data()
    assert json.loads(sent) == json.loads(am.build(rendering(FIRING), settings()).requests[0].body)


@pytest.mark.parametrize(
    "statuses, dead, kind, status_code",
    [
        ((400, 404), False, "permanent", 404),
        ((400, 503), False, "transient", 503),
        ((503, 400), False, "transient", 503),
        ((401,), True, "transient", 401),
        ((422,), False, "permanent", 422),
    ],
)
def test_all_failing_is_one_classified_error_without_secrets(make_receiver, statuses, dead, kind, status_code):
    ams = Alertmanagers(make_receiver)
    urls = [ams.add(status) for status in statuses] + ([_dead_url()] if dead else [])
    with pytest.raises(DeliveryError) as info:
        _send(settings(url=",".join(urls), basicAuthUser="relay", basicAuthPassword=PASSWORD))
    error = info.value
    assert error.kind == kind
    assert error.message.startswith("failed to send alert to Alertmanager: http://127.0.0.1:")
    assert error.message.count("http://127.0.0.1:") == len(urls)
    if dead:
        assert "connection error" in error.message
        assert error.status_code is None  # the transient failure (the refused connection) decides
    else:
        assert error.status_code == status_code
    token = base64.b64encode(f"relay:{PASSWORD}".encode()).decode()
    for secret in (PASSWORD, token):
        assert secret not in error.message and secret not in (error.body_excerpt or "")
    assert "[REDACTED]" in error.message


def test_retry_after_only_when_every_transient_failure_asks(make_receiver):
    ams = Alertmanagers(make_receiver)
    slow = [ams.add(429, {"Retry-After": "7"}), ams.add(503, {"Retry-After": "2"}), ams.add(400)]
    with pytest.raises(DeliveryError) as info:
        _send(settings(url=",".join(slow)))
    assert info.value.retry_after == 2.0 and info.value.status_code == 503
    mixed = [ams.add(429, {"Retry-After": "7"}), ams.add(503)]
    with pytest.raises(DeliveryError) as info:
        _send(settings(url=",".join(mixed)))
    assert info.value.retry_after is None and info.value.transient


def test_partial_failure_is_logged_without_secrets(make_receiver, caplog):
    ams = Alertmanagers(make_receiver)
    failing, working = ams.add(401), ams.add(200)
    with caplog.at_level("WARNING", logger="alertrelay.integrations.prometheus_alertmanager"):
        _send(settings(url=f"{failing},{working}", basicAuthUser="relay", basicAuthPassword=PASSWORD))
    [record] = caplog.records
    text = record.getMessage()
    assert "another one accepted" in text and "401" in text and "[REDACTED]" in text
    assert PASSWORD not in text and base64.b64encode(f"relay:{PASSWORD}".encode()).decode() not in text
