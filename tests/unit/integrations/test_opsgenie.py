"""Opsgenie create and close requests built without a network: whole bodies compared."""

import pytest
from pydantic import ValidationError
from werkzeug import Response

from contracts.gocompat import go_json
from contracts.integrations.opsgenie import OpsgenieSettings
from workers.integrations import opsgenie

from .incident_a_support import EXTERNAL_URL, GROUP_HASH, alert, config_errors, deliver_once, message_block, rendering

KEY = "og-api-key-0123456789"
API = "https://api.opsgenie.com/v2/alerts"
LIST_URL = EXTERNAL_URL + "alerting/list"
HEADERS = {"Content-Type": "application/json", "User-Agent": "Grafana", "Authorization": f"GenieKey {KEY}"}


def settings(**kw) -> OpsgenieSettings:
    return OpsgenieSettings.model_validate({"apiKey": KEY, **kw})


def default_description(title: str, *blocks: str) -> str:
    return f"{title}\n{LIST_URL}\n\n**Firing**\n" + "".join(blocks)


ONE = default_description("[FIRING:1] Disk (a)", message_block("a"))

CASES = [
    (
        "defaults: tags from common labels, details only the url",
        [alert("a")],
        {},
        {"alias": GROUP_HASH, "message": "[FIRING:1] Disk (a)", "description": ONE, "details": {"url": LIST_URL},
         "source": "Grafana", "tags": ["alertname:Disk", "instance:a"]},
    ),
    (
        "sendTagsAs details: labels and image URLs in details, empty tags",
        [alert("a", imageURL="https://img/1.png"), alert("b", imageURL="https://img/2.png")],
        {"sendTagsAs": "details", "message": "m"},
        {"alias": GROUP_HASH, "message": "m",
         "description": default_description("[FIRING:2] Disk ", message_block("a"), message_block("b")),
         "details": {"alertname": "Disk", "image_urls": "https://img/1.png, https://img/2.png", "url": LIST_URL},
         "source": "Grafana", "tags": []},
    ),
    (
        "sendTagsAs both, og_priority, custom description; label values are templates",
        [alert("a", labels={"og_priority": "P2", "team": "{{ CommonLabels.instance }}-team"})],
        {"sendTagsAs": "both", "message": "m", "description": "Disk trouble on {{ CommonLabels.instance }}"},
        {"alias": GROUP_HASH, "message": "m", "description": "Disk trouble on a",
         "details": {"alertname": "Disk", "instance": "a", "og_priority": "P2", "team": "a-team", "url": LIST_URL},
         "source": "Grafana", "tags": ["alertname:Disk", "instance:a", "og_priority:P2", "team:a-team"],
         "priority": "P2"},
    ),
    (
        "overridePriority off: no priority",
        [alert("a", labels={"og_priority": "P1"})],
        {"overridePriority": False, "message": "m", "description": "d"},
        {"alias": GROUP_HASH, "message": "m", "description": "d", "details": {"url": LIST_URL},
         "source": "Grafana", "tags": ["alertname:Disk", "instance:a", "og_priority:P1"]},
    ),
    (
        "og_priority outside P1..P5 is ignored; a blank description falls back to the default",
        [alert("a", labels={"og_priority": "p1"})],
        {"message": "m", "description": "  {{ '' }} "},
        {"alias": GROUP_HASH, "message": "m", "description": default_description(
            "[FIRING:1] Disk (a p1)", message_block("a", og_priority="p1")),
         "details": {"url": LIST_URL}, "source": "Grafana", "tags": ["alertname:Disk", "instance:a", "og_priority:p1"]},
    ),
    (
        "responders rendered; teams split; empty ones skipped; type kept as written",
        [alert("a")],
        {"message": "m", "description": "d", "responders": [
            {"type": "team", "id": "4513b7ea-3b91-438f-b7e4-e3e54af9147c"},
            {"type": "teams", "name": "ops,db,"},
            {"type": "user", "username": "{{ CommonLabels.instance }}@example.com"},
            {"type": "{{ CommonLabels.nothing }}", "name": "{{ CommonLabels.nothing }}"},
            {"type": "Schedule", "name": "on-call"},
        ]},
        {"alias": GROUP_HASH, "message": "m", "description": "d", "details": {"url": LIST_URL}, "source": "Grafana",
         "responders": [
             {"id": "4513b7ea-3b91-438f-b7e4-e3e54af9147c", "type": "team"},
             {"name": "ops", "type": "team"}, {"name": "db", "type": "team"},
             {"username": "a@example.com", "type": "user"},
             {"name": "on-call", "type": "Schedule"},
         ],
         "tags": ["alertname:Disk", "instance:a"]},
    ),
]


@pytest.mark.parametrize("name, alerts, overrides, expected", CASES, ids=[c[0] for c in CASES])
def test_create_request(name, alerts, overrides, expected):
    request = opsgenie.build(rendering(*alerts), settings(**overrides))
    assert (request.method, request.url) == ("POST", API)
    assert request.headers == HEADERS
    assert request.sensitive_headers == frozenset({"Authorization"})
    assert request.body == go_json(expected).encode()


def test_message_is_truncated_to_130_runes_and_blank_means_default():
    body = opsgenie.build(rendering(alert("a")), settings(message="ü" * 200)).body
    assert go_json({"message": "ü" * 129 + "…"})[1:-1].encode() in body
    assert settings(message="  ").message == '{{ template("default.title") }}'


def test_resolved_group_is_closed_by_alias():
    request = opsgenie.build(rendering(alert("a", resolved=True), alert("b", resolved=True)), settings())
    assert request.method == "POST"
    assert request.url == f"{API}/{GROUP_HASH}/close?identifierType=alias"
    assert request.headers == HEADERS
    assert request.body == b'{"source":"Grafana"}'


def test_resolved_group_without_auto_close_sends_nothing():
    assert opsgenie.build(rendering(alert("a", resolved=True)), settings(autoClose=False)) is None


def test_mixed_group_creates():
    request = opsgenie.build(rendering(alert("a"), alert("b", resolved=True)), settings())
    assert request.url == API


def test_api_url_templated_for_create_raw_for_close():
    s = settings(apiUrl="https://og-proxy.internal/{{ CommonLabels.instance }}/alerts")
    assert opsgenie.build(rendering(alert("a")), s).url == "https://og-proxy.internal/a/alerts"
    close = opsgenie.build(rendering(alert("a", resolved=True)), s).url
    assert close == f"https://og-proxy.internal/{{{{ CommonLabels.instance }}}}/alerts/{GROUP_HASH}/close?identifierType=alias"
    # Plain concatenation, as in Grafana: a trailing slash gives "//".
    slash = opsgenie.build(rendering(alert("a", resolved=True)), settings(apiUrl="https://api.eu.opsgenie.com/v2/alerts/"))
    assert slash.url == f"https://api.eu.opsgenie.com/v2/alerts//{GROUP_HASH}/close?identifierType=alias"


def test_api_url_that_fails_to_render_is_used_raw():
    s = settings(apiUrl="https://og.internal/{{ nope( }}")
    assert opsgenie.build(rendering(alert("a")), s).url == "https://og.internal/{{ nope( }}"


def test_env_override_of_the_public_endpoint(monkeypatch):
    monkeypatch.setenv("ALERTRELAY_API_URL_OPSGENIE", "http://127.0.0.1:9000")
    assert opsgenie.build(rendering(alert("a")), settings()).url == "http://127.0.0.1:9000/v2/alerts"
    close = opsgenie.build(rendering(alert("a", resolved=True)), settings()).url
    assert close == f"http://127.0.0.1:9000/v2/alerts/{GROUP_HASH}/close?identifierType=alias"
    eu = settings(apiUrl="https://api.eu.opsgenie.com/v2/alerts")
    assert opsgenie.build(rendering(alert("a")), eu).url == "https://api.eu.opsgenie.com/v2/alerts"


def test_defaults():
    s = settings(apiUrl="", sendTagsAs="", autoClose=None, overridePriority=None)
    assert (s.apiUrl, s.sendTagsAs, s.autoClose, s.overridePriority) == (API, "tags", True, True)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"message": "m"}, "apiKey"),
        ({"apiKey": ""}, "could not find api key"),
        ({"apiKey": KEY, "sendTagsAs": "labels"}, "invalid value for sendTagsAs"),
        ({"apiKey": KEY, "responders": [{"type": "team"}]}, "at least one of id, username or name"),
        ({"apiKey": KEY, "responders": [{"type": "squad", "name": "x"}]}, "unsupported type 'squad'"),
        ({"apiKey": KEY, "responders": [{"type": "TEAMS", "id": "x"}]}, "type 'teams' but an empty name"),
    ],
)
def test_invalid_settings(bad, message, tmp_path):
    with pytest.raises(ValidationError, match=message):
        OpsgenieSettings.model_validate(bad)
    [error] = config_errors(tmp_path, "opsgenie", bad)
    assert message in error and 'integration "u1" (opsgenie): settings.' in error
    assert KEY not in error


def test_no_secret_in_error_text(make_receiver):
    server = make_receiver()
    server.expect_request("/v2/alerts").respond_with_handler(
        lambda r: Response(f'{{"message":"Key {r.headers["Authorization"]} is invalid"}}', status=422)
    )
    error = deliver_once("opsgenie", settings(apiUrl=server.url_for("/v2/alerts")), rendering(alert("a")))
    assert error is not None and error.kind == "permanent" and error.status_code == 422
    assert KEY not in error.message and KEY not in (error.body_excerpt or "")
    assert "[REDACTED]" in error.message


def test_429_is_transient_and_honours_retry_after(make_receiver):
    server = make_receiver()
    server.expect_request(f"/v2/alerts/{GROUP_HASH}/close").respond_with_response(
        Response("rate limited", status=429, headers={"Retry-After": "3"})
    )
    notification = rendering(alert("a", resolved=True))
    error = deliver_once("opsgenie", settings(apiUrl=server.url_for("/v2/alerts")), notification)
    assert error is not None and error.kind == "transient" and error.retry_after == 3
    assert server.log[0][0].args["identifierType"] == "alias"
