"""Slack payloads and Slack's success test, without a network: whole bodies compared."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import httpx
import pytest
from pydantic import ValidationError

from contracts.event import normalise, parse_event
from contracts.gocompat import go_json
from contracts.integrations.slack import SlackSettings
from contracts.provisioning import Integration
from workers.delivery import http
from workers.delivery.core import Prepared, send_prepared
from workers.delivery.errors import DeliveryError
from workers.delivery.rendering import Rendering
from workers.delivery.templates import Templates
from workers.integrations import slack

NOW = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)
TS = 1714559400  # NOW as unix time
HOOK = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
TOKEN = "xoxb-1111-2222-secret"
SOURCE = "https://grafana.example.com/alerting/grafana/disk/view"


def rendering(*instances: str, resolved: bool = False, external: str = "https://grafana.example.com/",
              sources: list[str] | None = None, templates: dict[str, str] | None = None) -> Rendering:
    alerts = [
        {"labels": {"alertname": "Disk", "instance": i}, "annotations": {"summary": f"disk {i}"},
         "startsAt": "2024-05-01T10:00:00Z", "generatorURL": (sources or [SOURCE] * len(instances))[n],
         **({"endsAt": "2024-05-01T10:20:00Z"} if resolved else {})}
        for n, i in enumerate(instances)
    ]
    event = parse_event(json.dumps({"receiver": "ops", "externalURL": external, "alerts": alerts}).encode())
    return Rendering(normalise(event, NOW), Templates(templates), NOW, 1)


def settings(**kw: object) -> SlackSettings:
    return SlackSettings.model_validate({"url": HOOK, **kw})


def text_for(instance: str, heading: str = "**Firing**") -> str:
    return (
        f"{heading}\n\nValue: [no value]\nLabels:\n - alertname = Disk\n - instance = {instance}\n"
        f"Annotations:\n - summary = disk {instance}\nSource: {SOURCE}\n"
        "Silence: https://grafana.example.com/alerting/silence/new?alertmanager=grafana"
        f"&matcher=alertname%3DDisk&matcher=instance%3D{instance}\n"
    )


def attachment(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "title": "[FIRING:1] Disk (a)",
        "title_link": SOURCE,
        "text": text_for("a"),
        "fallback": "[FIRING:1] Disk (a)",
        "footer": "Grafana",
        "footer_icon": "https://grafana.com/static/assets/img/fav32.png",
        "color": "#D63232",
        "ts": TS,
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def test_incoming_webhook_default_payload_is_byte_exact():
    request = slack.build(rendering("a"), settings())
    assert (request.method, request.url) == ("POST", HOOK)
    assert request.headers == {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Grafana"}
    expected = {"username": "Grafana", "attachments": [attachment()]}
    assert request.body == go_json(expected).encode()
    assert json.loads(request.body) == expected
    assert b"\\u0026matcher=" in request.body  # Go's HTML-safe escaping of '&'


def test_token_mode_posts_to_chat_post_message_with_bearer_token():
    s = SlackSettings.model_validate({"token": TOKEN, "recipient": " #ops ", "icon_emoji": ":fire:",
                                      "icon_url": "https://img.example/{{ CommonLabels.alertname }}.png"})
    request = slack.build(rendering("a"), s)
    assert request.url == "https://slack.com/api/chat.postMessage"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    expected = {"channel": "#ops", "username": "Grafana", "icon_emoji": ":fire:",
                "icon_url": "https://img.example/Disk.png", "attachments": [attachment()]}
    assert request.body == go_json(expected).encode()
    shown = request.preview(s.secret_values())
    assert shown["headers"]["Authorization"] == "[REDACTED]"
    assert TOKEN not in json.dumps(shown)


def test_chat_api_endpoint_honours_the_override(monkeypatch):
    monkeypatch.setenv("ALERTRELAY_API_URL_SLACK", "http://127.0.0.1:9999/")
    s = SlackSettings.model_validate({"token": TOKEN, "recipient": "C1"})
    assert slack.build(rendering("a"), s).url == "http://127.0.0.1:9999/api/chat.postMessage"
    # URLs the user configured are used as they are.
    assert slack.build(rendering("a"), settings()).url == HOOK
    custom = SlackSettings.model_validate({"token": TOKEN, "endpointUrl": "https://slack.internal/api/chat.postMessage"})
    assert slack.build(rendering("a"), custom).url == "https://slack.internal/api/chat.postMessage"


@pytest.mark.parametrize(
    "given, url, authorization",
    [
        ({"url": HOOK, "token": TOKEN}, HOOK, f"Bearer {TOKEN}"),  # url wins, the token still goes along
        ({"endpointUrl": "https://proxy.example/hook"}, "https://proxy.example/hook", None),
        ({"endpointUrl": "", "token": TOKEN, "recipient": "C1"}, "https://slack.com/api/chat.postMessage", f"Bearer {TOKEN}"),
    ],
)
def test_target_url_and_mode(given, url, authorization):
    request = slack.build(rendering("a"), SlackSettings.model_validate(given))
    assert request.url == url
    assert request.headers.get("Authorization") == authorization


def test_resolved_notification_changes_title_and_colour_only():
    body = json.loads(slack.build(rendering("a", resolved=True), settings()).body)
    assert body == {"username": "Grafana", "attachments": [attachment(
        title="[RESOLVED] Disk (a)", fallback="[RESOLVED] Disk (a)", color="#36a64f",
        text=text_for("a", "**Resolved**"),
    )]}


@pytest.mark.parametrize(
    "given, pretext",
    [
        ({}, None),
        ({"mentionChannel": "here"}, "<!here|here>"),
        ({"mentionChannel": "channel", "mentionUsers": "U1"}, "<!channel|channel> <@U1>"),
        ({"mentionGroups": "S1, S2", "mentionUsers": " U1 ,,U2"}, "<!subteam^S1><!subteam^S2> <@U1><@U2>"),
        ({"mentionChannel": "here", "mentionGroups": "S1", "mentionUsers": "U1,U2"},
         "<!here|here> <!subteam^S1> <@U1><@U2>"),
        ({"mentionUsers": "{{ CommonLabels.instance }}"}, "<@a>"),
    ],
)
def test_mentions(given, pretext):
    body = json.loads(slack.build(rendering("a"), settings(**given)).body)
    expected = attachment(pretext=pretext, mrkdwn_in=["pretext"] if pretext else None)
    assert body["attachments"] == [expected]


def test_templated_fields_and_custom_footer():
    s = settings(
        title="{{ CommonLabels.alertname }} on {{ Alerts | length }}", text="{{ CommonAnnotations.summary }}",
        username="bot-{{ Status }}", color="{{ 'warning' if Status == 'firing' else 'good' }}",
        footer="{{ Receiver }} footer", recipient="#{{ CommonLabels.instance }}",
    )
    body = json.loads(slack.build(rendering("a"), s).body)
    assert body == {"channel": "#a", "username": "bot-firing", "attachments": [attachment(
        title="Disk on 1", fallback="Disk on 1", text="disk a", footer="ops footer", color="warning",
    )]}


def test_user_templates_replace_the_builtin_footer():
    r = rendering("a", templates={"slack.default.footer": "Acme alerts"})
    assert json.loads(slack.build(r, settings()).body)["attachments"][0]["footer"] == "Acme alerts"


def test_empty_optional_values_are_omitted_like_go_omitempty():
    body = json.loads(slack.build(rendering("a"), settings(title="{{ '' }}", color="{{ '' }}")).body)
    assert list(body["attachments"][0]) == ["title_link", "text", "fallback", "footer", "footer_icon", "ts"]
    assert body["attachments"][0]["fallback"] == ""


def test_title_is_truncated_to_1024_runes_and_footer_to_300():
    body = json.loads(slack.build(rendering("a"), settings(title="é" * 1500, footer="ß" * 301)).body)
    title, footer = body["attachments"][0]["title"], body["attachments"][0]["footer"]
    assert title == "é" * 1023 + "…" and len(title) == 1024
    assert footer == "ß" * 299 + "…" and len(footer) == 300
    assert body["attachments"][0]["fallback"] == title
    text = "x" * 5000  # the text is never truncated
    assert json.loads(slack.build(rendering("a"), settings(text=text)).body)["attachments"][0]["text"] == text


@pytest.mark.parametrize(
    "sources, external, link",
    [
        ([SOURCE, SOURCE], "https://grafana.example.com/", SOURCE),
        ([SOURCE, SOURCE + "?x=1"], "https://grafana.example.com/", "https://grafana.example.com/alerting/list"),
        (["", ""], "https://grafana.example.com/sub/", "https://grafana.example.com/sub/alerting/list"),
        (["", ""], "http://localhost:3000", "http://localhost:3000/alerting/list"),
    ],
)
def test_title_link(sources, external, link):
    body = json.loads(slack.build(rendering("a", "b", sources=sources, external=external), settings()).body)
    assert body["attachments"][0]["title_link"] == link


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"token": TOKEN}, "recipient must be specified when using the Slack chat API"),
        ({"recipient": "#ops"}, "token must be specified when using the Slack chat API"),
        ({"url": HOOK, "mentionChannel": "everyone"}, "invalid value for mentionChannel"),
        ({"url": "hooks.slack.com/services/SECRETPART"}, "url must be an http:// or https:// URL"),
        ({"url": HOOK, "endpointUrl": "ftp://x"}, "endpointUrl must be an http:// or https:// URL"),
    ],
)
def test_invalid_settings(bad, message):
    with pytest.raises(ValidationError, match=message) as caught:
        SlackSettings.model_validate(bad)
    # What the provisioning loader reports (it leaves the input out) never holds the URL.
    assert "SECRETPART" not in json.dumps(caught.value.errors(include_input=False, include_url=False), default=str)


def test_settings_defaults_and_templated_fields():
    s = settings(title="", text=None, username="", mentionUsers="{{ a }}, U2")
    assert s.title == '{{ template("default.title") }}' and s.text == '{{ template("default.message") }}'
    assert s.username == "Grafana" and s.is_incoming_webhook
    assert s.templated()["mentionUsers[0]"] == "{{ a }}" and s.templated()["mentionUsers[1]"] == "U2"
    assert "url" not in s.templated() and HOOK in s.secret_values()


def response(status: int, body: bytes | str, content_type: str = "text/html", **headers: str) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    return httpx.Response(status, content=content, headers={"Content-Type": content_type, **headers})


JSON = "application/json; charset=utf-8"


@pytest.mark.parametrize(
    "answer, failure",
    [
        (response(200, "ok"), None),
        (response(200, '{"ok":true,"channel":"C1","ts":"1.2"}', JSON), None),
        (response(404, "ok"), None),  # Grafana reads 4xx bodies: "ok" is a success whatever the status
        (response(200, '{"ok":false,"error":"invalid_auth"}', JSON), ("permanent", "failed to send request: invalid_auth")),
        (response(200, '{"ok":false,"error":"ratelimited"}', JSON), ("transient", "failed to send request: ratelimited")),
        (response(200, "", JSON), ("permanent", "unexpected empty response")),
        (response(200, "<html>", JSON), ("permanent", "failed to unmarshal response: ")),
        (response(404, "channel_not_found"), ("permanent", "the channel does not exist or is invalid")),
        (response(404, "user_not_found"), ("permanent", "the user does not exist or is invalid")),
        (response(410, "channel_is_archived"), ("permanent", "cannot send an incoming webhook for an archived channel")),
        (response(403, "posting_to_general_channel_denied"),
         ("permanent", "cannot send an incoming webhook to the #general channel")),
        (response(404, "no_service"), ("permanent", "the incoming webhook is either disabled, removed, or invalid")),
        (response(400, "no_text"), ("permanent", "cannot send an incoming webhook without a message")),
        (response(400, "invalid_payload"), ("permanent", "failed incoming webhook: invalid_payload")),
        (response(200, "OK"), ("permanent", "failed incoming webhook: OK")),
        (response(429, "rate_limited"), ("transient", "failed incoming webhook: rate_limited")),
        (response(408, "timeout"), ("transient", "failed incoming webhook: timeout")),
        (response(503, "ok"), ("transient", "unexpected 5xx status code: 503")),
        (response(301, ""), ("permanent", "unexpected 3xx status code: 301")),
    ],
)
def test_success_test(answer, failure):
    if failure is None:
        slack.check_response(answer)
        return
    with pytest.raises(DeliveryError) as caught:
        slack.check_response(answer)
    kind, message = failure
    assert caught.value.kind == kind and caught.value.message.startswith(message)
    assert caught.value.status_code == answer.status_code
    assert caught.value.body_excerpt == answer.text


def test_retry_after_header_is_kept():
    with pytest.raises(DeliveryError) as caught:
        slack.check_response(response(429, '{"ok":false,"error":"ratelimited"}', JSON, **{"Retry-After": "30"}))
    assert caught.value.transient and caught.value.retry_after == 30


def fake_client(monkeypatch, handler):
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    client = httpx.Client(transport=httpx.MockTransport(record))
    monkeypatch.setattr(http, "client", lambda verify=True: client)
    return seen


def prepared(s: SlackSettings) -> Prepared:
    integration = Integration(uid="s1", type="slack", settings=s, contact_point="ops")
    request = slack.build(rendering("a"), s)
    return Prepared(integration, request, sorted(set(s.secret_values() + request.sensitive_values()), key=len, reverse=True))


def test_send_reads_4xx_bodies_and_sends_the_exact_request(monkeypatch):
    seen = fake_client(monkeypatch, lambda r: response(404, "channel_not_found"))
    p = prepared(SlackSettings.model_validate({"url": HOOK, "token": TOKEN}))
    with pytest.raises(DeliveryError, match="the channel does not exist or is invalid"):
        send_prepared(p)
    [sent] = seen
    assert str(sent.url) == HOOK and sent.method == "POST"
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}" and sent.content == p.request.body


def test_no_secret_in_error_messages(monkeypatch):
    echo = lambda r: response(400, f"failed: {r.headers['Authorization']} at {r.url}")  # noqa: E731
    fake_client(monkeypatch, echo)
    with pytest.raises(DeliveryError) as caught:
        send_prepared(prepared(SlackSettings.model_validate({"url": HOOK, "token": TOKEN})))
    text = caught.value.message + (caught.value.body_excerpt or "")
    assert "[REDACTED]" in text
    assert TOKEN not in text and HOOK not in text and "XXXXSECRET" not in text

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"connection refused for url {request.url}")

    fake_client(monkeypatch, refuse)
    with pytest.raises(DeliveryError) as caught:
        send_prepared(prepared(settings()))
    assert caught.value.transient and "XXXXSECRET" not in caught.value.message


def test_builtin_footer_with_and_without_a_version():
    from workers.delivery.default_templates import BUILTINS

    data = rendering("a").template_data()
    assert BUILTINS["slack.default.footer"](data) == "Grafana"
    data.AppVersion = "12.0.0"
    assert BUILTINS["slack.default.footer"](data) == "Grafana v12.0.0"
