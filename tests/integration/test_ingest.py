"""The HTTP ingest: a real Alertmanager and Grafana-shaped payloads through the whole pipeline,
and the API's answers (auth, limits, validation, 202 only once confirmed, 503 without a broker).

The end-to-end test runs Debian's ``prometheus-alertmanager`` on loopback with a
``webhook_configs`` receiver pointing at ``alertrelay ingest`` (bearer token), posts alerts
to Alertmanager's API, and checks the notification that reaches a local HTTP receiver
through ingest → RabbitMQ → router → worker, firing and then resolved.
"""

from __future__ import annotations

import json
import os
import signal
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from contracts import topology
from contracts.provisioning import load_config
from router.ingest import Ingest, IngestSettings, PublisherPool, create_app
from tests.alertmanager_server import free_port
from tests.harness import peek, queue_info, wait_for

pytestmark = pytest.mark.integration

TOKEN = "ingest-t0ken-5ecret"

CONFIG = """
apiVersion: 1
contactPoints:
  - orgId: 1
    name: ops-team
    receivers:
      - uid: ops-hook
        type: webhook
        settings:
          url: {url}
"""

AM_CONFIG = """
route:
  receiver: ops-team
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: ops-team
    webhook_configs:
      - url: {ingest}/webhook/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""

#: What Grafana's webhook contact point sends (spec/data-model.md §2.8), one alert.
GRAFANA_PAYLOAD: dict[str, Any] = {
    "receiver": "alertrelay-bridge",
    "status": "firing",
    "alerts": [{
        "status": "firing",
        "labels": {"alertname": "HighCPU", "grafana_folder": "Infra", "instance": "web-1", "severity": "critical"},
        "annotations": {"runbook_url": "https://wiki.example.com/cpu", "summary": "CPU on web-1 at 97.5%"},
        "startsAt": "2024-05-01T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "https://grafana.example.com/alerting/grafana/cpu-rule/view?orgId=1",
        "fingerprint": "fb7fa87336c0d377",
        "silenceURL": "https://grafana.example.com/alerting/silence/new?alertmanager=grafana"
                      "&matcher=__alert_rule_uid__%3Dcpu-rule&matcher=instance%3Dweb-1&orgId=1",
        "dashboardURL": "https://grafana.example.com/d/node-dash?from=1714554000000&orgId=1&to=1714559400000",
        "panelURL": "https://grafana.example.com/d/node-dash?from=1714554000000&orgId=1&to=1714559400000&viewPanel=4",
        "ruleUID": "cpu-rule",
        "values": {"B": 97.5, "C": 1},
        "valueString": "[ var='B' labels={instance=web-1} value=97.5 ]",
        "orgId": 1,
    }],
    "groupLabels": {"alertname": "HighCPU", "grafana_folder": "Infra"},
    "commonLabels": {"alertname": "HighCPU", "grafana_folder": "Infra", "instance": "web-1", "severity": "critical"},
    "commonAnnotations": {"runbook_url": "https://wiki.example.com/cpu", "summary": "CPU on web-1 at 97.5%"},
    "externalURL": "https://grafana.example.com/",
    "version": "1",
    "groupKey": '{}:{alertname="HighCPU", grafana_folder="Infra"}',
    "truncatedAlerts": 0,
    "orgId": 1,
    "title": "[FIRING:1] HighCPU Infra (web-1 critical)",
    "state": "alerting",
    "message": "**Firing**\n\nValue: B=97.5, C=1\n...",
}


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return 0.0


def minimal_event(name: str, receiver: str = "ops-team") -> dict[str, Any]:
    return {"receiver": receiver, "alerts": [{"labels": {"alertname": name}, "startsAt": "2024-05-01T10:00:00Z"}]}


def start_ingest(pipeline: Any) -> str:
    """``alertrelay ingest`` as a process of the pipeline; its base URL once it answers."""
    port = free_port()
    pipeline._spawn("ingest", ["ingest", "--host", "127.0.0.1", "--port", str(port)])
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if pipeline.procs["ingest"].poll() is not None:
            raise AssertionError(f"ingest exited:\n{pipeline.logs()[-3000:]}")
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, 30, what="the ingest")
    return base


def collecting_receiver(make_receiver: Any) -> tuple[Any, list[dict[str, Any]]]:
    server = make_receiver()
    bodies: list[dict[str, Any]] = []

    def handler(request: Any) -> Any:
        from werkzeug import Response

        bodies.append(request.get_json())
        return Response("ok")

    server.expect_request("/hook").respond_with_handler(handler)
    return server, bodies


def test_real_alertmanager_and_grafana_payloads_reach_the_receiver(pipeline_factory, make_receiver, alertmanager_factory):
    server, bodies = collecting_receiver(make_receiver)
    pipeline = pipeline_factory(CONFIG.format(url=server.url_for("/hook")), env={"ALERTRELAY_INGEST_TOKEN": TOKEN})
    with pipeline:
        ingest = start_ingest(pipeline)
        am = alertmanager_factory(AM_CONFIG.format(ingest=ingest, token=TOKEN))

        # Firing: Prometheus-style alert into Alertmanager → webhook → ingest → ... → receiver.
        started = (datetime.now(timezone.utc) - timedelta(minutes=2)).replace(microsecond=0)
        labels = {"alertname": "AlertrelayViaAM", "instance": "web-1", "severity": "critical"}
        alert = {"labels": labels, "annotations": {"summary": "disk almost full"}, "startsAt": started.isoformat(),
                 "generatorURL": "http://prometheus.local/graph?g0.expr=up"}
        am.post_alerts([alert])
        [firing] = wait_for(lambda: [b for b in bodies if b["status"] == "firing"], 30, what="the firing notification")
        assert firing["receiver"] == "ops-team"
        assert firing["title"] == "[FIRING:1] AlertrelayViaAM (web-1 critical)"
        assert firing["groupKey"] == '{}:{alertname="AlertrelayViaAM"}'
        assert firing["groupLabels"] == {"alertname": "AlertrelayViaAM"}
        [sent] = firing["alerts"]
        assert sent["labels"] == labels and sent["annotations"] == {"summary": "disk almost full"}
        assert sent["generatorURL"] == "http://prometheus.local/graph?g0.expr=up"
        assert datetime.fromisoformat(sent["startsAt"].replace("Z", "+00:00")) == started
        assert sent["endsAt"] == "0001-01-01T00:00:00Z"

        # Resolved: an endsAt in the past; Alertmanager sends the resolution (send_resolved).
        am.post_alerts([{**alert, "endsAt": (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat()}])
        [resolved] = wait_for(lambda: [b for b in bodies if b["status"] == "resolved"], 30, what="the resolved notification")
        assert resolved["title"] == "[RESOLVED] AlertrelayViaAM (web-1 critical)"
        assert resolved["alerts"][0]["status"] == "resolved"

        # Grafana's webhook payload, routed to our contact point by the query parameter.
        response = httpx.post(f"{ingest}/webhook/grafana", params={"contact_point": "ops-team"}, json=GRAFANA_PAYLOAD,
                              headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert response.status_code == 202, response.text
        [grafana] = wait_for(lambda: [b for b in bodies if b["groupLabels"].get("grafana_folder")], 30, what="the Grafana alert")
        given, got = GRAFANA_PAYLOAD["alerts"][0], grafana["alerts"][0]
        for key in ("fingerprint", "silenceURL", "dashboardURL", "panelURL", "values", "valueString", "generatorURL", "ruleUID"):
            assert got[key] == given[key], key
        assert grafana["receiver"] == "ops-team" and grafana["groupKey"] == GRAFANA_PAYLOAD["groupKey"]
        assert grafana["title"] == "[FIRING:1] HighCPU Infra (web-1 critical)"

        metrics = httpx.get(f"{ingest}/metrics", timeout=5).text
        assert sample(metrics, "alertrelay_ingest_events_published_total", source="alertmanager") == 2
        assert sample(metrics, "alertrelay_ingest_events_published_total", source="grafana") == 1
        pipeline.stop("ingest", signal.SIGTERM)
    assert len(bodies) == 3
    assert pipeline.dead_letters() == []
    # Alertmanager itself saw both webhook calls succeed at the first attempt (202 from the ingest).
    assert am.logs().count('receiver=ops-team integration=webhook[0] msg="Notify success" attempts=1') == 2
    assert "Notify for alerts failed" not in am.logs()
    assert TOKEN not in pipeline.logs()


# -- the API in-process, against the real broker -------------------------------------------------


@pytest.fixture
def api(broker, tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "provisioning.yaml"
    path.write_text(CONFIG.format(url="http://127.0.0.1:9/hook"))
    state = Ingest(config=load_config(path), settings=IngestSettings(tokens=(TOKEN, "second-token"), max_body_bytes=2048))
    with TestClient(create_app(state)) as client:
        client.ingest_state = state  # type: ignore[attr-defined]
        yield client
    if state.pool is not None:
        state.pool.close()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_events_are_202_only_once_in_rabbitmq(api, broker):
    response = api.post("/api/v1/events", json=[minimal_event("A"), minimal_event("B")], headers=AUTH)
    assert response.status_code == 202, response.text
    ids = response.json()["events"]
    assert len(ids) == 2 and len(set(ids)) == 2
    queued = peek(broker, topology.EVENTS_QUEUE)
    assert [props.message_id for props, _ in queued] == ids
    assert [json.loads(body)["alerts"][0]["labels"]["alertname"] for _, body in queued] == ["A", "B"]
    assert {props.delivery_mode for props, _ in queued} == {2}
    assert {props.headers["x-alertrelay-source"] for props, _ in queued} == {"api"}
    # The same content gives the same id (the router derives it the same way).
    again = api.post("/api/v1/events", json=minimal_event("A"), headers={"Authorization": "Bearer second-token"})
    assert again.status_code == 202 and again.json()["events"] == ids[:1]


@pytest.mark.parametrize(
    "path, body, headers, status, text",
    [
        ("/api/v1/events", minimal_event("A"), {}, 401, "missing or invalid bearer token"),
        ("/api/v1/events", minimal_event("A"), {"Authorization": "Bearer wrong"}, 401, "missing or invalid bearer token"),
        ("/api/v1/events", b'{"receiver": ', AUTH, 400, "malformed JSON"),
        ("/webhook/alertmanager", [minimal_event("A")], AUTH, 400, "the body must be a JSON object, got list"),
        ("/api/v1/events", {"receiver": "ops-team", "alerts": []}, AUTH, 422, "invalid event: alerts"),
        ("/webhook/grafana", minimal_event("A", receiver="nobody"), AUTH, 422, "unknown contact point 'nobody'"),
        ("/api/v1/events", {"receiver": "ops-team", "alerts": [{"labels": {"a": "b" * 3000}, "startsAt": "2024-05-01T10:00:00Z"}]},
         AUTH, 413, "request body larger than 2048 bytes"),
    ],
    ids=["no-token", "wrong-token", "malformed", "list-to-webhook", "invalid", "unknown-contact-point", "too-large"],
)
def test_bad_requests_are_refused_and_nothing_is_published(api, broker, path, body, headers, status, text):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = api.post(path, content=content, headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert text in response.json()["error"]
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert queue_info(broker, topology.EVENTS_QUEUE)[0] == 0


def test_a_batch_with_one_bad_event_publishes_nothing(api, broker):
    response = api.post("/api/v1/events", json=[minimal_event("A"), minimal_event("B", receiver="nobody")], headers=AUTH)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"index": 1, "error": "unknown contact point 'nobody'", "reason": "unknown_contact_point"}]
    assert queue_info(broker, topology.EVENTS_QUEUE)[0] == 0


def test_contact_point_parameter_overrides_the_receiver(api, broker):
    response = api.post("/webhook/alertmanager", params={"contact_point": "ops-team"}, json=minimal_event("A", "am-receiver"),
                        headers=AUTH)
    assert response.status_code == 202, response.text
    [(_, body)] = peek(broker, topology.EVENTS_QUEUE)
    assert json.loads(body)["receiver"] == "ops-team"


def test_probes_openapi_metrics_and_status_off(api, monkeypatch):
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").status_code == 200
    spec = api.get("/openapi.json").json()
    assert {"/webhook/alertmanager", "/webhook/grafana", "/api/v1/events", "/api/v1/status"} <= set(spec["paths"])
    body = spec["paths"]["/api/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["oneOf"][0] == {"$ref": "#/components/schemas/AlertEvent"}
    assert "alerts" in spec["components"]["schemas"]["AlertEvent"]["properties"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    before = api.get("/metrics").text
    api.post("/api/v1/events", content=b"nope", headers=AUTH)
    after = api.get("/metrics").text
    rejected = {"name": "alertrelay_ingest_events_rejected_total", "reason": "malformed_json", "source": "api"}
    assert sample(after, **rejected) == sample(before, **rejected) + 1
    requests = {"name": "alertrelay_ingest_requests_total", "code": "400", "endpoint": "/api/v1/events"}
    assert sample(after, **requests) == sample(before, **requests) + 1
    monkeypatch.delenv("ALERTRELAY_REDIS_URL", raising=False)
    off = api.get("/api/v1/status", headers=AUTH)
    assert off.status_code == 503 and "delivery status is off: set ALERTRELAY_REDIS_URL" in off.json()["error"]
    assert api.get("/api/v1/status").status_code == 401


def test_503_when_rabbitmq_does_not_confirm(api):
    api.ingest_state.pool = PublisherPool(1, url=f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F")  # nobody listens there
    response = api.post("/api/v1/events", json=minimal_event("A"), headers=AUTH)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "RabbitMQ did not confirm" in response.json()["error"]
    assert api.get("/readyz").status_code == 503
    assert sample(api.get("/metrics").text, "alertrelay_ingest_publish_failures_total", source="api") >= 1


def test_ingest_refuses_to_start_with_a_bad_config(tmp_path):
    from tests.harness import cli

    path = tmp_path / "bad.yaml"
    path.write_text(CONFIG.format(url="http://x").replace("url:", "uri:"))
    result = cli({**os.environ, "ALERTRELAY_CONFIG": str(path)}, "ingest", "--port", str(free_port()), check=False)
    assert result.returncode == 1
    assert 'integration "ops-hook" (webhook): settings.url: Field required' in result.stderr
