"""Google Chat payloads built without a network: whole Cards v1 bodies compared."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError
from werkzeug import Response

from contracts.integrations.googlechat import GoogleChatSettings
from tests.unit.integrations.chat_b_data import ALERT1, ALERT2, MESSAGE1, MESSAGE_RESOLVED, RESOLVED, TITLE1, TITLE_RESOLVED
from tests.unit.integrations.chat_b_data import delivery_error, rendering
from workers.integrations import googlechat

URL = "https://chat.googleapis.com/v1/spaces/AAAA/messages?key=k3y-value&token=t0ken-value"
BUTTON = {"buttons": [{"textButton": {"text": "OPEN IN GRAFANA", "onClick": {"openLink": {"url": "http://localhost/alerting/list"}}}}]}
VERSION = {"textParagraph": {"text": "Grafana | 01 May 24 10:30 UTC"}}


def settings(**kw: Any) -> GoogleChatSettings:
    return GoogleChatSettings.model_validate({"url": URL, **kw})


def paragraph(text: str) -> dict[str, Any]:
    return {"textParagraph": {"text": text}}


def body(title: str, widgets: list[dict[str, Any]] | None, *extra_cards: dict[str, Any]) -> dict[str, Any]:
    card = {"header": {"title": title}, "sections": [{"widgets": widgets}]}
    return {"previewText": title, "fallbackText": title, "cards": [card, *extra_cards]}


CASES = [
    ("default, one alert", {}, [ALERT1], "http://localhost", body(TITLE1, [paragraph(MESSAGE1), BUTTON, VERSION])),
    (
        "custom title and message",
        {"title": "Alerts firing: {{ Alerts.Firing | length }}", "message": "{{ Alerts | length }} alerts, {{ Status }}"},
        [ALERT1, ALERT2],
        "http://localhost",
        body("Alerts firing: 2", [paragraph("2 alerts, firing"), BUTTON, VERSION]),
    ),
    ("Go template syntax", {"title": '{{ template "default.title" . }}'}, [ALERT1], "http://localhost",
     body(TITLE1, [paragraph(MESSAGE1), BUTTON, VERSION])),
    ("empty message: no text widget", {"message": "{{ '' }}"}, [ALERT1], "http://localhost", body(TITLE1, [BUTTON, VERSION])),
    ("empty external URL: no links, no button", {}, [ALERT1], "",
     body(TITLE1, [paragraph(MESSAGE1.split("Silence:")[0]), VERSION])),
    ("hidden button and version", {"hide_open_button": True, "hide_version_info": True}, [ALERT1], "http://localhost",
     body(TITLE1, [paragraph(MESSAGE1)])),
    ("nothing left: widgets null", {"message": "{{ '' }}", "hide_open_button": True, "hide_version_info": True},
     [ALERT1], "http://localhost", body(TITLE1, None)),
    ("resolved", {}, [RESOLVED], "http://localhost", body(TITLE_RESOLVED, [paragraph(MESSAGE_RESOLVED), BUTTON, VERSION])),
]


@pytest.mark.parametrize("name,raw,alerts,external,expected", CASES, ids=[c[0] for c in CASES])
def test_whole_payloads(name: str, raw: dict[str, Any], alerts: list[dict[str, Any]], external: str, expected: Any) -> None:
    request = googlechat.build(rendering(*alerts, external=external), settings(**raw))
    assert request.method == "POST" and request.url == URL
    assert request.headers == {"Content-Type": "application/json; charset=UTF-8", "User-Agent": "Grafana"}
    assert json.loads(request.body) == expected


def test_relative_external_url_has_no_button() -> None:
    got = json.loads(googlechat.build(rendering(external="/grafana"), settings()).body)
    widgets = got["cards"][0]["sections"][0]["widgets"]
    assert [list(w) for w in widgets] == [["textParagraph"], ["textParagraph"]]


def test_external_url_with_sub_path_and_go_json_escaping() -> None:
    request = googlechat.build(rendering(external="https://g.example/grafana/"), settings(message="a < b & c"))
    assert b'"text":"a \\u003c b \\u0026 c"' in request.body
    widgets = json.loads(request.body)["cards"][0]["sections"][0]["widgets"]
    assert widgets[1]["buttons"][0]["textButton"]["onClick"]["openLink"]["url"] == "https://g.example/grafana/alerting/list"


def test_images_make_a_screenshots_card() -> None:
    alerts = [{**ALERT1, "imageURL": "https://img.example/1.png"}, ALERT2, {**RESOLVED, "imageURL": "https://img.example/3.png"}]
    got = json.loads(googlechat.build(rendering(*alerts), settings(hide_version_info=True)).body)
    assert got["cards"][1] == {
        "header": {"title": "Screenshots"},
        "sections": [
            {"widgets": [paragraph("firing: alert1"), {"image": {"imageUrl": "https://img.example/1.png"}}]},
            {"widgets": [paragraph("resolved: alert1"), {"image": {"imageUrl": "https://img.example/3.png"}}]},
        ],
    }


def test_url_is_a_template() -> None:
    request = googlechat.build(rendering(), settings(url="https://chat.example/{{ CommonLabels.lbl1 }}"))
    assert request.url == "https://chat.example/val1"


def test_version_line_uses_rfc822_in_utc() -> None:
    from datetime import datetime, timedelta, timezone

    moment = datetime(2026, 1, 2, 16, 4, 5, tzinfo=timezone(timedelta(hours=1)))
    assert googlechat.rfc822(moment) == "02 Jan 26 15:04 UTC"


@pytest.mark.parametrize(
    "raw,error",
    [({}, "url\n  Field required"), ({"url": "  "}, "must not be empty")],
)
def test_settings_validation(raw: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError) as info:
        GoogleChatSettings.model_validate(raw)
    assert error in str(info.value)


def test_defaults_for_empty_templates_and_url_is_secret() -> None:
    s = GoogleChatSettings.model_validate({"url": URL, "title": "", "message": None})
    assert (s.title, s.message) == ('{{ template("default.title") }}', '{{ template("default.message") }}')
    assert s.secret_values() == [URL, "t0ken-value", "k3y-value"]  # the URL, and the credentials inside it
    assert URL not in repr(s)
    assert s.templated()["url"] == URL


def test_preview_masks_the_webhook_url() -> None:
    s = settings()
    view = googlechat.build(rendering(), s).preview(s.secret_values())
    assert view["url"] == "[REDACTED]" and "k3y-value" not in json.dumps(view)


def test_no_secret_in_delivery_errors(httpserver: Any) -> None:
    httpserver.expect_request("/hook").respond_with_handler(lambda r: Response("bad key " + r.query_string.decode(), status=400))
    secret_url = httpserver.url_for("/hook") + "?key=k3y-value-123&token=t0ken-value-456"
    s = settings(url=secret_url)
    error = delivery_error("googlechat", s, googlechat.build(rendering(), s))
    assert error.kind == "permanent" and error.status_code == 400
    text = error.message + (error.body_excerpt or "")
    assert "k3y-value-123" not in text and "t0ken-value-456" not in text


def test_server_errors_are_transient(httpserver: Any) -> None:
    httpserver.expect_request("/hook").respond_with_data("busy", status=503, headers={"Retry-After": "7"})
    s = settings(url=httpserver.url_for("/hook"))
    error = delivery_error("googlechat", s, googlechat.build(rendering(), s))
    assert error.transient and error.retry_after == 7
