"""Sensu Go events built without a network: whole bodies compared."""

import pytest
from pydantic import ValidationError
from werkzeug import Response

from contracts.gocompat import go_json
from contracts.integrations.sensugo import SensuGoSettings
from workers.integrations import sensugo

from .incident_a_support import EXTERNAL_URL, NOW, alert, config_errors, deliver_once, message_block, rendering

KEY = "sensu-api-key-0123456789"
LIST_URL = EXTERNAL_URL + "alerting/list"


def settings(**kw) -> SensuGoSettings:
    return SensuGoSettings.model_validate({"url": "http://sensu-api.local:8080", "apikey": KEY, **kw})


def event(status: int, output: str, entity: str = "default", check: str = "default", namespace: str = "default",
          handlers: list | None = None, image: str | None = None) -> dict:
    """Grafana's body: Go maps, so every level has its keys in alphabetical order."""
    labels = {"imageURL": image, "ruleURL": LIST_URL} if image else {"ruleURL": LIST_URL}
    return {
        "check": {
            "handlers": handlers, "interval": 86400, "issued": int(NOW.timestamp()),
            "metadata": {"labels": labels, "name": check}, "output": output, "status": status,
        },
        "entity": {"metadata": {"name": entity, "namespace": namespace}},
        "ruleUrl": LIST_URL,
    }


CASES = [
    ("firing with defaults: status 2, handlers null", [alert("a")], {},
     "default", event(2, "**Firing**\n" + message_block("a"))),
    ("resolved: status 0", [alert("a", resolved=True)], {},
     "default", event(0, "**Resolved**\n" + message_block("a"))),
    ("entity, check, namespace and handler are templates; first image in the labels",
     [alert("a"), alert("b", imageURL="https://img/b.png"), alert("c", imageURL="https://img/c.png")],
     {"entity": "{{ CommonLabels.alertname }}-host", "check": "check-{{ Status }}", "namespace": "team-{{ Alerts | length }}",
      "handler": "{{ 'pager' if Alerts.Firing else 'log' }}", "message": "{{ Alerts.Firing | length }} firing"},
     "team-3", event(2, "3 firing", entity="Disk-host", check="check-firing", namespace="team-3", handlers=["pager"],
                     image="https://img/b.png")),
    ("names rendering empty become default", [alert("a")],
     {"entity": "{{ CommonLabels.x }}", "check": "{{ CommonLabels.x }}", "namespace": "{{ CommonLabels.x }}",
      "handler": "{{ CommonLabels.x }}", "message": "m"},
     "default", event(2, "m", handlers=[""])),
]


@pytest.mark.parametrize("name, alerts, overrides, namespace, expected", CASES, ids=[c[0] for c in CASES])
def test_whole_event(name, alerts, overrides, namespace, expected):
    request = sensugo.build(rendering(*alerts), settings(**overrides))
    assert request.method == "POST"
    assert request.url == f"http://sensu-api.local:8080/api/core/v2/namespaces/{namespace}/events"
    assert request.headers == {"Content-Type": "application/json", "User-Agent": "Grafana", "Authorization": f"Key {KEY}"}
    assert request.sensitive_headers == frozenset({"Authorization"})
    assert request.body == go_json(expected).encode()


def test_trailing_slash_of_the_url_is_dropped():
    request = sensugo.build(rendering(alert("a")), settings(url="https://sensu.example.com/"))
    assert request.url == "https://sensu.example.com/api/core/v2/namespaces/default/events"


def test_preview_masks_the_api_key():
    request = sensugo.build(rendering(alert("a")), settings())
    shown = request.preview(settings().secret_values())
    assert shown["headers"]["Authorization"] == "[REDACTED]"
    assert shown["body"]["check"]["status"] == 2


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"apikey": KEY}, "url"),
        ({"url": " ", "apikey": KEY}, "could not find URL property"),
        ({"url": "http://sensu"}, "apikey"),
        ({"url": "http://sensu", "apikey": ""}, "could not find the API key"),
    ],
)
def test_invalid_settings(bad, message, tmp_path):
    with pytest.raises(ValidationError, match=message):
        SensuGoSettings.model_validate(bad)
    [error] = config_errors(tmp_path, "sensugo", bad)
    assert message in error and 'integration "u1" (sensugo): settings.' in error
    assert KEY not in error


def test_no_secret_in_error_text(make_receiver):
    server = make_receiver()
    server.expect_request("/api/core/v2/namespaces/default/events").respond_with_handler(
        lambda r: Response(f"bad credentials: {r.headers['Authorization']}", status=401)
    )
    error = deliver_once("sensugo", settings(url=server.url_for("/")), rendering(alert("a")))
    assert error is not None and error.kind == "permanent" and error.status_code == 401
    assert KEY not in error.message and KEY not in (error.body_excerpt or "")
    assert "[REDACTED]" in error.message


def test_created_is_success(make_receiver):
    server = make_receiver()
    server.expect_request("/api/core/v2/namespaces/default/events", method="POST").respond_with_data("", status=201)
    assert deliver_once("sensugo", settings(url=server.url_for("/")), rendering(alert("a"))) is None
    assert server.log[0][0].headers["Authorization"] == f"Key {KEY}"
