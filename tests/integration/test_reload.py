"""Live configuration: router, workers and ingest take a changed provisioning file without a
restart (file change, or SIGHUP), refuse an invalid one and keep the old, and drop no work."""

from __future__ import annotations

import json
import signal
import time
from typing import Any

import httpx
import pytest

from tests.harness import wait_for
from tests.integration.test_ingest import TOKEN, start_ingest

pytestmark = pytest.mark.integration

ONE_HOOK = """
apiVersion: 1
contactPoints:
  - name: ops-team
    receivers:
      - uid: ops-hook
        type: webhook
        settings:
          url: {url}
"""

TWO_POINTS = ONE_HOOK + """
  - name: new-team
    receivers:
      - uid: new-hook
        type: webhook
        settings:
          url: {url}
          title: 'new: {{{{ CommonLabels.alertname }}}}'
"""

INVALID = """
apiVersion: 1
contactPoints:
  - name: ops-team
    receivers:
      - uid: ops-hook
        type: webhook
        settings:
          uri: {url}
"""


def event(name: str, receiver: str = "ops-team") -> dict[str, Any]:
    return {"id": f"evt-{name}", "receiver": receiver,
            "alerts": [{"labels": {"alertname": name}, "startsAt": "2024-05-01T10:00:00Z"}]}


def rewrite(path: Any, text: str) -> None:
    """Write the file anew and make sure its mtime moves even on coarse clocks."""
    before = path.stat().st_mtime_ns
    path.write_text(text)
    if path.stat().st_mtime_ns == before:
        time.sleep(0.01)
        path.write_text(text)


def log_count(pipeline: Any, name: str, text: str) -> int:
    return pipeline.log_files[name].read_text(errors="replace").count(text)


def test_changed_file_is_reloaded_invalid_refused_and_nothing_dropped(pipeline_factory, make_receiver):
    a, b = make_receiver(), make_receiver()
    a.expect_request("/a").respond_with_data("ok")
    b.expect_request("/b").respond_with_data("ok")
    with pipeline_factory(ONE_HOOK.format(url=a.url_for("/a")), env={"ALERTRELAY_CONFIG_POLL": "0.5"}) as pipeline:
        pipeline.cli("publish", "-", input_text="\n".join(json.dumps(event(f"before-{i}")) for i in range(10)))
        rewrite(pipeline.config, ONE_HOOK.format(url=b.url_for("/b")))
        pipeline.cli("publish", "-", input_text="\n".join(json.dumps(event(f"during-{i}")) for i in range(10)))
        for name in ("router", "worker"):
            wait_for(lambda n=name: log_count(pipeline, n, "configuration reloaded (files changed)"), 15,
                     what=f"the {name} reload")
        pipeline.publish(event("after"))
        # Every event arrives exactly once, before the swap at A, after it at B: no work dropped.
        wait_for(lambda: len(a.log) + len(b.log) == 21, 20, what="all 21 notifications")
        assert b.log[-1][0].get_json()["commonLabels"]["alertname"] == "after"

        # An invalid file is refused with its errors; the old configuration stays in force.
        rewrite(pipeline.config, INVALID.format(url=a.url_for("/a")))
        for name in ("router", "worker"):
            wait_for(lambda n=name: log_count(pipeline, n, "new configuration refused (files changed)"), 15,
                     what=f"the {name} refusal")
            assert log_count(pipeline, name, 'integration "ops-hook" (webhook): settings.url: Field required') >= 1
        pipeline.publish(event("still-b"))
        wait_for(lambda: any(r.get_json()["commonLabels"]["alertname"] == "still-b" for r, _ in b.log),
                 20, what="delivery with the old configuration")
        assert pipeline.dead_letters() == []
        assert all(proc.poll() is None for proc in pipeline.procs.values())
    assert len(a.log) + len(b.log) == 22


def test_sighup_reloads_router_workers_and_ingest(pipeline_factory, make_receiver):
    receiver = make_receiver()
    receiver.expect_request("/hook").respond_with_data("ok")
    env = {"ALERTRELAY_CONFIG_POLL": "3600", "ALERTRELAY_INGEST_TOKEN": TOKEN}  # only SIGHUP reloads here
    with pipeline_factory(ONE_HOOK.format(url=receiver.url_for("/hook")), env=env) as pipeline:
        ingest = start_ingest(pipeline)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        refused = httpx.post(f"{ingest}/api/v1/events", json=event("x", "new-team"), headers=auth, timeout=10)
        assert refused.status_code == 422 and refused.json()["error"] == "unknown contact point 'new-team'"

        rewrite(pipeline.config, TWO_POINTS.format(url=receiver.url_for("/hook")))
        worker_pid = pipeline.procs["worker"].pid
        for name in ("router", "worker", "ingest"):
            pipeline.procs[name].send_signal(signal.SIGHUP)
        for name in ("router", "worker", "ingest"):
            wait_for(lambda n=name: log_count(pipeline, n, "configuration reloaded (SIGHUP)"), 15, what=f"the {name} reload")
            assert "added new-team" in pipeline.log_files[name].read_text()

        accepted = httpx.post(f"{ingest}/api/v1/events", json=event("via-ingest", "new-team"), headers=auth, timeout=10)
        assert accepted.status_code == 202, accepted.text
        [(request, _)] = wait_for(lambda: receiver.log, 20, what="the new contact point's notification")
        assert request.get_json()["title"] == "new: via-ingest"
        # The workers reloaded in place: same processes, Dramatiq did not restart them.
        assert pipeline.procs["worker"].pid == worker_pid and pipeline.procs["worker"].poll() is None
        assert log_count(pipeline, "worker", "is booting up") == 1
        assert all(proc.poll() is None for proc in pipeline.procs.values())
