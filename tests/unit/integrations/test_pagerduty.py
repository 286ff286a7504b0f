"""PagerDuty events built without a network: whole bodies compared byte for byte."""

import hashlib
import json
import socket

import pytest
from pydantic import ValidationError
from werkzeug import Request, Response

from contracts.gocompat import go_json
from contracts.integrations.pagerduty import PagerDutySettings
from workers.delivery.templates import TemplateError
from workers.integrations import pagerduty

from .incident_a_support import EXTERNAL_URL, GROUP_HASH, alert, config_errors, deliver_once, message_block, rendering

KEY = "pd-routing-key-0123456789"


def settings(**kw) -> PagerDutySettings:
    return PagerDutySettings.model_validate({"integrationKey": KEY, "source": "grafana-host", **kw})


def event(action: str, summary: str, details: dict, **overrides) -> dict:
    """A whole event in Grafana's field order, with its default settings."""
    payload = {
        "summary": summary, "source": "grafana-host", "severity": "critical",
        "class": "default", "component": "Grafana", "group": "default", "custom_details": details,
    }
    payload.update(overrides.pop("payload", {}))
    body = {
        "routing_key": KEY, "dedup_key": GROUP_HASH, "event_action": action, "payload": payload,
        "client": "Grafana", "client_url": EXTERNAL_URL,
        "links": [{"href": EXTERNAL_URL, "text": "External URL"}],
    }
    body.update(overrides)
    return body


def details(firing: str = "", resolved: str = "", num_firing: int = 0, num_resolved: int = 0) -> dict:
    return {"firing": firing, "num_firing": str(num_firing), "num_resolved": str(num_resolved), "resolved": resolved}


CASES = [
    (
        "one firing alert, defaults",
        [alert("a")],
        {},
        event("trigger", "[FIRING:1] Disk (a)", details(firing=message_block("a"), num_firing=1)),
    ),
    (
        "every alert resolved: resolve with the same dedup key and the whole payload",
        [alert("a", resolved=True), alert("b", resolved=True)],
        {},
        event("resolve", "[RESOLVED] Disk ",
              details(resolved=message_block("a") + message_block("b"), num_resolved=2)),
    ),
    (
        "mixed group still triggers",
        [alert("a"), alert("b", resolved=True)],
        {},
        event("trigger", "[FIRING:1, RESOLVED:1] Disk ",
              details(firing=message_block("a"), resolved=message_block("b"), num_firing=1, num_resolved=1)),
    ),
    (
        "templated fields, Go forms included; user details merged over the defaults",
        [alert("a", labels={"sev": "WARNING", "team": "db"})],
        {
            "severity": "{{ .CommonLabels.sev }}", "class": "{{ CommonLabels.team }}-class", "component": "",
            "group": "g-{{ Status }}", "summary": "{{ Alerts | length }} alert(s)", "source": "{{ CommonLabels.instance }}",
            "client": "client-{{ CommonLabels.team }}", "client_url": "http://grafana.local/{{ CommonLabels.team }}",
            "details": {"num_firing": "n={{ Alerts.Firing | length }}", "team": "{{ CommonLabels.team }}"},
        },
        event(
            "trigger", "1 alert(s)",
            {**details(firing=message_block("a", sev="WARNING", team="db")), "num_firing": "n=1", "team": "db"},
            payload={"source": "a", "severity": "warning", "class": "db-class", "group": "g-firing"},
            client="client-db", client_url="http://grafana.local/db",
        ),
    ),
    (
        "unknown severity becomes critical; empty optional fields are left out",
        [alert("a", labels={"sev": "bogus"})],
        {"severity": "{{ CommonLabels.sev }}", "class": "{{ CommonLabels.nothing }}", "client": "{{ '' }}"},
        {
            "routing_key": KEY, "dedup_key": GROUP_HASH, "event_action": "trigger",
            "payload": {
                "summary": "[FIRING:1] Disk (a bogus)", "source": "grafana-host", "severity": "critical",
                "component": "Grafana", "group": "default",
                "custom_details": details(firing=message_block("a", sev="bogus"), num_firing=1),
            },
            "client_url": EXTERNAL_URL,
            "links": [{"href": EXTERNAL_URL, "text": "External URL"}],
        },
    ),
    (
        "alert images become images[]",
        [alert("a", imageURL="https://img.example.com/a.png"), alert("b"), alert("c", imageURL="https://img.example.com/c.png")],
        {"summary": "s"},
        event("trigger", "s", details(firing=message_block("a") + message_block("b") + message_block("c"), num_firing=3),
              images=[{"src": "https://img.example.com/a.png"}, {"src": "https://img.example.com/c.png"}]),
    ),
]


@pytest.mark.parametrize("name, alerts, overrides, expected", CASES, ids=[c[0] for c in CASES])
def test_whole_event(name, alerts, overrides, expected):
    request = pagerduty.build(rendering(*alerts), settings(**overrides))
    assert request.method == "POST"
    assert request.url == "https://events.pagerduty.com/v2/enqueue"
    assert request.headers == {"Content-Type": "application/json", "User-Agent": "Grafana"}
    assert request.sensitive_headers == frozenset()
    assert request.body == go_json(expected).encode() + b"\n", "Go's json.Encoder output, newline included"


def test_trigger_and_resolve_share_the_dedup_key_of_the_group():
    trigger = json.loads(pagerduty.build(rendering(alert("a"), group_key="{}:{x}"), settings()).body)
    resolve = json.loads(pagerduty.build(rendering(alert("a", resolved=True), group_key="{}:{x}"), settings()).body)
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert trigger["dedup_key"] == resolve["dedup_key"] == hashlib.sha256(b"{}:{x}").hexdigest()


def test_summary_is_truncated_to_1024_runes():
    body = json.loads(pagerduty.build(rendering(alert("a")), settings(summary="é" * 1100)).body)
    assert body["payload"]["summary"] == "é" * 1023 + "…"
    assert len(body["payload"]["summary"]) == 1024


def test_oversized_event_loses_its_custom_details():
    big = "x" * 520000
    request = pagerduty.build(rendering(alert("a")), settings(summary="s", details={"big": big}))
    assert request.body == go_json(
        event("trigger", "s", {"error": "Custom details have been removed because the original event exceeds the maximum size of 512KB"})
    ).encode() + b"\n"
    assert len(request.body) < 512000


def test_event_just_under_the_cap_keeps_its_details():
    base = len(pagerduty.build(rendering(alert("a")), settings(summary="s", details={"pad": ""})).body)
    request = pagerduty.build(rendering(alert("a")), settings(summary="s", details={"pad": "y" * (512000 - base)}))
    assert len(request.body) == 512000
    assert json.loads(request.body)["payload"]["custom_details"]["pad"].startswith("y")


def test_default_source_is_the_host_name():
    assert PagerDutySettings.model_validate({"integrationKey": KEY}).source == socket.gethostname()
    assert PagerDutySettings.model_validate({"integrationKey": KEY, "source": ""}).source == socket.gethostname()


def test_api_url_override_and_custom_url(monkeypatch):
    monkeypatch.setenv("ALERTRELAY_API_URL_PAGERDUTY", "http://127.0.0.1:9000")
    assert pagerduty.build(rendering(alert("a")), settings()).url == "http://127.0.0.1:9000/v2/enqueue"
    custom = settings(url="https://pd-proxy.internal/enqueue")
    assert pagerduty.build(rendering(alert("a")), custom).url == "https://pd-proxy.internal/enqueue"


def test_template_error_in_details_fails_the_notification():
    with pytest.raises(TemplateError):
        pagerduty.build(rendering(alert("a")), settings(details={"bad": "{{ nope( }}"}))


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"severity": "info"}, "integrationKey"),
        ({"integrationKey": "  "}, "could not find integration key"),
        ({"integrationKey": KEY, "details": ["a"]}, "must be a mapping"),
    ],
)
def test_invalid_settings(bad, message, tmp_path):
    with pytest.raises(ValidationError, match=message):
        PagerDutySettings.model_validate(bad)
    [error] = config_errors(tmp_path, "pagerduty", bad)
    assert message in error and 'integration "u1" (pagerduty): settings.' in error
    assert KEY not in error


def test_no_secret_in_error_text(make_receiver, monkeypatch):
    server = make_receiver()
    # A hostile or chatty endpoint echoing the request back, routing key included.
    server.expect_request("/v2/enqueue").respond_with_handler(lambda r: Response(r.get_data(), status=400))
    monkeypatch.setenv("ALERTRELAY_API_URL_PAGERDUTY", server.url_for("/"))
    error = deliver_once("pagerduty", settings(), rendering(alert("a")))
    assert error is not None and error.kind == "permanent" and error.status_code == 400
    assert KEY in server.log[0][0].get_data(as_text=True)
    assert KEY not in error.message and KEY not in (error.body_excerpt or "")
    assert "[REDACTED]" in error.message


def test_429_is_transient_and_honours_retry_after(make_receiver, monkeypatch):
    server = make_receiver()
    server.expect_request("/v2/enqueue").respond_with_response(Response("slow down", status=429, headers={"Retry-After": "7"}))
    monkeypatch.setenv("ALERTRELAY_API_URL_PAGERDUTY", server.url_for("/"))
    error = deliver_once("pagerduty", settings(), rendering(alert("a")))
    assert error is not None and error.kind == "transient" and error.retry_after == 7


def test_202_is_success(make_receiver, monkeypatch):
    server = make_receiver()
    server.expect_request("/v2/enqueue", method="POST").respond_with_json({"status": "success"}, status=202)
    monkeypatch.setenv("ALERTRELAY_API_URL_PAGERDUTY", server.url_for("/"))
    assert deliver_once("pagerduty", settings(), rendering(alert("a"))) is None
    received: Request = server.log[0][0]
    assert received.get_json()["routing_key"] == KEY
