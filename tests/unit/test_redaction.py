"""Redaction of secrets in the forms a destination may echo them: encoded, cut short, inside a
URL's user info, as a piece of a secret webhook URL, as SMTP AUTH sends them."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest

from contracts.event import normalise, parse_event
from contracts.job import Job
from contracts.provisioning import load_config
from tests import secret_markers as sm
from workers.delivery.core import prepare
from workers.delivery.errors import REDACTED, redact
from workers.delivery.request import HttpRequest, url_credentials, url_secret_parts
from workers.delivery.retry import RetryPolicy
from workers.delivery.templates import Templates
from workers.integrations.smtp_config import SmtpConfig
from workers.runtime import Runtime

SECRET = "s3cr3t+/=Value"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"token={SECRET} end", f"token={REDACTED} end"),
        ("corpsecret=s3cr3t%2B%2F%3DValue&x=1", f"corpsecret={REDACTED}&x=1"),  # a query string
        ("secret=s3cr3t%2B/%3DValue", f"secret={REDACTED}"),  # quoted with "/" kept
        ("text=a+b&secret=s3cr3t%2B%2F%3DValue", f"text=a+b&secret={REDACTED}"),  # a form body
        ("…the excerpt stops here: s3cr3t+/", f"…the excerpt stops here: {REDACTED}"),  # cut by a byte limit
        ("…ends in s3cr3", "…ends in s3cr3"),  # five characters are not taken for a secret
        ("see http://alice:other-pw@host:8080/x", f"see http://alice:{REDACTED}@host:8080/x"),
        ("amqp://guest:***@127.0.0.1:5672/", f"amqp://guest:{REDACTED}@127.0.0.1:5672/"),
        ("mailto:ops@example.com and https://example.com/a@b", "mailto:ops@example.com and https://example.com/a@b"),
        (f'{{"echo":{json.dumps(SECRET)}}}', f'{{"echo":"{REDACTED}"}}'),
    ],
)
def test_redact(text, expected):
    assert redact(text, [SECRET]) == expected


def test_a_url_with_credentials_gives_the_password_and_the_basic_token_httpx_sends():
    token = base64.b64encode(b"a@b:p+w").decode()
    assert url_credentials("http://a%40b:p%2Bw@host:1/x") == ["p%2Bw", "p+w", token]
    assert url_credentials("http://host/x") == [] and url_credentials("http://user@host/") == []
    request = HttpRequest("POST", "http://alice:pw-in-url@host/x", {"Authorization": "Bearer tok"}, sensitive_headers=frozenset({"Authorization"}))
    assert set(request.sensitive_values()) >= {"pw-in-url", base64.b64encode(b"alice:pw-in-url").decode(), "tok"}


def test_the_parts_of_a_secret_url_a_receiver_may_echo():
    assert url_secret_parts("https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX") == [
        "/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX", "XXXXXXXXXXXXXXXXXXXXXXXX"]
    assert url_secret_parts("https://chat.example.com/v1/spaces/S/messages?key=k3y-value-1&alt=json") == [
        "/v1/spaces/S/messages", "/v1/spaces/S/messages?key=k3y-value-1&alt=json", "key=k3y-value-1&alt=json",
        "k3y-value-1", "k3y-value-1"]
    assert url_secret_parts("not a URL") == [] and url_secret_parts("https://host/") == []


def test_prepare_redacts_secret_url_pieces_and_url_credentials(tmp_path):
    config = tmp_path / "provisioning.json"
    config.write_text(json.dumps({"apiVersion": 1, "contactPoints": [{"name": sm.CONTACT_POINT, "receivers": [
        {"uid": "chat", "type": "discord", "settings": {"url": "https://discord.example.com/api/webhooks/1/T0KEN-abcdefghijkl"}},
        {"uid": "hook", "type": "webhook", "settings": {"url": "https://ops:pw-in-the-url@hooks.example.com/x"}},
    ]}]}))
    loaded = load_config(str(config))
    runtime = Runtime(loaded, Templates(loaded.templates), RetryPolicy())
    now = datetime(2024, 5, 1, tzinfo=timezone.utc)
    notification = normalise(parse_event(json.dumps(sm.event("e")).encode()), now)
    chat, hook = (prepare(Job.for_integration("e", sm.CONTACT_POINT, uid, kind, notification), runtime, now)
                  for uid, kind in (("chat", "discord"), ("hook", "webhook")))
    assert redact("Cannot POST /api/webhooks/1/T0KEN-abcdefghijkl", chat.secrets) == f"Cannot POST {REDACTED}"
    assert redact("bad token T0KEN-abcdefghijkl", chat.secrets) == f"bad token {REDACTED}"
    basic = base64.b64encode(b"ops:pw-in-the-url").decode()
    assert redact(f"Authorization: Basic {basic}", hook.secrets) == f"Authorization: Basic {REDACTED}"
    preview = json.dumps(hook.request.preview(hook.secrets))
    assert "pw-in-the-url" not in preview and f"https://ops:{REDACTED}@hooks.example.com/x" in preview


def test_an_illegal_header_quoted_by_the_http_library_is_redacted(tmp_path, make_receiver):
    """A token read with its trailing newline makes an illegal header, and the HTTP library's error
    quotes the header value with the newline escaped (``b'Bearer tok\\n'``)."""
    from workers.delivery.core import send_prepared
    from workers.delivery.errors import DeliveryError

    receiver = make_receiver()
    config = tmp_path / "provisioning.json"
    config.write_text(json.dumps({"apiVersion": 1, "contactPoints": [{"name": sm.CONTACT_POINT, "receivers": [
        {"uid": "hook", "type": "webhook",
         "settings": {"url": receiver.url_for("/x"), "authorization_credentials": "tok-with-a-newline-1234\n"}}]}]}))
    loaded = load_config(str(config))
    now = datetime(2024, 5, 1, tzinfo=timezone.utc)
    notification = normalise(parse_event(json.dumps(sm.event("e")).encode()), now)
    prepared = prepare(Job.for_integration("e", sm.CONTACT_POINT, "hook", "webhook", notification),
                       Runtime(loaded, Templates(loaded.templates), RetryPolicy()), now)
    with pytest.raises(DeliveryError) as caught:
        send_prepared(prepared)
    message = caught.value.message
    assert message.startswith("invalid request: Invalid header value") and "tok-with-a-newline" not in message


def test_smtp_secrets_include_the_auth_forms_of_the_password():
    config = SmtpConfig(user="relay", password="pa55+word")
    plain = base64.b64encode(b"\0relay\0pa55+word").decode()
    assert config.secret_values() == [plain, base64.b64encode(b"pa55+word").decode(), "pa55+word"]
    assert redact(f"535 5.7.8 refused AUTH PLAIN {plain}", config.secret_values()) == f"535 5.7.8 refused AUTH PLAIN {REDACTED}"
    assert SmtpConfig().secret_values() == []
