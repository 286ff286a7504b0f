"""Pushover multipart requests built without a network: whole bodies compared byte for byte."""

import re

import pytest
from pydantic import ValidationError
from werkzeug import Response

from contracts.integrations.pushover import PushoverSettings
from workers.delivery.request import parse_body
from workers.integrations import pushover

from .incident_a_support import EXTERNAL_URL, alert, config_errors, deliver_once, message_block, rendering

USER = "po-user-key-0123456789"
TOKEN = "po-app-token-0123456789"
LIST_URL = EXTERNAL_URL + "alerting/list"


def settings(**kw) -> PushoverSettings:
    return PushoverSettings.model_validate({"userKey": USER, "apiToken": TOKEN, **kw})


def multipart(boundary: str, fields: list[tuple[str, str]]) -> bytes:
    """What Go's multipart.Writer writes for these text fields."""
    out = b""
    for i, (name, value) in enumerate(fields):
        out += (b"\r\n" if i else b"") + f"--{boundary}\r\n".encode()
        out += f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode()
    return out + f"\r\n--{boundary}--\r\n".encode()


def form(priority: str, title: str, message: str, sound: str = "", extra: tuple = (), user: str = USER) -> list:
    return [("user", user), ("token", TOKEN), ("priority", priority), *extra, ("title", title), ("url", LIST_URL),
            ("url_title", "Show alert rule"), ("message", message), ("sound", sound), ("html", "1")]


FIRING_A = "**Firing**\n" + message_block("a")

CASES = [
    ("defaults while firing", [alert("a")], {},
     form("0", "[FIRING:1] Disk (a)", FIRING_A.strip())),
    ("resolved uses okPriority and okSound", [alert("a", resolved=True)],
     {"priority": 1, "sound": "siren", "okPriority": "-1", "okSound": "magic"},
     form("-1", "[RESOLVED] Disk (a)", ("**Resolved**\n" + message_block("a")).strip(), sound="magic")),
    ("emergency priority adds retry and expire", [alert("a")],
     {"priority": "2", "retry": "60", "expire": 3600, "sound": "siren"},
     form("2", "[FIRING:1] Disk (a)", FIRING_A.strip(), sound="siren", extra=(("retry", "60"), ("expire", "3600")))),
    ("emergency okPriority on resolve adds retry and expire too", [alert("a", resolved=True)],
     {"okPriority": 2, "retry": 30, "expire": "oops"},
     form("2", "[RESOLVED] Disk (a)", ("**Resolved**\n" + message_block("a")).strip(),
          extra=(("retry", "30"), ("expire", "0")))),
    ("device and user key are templates; sound 'default' is left out", [alert("a")],
     {"device": "{{ CommonLabels.instance }}-phone,tablet", "sound": "default", "title": "t", "message": "m",
      "userKey": "u-{{ CommonLabels.instance }}-0123456789"},
     [("user", "u-a-0123456789"), ("token", TOKEN), ("priority", "0"), ("device", "a-phone,tablet"), ("title", "t"),
      ("url", LIST_URL), ("url_title", "Show alert rule"), ("message", "m"), ("html", "1")]),
    ("empty message becomes (no details)", [alert("a")], {"title": "t", "message": "  {{ '' }}\n"},
     form("0", "t", "(no details)")),
]


@pytest.mark.parametrize("name, alerts, overrides, fields", CASES, ids=[c[0] for c in CASES])
def test_whole_multipart_body(name, alerts, overrides, fields):
    request = pushover.build(rendering(*alerts), settings(**overrides))
    assert (request.method, request.url) == ("POST", "https://api.pushover.net/1/messages.json")
    content_type = request.headers["Content-Type"]
    boundary = re.fullmatch(r"multipart/form-data; boundary=([0-9a-f]{60})", content_type).group(1)
    assert request.headers == {"Content-Type": content_type, "User-Agent": "Grafana"}
    assert request.body == multipart(boundary, fields)
    assert parse_body(request.body, request.headers) == dict(fields), "previews see the fields as an object"


def test_title_message_and_url_are_truncated_in_runes():
    long_url = "https://grafana.example.com/" + "p" * 600 + "/"
    request = pushover.build(rendering(alert("a"), external_url=long_url), settings(title="ä" * 300, message="ö" * 2000))
    fields = parse_body(request.body, request.headers)
    assert fields["title"] == "ä" * 249 + "…"
    assert fields["message"] == "ö" * 1023 + "…"
    assert fields["url"] == (long_url + "alerting/list")[:511] + "…"


def test_message_is_truncated_before_it_is_trimmed():
    request = pushover.build(rendering(alert("a")), settings(message="\n\n\n" + "x" * 2000))
    assert parse_body(request.body, request.headers)["message"] == "x" * 1020 + "…"


def test_body_is_deterministic_and_the_boundary_ignores_secrets():
    one = pushover.build(rendering(alert("a")), settings())
    again = pushover.build(rendering(alert("a")), settings())
    other_token = pushover.build(rendering(alert("a")), settings(apiToken="another-token-987654321"))
    assert one.body == again.body
    assert one.headers["Content-Type"] == other_token.headers["Content-Type"]


def test_env_override(monkeypatch):
    monkeypatch.setenv("ALERTRELAY_API_URL_PUSHOVER", "http://127.0.0.1:9000")
    assert pushover.build(rendering(alert("a")), settings()).url == "http://127.0.0.1:9000/1/messages.json"


def test_settings_numbers_and_defaults():
    s = settings(priority='"1"', okPriority="", retry="abc", expire=None, uploadImage=None, title="", message=None)
    assert (s.priority, s.okPriority, s.retry, s.expire, s.uploadImage) == (1, 0, 0, 0, True)
    assert (s.title, s.message) == ('{{ template("default.title") }}', '{{ template("default.message") }}')


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"apiToken": TOKEN}, "userKey"),
        ({"userKey": USER}, "apiToken"),
        ({"userKey": "", "apiToken": TOKEN}, "user key not found"),
        ({"userKey": USER, "apiToken": " "}, "API token not found"),
        ({"userKey": USER, "apiToken": TOKEN, "priority": "high"}, "must be an integer"),
        ({"userKey": USER, "apiToken": TOKEN, "okPriority": 1.5}, "must be an integer"),
    ],
)
def test_invalid_settings(bad, message, tmp_path):
    with pytest.raises(ValidationError, match=message):
        PushoverSettings.model_validate(bad)
    [error] = config_errors(tmp_path, "pushover", bad)
    assert message in error and 'integration "u1" (pushover): settings.' in error
    assert USER not in error and TOKEN not in error


def test_no_secret_in_error_text(make_receiver, monkeypatch):
    server = make_receiver()
    server.expect_request("/1/messages.json").respond_with_handler(
        lambda r: Response(f'{{"token":"invalid: {r.form["token"]}","user":"{r.form["user"]}","status":0}}', status=400)
    )
    monkeypatch.setenv("ALERTRELAY_API_URL_PUSHOVER", server.url_for("/"))
    error = deliver_once("pushover", settings(), rendering(alert("a")))
    assert error is not None and error.kind == "permanent" and error.status_code == 400
    for secret in (USER, TOKEN):
        assert secret not in error.message and secret not in (error.body_excerpt or "")
    assert server.log[0][0].form["url_title"] == "Show alert rule", "a real multipart body the server parses"
