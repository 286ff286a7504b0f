"""Threema Gateway requests built without a network: whole form bodies compared."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import parse_qsl, quote_plus

import pytest
from pydantic import ValidationError
from werkzeug import Response

from contracts.event import normalise, parse_event
from contracts.integrations.threema import ThreemaSettings
from contracts.provisioning import Integration
from workers.delivery.core import Prepared, send_prepared
from workers.delivery.errors import DeliveryError
from workers.delivery.rendering import Rendering
from workers.delivery.templates import Templates
from workers.integrations import threema

NOW = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)
SECRET = "supersecret"
IMAGE = "https://www.example.com/test-image-{}.jpg"


def rendering(*values: str, resolved: bool = False, external_url: str = "http://localhost", images: bool = True) -> Rendering:
    """Grafana's test notification: group key ``alertname``, group labels ``{alertname: ""}``."""
    alerts = [
        {
            "labels": {"alertname": "alert1", "lbl1": value},
            "annotations": {"ann1": f"annv{index}"},
            "startsAt": "2024-05-01T10:00:00Z",
            **({"endsAt": "2024-05-01T10:20:00Z"} if resolved else {}),
            **({"imageURL": IMAGE.format(index)} if images else {}),
        }
        for index, value in enumerate(values, 1)
    ]
    event = {"receiver": "my_receiver", "externalURL": external_url, "groupLabels": {"alertname": ""},
             "groupKey": "alertname", "alerts": alerts}
    return Rendering(normalise(parse_event(json.dumps(event).encode()), NOW), Templates(), NOW, 1)


def settings(**kw: object) -> ThreemaSettings:
    return ThreemaSettings.model_validate({"gateway_id": "*1234567", "recipient_id": "87654321", "api_secret": SECRET, **kw})


# Bodies copied from Grafana's receivers/threema/v1/threema_test.go (their alerts have no values,
# dashboards or start times that would change the text; ours carry the same labels and images).
GRAFANA_TWO_ALERTS = (
    "from=%2A1234567&secret=supersecret&text=%E2%9A%A0%EF%B8%8F+%5BFIRING%3A2%5D++%0A%0A%2AMessage%3A%2A%0A"
    "%2A%2AFiring%2A%2A%0A%0AValue%3A+%5Bno+value%5D%0ALabels%3A%0A+-+alertname+%3D+alert1%0A+-+lbl1+%3D+val1%0A"
    "Annotations%3A%0A+-+ann1+%3D+annv1%0ASilence%3A+http%3A%2F%2Flocalhost%2Falerting%2Fsilence%2Fnew%3Falertmanager"
    "%3Dgrafana%26matcher%3Dalertname%253Dalert1%26matcher%3Dlbl1%253Dval1%0A%0AValue%3A+%5Bno+value%5D%0ALabels%3A%0A"
    "+-+alertname+%3D+alert1%0A+-+lbl1+%3D+val2%0AAnnotations%3A%0A+-+ann1+%3D+annv2%0ASilence%3A+http%3A%2F%2Flocalhost"
    "%2Falerting%2Fsilence%2Fnew%3Falertmanager%3Dgrafana%26matcher%3Dalertname%253Dalert1%26matcher%3Dlbl1%253Dval2%0A"
    "%0A%2AURL%3A%2A+http%3A%2Flocalhost%2Falerting%2Flist%0A%2AImage%3A%2A+https%3A%2F%2Fwww.example.com%2F"
    "test-image-1.jpg%0A%2AImage%3A%2A+https%3A%2F%2Fwww.example.com%2Ftest-image-2.jpg%0A&to=87654321"
)
GRAFANA_CUSTOM = (
    "from=%2A1234567&secret=supersecret&text=%E2%9A%A0%EF%B8%8F+customTitle+1%0A%0A%2AMessage%3A%2A%0A"
    "customDescription%0A%2AURL%3A%2A+http%3A%2Flocalhost%2Falerting%2Flist%0A%2AImage%3A%2A+https%3A%2F%2F"
    "www.example.com%2Ftest-image-1.jpg%0A&to=87654321"
)
RESOLVED_TEXT = (
    "\u2705 [RESOLVED]  (val1)\n\n*Message:*\n**Resolved**\n\nValue: [no value]\nLabels:\n - alertname = alert1\n"
    " - lbl1 = val1\nAnnotations:\n - ann1 = annv1\nSilence: https://grafana.example.com/grafana/alerting/silence/new"
    "?alertmanager=grafana&matcher=alertname%3Dalert1&matcher=lbl1%3Dval1\n\n"
    "*URL:* https:/grafana.example.com/grafana/alerting/list\n"
)


@pytest.mark.parametrize(
    "case, expected",
    [
        (lambda: threema.build(rendering("val1", "val2"), settings()), GRAFANA_TWO_ALERTS),
        (lambda: threema.build(rendering("val1"), settings(title="customTitle {{ Alerts.Firing | length }}",
                                                          description="customDescription")), GRAFANA_CUSTOM),
        (lambda: threema.build(rendering("val1", resolved=True, images=False,
                                         external_url="https://grafana.example.com/grafana/"), settings()),
         f"from=%2A1234567&secret=supersecret&text={quote_plus(RESOLVED_TEXT)}&to=87654321"),
    ],
    ids=["grafana-two-alerts-with-images", "grafana-custom-title-and-description", "resolved"],
)
def test_whole_form_body(case, expected):
    request = case()
    assert request.body.decode() == expected
    assert request.method == "POST"
    assert request.url == "https://msgapi.threema.ch/send_simple"
    assert request.headers == {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "Grafana"}


def test_resolved_text_uses_check_mark_and_grafanas_single_slash_url():
    body = dict(parse_qsl(threema.build(rendering("val1", resolved=True, images=False,
                                                  external_url="https://grafana.example.com/grafana/"), settings()).body.decode()))
    assert body["text"] == RESOLVED_TEXT
    assert list(body) == ["from", "secret", "text", "to"]


def test_go_template_syntax_in_settings_is_accepted():
    request = threema.build(rendering("val1"), settings(title='{{ template "default.title" . }}!', description="{{ .Status }}"))
    text = dict(parse_qsl(request.body.decode()))["text"]
    assert text.startswith("\u26a0\ufe0f [FIRING:1]  (val1)!\n\n*Message:*\nfiring\n")


def test_endpoint_override(monkeypatch):
    monkeypatch.setenv("ALERTRELAY_API_URL_THREEMA", "http://127.0.0.1:9000/threema")
    assert threema.build(rendering("val1"), settings()).url == "http://127.0.0.1:9000/threema/send_simple"


def test_preview_masks_the_api_secret():
    s = settings()
    preview = threema.build(rendering("val1"), s).preview(s.secret_values())
    assert preview["body"]["secret"] == "[REDACTED]"
    assert SECRET not in json.dumps(preview)
    assert threema.build(rendering("val1"), s).preview(s.secret_values(), show_secrets=True)["body"]["secret"] == SECRET


def test_empty_templates_fall_back_to_grafanas_defaults():
    s = settings(title="", description=None)
    assert (s.title, s.description) == ('{{ template("default.title") }}', '{{ template("default.message") }}')


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"gateway_id": ""}, "must not be empty"),
        ({"gateway_id": "1234567X"}, "must start with a \\*"),
        ({"gateway_id": "*123456"}, "must be 8 characters long"),
        ({"recipient_id": "8765432"}, "must be 8 characters long"),
        ({"recipient_id": ""}, "must not be empty"),
        ({"api_secret": ""}, "must not be empty"),
    ],
)
def test_invalid_settings(bad, message):
    with pytest.raises(ValidationError, match=message):
        settings(**bad)


@pytest.mark.parametrize("missing", ["gateway_id", "recipient_id", "api_secret"])
def test_required_settings(missing):
    values = {"gateway_id": "*1234567", "recipient_id": "87654321", "api_secret": SECRET}
    del values[missing]
    with pytest.raises(ValidationError, match=missing):
        ThreemaSettings.model_validate(values)


@pytest.mark.parametrize("status, kind", [(400, "permanent"), (401, "permanent"), (429, "transient"), (502, "transient")])
def test_failures_are_classified_and_never_show_the_secret(make_receiver, monkeypatch, status, kind):
    server = make_receiver()
    # A gateway that echoes the form it got, secret included, as some error pages do.
    server.expect_request("/send_simple").respond_with_handler(
        lambda r: Response("rejected: " + r.get_data(as_text=True), status=status)
    )
    monkeypatch.setenv("ALERTRELAY_API_URL_THREEMA", server.url_for("/"))
    s = settings()
    request = threema.build(rendering("val1"), s)
    integration = Integration(uid="t", type="threema", settings=s, contact_point="cp")
    with pytest.raises(DeliveryError) as info:
        send_prepared(Prepared(integration, request, s.secret_values()))
    error = info.value
    assert error.kind == kind and error.status_code == status
    assert SECRET not in error.message and SECRET not in (error.body_excerpt or "")
    assert "secret=[REDACTED]" in error.message


def test_a_secret_echoed_form_encoded_is_redacted_too(make_receiver, monkeypatch):
    server = make_receiver()
    server.expect_request("/send_simple").respond_with_handler(lambda r: Response("bad: " + r.get_data(as_text=True), status=401))
    monkeypatch.setenv("ALERTRELAY_API_URL_THREEMA", server.url_for("/"))
    s = settings(api_secret="s3c+r/t&x")
    request = threema.build(rendering("val1"), s)
    assert request.sensitive_values() == ["s3c%2Br%2Ft%26x"]
    secrets = sorted(set(s.secret_values() + request.sensitive_values()), key=len, reverse=True)
    with pytest.raises(DeliveryError) as info:
        send_prepared(Prepared(Integration(uid="t", type="threema", settings=s, contact_point="cp"), request, secrets))
    assert "s3c%2Br%2Ft%26x" not in info.value.message and "secret=[REDACTED]&" in info.value.message
    assert threema.build(rendering("val1"), settings()).sensitive_values() == []
