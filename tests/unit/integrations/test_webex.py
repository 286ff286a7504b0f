"""Webex payloads built without a network: whole bodies, truncation to 4096 bytes, the endpoint."""

from __future__ import annotations

import json
from typing import Any

import pytest
from werkzeug import Response

from contracts.integrations.webex import DEFAULT_API_URL, WebexSettings
from tests.unit.integrations.chat_b_data import ALERT1, ALERT2, MESSAGE1, MESSAGE_RESOLVED, RESOLVED
from tests.unit.integrations.chat_b_data import delivery_error, rendering
from workers.integrations import webex

TOKEN = "bot-t0ken-value"


def settings(**kw: Any) -> WebexSettings:
    return WebexSettings.model_validate({"room_id": "room-1", "bot_token": TOKEN, **kw})


CASES = [
    ("default, one alert", {}, [ALERT1], {"roomId": "room-1", "markdown": MESSAGE1}),
    ("custom message", {"message": "{{ Alerts.Firing | length }} firing, {{ Alerts.Resolved | length }} resolved"},
     [ALERT1, RESOLVED], {"roomId": "room-1", "markdown": "1 firing, 1 resolved"}),
    ("no room id: roomId left out", {"room_id": ""}, [ALERT1], {"markdown": MESSAGE1}),
    ("resolved", {}, [RESOLVED], {"roomId": "room-1", "markdown": MESSAGE_RESOLVED}),
    ("first image only", {"message": "m"},
     [ALERT2, {**ALERT1, "imageURL": "https://img.example/1.png"}, {**RESOLVED, "imageURL": "https://img.example/2.png"}],
     {"roomId": "room-1", "markdown": "m", "files": ["https://img.example/1.png"]}),
]


@pytest.mark.parametrize("name,raw,alerts,expected", CASES, ids=[c[0] for c in CASES])
def test_whole_payloads(name: str, raw: dict[str, Any], alerts: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    request = webex.build(rendering(*alerts), settings(**raw))
    assert request.method == "POST" and request.url == DEFAULT_API_URL
    assert request.headers == {"Content-Type": "application/json", "User-Agent": "Grafana", "Authorization": f"Bearer {TOKEN}"}
    assert request.sensitive_headers == frozenset({"Authorization"})
    assert json.loads(request.body) == expected
    assert list(json.loads(request.body)) == list(expected)  # Go field order: roomId, markdown, files


def test_no_token_no_authorization_header() -> None:
    request = webex.build(rendering(), WebexSettings.model_validate({"room_id": "r"}))
    assert request.headers == {"Content-Type": "application/json", "User-Agent": "Grafana"}


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1" * 4096, "1" * 4096),
        ("1" * 4097, "1" * 4093 + "…"),
        ("é" * 2049, "é" * 2046 + "…"),  # 4098 bytes; never split a character: 4092 + 3 bytes
    ],
)
def test_markdown_truncated_to_4096_bytes(text: str, expected: str) -> None:
    body = json.loads(webex.build(rendering(), settings(message=text)).body)
    assert body["markdown"] == expected and len(body["markdown"].encode()) <= 4096


def test_api_url_default_override_and_template(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTRELAY_API_URL_WEBEX", "http://127.0.0.1:9000/base")
    assert webex.build(rendering(), settings()).url == "http://127.0.0.1:9000/base/v1/messages"
    custom = settings(api_url="https://webex.proxy/{{ CommonLabels.lbl1 }}/messages")
    assert webex.build(rendering(), custom).url == "https://webex.proxy/val1/messages"  # a configured URL is kept


def test_settings_defaults_and_secret() -> None:
    s = WebexSettings.model_validate({"api_url": "", "message": "", "bot_token": TOKEN})
    assert (s.api_url, s.message, s.room_id) == (DEFAULT_API_URL, '{{ template("default.message") }}', "")
    assert s.secret_values() == [TOKEN] and TOKEN not in repr(s)
    assert set(s.templated()) == {"api_url", "message"}


def test_preview_masks_the_token() -> None:
    s = settings()
    view = webex.build(rendering(), s).preview(s.secret_values())
    assert view["headers"]["Authorization"] == "[REDACTED]" and TOKEN not in json.dumps(view)


def test_no_secret_in_delivery_errors(httpserver: Any) -> None:
    httpserver.expect_request("/v1/messages").respond_with_handler(
        lambda r: Response("invalid token " + r.headers.get("Authorization", ""), status=401)
    )
    s = settings(api_url=httpserver.url_for("/v1/messages"))
    error = delivery_error("webex", s, webex.build(rendering(), s))
    assert error.kind == "permanent" and error.status_code == 401
    assert TOKEN not in error.message + (error.body_excerpt or "") and "[REDACTED]" in error.message


@pytest.mark.parametrize("status,kind", [(429, "transient"), (500, "transient"), (404, "permanent")])
def test_classification(httpserver: Any, status: int, kind: str) -> None:
    httpserver.expect_request("/v1/messages").respond_with_data("x", status=status, headers={"Retry-After": "3"})
    s = settings(api_url=httpserver.url_for("/v1/messages"))
    error = delivery_error("webex", s, webex.build(rendering(), s))
    assert error.kind == kind and error.retry_after == 3
