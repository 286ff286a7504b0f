"""When a destination keeps failing: circuit breakers, fallback contact points, telling someone."""

from __future__ import annotations

import json
import time

import pytest
from werkzeug import Response

from tests.harness import wait_for
from tests.raw_server import RawServer, body_of
from tests.integration.test_pipeline import minimal_event

pytestmark = pytest.mark.integration


CLOSING_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


class Switchable(RawServer):
    """Accepts connections; while ``hang`` is set it never answers, otherwise it answers 200."""

    def __init__(self) -> None:
        self.hang = True
        self.delivered: list[bytes] = []
        super().__init__(self._answer)

    def _answer(self, _number: int, request: bytes) -> tuple[bytes | None, bool]:
        if self.hang:
            return None, False
        self.delivered.append(body_of(request))
        return CLOSING_OK, True


def two_destinations(hanging: str, healthy: str) -> str:
    return f"""
apiVersion: 1
contactPoints:
  - name: ops-team
    receivers:
      - {{uid: flaky, type: webhook, settings: {{url: '{hanging}'}}}}
      - {{uid: steady, type: webhook, settings: {{url: '{healthy}'}}}}
"""


def test_breaker_stops_calling_a_hanging_destination_and_a_probe_closes_it(pipeline_factory, make_receiver, redis_url):
    steady = make_receiver()
    steady.expect_request("/ok").respond_with_data("ok")
    flaky = Switchable()
    env = {"ALERTRELAY_HTTP_TIMEOUT": "1", "ALERTRELAY_BREAKER_FAILURES": "2", "ALERTRELAY_BREAKER_COOLDOWN": "4",
           "ALERTRELAY_RETRY_MIN_BACKOFF": "0.5", "ALERTRELAY_RETRY_MAX_BACKOFF": "1", "ALERTRELAY_RETRY_MAX_AGE": "120"}
    try:
        with pipeline_factory(two_destinations(flaky.url(), steady.url_for("/ok")), env=env, threads=4) as pipeline:
            for i in range(12):
                pipeline.publish(minimal_event(f"brk-{i}"))
            wait_for(lambda: len(steady.log) == 12, 30, what="the healthy destination to get all 12")
            time.sleep(2.5)
            assert flaky.connections <= 6, f"the open breaker should stop calls; saw {flaky.connections} for 12 jobs"
            shown = json.loads(pipeline.cli("status", "--json").stdout)
            circuits = {i["uid"]: i["circuit"] for p in shown for i in p["integrations"]}
            assert circuits["flaky"] in ("open", "half-open") and circuits["steady"] == "closed"
            flaky.hang = False
            wait_for(lambda: len(flaky.delivered) >= 12, 60, what="everything to the recovered destination")
            assert pipeline.dead_letters() == []
            assert "circuit for flaky opened" in pipeline.logs()
            shown = json.loads(pipeline.cli("status", "--json").stdout)
            assert {i["uid"]: i["circuit"] for p in shown for i in p["integrations"]}["flaky"] == "closed"
    finally:
        flaky.close()


FALLBACK = """
apiVersion: 1
contactPoints:
  - name: ops-team
    receivers:
      - uid: primary-hook
        type: webhook
        fallbackContactPoint: phone
        settings: {{url: '{broken}'}}
  - name: phone
    receivers:
      - uid: phone-hook
        type: webhook
        settings: {{url: '{backup}'}}
  - name: meta
    receivers:
      - uid: meta-hook
        type: webhook
        settings: {{url: '{meta}'}}
"""


def test_fallback_contact_point_and_failure_notice(pipeline_factory, make_receiver):
    broken, backup, meta = make_receiver(), make_receiver(), make_receiver()
    broken.expect_request("/x").respond_with_handler(lambda r: Response("gone", status=404))
    backup.expect_request("/b").respond_with_data("ok")
    meta.expect_request("/m").respond_with_data("ok")
    config = FALLBACK.format(broken=broken.url_for("/x"), backup=backup.url_for("/b"), meta=meta.url_for("/m"))
    env = {"ALERTRELAY_FAILURE_CONTACT_POINT": "meta", "ALERTRELAY_FAILURE_NOTIFY_INTERVAL": "600"}
    with pipeline_factory(config, env=env) as pipeline:
        pipeline.publish(minimal_event("fb-1"))
        wait_for(lambda: len(backup.log) == 1, what="the fallback notification")
        [letter] = wait_for(lambda: pipeline.dead_letters(), what="the dead letter")
        assert letter["fallback_contact_point"] == "phone"
        shown = json.loads(pipeline.cli("dead-letters", "show", letter["id"]).stdout)
        assert len(shown["fallback_job_ids"]) == 1
        body = backup.log[0][0].get_json()
        assert body["receiver"] == "phone"
        note = body["alerts"][0]["annotations"]["fallback_for"]
        assert note.startswith("ops-team/primary-hook (webhook) failed: webhook response status 404")
        assert "fallback_for = ops-team/primary-hook (webhook) failed" in body["message"]
        wait_for(lambda: len(meta.log) == 1, what="the failure notice")
        notice = meta.log[0][0].get_json()
        assert notice["commonLabels"] == {"alertname": "AlertrelayDeliveryFailed", "contact_point": "ops-team",
                                          "integration": "primary-hook", "type": "webhook"}
        assert notice["title"] == "[FIRING:1] AlertrelayDeliveryFailed ops-team primary-hook (webhook)"
        pipeline.publish(minimal_event("fb-2"))
        wait_for(lambda: len(backup.log) == 2, what="the second fallback")
        time.sleep(1.5)
        assert len(meta.log) == 1, "failure notices are rate-limited per integration"
