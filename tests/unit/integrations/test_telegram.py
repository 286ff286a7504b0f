"""Telegram sendMessage requests and failure handling, without a network."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import httpx
import pytest
from pydantic import ValidationError

from contracts.event import normalise, parse_event
from contracts.integrations.telegram import TelegramSettings
from contracts.provisioning import Integration
from workers.delivery import http
from workers.delivery.core import Prepared, send_prepared
from workers.delivery.errors import DeliveryError
from workers.delivery.rendering import Rendering
from workers.delivery.request import parse_multipart
from workers.delivery.templates import Templates
from workers.integrations import telegram

NOW = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)
TOKEN = "123456:AAE-secret-bot-token"


def rendering(*instances: str, resolved: bool = False) -> Rendering:
    alerts = [
        {"labels": {"alertname": "Disk", "instance": i}, "annotations": {"summary": f"disk <{i}>"},
         "startsAt": "2024-05-01T10:00:00Z", **({"endsAt": "2024-05-01T10:20:00Z"} if resolved else {})}
        for i in instances
    ]
    event = parse_event(json.dumps({"receiver": "ops", "externalURL": "https://g.example/", "alerts": alerts}).encode())
    return Rendering(normalise(event, NOW), Templates(), NOW, 1)


def settings(**kw: object) -> TelegramSettings:
    return TelegramSettings.model_validate({"bottoken": TOKEN, "chatid": "-100200300", **kw})


def form(request) -> dict[str, str]:
    return parse_multipart(request.body, request.headers["Content-Type"])


def text_for(instance: str, heading: str = "**Firing**") -> str:
    return (
        f"{heading}\n\nValue: [no value]\nLabels:\n - alertname = Disk\n - instance = {instance}\n"
        f"Annotations:\n - summary = disk <{instance}>\n"
        "Silence: https://g.example/alerting/silence/new?alertmanager=grafana"
        f"&matcher=alertname%3DDisk&matcher=instance%3D{instance}\n"
    )


def test_default_request_bytes():
    request = telegram.build(rendering("a"), settings())
    assert request.method == "POST"
    assert request.url == f"https://api.telegram.org/bot{TOKEN}/sendMessage"
    boundary = request.headers["Content-Type"].removeprefix("multipart/form-data; boundary=")
    assert len(boundary) == 60 and request.headers["User-Agent"] == "Grafana"
    expected = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n-100200300\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\n{text_for('a')}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"parse_mode\"\r\n\r\nHTML\r\n"
        f"--{boundary}--\r\n"
    )
    assert request.body == expected.encode()
    assert telegram.build(rendering("a"), settings()).body == request.body  # deterministic


@pytest.mark.parametrize(
    "given, fields",
    [
        ({}, {"chat_id": "-100200300", "text": text_for("a"), "parse_mode": "HTML"}),
        ({"parse_mode": "None"}, {"chat_id": "-100200300", "text": text_for("a")}),
        ({"parse_mode": "markdownv2"}, {"chat_id": "-100200300", "text": text_for("a"), "parse_mode": "MarkdownV2"}),
        ({"chatid": 42, "message_thread_id": '"7"', "disable_notifications": True, "disable_web_page_preview": True,
          "protect_content": True, "parse_mode": "markdown", "message": "{{ Status }}/{{ Alerts | length }}"},
         {"chat_id": "42", "message_thread_id": "7", "disable_notification": "true", "text": "firing/1",
          "parse_mode": "Markdown", "disable_web_page_preview": "true", "protect_content": "true"}),
        ({"chatid": "@channel", "disable_notifications": False, "protect_content": False},
         {"chat_id": "@channel", "text": text_for("a"), "parse_mode": "HTML"}),
    ],
)
def test_fields(given, fields):
    request = telegram.build(rendering("a"), settings(**given))
    assert form(request) == fields
    assert list(form(request)) == list(fields)  # Grafana's field order


def test_resolved_notification_only_changes_the_text():
    assert form(telegram.build(rendering("a", resolved=True), settings())) == {
        "chat_id": "-100200300", "text": text_for("a", "**Resolved**"), "parse_mode": "HTML",
    }


def test_text_is_truncated_to_4096_runes():
    text = form(telegram.build(rendering("a"), settings(message="ж" * 5000)))["text"]
    assert text == "ж" * 4095 + "…" and len(text) == 4096
    exact = form(telegram.build(rendering("a"), settings(message="ж" * 4096)))["text"]
    assert exact == "ж" * 4096


def test_endpoint_override_keeps_the_bot_path(monkeypatch):
    monkeypatch.setenv("ALERTRELAY_API_URL_TELEGRAM", "http://127.0.0.1:9000")
    assert telegram.build(rendering("a"), settings()).url == f"http://127.0.0.1:9000/bot{TOKEN}/sendMessage"


def test_preview_masks_the_token_in_the_url():
    s = settings()
    shown = telegram.build(rendering("a"), s).preview(s.secret_values())
    assert shown["url"] == "https://api.telegram.org/bot[REDACTED]/sendMessage"
    assert shown["body"]["chat_id"] == "-100200300"
    assert TOKEN not in json.dumps(shown)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"chatid": "1"}, "bottoken"),
        ({"bottoken": " ", "chatid": "1"}, "could not find Bot Token in settings"),
        ({"bottoken": TOKEN}, "chatid"),
        ({"bottoken": TOKEN, "chatid": '""'}, "could not find Chat Id in settings"),
        ({"bottoken": TOKEN, "chatid": "1", "message_thread_id": "abc"}, "message thread id must be an integer"),
        ({"bottoken": TOKEN, "chatid": "1", "message_thread_id": 2**31}, "message thread id must be an int32"),
        ({"bottoken": TOKEN, "chatid": "1", "parse_mode": "rich"}, "unknown parse_mode, must be Markdown, MarkdownV2, HTML or None"),
    ],
)
def test_invalid_settings(bad, message):
    with pytest.raises(ValidationError, match=message) as caught:
        TelegramSettings.model_validate(bad)
    assert "secret-bot-token" not in json.dumps(caught.value.errors(include_input=False, include_url=False), default=str)


def test_settings_defaults():
    s = settings(message="", parse_mode="", message_thread_id=None)
    assert s.message == '{{ template("default.message") }}' and s.parse_mode == "HTML" and s.message_thread_id == ""
    assert s.templated() == {"message": '{{ template("default.message") }}'}
    assert s.secret_values() == [TOKEN]


def fake_client(monkeypatch, handler):
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    client = httpx.Client(transport=httpx.MockTransport(record))
    monkeypatch.setattr(http, "client", lambda verify=True: client)
    return seen


def prepared() -> Prepared:
    s = settings()
    integration = Integration(uid="t1", type="telegram", settings=s, contact_point="ops")
    return Prepared(integration, telegram.build(rendering("a"), s), s.secret_values())


def failure(monkeypatch, handler) -> DeliveryError:
    fake_client(monkeypatch, handler)
    with pytest.raises(DeliveryError) as caught:
        send_prepared(prepared())
    return caught.value


def test_success_sends_the_built_request(monkeypatch):
    seen = fake_client(monkeypatch, lambda r: httpx.Response(200, json={"ok": True, "result": {"message_id": 1}}))
    p = prepared()
    send_prepared(p)
    [sent] = seen
    assert sent.url.path == f"/bot{TOKEN}/sendMessage" and sent.content == p.request.body


def test_429_takes_retry_after_from_the_body(monkeypatch):
    body = {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7}}
    error = failure(monkeypatch, lambda r: httpx.Response(429, json=body, headers={"Retry-After": "2"}))
    assert error.transient and error.retry_after == 7 and error.status_code == 429
    error = failure(monkeypatch, lambda r: httpx.Response(429, text="busy", headers={"Retry-After": "2"}))
    assert error.transient and error.retry_after == 2


def test_400_is_permanent_with_telegrams_description(monkeypatch):
    body = {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
    error = failure(monkeypatch, lambda r: httpx.Response(400, json=body))
    assert error.kind == "permanent" and error.status_code == 400
    assert error.message.startswith("webhook response status 400 Bad Request:")
    assert "chat not found" in error.message and error.retry_after is None


def test_ok_false_in_a_2xx_is_a_failure(monkeypatch):
    error = failure(monkeypatch, lambda r: httpx.Response(200, json={"ok": False, "description": "odd"}))
    assert error.kind == "permanent" and error.message == "telegram API error: odd"
    fake_client(monkeypatch, lambda r: httpx.Response(200, text="not json"))
    send_prepared(prepared())  # Grafana's test is the status alone


def test_5xx_is_transient(monkeypatch):
    assert failure(monkeypatch, lambda r: httpx.Response(502, text="bad gateway")).transient


def test_no_secret_in_error_messages(monkeypatch):
    echo = lambda r: httpx.Response(401, text=f"unauthorized: {r.url}")  # noqa: E731
    error = failure(monkeypatch, echo)
    assert "[REDACTED]" in error.message and TOKEN not in error.message + (error.body_excerpt or "")

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"connection refused for url {request.url}")

    error = failure(monkeypatch, refuse)
    assert error.transient and TOKEN not in error.message
