"""Microsoft Teams Adaptive Card messages and the legacy connector's success test."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import httpx
import pytest
from pydantic import ValidationError

from contracts.event import normalise, parse_event
from contracts.gocompat import go_json
from contracts.integrations.teams import TeamsSettings
from workers.delivery.errors import DeliveryError
from workers.delivery.rendering import Rendering
from workers.delivery.templates import Templates
from workers.integrations import teams

NOW = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)
FLOW = "https://prod-01.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=xyz"


def rendering(*instances: str, resolved: bool = False) -> Rendering:
    alerts = [
        {"labels": {"alertname": "Disk", "instance": i}, "annotations": {"summary": f"disk {i}"},
         "startsAt": "2024-05-01T10:00:00Z", "generatorURL": "https://grafana.example.com/rule",
         **({"endsAt": "2024-05-01T10:20:00Z"} if resolved else {})}
        for i in instances
    ]
    event = parse_event(json.dumps({"receiver": "ops", "externalURL": "https://grafana.example.com/", "alerts": alerts}).encode())
    return Rendering(normalise(event, NOW), Templates(), NOW, 1)


def settings(**kw: object) -> TeamsSettings:
    return TeamsSettings.model_validate({"url": FLOW, **kw})


def teams_text(instance: str, heading: str = "**Firing**") -> str:
    silence = ("https://grafana.example.com/alerting/silence/new?alertmanager=grafana"
               f"&matcher=alertname%3DDisk&matcher=instance%3D{instance}")
    return (
        f"{heading}\n\nValue: [no value]\nLabels:\n - alertname = Disk\n - instance = {instance}\n\n"
        f"Annotations:\n - summary = disk {instance}\n\n"
        "Source: [https://grafana.example.com/rule](https://grafana.example.com/rule)\n\n"
        f"Silence: [{silence}]({silence})\n\n\n"
    )


def card_message(title: str, text: str, color: str) -> dict[str, object]:
    return {
        "attachments": [{
            "content": {
                "body": [
                    {"type": "TextBlock", "text": title, "color": color, "size": "large", "weight": "bolder", "wrap": True},
                    {"type": "TextBlock", "text": text, "wrap": True},
                    {"type": "ActionSet", "actions": [{"type": "Action.OpenUrl", "title": "View URL",
                                                       "url": "https://grafana.example.com/alerting/list"}]},
                ],
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "msTeams": {"width": "Full"},
            },
            "contentType": "application/vnd.microsoft.card.adaptive",
        }],
        "summary": title,
        "type": "message",
    }


def test_default_card_is_byte_exact():
    request = teams.build(rendering("a"), settings())
    assert (request.method, request.url) == ("POST", FLOW)
    assert request.headers == {"Content-Type": "application/json", "User-Agent": "Grafana"}
    assert request.body == go_json(card_message("[FIRING:1] Disk (a)", teams_text("a"), "attention")).encode()
    assert request.check is None  # Workflows: any 2xx is a success


def test_resolved_card_is_good():
    body = json.loads(teams.build(rendering("a", resolved=True), settings()).body)
    assert body == card_message("[RESOLVED] Disk (a)", teams_text("a", "**Resolved**"), "good")


def test_custom_title_message_and_url():
    s = settings(title="{{ CommonLabels.alertname }}", message="{{ Alerts.Firing | length }} firing",
                 url="https://hooks.example/{{ Receiver }}", sectiontitle="ignored")
    request = teams.build(rendering("a", "b"), s)
    assert request.url == "https://hooks.example/ops"
    assert json.loads(request.body) == card_message("Disk", "2 firing", "attention")


def test_empty_title_leaves_summary_out():
    body = json.loads(teams.build(rendering("a"), settings(title="{{ '' }}")).body)
    assert "summary" not in body and list(body) == ["attachments", "type"]
    assert body["attachments"][0]["content"]["body"][0]["text"] == ""


@pytest.mark.parametrize(
    "url, legacy",
    [
        (FLOW, False),
        ("https://acme.webhook.office.com/webhookb2/abc", True),
        ("https://outlook.office.com/webhook/abc", False),
        ("https://acme.webhook.office.com:443/webhookb2/abc", False),  # Go compares the host with its port
    ],
)
def test_legacy_connector_detection(url, legacy):
    assert (teams.build(rendering("a"), settings(url=url)).check is not None) is legacy


@pytest.mark.parametrize(
    "body, kind",
    [
        ("1", None),
        ("Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429", "transient"),
        ("Summary or Text is required.", "permanent"),
        ("", "permanent"),
    ],
)
def test_legacy_connector_success_test(body, kind):
    response = httpx.Response(200, text=body)
    if kind is None:
        teams.check_legacy_response(response)
        return
    with pytest.raises(DeliveryError) as caught:
        teams.check_legacy_response(response)
    assert caught.value.kind == kind
    assert caught.value.message == f"webhook failed validation: {body}" and caught.value.status_code == 200


@pytest.mark.parametrize("bad, message", [({}, "url"), ({"url": "  "}, "could not find url property in settings")])
def test_invalid_settings(bad, message):
    with pytest.raises(ValidationError, match=message):
        TeamsSettings.model_validate(bad)


def test_settings_defaults():
    s = settings(title="", message="")
    assert s.title == '{{ template("default.title") }}' and s.message == '{{ template("teams.default.message") }}'
    assert s.templated() == {"url": FLOW, "title": s.title, "message": s.message}
    assert s.secret_values() == []


def test_sending_to_a_legacy_connector_checks_the_body(monkeypatch):
    from contracts.provisioning import Integration
    from workers.delivery import http
    from workers.delivery.core import Prepared, send_prepared

    answers = iter([httpx.Response(200, text="Summary or Text is required."), httpx.Response(200, text="1")])
    client = httpx.Client(transport=httpx.MockTransport(lambda r: next(answers)))
    monkeypatch.setattr(http, "client", lambda verify=True: client)
    s = settings(url="https://acme.webhook.office.com/webhookb2/abc")
    prepared = Prepared(Integration(uid="m1", type="teams", settings=s, contact_point="ops"),
                        teams.build(rendering("a"), s), [])
    with pytest.raises(DeliveryError, match="webhook failed validation: Summary or Text is required.") as caught:
        send_prepared(prepared)
    assert caught.value.kind == "permanent"
    send_prepared(prepared)
