"""The whole pipeline on real RabbitMQ: events in, webhooks out, dead letters and replay."""

from __future__ import annotations

import json
import time

import pytest
from werkzeug import Request, Response

from contracts import topology
from tests.harness import peek, publish_raw, queue_info, wait_for

pytestmark = pytest.mark.integration

STARTS = "2024-05-01T10:00:00Z"


def two_webhooks(url_a: str, url_b: str) -> str:
    return f"""
apiVersion: 1
contactPoints:
  - orgId: 1
    name: ops-team
    receivers:
      - uid: hook-a
        type: webhook
        settings:
          url: {url_a}
      - uid: hook-b
        type: webhook
        settings:
          url: {url_b}
          httpMethod: PUT
          title: 'Alert: {{{{ CommonLabels.alertname }}}}'
          message: '{{{{ template "default.title" . }}}}'
"""


def one_webhook(url: str, uid: str = "hook-a") -> str:
    return f"""
apiVersion: 1
contactPoints:
  - name: ops-team
    receivers:
      - uid: {uid}
        type: webhook
        settings:
          url: {url}
"""


def minimal_event(event_id: str = "evt-1", **alert_extra: object) -> dict[str, object]:
    return {
        "id": event_id,
        "receiver": "ops-team",
        "externalURL": "https://grafana.example.com/",
        "alerts": [
            {
                "labels": {"alertname": "HighCPU", "grafana_folder": "Infra", "instance": "web-1", "severity": "critical"},
                "annotations": {"summary": "CPU at 97.5%", "__values__": '{"B":97.5,"C":1}', "__orgId__": "1"},
                "startsAt": STARTS,
                "generatorURL": "https://grafana.example.com/alerting/grafana/cpu/view",
                **alert_extra,
            }
        ],
    }


EXPECTED_MESSAGE = (
    "**Firing**\n\nValue: B=97.5, C=1\nLabels:\n - alertname = HighCPU\n - grafana_folder = Infra\n"
    " - instance = web-1\n - severity = critical\nAnnotations:\n - summary = CPU at 97.5%\n"
    "Source: https://grafana.example.com/alerting/grafana/cpu/view?orgId=1\n"
    "Silence: https://grafana.example.com/alerting/silence/new?alertmanager=grafana&matcher=alertname%3DHighCPU"
    "&matcher=grafana_folder%3DInfra&matcher=instance%3Dweb-1&matcher=severity%3Dcritical&orgId=1\n"
)


def expected_body(title: str, message: str) -> dict[str, object]:
    labels = {"alertname": "HighCPU", "grafana_folder": "Infra", "instance": "web-1", "severity": "critical"}
    return {
        "receiver": "ops-team",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": "CPU at 97.5%"},
                "startsAt": "2024-05-01T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "https://grafana.example.com/alerting/grafana/cpu/view?orgId=1",
                "fingerprint": "2d7294e4022f08fc",
                "silenceURL": "https://grafana.example.com/alerting/silence/new?alertmanager=grafana"
                "&matcher=alertname%3DHighCPU&matcher=grafana_folder%3DInfra&matcher=instance%3Dweb-1"
                "&matcher=severity%3Dcritical&orgId=1",
                "dashboardURL": "",
                "panelURL": "",
                "values": {"B": 97.5, "C": 1},
                "valueString": "",
                "orgId": 1,
            }
        ],
        "groupLabels": {"alertname": "HighCPU", "grafana_folder": "Infra"},
        "commonLabels": labels,
        "commonAnnotations": {"summary": "CPU at 97.5%"},
        "externalURL": "https://grafana.example.com/",
        "version": "1",
        "groupKey": '{}:{alertname="HighCPU", grafana_folder="Infra"}',
        "truncatedAlerts": 0,
        "orgId": 1,
        "title": title,
        "state": "alerting",
        "message": message,
    }


def test_minimal_event_reaches_both_webhooks_with_grafanas_payload(pipeline_factory, make_receiver):
    a, b = make_receiver(), make_receiver()
    a.expect_request("/a", method="POST").respond_with_data("ok")
    b.expect_request("/b", method="PUT").respond_with_data("ok")
    with pipeline_factory(two_webhooks(a.url_for("/a"), b.url_for("/b"))) as pipeline:
        pipeline.publish(minimal_event())
        wait_for(lambda: len(a.log) >= 1 and len(b.log) >= 1, what="both webhooks")
        time.sleep(0.5)  # nothing more may arrive
    assert len(a.log) == 1 and len(b.log) == 1
    request_a, request_b = a.log[0][0], b.log[0][0]
    fingerprint = expected_body("", "")["alerts"][0]["fingerprint"]  # type: ignore[index]
    body_a, body_b = request_a.get_json(), request_b.get_json()
    assert body_a["alerts"][0]["fingerprint"] == fingerprint
    title = "[FIRING:1] HighCPU Infra (web-1 critical)"
    assert body_a == expected_body(title, EXPECTED_MESSAGE)
    assert body_b == expected_body("Alert: HighCPU", title)
    assert request_a.headers["Content-Type"] == "application/json"
    assert request_a.headers["User-Agent"] == "Grafana"


def test_400_dead_letters_at_once_and_replay_delivers_exactly_once(pipeline_factory, make_receiver):
    receiver = make_receiver()
    state = {"fixed": False}

    def handler(request: Request) -> Response:
        if state["fixed"]:
            return Response("ok", status=200)
        return Response("bad request: field 'title' rejected by upstream", status=400)

    receiver.expect_request("/hook").respond_with_handler(handler)
    with pipeline_factory(one_webhook(receiver.url_for("/hook"))) as pipeline:
        pipeline.publish(minimal_event("evt-400"))
        letters = wait_for(lambda: pipeline.dead_letters(), what="a dead letter")
        assert len(receiver.log) == 1, "a 400 must not be retried"
        [letter] = letters
        assert letter["kind"] == "permanent"
        assert letter["status_code"] == 400
        assert letter["attempts"] == 1
        assert letter["contact_point"] == "ops-team" and letter["uid"] == "hook-a" and letter["type"] == "webhook"
        assert "field 'title' rejected by upstream" in letter["error"]
        shown = json.loads(pipeline.cli("dead-letters", "show", letter["id"]).stdout)
        assert shown["error"]["body_excerpt"] == "bad request: field 'title' rejected by upstream"
        assert shown["job"]["notification"]["alerts"][0]["labels"]["alertname"] == "HighCPU"
        listing = pipeline.cli("dead-letters", "list").stdout
        assert letter["id"] in listing and "400" in listing

        state["fixed"] = True
        dry = pipeline.cli("dead-letters", "replay", "--all", "--dry-run").stdout
        assert "1 dead letter(s) would be replayed" in dry
        assert len(pipeline.dead_letters()) == 1
        out = pipeline.cli("dead-letters", "replay", "--type", "webhook").stdout
        assert "1 dead letter(s) replayed" in out
        wait_for(lambda: len(receiver.log) == 2, what="the replayed delivery")
        time.sleep(1.0)
        assert len(receiver.log) == 2, "replay must deliver exactly once"
        assert receiver.log[1][1].status_code == 200
        assert pipeline.dead_letters() == []
        assert receiver.log[1][0].get_json()["title"] == receiver.log[0][0].get_json()["title"]


def test_503_twice_then_200_is_delivered_without_dead_letter(pipeline_factory, make_receiver):
    receiver = make_receiver()
    answers = iter([503, 503, 200])
    receiver.expect_request("/hook").respond_with_handler(lambda r: Response("x", status=next(answers, 200)))
    with pipeline_factory(one_webhook(receiver.url_for("/hook"))) as pipeline:
        pipeline.publish(minimal_event("evt-503"))
        wait_for(lambda: any(resp.status_code == 200 for _, resp in receiver.log), what="the delivery")
        time.sleep(1.0)
        assert [resp.status_code for _, resp in receiver.log] == [503, 503, 200]
        assert pipeline.dead_letters() == []


def test_429_retry_after_is_honoured(pipeline_factory, make_receiver):
    receiver = make_receiver()
    seen: list[float] = []

    def handler(request: Request) -> Response:
        seen.append(time.monotonic())
        if len(seen) == 1:
            return Response("slow down", status=429, headers={"Retry-After": "1"})
        return Response("ok", status=200)

    receiver.expect_request("/hook").respond_with_handler(handler)
    with pipeline_factory(one_webhook(receiver.url_for("/hook"))) as pipeline:
        pipeline.publish(minimal_event("evt-429"))
        wait_for(lambda: len(seen) >= 2, what="the second attempt")
        assert pipeline.dead_letters() == []
    gap = seen[1] - seen[0]
    assert 0.95 <= gap < 5, f"waited {gap:.2f}s after Retry-After: 1"


def test_bad_events_are_rejected_with_a_reason_and_the_router_keeps_running(pipeline_factory, make_receiver, broker):
    receiver = make_receiver()
    receiver.expect_request("/hook").respond_with_data("ok")
    with pipeline_factory(one_webhook(receiver.url_for("/hook"))) as pipeline:
        bad_bodies = [
            b'{"receiver": "ops-team", "alerts": [',
            json.dumps({"receiver": "ops-team", "alerts": [{"labels": {"a": "b"}, "startsAt": "yesterday"}]}).encode(),
            json.dumps(minimal_event("evt-unknown") | {"receiver": "nobody-team"}).encode(),
        ]
        for body in bad_bodies:
            publish_raw(broker, body)
        wait_for(lambda: queue_info(broker, topology.REJECTED_QUEUE)[0] == 3, what="three rejections")
        pipeline.publish(minimal_event("evt-after"))
        wait_for(lambda: len(receiver.log) == 1, what="a good event after the bad ones")
        assert pipeline.procs["router"].poll() is None
    rejected = peek(broker, topology.REJECTED_QUEUE)
    assert [body for _, body in rejected] == bad_bodies
    reasons = [props.headers[topology.REJECT_REASON_HEADER] for props, _ in rejected]
    assert reasons[0].startswith("malformed JSON:")
    assert reasons[1].startswith("invalid event:") and "alerts.0.startsAt" in reasons[1]
    assert reasons[2] == "unknown contact point 'nobody-team'"
    assert queue_info(broker, topology.EVENTS_QUEUE)[0] == 0


SECRET_CONFIG = """
apiVersion: 1
contactPoints:
  - name: ops-team
    receivers:
      - uid: basic
        type: webhook
        settings:
          url: {url}
          username: alice
          password: $HOOK_PASSWORD
      - uid: bearer
        type: webhook
        settings:
          url: {url}
          authorization_scheme: Token
          authorization_credentials: ${{HOOK_TOKEN}}
          hmacConfig:
            secret: hmac-s3cr3t-value
"""


def test_secrets_never_reach_queues_dead_letters_or_logs(pipeline_factory, make_receiver, broker):
    receiver = make_receiver()
    # The receiver echoes what it got, the way some proxies do in error pages.
    receiver.expect_request("/hook").respond_with_handler(
        lambda r: Response("denied: " + r.headers.get("Authorization", ""), status=403)
    )
    secrets = {"HOOK_PASSWORD": "pa55-w0rd-xyz", "HOOK_TOKEN": "tok-9f8e7d6c5b"}
    pipeline = pipeline_factory(SECRET_CONFIG.format(url=receiver.url_for("/hook")), env=secrets)
    pipeline.start_router()
    pipeline.publish(minimal_event("evt-secret"))
    wait_for(lambda: queue_info(broker, "alertrelay.webhook")[0] == 2, what="two queued jobs")
    queued = b"".join(body for _, body in peek(broker, "alertrelay.webhook"))
    pipeline.start_worker()
    wait_for(lambda: len(pipeline.dead_letters()) == 2, what="two dead letters")
    assert {r.headers["Authorization"].split()[0] for r, _ in receiver.log} == {"Basic", "Token"}
    dead = b"".join(body for _, body in peek(broker, topology.DEAD_LETTER_QUEUE))
    shown = pipeline.cli("dead-letters", "list", "--json").stdout + pipeline.cli("dead-letters", "list").stdout
    preview = pipeline.cli("preview", "--event", "-", input_text=json.dumps(minimal_event("p")), check=False).stdout
    pipeline.__exit__(None, None, None)
    everything = queued.decode() + dead.decode() + shown + pipeline.logs() + preview
    assert "[REDACTED]" in dead.decode(), "the echoed credential must be masked in the dead letter"
    for secret in [*secrets.values(), "hmac-s3cr3t-value", "cGE1NS13MHJkLXh5eg", "YWxpY2U6cGE1NS13MHJkLXh5eg"]:
        assert secret not in everything, f"secret {secret!r} leaked"


def test_every_job_of_a_burst_is_acked_once_delivered(pipeline_factory, make_receiver):
    """Acks are sent in batches (workers/broker.py): after a burst nothing is left unacked, so
    a restarted worker finds no job to deliver again."""
    receiver = make_receiver()
    receiver.expect_request("/hook").respond_with_data("ok")
    pipeline = pipeline_factory(one_webhook(receiver.url_for("/hook")), threads=8)
    with pipeline:
        for n in range(60):
            pipeline.publish(minimal_event(f"burst-{n}"))
        wait_for(lambda: len(receiver.log) >= 60, 60, what="60 deliveries")
        pipeline.stop("worker")
        assert queue_info(pipeline.url, "alertrelay.webhook")[0] == 0, "an unacked job went back to the queue"
        pipeline.start_worker()
        time.sleep(1.5)
    assert len(receiver.log) == 60
