"""Metrics of router and workers, the delivery status in the real Redis, and JSON logs,
from one real pipeline: a good webhook, a failing one (400 → dead letter) and a flaky one
(503, 503, then 200 → two delayed retries, then delivered)."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from werkzeug import Response

from contracts.provisioning import load_config
from router.ingest import Ingest, IngestSettings, create_app
from tests.alertmanager_server import free_port
from tests.harness import cli, publish_raw, wait_for
from tests.integration.test_ingest import sample

pytestmark = pytest.mark.integration

SECRET = "hook-t0ken-s3cret"

CONFIG = """
apiVersion: 1
contactPoints:
  - name: ops-team
    receivers:
      - uid: hook-ok
        type: webhook
        settings:
          url: {ok}
          authorization_credentials: $HOOK_TOKEN
      - uid: hook-bad
        type: webhook
        settings:
          url: {bad}
      - uid: hook-flaky
        type: webhook
        settings:
          url: {flaky}
"""

EVENT = {"id": "evt-metrics", "receiver": "ops-team",
         "alerts": [{"labels": {"alertname": "DiskFull", "instance": "db-1"}, "startsAt": "2024-05-01T10:00:00Z"}]}


def scrape(port: int) -> str:
    return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text


def scrape_when(port: int, predicate: Any, what: str) -> str:
    def ready() -> str | None:
        try:
            text = scrape(port)
        except httpx.HTTPError:
            return None
        return text if predicate(text) else None

    return wait_for(ready, 30, interval=0.2, what=what)


def test_metrics_delivery_status_and_json_logs(pipeline_factory, make_receiver, redis_url, broker):
    ok, bad, flaky = make_receiver(), make_receiver(), make_receiver()
    ok.expect_request("/ok").respond_with_data("ok")
    bad.expect_request("/bad").respond_with_data("nope: field rejected", status=400)
    answers = iter([503, 503, 200])
    flaky.expect_request("/flaky").respond_with_handler(lambda r: Response("x", status=next(answers, 200)))
    config = CONFIG.format(ok=ok.url_for("/ok"), bad=bad.url_for("/bad"), flaky=flaky.url_for("/flaky"))
    env = {"ALERTRELAY_RETRY_IN_PROCESS_ATTEMPTS": "1", "ALERTRELAY_LOG_FORMAT": "json", "ALERTRELAY_LOG_DELIVERIES": "on", "HOOK_TOKEN": SECRET}
    pipeline = pipeline_factory(config, env=env)
    router_port, worker_port = free_port(), free_port()
    pipeline.env["ALERTRELAY_METRICS_PORT"] = str(router_port)
    pipeline.start_router()
    pipeline.env["ALERTRELAY_METRICS_PORT"] = str(worker_port)
    pipeline.start_worker()

    publish_raw(broker, b"this is not JSON")
    pipeline.publish(EVENT)
    wait_for(lambda: pipeline.dead_letters(), what="the dead letter")

    def worker_done(text: str) -> bool:
        return sample(text, "alertrelay_deliveries_total", type="webhook", outcome="delivered") == 2
    worker = scrape_when(worker_port, worker_done, "two deliveries in the worker metrics")
    webhook = {"type": "webhook"}
    assert sample(worker, "alertrelay_deliveries_total", **webhook, outcome="retry_scheduled") == 2
    assert sample(worker, "alertrelay_deliveries_total", **webhook, outcome="dead_lettered") == 1
    assert sample(worker, "alertrelay_dead_letters_total", **webhook, kind="permanent") == 1
    assert sample(worker, "alertrelay_delivery_retries_total", **webhook) == 2
    assert sample(worker, "alertrelay_delivery_latency_seconds_count", **webhook) == 2
    assert sample(worker, "alertrelay_delivery_duration_seconds_count", **webhook, outcome="delivered") == 2
    assert sample(worker, "alertrelay_jobs_in_flight", **webhook) == 0
    assert sample(worker, "dramatiq_messages_total", queue_name="alertrelay.webhook", actor_name="deliver_webhook") == 5
    assert sample(worker, "alertrelay_config_last_reload_successful") == 1

    router = scrape(router_port)
    assert sample(router, "alertrelay_router_events_received_total") == 2
    assert sample(router, "alertrelay_router_events_rejected_total", reason="malformed_json") == 1
    assert sample(router, "alertrelay_router_jobs_published_total", **webhook) == 3
    for text in (worker, router):  # labels hold no contact point, uid, URL or secret
        for unbounded in ("ops-team", "hook-ok", "127.0.0.1", SECRET, "evt-metrics"):
            assert unbounded not in text

    # Delivery status: written by the worker to Redis, read by the CLI and the ingest.
    view = json.loads(pipeline.cli("status", "--json").stdout)
    [point] = view
    assert point["name"] == "ops-team"
    by_uid = {i["uid"]: i for i in point["integrations"]}
    assert list(by_uid) == ["hook-ok", "hook-bad", "hook-flaky"]
    assert by_uid["hook-ok"]["lastOutcome"] == "delivered" and by_uid["hook-ok"]["lastNotifyAttemptError"] == ""
    assert by_uid["hook-ok"]["counts"] == {"delivered": 1, "retry_scheduled": 0, "dead_lettered": 0, "duplicate": 0, "error": 0}
    assert by_uid["hook-bad"]["lastOutcome"] == "dead_lettered"
    assert by_uid["hook-bad"]["lastNotifyAttemptError"].startswith("webhook response status 400")
    assert by_uid["hook-bad"]["lastDelivered"] == "0001-01-01T00:00:00.000Z"
    assert by_uid["hook-flaky"]["counts"]["retry_scheduled"] == 2 and by_uid["hook-flaky"]["counts"]["delivered"] == 1
    assert by_uid["hook-flaky"]["lastNotifyAttemptError"] == ""
    for integration in by_uid.values():
        assert integration["name"] == "webhook" and integration["configured"] is True
        assert re.fullmatch(r"\d+(ms|s)(\d+ms)?", integration["lastNotifyAttemptDuration"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", integration["lastNotifyAttempt"])
    table = pipeline.cli("status").stdout
    assert "hook-bad" in table and "dead_lettered" in table and "webhook response status 400" in table
    state = Ingest(config=load_config(pipeline.config, env=pipeline.env), settings=IngestSettings())
    with TestClient(create_app(state)) as client:
        assert client.get("/api/v1/status").json() == view

    pipeline.__exit__(None, None, None)
    check_json_logs(pipeline)
    assert SECRET not in pipeline.logs()


def check_json_logs(pipeline: Any) -> None:
    """Every log line of router and workers is a JSON object; job lines carry event and job ids."""
    records = []
    for name in ("router", "worker"):
        for line in pipeline.log_files[name].read_text().splitlines():
            if line.strip():
                records.append((name, json.loads(line)))
    assert all({"time", "level", "logger", "message", "event_id", "job_id"} <= set(r) for _, r in records)
    routed = [r for name, r in records if name == "router" and "contact point 'ops-team'" in r["message"]]
    assert [r["event_id"] for r in routed] == ["evt-metrics"]
    delivered = [r for name, r in records if name == "worker" and r["message"].startswith("delivered job")]
    assert len(delivered) == 2
    assert {r["event_id"] for r in delivered} == {"evt-metrics"}
    assert all(r["job_id"] and r["job_id"] in r["message"] for r in delivered)
    dead = [r for _, r in records if "dead-lettered" in r["message"]]
    assert dead and dead[0]["level"] == "ERROR" and dead[0]["job_id"]


def test_status_says_clearly_when_it_is_off(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ALERTRELAY_REDIS_URL"}
    result = cli(env, "status", check=False)
    assert result.returncode == 1
    assert "delivery status is off: set ALERTRELAY_REDIS_URL" in result.stderr
    down = cli({**env, "ALERTRELAY_REDIS_URL": f"redis://:pw-s3cret@127.0.0.1:{free_port()}/0"}, "status", check=False)
    assert down.returncode == 1
    assert "cannot read delivery status from Redis at redis://:***@127.0.0.1" in down.stderr
    assert "pw-s3cret" not in down.stderr


def test_status_store_in_redis(redis_url):
    from datetime import datetime, timezone

    from workers.status import Attempt, StatusStore, report

    store = StatusStore(redis_url)
    moment = datetime(2024, 5, 1, 10, 30, 0, 123000, tzinfo=timezone.utc)
    assert store.record(Attempt("ops/team", "hook:1", "webhook", moment, 0.152, "delivered"))
    assert store.record(Attempt("ops/team", "hook:1", "webhook", datetime.now(timezone.utc), 0.001, "duplicate"))
    assert store.record(Attempt("ops/team", "hook:2", "slack", moment, 1.5, "retry_scheduled", "slack response status 503"))
    [point] = report(store.read())
    first, second = point["integrations"]
    assert point["name"] == "ops/team" and (first["uid"], second["uid"]) == ("hook:1", "hook:2")
    assert first["lastNotifyAttempt"] == "2024-05-01T10:30:00.123Z" and first["lastNotifyAttemptDuration"] == "152ms"
    assert first["counts"]["delivered"] == 1 and first["counts"]["duplicate"] == 1 and first["lastOutcome"] == "delivered"
    assert second["lastNotifyAttemptError"] == "slack response status 503" and second["counts"]["retry_scheduled"] == 1
    assert store.clear() == 2 and store.read() == []
    down = StatusStore(f"redis://127.0.0.1:{free_port()}/0")
    assert down.record(Attempt("a", "b", "webhook", moment, 0.1, "delivered")) is False  # never raises
    assert down.record(Attempt("a", "b", "webhook", moment, 0.1, "delivered")) is False  # and backs off at once
