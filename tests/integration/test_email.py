"""Email against a real SMTP server on loopback (aiosmtpd), with STARTTLS, implicit TLS and AUTH.

Each test builds the email for a notification and sends it in-process through the real
sender, then reads the MIME message the server received. ``alertrelay preview`` is run as a
subprocess, as a user would.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import ssl
from datetime import datetime, timezone
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from contracts.event import normalise, parse_event
from contracts.integrations.email import EmailSettings
from tests.harness import cli
from workers.delivery.errors import DeliveryError
from workers.delivery.rendering import Rendering
from workers.delivery.templates import Templates
from workers.integrations import email

pytestmark = pytest.mark.integration

NOW = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)
USER, PASSWORD = "alertrelay", "s3cret-smtp-Password!"
EVENT = {
    "receiver": "ops-team",
    "externalURL": "https://grafana.example.com/",
    "alerts": [
        {
            "labels": {"alertname": "HighCPU", "grafana_folder": "Infra", "instance": "web-1"},
            "annotations": {"summary": "CPU at 97.5%", "runbook_url": "https://wiki.example.com/cpu"},
            "startsAt": "2024-05-01T10:00:00Z",
            "generatorURL": "https://grafana.example.com/alerting/grafana/cpu/view",
        }
    ],
}
SUBJECT = "[FIRING:1] HighCPU Infra (web-1)"
TEXT = (
    "You have 1 firing alert(s), and 0 resolved alert(s) for alertname=HighCPU, grafana_folder=Infra\n\n"
    "(1) FIRING\n-----------\n\nAlertname: HighCPU\nLabels: \n - grafana_folder = Infra\n - instance = web-1\n"
    "Summary: CPU at 97.5%\nRunbook: https://wiki.example.com/cpu\n\n"
    "Go to the Alerts page: https://grafana.example.com/alerting/list?alertState=firing&view=state"
    "\n\n\nSent by Grafana (c) 2024 Grafana Labs\n"
)


class Recorder:
    """An aiosmtpd handler that keeps every accepted message, and refuses chosen recipients."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.rcpt_replies: dict[str, str] = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's name
        reply = self.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append({
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "message": message_from_bytes(envelope.content, policy=policy.default),
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "login": session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None,
            "ehlo": session.host_name,
        })
        return "250 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> dict[str, Any]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_context)
    ca_file = tmp_path_factory.mktemp("smtp-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return {"context": server_context, "ca_file": str(ca_file)}


@pytest.fixture
def smtp_server(certs):  # type: ignore[no-untyped-def]
    """A factory of loopback SMTP servers: STARTTLS + AUTH by default, or implicit TLS, or plain."""
    started: list[Controller] = []

    def start(mode: str = "starttls") -> tuple[Recorder, int]:
        recorder, port = Recorder(), free_port()
        kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": port, "server_hostname": "mail.test"}
        if mode == "starttls":
            kwargs.update(tls_context=certs["context"], authenticator=authenticator, auth_require_tls=True)
        elif mode == "implicit":
            kwargs.update(ssl_context=certs["context"], authenticator=authenticator, auth_require_tls=False)
        controller = Controller(recorder, **kwargs)
        controller.start()
        started.append(controller)
        return recorder, port

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def smtp_env(monkeypatch, certs):  # type: ignore[no-untyped-def]
    def configure(port: int, **extra: str) -> dict[str, str]:
        for name in list(os.environ):
            if name.startswith("ALERTRELAY_SMTP_"):
                monkeypatch.delenv(name)
        env = {
            "ALERTRELAY_SMTP_HOST": "127.0.0.1",
            "ALERTRELAY_SMTP_PORT": str(port),
            "ALERTRELAY_SMTP_USER": USER,
            "ALERTRELAY_SMTP_PASSWORD": PASSWORD,
            "ALERTRELAY_SMTP_FROM_ADDRESS": "grafana@example.com",
            "ALERTRELAY_SMTP_FROM_NAME": "Grafana Alerts",
            "ALERTRELAY_SMTP_CA_FILE": certs["ca_file"],
            "ALERTRELAY_SMTP_EHLO_IDENTITY": "relay.example.com",
            "ALERTRELAY_SMTP_TIMEOUT": "5",
            **extra,
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return env

    return configure


def build(**settings: Any) -> tuple[email.EmailRequest, EmailSettings]:
    model = EmailSettings.model_validate(settings)
    rendering = Rendering(normalise(parse_event(json.dumps(EVENT).encode()), NOW), Templates(), NOW, 1)
    return email.build(rendering, model), model


def parts(message: Any) -> dict[str, str]:
    """Content type → decoded text (SMTP carries CRLF line ends; compare as LF)."""
    return {p.get_content_type(): p.get_content().replace("\r\n", "\n") for p in message.iter_parts()}


def test_one_message_per_recipient_over_starttls_with_auth(smtp_server, smtp_env, caplog):
    caplog.set_level(logging.DEBUG)
    recorder, port = smtp_server("starttls")
    smtp_env(port)
    request, settings = build(addresses="oncall@example.com; team@example.com")
    email.send(request, settings)
    assert [m["rcpt_tos"] for m in recorder.messages] == [["oncall@example.com"], ["team@example.com"]]
    for received, to in zip(recorder.messages, ["oncall@example.com", "team@example.com"]):
        assert received["tls"] is True and received["login"] == USER.encode()
        assert received["mail_from"] == "grafana@example.com" and received["ehlo"] == "relay.example.com"
        message = received["message"]
        assert message["From"] == "Grafana Alerts <grafana@example.com>"
        assert message["To"] == to
        assert message["Subject"] == SUBJECT
        assert message.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
        bodies = parts(message)
        assert bodies["text/plain"] == TEXT
        html = bodies["text/html"]
        assert f"<title>{SUBJECT}</title>" in html and "CPU at 97.5%" in html and "web-1" in html
        assert 'href="https://grafana.example.com/alerting/grafana/cpu/view"' in html
        assert 'href="https://wiki.example.com/cpu"' in html and "Silence" in html
    assert PASSWORD not in caplog.text


def test_single_email_to_everyone_over_implicit_tls(smtp_server, smtp_env):
    recorder, port = smtp_server("implicit")
    smtp_env(port, ALERTRELAY_SMTP_TLS="true")
    request, settings = build(addresses="a@example.com,b@example.com", singleEmail=True, subject="{{ CommonLabels.instance }} is hot")
    email.send(request, settings)
    assert len(recorder.messages) == 1
    received = recorder.messages[0]
    assert received["rcpt_tos"] == ["a@example.com", "b@example.com"] and received["tls"] is True
    assert received["message"]["To"] == "a@example.com, b@example.com"
    assert received["message"]["Subject"] == "web-1 is hot"
    assert parts(received["message"])["text/plain"] == TEXT


def test_5xx_for_a_recipient_is_permanent_and_the_others_are_delivered_once(smtp_server, smtp_env):
    recorder, port = smtp_server("starttls")
    smtp_env(port)
    recorder.rcpt_replies["ghost@example.com"] = "550 5.1.1 <ghost@example.com>: Recipient address rejected"
    request, settings = build(addresses="ghost@example.com; ops@example.com")
    with pytest.raises(DeliveryError) as caught:
        email.send(request, settings)
    error = caught.value
    assert error.kind == "permanent" and error.status_code == 550
    assert error.message == ("failed to send notification to email addresses: ghost@example.com: "
                             "550 5.1.1 <ghost@example.com>: Recipient address rejected")
    assert [m["rcpt_tos"] for m in recorder.messages] == [["ops@example.com"]]
    with pytest.raises(DeliveryError):  # an in-process retry does not send to ops@ again
        email.send(request, settings)
    assert len(recorder.messages) == 1


def test_4xx_is_transient_and_a_later_attempt_delivers(smtp_server, smtp_env):
    recorder, port = smtp_server("starttls")
    smtp_env(port)
    recorder.rcpt_replies["busy@example.com"] = "451 4.3.0 Mailbox temporarily unavailable"
    request, settings = build(addresses="busy@example.com")
    with pytest.raises(DeliveryError) as caught:
        email.send(request, settings)
    assert caught.value.kind == "transient" and caught.value.status_code == 451
    assert "451 4.3.0 Mailbox temporarily unavailable" in caught.value.message
    del recorder.rcpt_replies["busy@example.com"]
    email.send(request, settings)
    assert [m["rcpt_tos"] for m in recorder.messages] == [["busy@example.com"]]


def test_wrong_password_is_permanent_and_never_printed(smtp_server, smtp_env, caplog):
    caplog.set_level(logging.DEBUG)
    recorder, port = smtp_server("starttls")
    smtp_env(port, ALERTRELAY_SMTP_PASSWORD="wrong-" + PASSWORD)
    request, settings = build(addresses="a@example.com")
    with pytest.raises(DeliveryError) as caught:
        email.send(request, settings)
    assert caught.value.kind == "permanent" and caught.value.status_code == 535
    assert PASSWORD not in caught.value.message and PASSWORD not in caplog.text
    assert recorder.messages == []


def test_untrusted_certificate_fails_and_skip_verify_accepts_it(smtp_server, smtp_env, tmp_path):
    recorder, port = smtp_server("starttls")
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    smtp_env(port, ALERTRELAY_SMTP_CA_FILE=str(other_ca))
    request, settings = build(addresses="a@example.com")
    with pytest.raises(DeliveryError) as caught:
        email.send(request, settings)
    assert caught.value.kind == "transient" and "CERTIFICATE_VERIFY_FAILED" in caught.value.message
    smtp_env(port, ALERTRELAY_SMTP_CA_FILE=str(other_ca), ALERTRELAY_SMTP_SKIP_VERIFY="true")
    email.send(request, settings)
    assert len(recorder.messages) == 1


def test_mandatory_starttls_without_server_support_is_permanent(smtp_server, smtp_env):
    recorder, port = smtp_server("plain")
    smtp_env(port, ALERTRELAY_SMTP_STARTTLS_POLICY="MandatoryStartTLS")
    request, settings = build(addresses="a@example.com")
    with pytest.raises(DeliveryError) as caught:
        email.send(request, settings)
    assert caught.value.kind == "permanent" and "STARTTLS" in caught.value.message
    smtp_env(port, ALERTRELAY_SMTP_STARTTLS_POLICY="OpportunisticStartTLS", ALERTRELAY_SMTP_USER="")
    email.send(request, settings)
    assert recorder.messages[0]["tls"] is False


def test_connection_refused_is_transient(smtp_env):
    smtp_env(free_port())
    request, settings = build(addresses="a@example.com")
    with pytest.raises(DeliveryError) as caught:
        email.send(request, settings)
    assert caught.value.kind == "transient" and "failed to dial SMTP server: ConnectionRefusedError" in caught.value.message


def test_preview(tmp_path: Path):
    config = tmp_path / "provisioning.yaml"
    config.write_text(
        """
apiVersion: 1
contactPoints:
  - name: ops-team
    receivers:
      - uid: ops-mail
        type: email
        settings:
          addresses: "oncall@example.com; team@example.com"
"""
    )
    event = tmp_path / "event.json"
    event.write_text(json.dumps(EVENT))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTRELAY_SMTP_")}
    env.update(ALERTRELAY_SMTP_FROM_ADDRESS="grafana@example.com", ALERTRELAY_SMTP_PASSWORD=PASSWORD)
    out = cli(env, "preview", "--config", str(config), "--event", str(event), "--now", "2024-05-01T10:30:00Z").stdout
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 1
    line = lines[0]
    assert (line["contact_point"], line["uid"], line["type"]) == ("ops-team", "ops-mail", "email")
    request = line["request"]
    assert list(request) == ["from", "to", "subject", "text", "html"]
    assert request["from"] == "Grafana <grafana@example.com>"
    assert request["to"] == ["oncall@example.com", "team@example.com"]
    assert request["subject"] == SUBJECT and request["text"] == TEXT
    assert "<title>" in request["html"]
    assert PASSWORD not in out
