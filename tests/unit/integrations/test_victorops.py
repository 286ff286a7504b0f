"""VictorOps requests built without a network: whole bodies compared."""

import pytest
from pydantic import ValidationError
from werkzeug import Response

from contracts.gocompat import go_json
from contracts.integrations.victorops import VictorOpsSettings
from workers.integrations import victorops

from .incident_a_support import EXTERNAL_URL, GROUP_HASH, NOW, alert, config_errors, deliver_once, message_block, rendering

ROUTING_KEY = "vo-routing-key-0123456789"
URL = f"https://alert.victorops.com/integrations/generic/20131114/alert/{ROUTING_KEY}/ops"


def settings(**kw) -> VictorOpsSettings:
    return VictorOpsSettings.model_validate({"url": URL, **kw})


def body(message_type: str, title: str, state: str, **extra) -> dict:
    """Grafana's body: a Go map, so the keys are in alphabetical order."""
    fields = {
        "alert_url": EXTERNAL_URL + "alerting/list", "entity_display_name": title, "entity_id": GROUP_HASH,
        "message_type": message_type, "monitoring_tool": "Grafana v", "state_message": state,
        "timestamp": int(NOW.timestamp()), **extra,
    }
    return dict(sorted(fields.items()))


CASES = [
    (
        "firing with defaults: CRITICAL",
        [alert("a")], {},
        body("CRITICAL", "[FIRING:1] Disk (a)", "**Firing**\n" + message_block("a")),
    ),
    (
        "every alert resolved: RECOVERY whatever messageType says",
        [alert("a", resolved=True)], {"messageType": "WARNING"},
        body("RECOVERY", "[RESOLVED] Disk (a)", "**Resolved**\n" + message_block("a")),
    ),
    (
        "mixed group keeps the configured type, upper-cased and templated",
        [alert("a"), alert("b", resolved=True)], {"messageType": "{{ 'warning' if Alerts.Firing else 'info' }}"},
        body("WARNING", "[FIRING:1, RESOLVED:1] Disk ",
             "**Firing**\n" + message_block("a") + "\n\n**Resolved**\n" + message_block("b")),
    ),
    (
        "INFO passes through; custom title and description; first image",
        [alert("a"), alert("b", imageURL="https://img/b.png"), alert("c", imageURL="https://img/c.png")],
        {"messageType": "info", "title": "{{ Alerts | length }} disks", "description": "see {{ ExternalURL }}"},
        body("INFO", "3 disks", "see https://grafana.example.com/", image_url="https://img/b.png"),
    ),
    (
        "a messageType rendering empty falls back to CRITICAL",
        [alert("a")], {"messageType": "{{ CommonLabels.nothing }}", "title": "t", "description": "d"},
        body("CRITICAL", "t", "d"),
    ),
]


@pytest.mark.parametrize("name, alerts, overrides, expected", CASES, ids=[c[0] for c in CASES])
def test_whole_body(name, alerts, overrides, expected):
    request = victorops.build(rendering(*alerts), settings(**overrides))
    assert (request.method, request.url) == ("POST", URL)
    assert request.headers == {"Content-Type": "application/json", "User-Agent": "Grafana"}
    assert request.body == go_json(expected).encode()


def test_state_message_is_truncated_to_20480_runes():
    request = victorops.build(rendering(alert("a")), settings(description="€" * 30000, title="t"))
    assert request.body == go_json(body("CRITICAL", "t", "€" * 20479 + "…")).encode()


def test_url_is_a_template_and_falls_back_to_raw_on_error():
    templated = settings(url="https://vo.example.com/alert/key-{{ CommonLabels.instance }}")
    assert victorops.build(rendering(alert("a")), templated).url == "https://vo.example.com/alert/key-a"
    broken = settings(url="https://vo.example.com/alert/{{ nope( }}")
    assert victorops.build(rendering(alert("a")), broken).url == "https://vo.example.com/alert/{{ nope( }}"


def test_url_is_masked_in_previews():
    request = victorops.build(rendering(alert("a")), settings())
    assert request.preview(settings().secret_values())["url"] == "[REDACTED]"
    assert request.preview(settings().secret_values(), show_secrets=True)["url"] == URL


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"title": "t"}, "url"),
        ({"url": " "}, "could not find victorops url"),
        ({"url": URL, "title": {"not": "text"}}, "title"),
    ],
)
def test_invalid_settings(bad, message, tmp_path):
    with pytest.raises(ValidationError, match=message):
        VictorOpsSettings.model_validate(bad)
    [error] = config_errors(tmp_path, "victorops", bad)
    assert message in error and 'integration "u1" (victorops): settings.' in error
    assert ROUTING_KEY not in error


def test_defaults_for_empty_values():
    s = settings(messageType="", title="", description=None)
    assert (s.messageType, s.title, s.description) == (
        "CRITICAL", '{{ template("default.title") }}', '{{ template("default.message") }}'
    )


def test_no_secret_in_error_text(make_receiver):
    server = make_receiver()
    path = f"/integrations/generic/20131114/alert/{ROUTING_KEY}/ops"
    # Echoes the whole URL, then the key segment alone: both must be redacted.
    echo = lambda r: Response(f"unknown routing for {r.url}; key {r.path.split('/')[-2]}", status=404)  # noqa: E731
    server.expect_request(path).respond_with_handler(echo)
    error = deliver_once("victorops", settings(url=server.url_for(path)), rendering(alert("a")))
    assert error is not None and error.kind == "permanent" and error.status_code == 404
    assert ROUTING_KEY not in error.message and ROUTING_KEY not in (error.body_excerpt or "")
    assert error.message.count("[REDACTED]") == 2


def test_5xx_is_transient(make_receiver):
    server = make_receiver()
    server.expect_request("/alert").respond_with_data("down", status=503)
    error = deliver_once("victorops", settings(url=server.url_for("/alert")), rendering(alert("a")))
    assert error is not None and error.kind == "transient" and error.status_code == 503
