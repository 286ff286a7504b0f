"""LINE (Notify) requests built without a network: whole form bodies, 1000-rune cut, the endpoint."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import pytest
from pydantic import ValidationError
from werkzeug import Response

from contracts.integrations.line import LineSettings
from contracts.registry import lookup
from tests.unit.integrations.chat_b_data import ALERT1, ALERT2, MESSAGE1, MESSAGE_RESOLVED, RESOLVED, TITLE1, TITLE_RESOLVED
from tests.unit.integrations.chat_b_data import delivery_error, rendering
from workers.integrations import line

TOKEN = "line-t0ken-value"
HEADERS = {
    "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
    "User-Agent": "Grafana",
    "Authorization": f"Bearer {TOKEN}",
}


def settings(**kw: Any) -> LineSettings:
    return LineSettings.model_validate({"token": TOKEN, **kw})


# The first two bodies are byte-for-byte the form Grafana's own LINE test expects for the same
# alerts, except for our dashboard/panel URLs (which carry Grafana's from/to range) and values.
CASES = [
    ("default, one alert", {}, [ALERT1], f"{TITLE1}\n{MESSAGE1}"),
    ("custom title and description", {"title": "customTitle {{ Alerts.Firing | length }}", "description": "customDescription"},
     [ALERT1], "customTitle 1\ncustomDescription"),
    ("resolved", {}, [RESOLVED], f"{TITLE_RESOLVED}\n{MESSAGE_RESOLVED}"),
    ("two alerts, Go syntax", {"title": '{{ template "default.title" . }}', "description": "{{ Alerts | length }}"},
     [ALERT1, ALERT2], "[FIRING:2]  \n2"),
]


@pytest.mark.parametrize("name,raw,alerts,message", CASES, ids=[c[0] for c in CASES])
def test_whole_requests(name: str, raw: dict[str, Any], alerts: list[dict[str, Any]], message: str) -> None:
    request = line.build(rendering(*alerts), settings(**raw))
    assert request.method == "POST" and request.url == "https://notify-api.line.me/api/notify"
    assert request.headers == HEADERS and request.sensitive_headers == frozenset({"Authorization"})
    assert parse_qsl(request.body.decode(), keep_blank_values=True) == [("message", message)]


def test_form_encoding_is_gos() -> None:
    request = line.build(rendering(), settings(title="customTitle {{ Alerts.Firing | length }}", description="a*b (c) ~d/é"))
    assert request.body == b"message=customTitle+1%0Aa%2Ab+%28c%29+~d%2F%C3%A9"


def test_grafana_test_body_for_one_alert_without_dashboard() -> None:
    alert = {**ALERT1, "annotations": {"ann1": "annv1"}}
    expected = (
        "message=%5BFIRING%3A1%5D++%28val1%29%0A%2A%2AFiring%2A%2A%0A%0AValue%3A+%5Bno+value%5D%0ALabels%3A%0A+-+alertname"
        "+%3D+alert1%0A+-+lbl1+%3D+val1%0AAnnotations%3A%0A+-+ann1+%3D+annv1%0ASilence%3A+http%3A%2F%2Flocalhost%2Falerting"
        "%2Fsilence%2Fnew%3Falertmanager%3Dgrafana%26matcher%3Dalertname%253Dalert1%26matcher%3Dlbl1%253Dval1%0A"
    )
    assert line.build(rendering(alert), settings()).body.decode() == expected


@pytest.mark.parametrize("extra", [1, 537])
def test_message_cut_to_1000_runes(extra: int) -> None:
    title = f"{TITLE1}\n"
    request = line.build(rendering(), settings(description="Y" * (1000 + extra)))
    [(_, message)] = parse_qsl(request.body.decode())
    assert message == title + "Y" * (1000 - len(title) - 1) + "…"
    assert len(message) == 1000


def test_exactly_1000_runes_is_not_cut() -> None:
    request = line.build(rendering(), settings(title="t", description="語" * 998))
    [(_, message)] = parse_qsl(request.body.decode())
    assert message == "t\n" + "語" * 998


def test_endpoint_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTRELAY_API_URL_LINE", "http://127.0.0.1:9999")
    assert line.build(rendering(), settings()).url == "http://127.0.0.1:9999/api/notify"


def test_type_is_line_with_its_upper_case_alias() -> None:
    for spelling in ("LINE", "line", "Line"):
        entry = lookup(spelling)
        assert entry is not None and entry.type == "line" and entry.queue_name == "alertrelay.line"
    assert lookup("LINE").aliases == ("LINE",)  # type: ignore[union-attr]


@pytest.mark.parametrize("raw,error", [({}, "token\n  Field required"), ({"token": " "}, "must not be empty")])
def test_settings_validation(raw: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError) as info:
        LineSettings.model_validate(raw)
    assert error in str(info.value)


def test_defaults_and_secret() -> None:
    s = LineSettings.model_validate({"token": TOKEN, "title": "", "description": None})
    assert (s.title, s.description) == ('{{ template("default.title") }}', '{{ template("default.message") }}')
    assert s.secret_values() == [TOKEN] and TOKEN not in repr(s)


def test_preview_masks_the_token() -> None:
    s = settings()
    view = line.build(rendering(), s).preview(s.secret_values())
    assert view["headers"]["Authorization"] == "[REDACTED]" and TOKEN not in json.dumps(view)
    assert view["body"] == {"message": f"{TITLE1}\n{MESSAGE1}"}


def test_no_secret_in_delivery_errors(httpserver: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTRELAY_API_URL_LINE", httpserver.url_for("/"))
    httpserver.expect_request("/api/notify").respond_with_handler(
        lambda r: Response('{"status":401,"message":"Invalid access token: ' + r.headers["Authorization"] + '"}', status=401)
    )
    s = settings()
    error = delivery_error("line", s, line.build(rendering(), s))
    assert error.kind == "permanent" and error.status_code == 401
    assert TOKEN not in error.message + (error.body_excerpt or "")


def test_shut_down_service_answers_are_classified(httpserver: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTRELAY_API_URL_LINE", httpserver.url_for("/"))
    httpserver.expect_request("/api/notify").respond_with_data("gone", status=503, headers={"Retry-After": "5"})
    s = settings()
    error = delivery_error("line", s, line.build(rendering(), s))
    assert error.transient and error.retry_after == 5
