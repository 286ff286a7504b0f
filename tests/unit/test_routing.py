import json
from datetime import datetime, timezone

import pytest

from contracts.event import EventError, parse_event
from contracts.job import Job
from contracts.provisioning import load_config
from router.routing import route

NOW = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)
CONFIG = """
apiVersion: 1
contactPoints:
  - name: ops.team
    receivers:
      - {uid: all, type: webhook, settings: {url: 'http://a'}}
      - {uid: firing-only, type: webhook, disableResolveMessage: true, settings: {url: 'http://b'}}
  - name: empty
    receivers: []
"""


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG)
    return load_config(path, env={})


def event(receiver="ops.team", ends=(None,), event_id="e1"):
    alerts = [{"labels": {"alertname": "A", "n": str(i)}, "startsAt": "2024-05-01T10:00:00Z", **({"endsAt": e} if e else {})}
              for i, e in enumerate(ends)]
    return parse_event(json.dumps({"id": event_id, "receiver": receiver, "alerts": alerts}).encode())


def test_one_job_per_integration_with_deterministic_ids(config):
    first, again = route(event(), config, NOW), route(event(), config, NOW)
    assert [(j.uid, j.type, j.contact_point) for j in first.jobs] == [("all", "webhook", "ops.team"), ("firing-only", "webhook", "ops.team")]
    assert [j.id for j in first.jobs] == [j.id for j in again.jobs]
    assert len({j.id for j in first.jobs}) == 2
    assert route(event(event_id="e2"), config, NOW).jobs[0].id != first.jobs[0].id


def test_disable_resolve_message(config):
    resolved = route(event(ends=("2024-05-01T10:10:00Z",)), config, NOW)
    assert [j.uid for j in resolved.jobs] == ["all"]
    mixed = route(event(ends=(None, "2024-05-01T10:10:00Z")), config, NOW)
    by_uid = {j.uid: j for j in mixed.jobs}
    assert len(by_uid["all"].notification.alerts) == 2
    assert [a.status for a in by_uid["firing-only"].notification.alerts] == ["firing"]


def test_grafana_escaped_receiver_and_unknown_and_empty(config):
    assert route(event(receiver="ops\\.team"), config, NOW).contact_point.name == "ops.team"
    assert route(event(receiver="empty"), config, NOW).jobs == []
    with pytest.raises(EventError, match="unknown contact point 'nope'"):
        route(event(receiver="nope"), config, NOW)


def test_jobs_hold_no_settings(config):
    job = route(event(), config, NOW).jobs[0]
    assert "http://a" not in job.model_dump_json()
    assert Job.model_validate_json(job.model_dump_json()) == job
