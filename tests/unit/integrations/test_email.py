"""Email messages built without a network: whole text bodies, headers, MIME shape, SMTP settings."""

import json
import os
from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from contracts.event import normalise, parse_event
from contracts.integrations.email import EmailSettings
from workers.delivery.errors import DeliveryError, transient
from workers.delivery.rendering import Rendering
from workers.delivery.templates import Templates
from workers.integrations import email, smtp_config

NOW = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)
EXTERNAL = "https://grafana.example.com/"


def alert(instance: str, resolved: bool = False, **annotations: str) -> dict:
    return {
        "labels": {"alertname": "Disk", "team": "ops", "instance": instance},
        "annotations": annotations,
        "startsAt": "2024-05-01T10:00:00Z",
        **({"endsAt": "2024-05-01T10:20:00Z"} if resolved else {}),
        "generatorURL": f"https://grafana.example.com/alerting/grafana/disk/{instance}",
    }


def rendering(*alerts: dict, group_labels: dict | None = None) -> Rendering:
    raw = {"receiver": "ops", "externalURL": EXTERNAL, "alerts": list(alerts)}
    if group_labels is not None:
        raw["groupLabels"] = group_labels
    return Rendering(normalise(parse_event(json.dumps(raw).encode()), NOW), Templates(), NOW, 1)


def settings(**kw) -> EmailSettings:
    return EmailSettings.model_validate({"addresses": "a@example.com", **kw})


@pytest.fixture(autouse=True)
def smtp_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("ALERTRELAY_SMTP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ALERTRELAY_SMTP_FROM_ADDRESS", "alerts@example.com")
    monkeypatch.setenv("ALERTRELAY_SMTP_FROM_NAME", "Grafana Alerts")


FOOTER = "\n\n\nSent by Grafana (c) 2024 Grafana Labs\n"
PAGE = "https://grafana.example.com/alerting/list?alertState=firing&view=state"

TWO_FIRING_ONE_RESOLVED = (
    "You have 2 firing alert(s), and 1 resolved alert(s) for alertname=Disk\n"
    "\n"
    "(2) FIRING\n"
    "-----------\n"
    "\n"
    "Alertname: Disk\n"
    "Labels: \n"
    " - instance = a\n"
    " - team = ops\n"
    "Summary: disk a full\n"
    "Description: 95% used\n"
    "Runbook: https://wiki.example.com/disk\n"
    "Annotations: \n"
    " - owner = storage\n"
    " - zone = eu-1\n"
    "\n"
    "Alertname: Disk\n"
    "Labels: \n"
    " - instance = b\n"
    " - team = ops\n"
    "\n"
    "(1) RESOLVED\n"
    "-------------\n"
    "\n"
    "Alertname: Disk\n"
    "Labels: \n"
    " - instance = c\n"
    " - team = ops\n"
    "Summary: disk c ok\n"
    "\n"
    f"Go to the Alerts page: {PAGE}" + FOOTER
)

RESOLVED_ONLY = (
    "You have 0 firing alert(s), and 1 resolved alert(s) for alertname=Disk\n"
    "\n"
    "\n"
    "(1) RESOLVED\n"
    "-------------\n"
    "\n"
    "Alertname: Disk\n"
    "Labels: \n"
    " - instance = c\n"
    " - team = ops\n"
    "\n"
    f"Go to the Alerts page: {PAGE}" + FOOTER
)


@pytest.mark.parametrize(
    "alerts, subject, text",
    [
        (
            [
                alert("a", summary="disk a full", description="95% used", runbook_url="https://wiki.example.com/disk",
                      zone="eu-1", owner="storage"),
                alert("b"),
                alert("c", resolved=True, summary="disk c ok"),
            ],
            "[FIRING:2, RESOLVED:1] Disk (ops)",
            TWO_FIRING_ONE_RESOLVED,
        ),
        ([alert("c", resolved=True)], "[RESOLVED] Disk (c ops)", RESOLVED_ONLY),
    ],
)
def test_default_email(alerts, subject, text):
    request = email.build(rendering(*alerts, group_labels={"alertname": "Disk"}), settings())
    assert request.from_ == "Grafana Alerts <alerts@example.com>"
    assert request.to == ["a@example.com"]
    assert request.subject == subject
    assert request.text == text
    assert f"<title>{subject}</title>" in request.html
    for needle in ("Labels", "instance", "team", "ops", "Go to the Alerts page", "&copy; 2024 Grafana Labs"):
        assert needle in request.html


def test_html_carries_every_alert_detail_escaped():
    a = alert("a<b>", summary="disk & more", description="line 1\nline 2", runbook_url="https://wiki/x?a=1&b=2",
              __dashboardUid__="dash", __panelId__="3", __values__='{"B":97.5}', note="it's <hot>")
    a["generatorURL"] = "javascript:alert(1)"
    html = email.build(rendering(a), settings()).html
    assert "a&lt;b&gt;" in html and "<b>" not in html.replace("<br>", "")
    assert "disk &amp; more" in html and "line 1<br>line 2<br>" in html
    assert "it&#39;s &lt;hot&gt;" in html and "B=97.5" in html
    assert 'href="https://wiki/x?a=1&amp;b=2"' in html
    assert "javascript:" not in html and 'href="#"' in html
    for label in ("Silence", "View runbook", "View dashboard", "View panel", "Firing"):
        assert label in html
    assert "https://grafana.example.com/d/dash?" in html and "viewPanel=3" in html


def test_custom_message_replaces_both_bodies_and_subject_is_one_line():
    s = settings(subject="{{ CommonLabels.alertname }}\nsecond line", message="Disk trouble on {{ CommonLabels.team }}\nsee wiki")
    request = email.build(rendering(alert("a")), s)
    assert request.subject == "Disk second line"
    assert request.text == "Disk trouble on ops\nsee wiki" + FOOTER
    assert "Disk trouble on ops<br>see wiki<br>" in request.html
    assert "Labels" not in request.html


def test_footer_uses_sent_by_and_year(monkeypatch):
    monkeypatch.setenv("ALERTRELAY_SMTP_SENT_BY", "Grafana v11.1.0")
    assert email.build(rendering(alert("a")), settings()).text.endswith("Sent by Grafana v11.1.0 (c) 2024 Grafana Labs\n")


@pytest.mark.parametrize(
    "external, page",
    [
        ("https://g.example.com/", "https://g.example.com/alerting/list?alertState=firing&view=state"),
        ("http://localhost/base", "http://localhost/base/alerting/list?alertState=firing&view=state"),
        ("http://localhost/base/", "http://localhost/base/alerting/list?alertState=firing&view=state"),
        ("", "/alerting/list?alertState=firing&view=state"),
    ],
)
def test_alert_page_url(external, page):
    assert email.alert_page_url(external) == page


@pytest.mark.parametrize(
    "addresses, single, groups",
    [
        ("a@x.com", False, [["a@x.com"]]),
        ("a@x.com; b@x.com,c@x.com\nd@x.com", False, [["a@x.com"], ["b@x.com"], ["c@x.com"], ["d@x.com"]]),
        ("a@x.com;;b@x.com;", True, [["a@x.com", "b@x.com"]]),
        (["a@x.com", "b@x.com"], True, [["a@x.com", "b@x.com"]]),
    ],
)
def test_recipients(addresses, single, groups):
    request = email.build(rendering(alert("a")), settings(addresses=addresses, singleEmail=single))
    assert request.recipient_groups() == groups


def test_mime_message_has_text_then_html():
    request = email.build(rendering(alert("a")), settings(addresses="a@x.com; b@x.com", singleEmail=True))
    message = request.message(request.to)
    assert message["From"] == "Grafana Alerts <alerts@example.com>"
    assert message["To"] == "a@x.com, b@x.com"
    assert message["Subject"] == "[FIRING:1] Disk (a ops)"
    assert message["Message-ID"].endswith("@example.com>")
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert parts[0].get_content() == request.text
    assert parts[1].get_content() == request.html


def test_preview_shape():
    request = email.build(rendering(alert("a")), settings(addresses="a@x.com, b@x.com"))
    view = request.preview([], False)
    assert list(view) == ["from", "to", "subject", "text", "html"]
    assert view["to"] == ["a@x.com", "b@x.com"] and view["subject"] == "[FIRING:1] Disk (a ops)"


@pytest.mark.parametrize(
    "bad, message",
    [
        ({}, "addresses"),
        ({"addresses": ""}, "could not find addresses"),
        ({"addresses": " ; ,\n"}, "could not find addresses"),
    ],
)
def test_invalid_settings(bad, message):
    with pytest.raises(ValidationError, match=message):
        EmailSettings.model_validate(bad)


def test_defaults():
    s = EmailSettings.model_validate({"addresses": "a@x.com", "subject": "", "message": None})
    assert s.subject == '{{ template("default.title") }}' and s.message == "" and s.singleEmail is False
    assert s.secret_values() == []


# --- SMTP configuration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, {"host": "localhost", "port": 25, "implicit_tls": False, "starttls_policy": "OpportunisticStartTLS",
              "from_address": "admin@grafana.localhost", "from_name": "Grafana", "ehlo_identity": ""}),
        ({"ALERTRELAY_SMTP_HOST": "mail.example.com:587"}, {"host": "mail.example.com", "port": 587}),
        ({"ALERTRELAY_SMTP_HOST": "mail.example.com", "ALERTRELAY_SMTP_PORT": "2525"}, {"port": 2525, "implicit_tls": False}),
        ({"ALERTRELAY_SMTP_TLS": "true"}, {"port": 465, "implicit_tls": True}),
        ({"ALERTRELAY_SMTP_PORT": "465"}, {"implicit_tls": True}),
        ({"ALERTRELAY_SMTP_PORT": "465", "ALERTRELAY_SMTP_TLS": "false"}, {"implicit_tls": False}),
        ({"ALERTRELAY_SMTP_STARTTLS_POLICY": "mandatorystarttls"}, {"starttls_policy": "MandatoryStartTLS"}),
        ({"ALERTRELAY_SMTP_SKIP_VERIFY": "yes", "ALERTRELAY_SMTP_EHLO_IDENTITY": "relay.example.com"},
         {"skip_verify": True, "ehlo_identity": "relay.example.com"}),
    ],
)
def test_smtp_config(env, expected):
    config = smtp_config.load(env)
    assert {k: getattr(config, k) for k in expected} == expected


@pytest.mark.parametrize(
    "env, message",
    [
        ({"ALERTRELAY_SMTP_PORT": "smtp"}, "ALERTRELAY_SMTP_PORT"),
        ({"ALERTRELAY_SMTP_PORT": "70000"}, "ALERTRELAY_SMTP_PORT"),
        ({"ALERTRELAY_SMTP_TLS": "maybe"}, "ALERTRELAY_SMTP_TLS"),
        ({"ALERTRELAY_SMTP_STARTTLS_POLICY": "Always"}, "ALERTRELAY_SMTP_STARTTLS_POLICY"),
        ({"ALERTRELAY_SMTP_CERT_FILE": "/c.pem"}, "KEY_FILE"),
        ({"ALERTRELAY_SMTP_TIMEOUT": "0"}, "ALERTRELAY_SMTP_TIMEOUT"),
    ],
)
def test_smtp_config_errors(env, message):
    with pytest.raises(ValueError, match=message):
        smtp_config.load(env)


def test_bad_smtp_config_is_a_permanent_failure(monkeypatch):
    monkeypatch.setenv("ALERTRELAY_SMTP_PORT", "smtp")
    with pytest.raises(DeliveryError) as caught:
        email.build(rendering(alert("a")), settings())
    assert caught.value.kind == "permanent" and "ALERTRELAY_SMTP_PORT" in caught.value.message


def test_password_never_printed(monkeypatch):
    monkeypatch.setenv("ALERTRELAY_SMTP_PASSWORD", "hunter2-smtp-pw")
    config = smtp_config.load()
    assert "hunter2" not in repr(config)
    request = email.build(rendering(alert("a")), settings())

    def leaky(request, config):  # a server that echoes the credentials back in its reply
        raise transient(f"failed to dial SMTP server: 454 AUTH failed for {config.password}")

    monkeypatch.setattr(email, "_send", leaky)
    with pytest.raises(DeliveryError) as caught:
        email.send(request, settings())
    assert "hunter2" not in caught.value.message and "[REDACTED]" in caught.value.message


@pytest.mark.parametrize(
    "code, kind",
    [(421, "transient"), (450, "transient"), (452, "transient"), (550, "permanent"), (554, "permanent"), (535, "permanent")],
)
def test_reply_codes(code, kind):
    error = email._code_error("failed", code, b"5.1.1 nope")
    assert (error.kind, error.status_code) == (kind, code)
    assert error.message == f"failed: {code} 5.1.1 nope"


def test_connection_refused_is_transient(monkeypatch):
    monkeypatch.setenv("ALERTRELAY_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ALERTRELAY_SMTP_PORT", "1")
    monkeypatch.setenv("ALERTRELAY_SMTP_TIMEOUT", "2")
    with pytest.raises(DeliveryError) as caught:
        email.send(email.build(rendering(alert("a")), settings()), settings())
    assert caught.value.kind == "transient" and "failed to dial SMTP server" in caught.value.message
