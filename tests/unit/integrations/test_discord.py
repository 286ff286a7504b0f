"""Discord webhook bodies, without a network: whole bodies compared."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import httpx
import pytest
from pydantic import ValidationError

from contracts.event import normalise, parse_event
from contracts.gocompat import go_json
from contracts.integrations.discord import DiscordSettings
from contracts.provisioning import Integration
from workers.delivery import http
from workers.delivery.core import Prepared, send_prepared
from workers.delivery.errors import DeliveryError
from workers.delivery.rendering import Rendering
from workers.delivery.templates import Templates
from workers.integrations import discord

NOW = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)
HOOK = "https://discord.com/api/webhooks/1234/SECRET-webhook-token"


def rendering(*instances: str, resolved: bool = False, external: str = "https://grafana.example.com/") -> Rendering:
    alerts = [
        {"labels": {"alertname": "Disk", "instance": i}, "annotations": {"summary": f"disk {i}"},
         "startsAt": "2024-05-01T10:00:00Z", **({"endsAt": "2024-05-01T10:20:00Z"} if resolved else {})}
        for i in instances
    ]
    event = parse_event(json.dumps({"receiver": "ops", "externalURL": external, "alerts": alerts}).encode())
    return Rendering(normalise(event, NOW), Templates(), NOW, 1)


def settings(**kw: object) -> DiscordSettings:
    return DiscordSettings.model_validate({"url": HOOK, **kw})


def text_for(instance: str, heading: str = "**Firing**") -> str:
    return (
        f"{heading}\n\nValue: [no value]\nLabels:\n - alertname = Disk\n - instance = {instance}\n"
        f"Annotations:\n - summary = disk {instance}\n"
        "Silence: https://grafana.example.com/alerting/silence/new?alertmanager=grafana"
        f"&matcher=alertname%3DDisk&matcher=instance%3D{instance}\n"
    )


def embed(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "title": "[FIRING:1] Disk (a)",
        "type": "rich",
        "url": "https://grafana.example.com/alerting/list",
        "color": 14037554,
        "footer": {"text": "Grafana", "icon_url": "https://grafana.com/static/assets/img/fav32.png"},
    }
    base.update(over)
    return base


def test_default_body_is_byte_exact():
    request = discord.build(rendering("a"), settings())
    assert (request.method, request.url) == ("POST", HOOK)
    assert request.headers == {"Content-Type": "application/json", "User-Agent": "Grafana"}
    expected = {"username": "Grafana", "content": text_for("a"), "embeds": [embed()]}
    assert request.body == go_json(expected).encode()
    assert json.loads(request.body) == expected


@pytest.mark.parametrize(
    "given, expected",
    [
        ({"use_discord_username": True},
         {"content": text_for("a"), "embeds": [embed()]}),
        ({"use_embed_description": True},
         {"username": "Grafana", "content": "", "embeds": [{"title": "[FIRING:1] Disk (a)", "type": "rich", "description": text_for("a"),
                     **{k: v for k, v in embed().items() if k not in ("title", "type")}}]}),
        ({"avatar_url": "https://img.example/{{ CommonLabels.instance }}.png", "title": "{{ Receiver }}",
          "message": "<@123> {{ Alerts | length }} alert"},
         {"username": "Grafana", "content": "<@123> 1 alert", "avatar_url": "https://img.example/a.png",
          "embeds": [embed(title="ops")]}),
        ({"title": "{{ '' }}"},
         {"username": "Grafana", "content": text_for("a"),
          "embeds": [{k: v for k, v in embed().items() if k != "title"}]}),
    ],
)
def test_options(given, expected):
    body = discord.build(rendering("a"), settings(**given)).body
    assert body == go_json(expected).encode()


def test_description_key_comes_after_type():
    body = json.loads(discord.build(rendering("a"), settings(use_embed_description=True)).body)
    assert list(body["embeds"][0]) == ["title", "type", "description", "url", "color", "footer"]


def test_resolved_colour():
    body = json.loads(discord.build(rendering("a", resolved=True), settings()).body)
    assert body == {"username": "Grafana", "content": text_for("a", "**Resolved**"),
                    "embeds": [embed(title="[RESOLVED] Disk (a)", color=3581519)]}
    mixed = json.loads(discord.build(rendering("a", "b"), settings()).body)
    assert mixed["embeds"][0]["color"] == 14037554


def test_content_2000_runes_and_title_256_runes():
    body = json.loads(discord.build(rendering("a"), settings(message="ü" * 2001, title="t" * 300)).body)
    assert body["content"] == "ü" * 1999 + "…" and len(body["content"]) == 2000
    assert body["embeds"][0]["title"] == "t" * 255 + "…"
    described = json.loads(discord.build(rendering("a"), settings(message="ü" * 2001, use_embed_description=True)).body)
    assert described["embeds"][0]["description"] == "ü" * 1999 + "…" and described["content"] == ""


def test_templated_url_and_alert_list_link_under_a_sub_path():
    s = settings(url="https://discord.com/api/webhooks/{{ CommonLabels.instance }}/tok")
    request = discord.build(rendering("a", external="https://g.example/grafana"), s)
    assert request.url == "https://discord.com/api/webhooks/a/tok"
    assert json.loads(request.body)["embeds"][0]["url"] == "https://g.example/grafana/alerting/list"


def test_preview_masks_the_webhook_url():
    s = settings()
    shown = discord.build(rendering("a"), s).preview(s.secret_values())
    assert shown["url"] == "[REDACTED]" and "SECRET-webhook-token" not in json.dumps(shown)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({}, "url"),
        ({"url": " "}, "could not find webhook url property in settings"),
        ({"url": HOOK, "use_discord_username": "Grafana"}, "use_discord_username"),
    ],
)
def test_invalid_settings(bad, message):
    with pytest.raises(ValidationError, match=message) as caught:
        DiscordSettings.model_validate(bad)
    assert "SECRET" not in json.dumps(caught.value.errors(include_input=False, include_url=False), default=str)


def test_settings_defaults_and_templated_fields():
    s = settings(title="", message=None)
    assert s.title == '{{ template("default.title") }}' and s.message == '{{ template("default.message") }}'
    assert s.templated() == {"url": HOOK, "title": s.title, "message": s.message}
    assert s.secret_values() == [HOOK]


def failure(monkeypatch, handler) -> DeliveryError:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    monkeypatch.setattr(http, "client", lambda verify=True: client)
    s = settings()
    integration = Integration(uid="d1", type="discord", settings=s, contact_point="ops")
    with pytest.raises(DeliveryError) as caught:
        send_prepared(Prepared(integration, discord.build(rendering("a"), s), s.secret_values()))
    return caught.value


def test_429_honours_retry_after_and_400_is_permanent(monkeypatch):
    limited = {"message": "You are being rate limited.", "retry_after": 2.5, "global": False}
    error = failure(monkeypatch, lambda r: httpx.Response(429, json=limited, headers={"Retry-After": "3"}))
    assert error.transient and error.retry_after == 3 and error.status_code == 429
    error = failure(monkeypatch, lambda r: httpx.Response(400, json={"code": 50006, "message": "Cannot send an empty message"}))
    assert error.kind == "permanent" and "Cannot send an empty message" in error.message


def test_no_secret_in_error_messages(monkeypatch):
    error = failure(monkeypatch, lambda r: httpx.Response(404, text=f"unknown webhook {r.url}"))
    assert "[REDACTED]" in error.message and "SECRET-webhook-token" not in error.message + (error.body_excerpt or "")

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"connection refused for url {request.url}")

    error = failure(monkeypatch, refuse)
    assert error.transient and "SECRET-webhook-token" not in error.message
