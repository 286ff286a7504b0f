"""Operating pieces without a broker: metric labels, status views, JSON logs, the config watcher, ingest parsing."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import dramatiq
import pytest

from alertrelay import logs, metrics
from alertrelay.reload import ConfigWatcher
from contracts.provisioning import load_config
from router.ingest import Refused, decode, prepare_events
from workers import status
from workers.middleware import outcome_of

CONFIG = """
apiVersion: 1
contactPoints:
  - name: ops-team
    receivers:
      - uid: hook-a
        type: webhook
        settings:
          url: http://127.0.0.1:9/a
      - uid: hook-b
        type: webhook
        settings:
          url: http://127.0.0.1:9/b
"""


@pytest.mark.parametrize(
    "message, reason",
    [
        ("malformed JSON: Expecting value: line 1 column 1 (char 0)", "malformed_json"),
        ("rejected: malformed JSON: x", "malformed_json"),
        ("an event must be a JSON object, got list", "not_an_object"),
        ("invalid event: alerts.0.startsAt: not an RFC 3339 timestamp: 'yesterday'", "invalid_event"),
        ("rejected: unknown contact point 'nobody'", "unknown_contact_point"),
        ("event too large: 3000000 bytes", "too_large"),
        ("something new", "other"),
    ],
)
def test_reject_reasons_are_a_small_fixed_set(message, reason):
    assert metrics.reject_reason(message) == reason
    assert reason in metrics.REJECT_REASONS


@pytest.mark.parametrize("value, kind, port", [(None, "router", 9101), (None, "worker", 9102), ("off", "worker", None),
                                               ("0", "router", None), ("9200", "router", 9200), (None, "ingest", None)])
def test_metrics_port(monkeypatch, value, kind, port):
    if value is None:
        monkeypatch.delenv("ALERTRELAY_METRICS_PORT", raising=False)
    else:
        monkeypatch.setenv("ALERTRELAY_METRICS_PORT", value)
    assert metrics.metrics_port(kind) == port


def test_integration_type_label_is_bounded():
    assert metrics.integration_type("slack") == "slack"
    assert metrics.integration_type("https://hooks.example/secret") == "unknown"


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (0.152, "152ms"), (1.5, "1s500ms"), (61, "1m1s"), (3600, "1h"),
                                           (0.0004, "0s")])
def test_durations_print_like_prometheus(seconds, text):
    assert status.prom_duration(seconds) == text


def test_status_report_lists_configured_integrations_first_and_marks_removed_ones():
    config = load_config_text(CONFIG)
    rows = [
        {"contact_point": "ops-team", "uid": "hook-b", "type": "webhook", "last_attempt": "2024-05-01T10:30:00.123Z",
         "last_duration_ms": "152.4", "last_outcome": "dead_lettered", "last_error": "webhook response status 400 Bad",
         "dead_lettered": "1"},
        {"contact_point": "old-team", "uid": "gone", "type": "slack", "last_attempt": "2024-05-01T09:00:00.000Z",
         "last_duration_ms": "1500", "last_outcome": "delivered", "last_delivered": "2024-05-01T09:00:00.000Z", "delivered": "3"},
    ]
    view = status.report(rows, config)
    assert [p["name"] for p in view] == ["ops-team", "old-team"]
    a, b = view[0]["integrations"]
    assert a == {"uid": "hook-a", "name": "webhook", "lastNotifyAttempt": "0001-01-01T00:00:00.000Z",
                 "lastNotifyAttemptDuration": "0s", "lastNotifyAttemptError": "", "lastOutcome": "",
                 "lastDelivered": "0001-01-01T00:00:00.000Z",
                 "counts": {"delivered": 0, "retry_scheduled": 0, "dead_lettered": 0, "duplicate": 0, "error": 0},
                 "configured": True, "circuit": "closed"}
    assert b["lastNotifyAttemptDuration"] == "152ms" and b["counts"]["dead_lettered"] == 1
    [gone] = view[1]["integrations"]
    assert gone["configured"] is False and gone["lastNotifyAttemptDuration"] == "1s500ms"
    lines = status.table(view)
    assert lines[0].split() == ["CONTACT", "POINT", "UID", "TYPE", "LAST", "ATTEMPT", "DURATION", "OUTCOME", "OK", "RETRY",
                                "DEAD", "CIRCUIT", "LAST", "ERROR"]
    assert "never" in lines[1] and "2024-05-01 10:30:00.123" in lines[2] and "delivered (removed)" in lines[3]
    assert len({line.index("TYPE") if "TYPE" in line else lines[0].index("TYPE") for line in lines}) == 1


def load_config_text(text: str, tmp: Path | None = None):  # type: ignore[no-untyped-def]
    import tempfile

    folder = Path(tmp or tempfile.mkdtemp())
    (folder / "p.yaml").write_text(text)
    return load_config(folder / "p.yaml")


def test_outcomes_from_what_the_actor_did():
    assert outcome_of(None, None) == ("delivered", None, None)
    assert outcome_of(dramatiq.Retry("webhook response status 503", delay=100), None) == (
        "retry_scheduled", "webhook response status 503", "transient")
    assert outcome_of(None, ("dead_lettered", "400 Bad", "permanent")) == ("dead_lettered", "400 Bad", "permanent")
    outcome, error, _ = outcome_of(RuntimeError("secret-in-here"), None)
    assert outcome == "error" and "secret-in-here" not in error and "RuntimeError" in error


def test_json_log_lines_carry_event_and_job_ids(monkeypatch):
    monkeypatch.setenv("ALERTRELAY_LOG_FORMAT", "json")
    formatter = logs.formatter()
    record = logging.LogRecord("alertrelay.worker", logging.INFO, __file__, 1, "delivered job %s", ("j1",), None)
    with logs.bound(event_id="e1", job_id="j1"):
        inside = json.loads(formatter.format(record))
    outside = json.loads(formatter.format(record))
    assert inside["message"] == "delivered job j1" and inside["level"] == "INFO" and inside["logger"] == "alertrelay.worker"
    assert (inside["event_id"], inside["job_id"]) == ("e1", "j1")
    assert (outside["event_id"], outside["job_id"]) == (None, None)
    monkeypatch.setenv("ALERTRELAY_LOG_FORMAT", "text")
    assert not isinstance(logs.formatter(), logs.JsonFormatter)


def test_config_watcher_swaps_valid_configs_and_keeps_the_old_on_errors(tmp_path, caplog):
    path = tmp_path / "p.yaml"
    path.write_text(CONFIG)
    applied = []
    watcher = ConfigWatcher("test", applied.append, path=path, current=load_config(path), interval=3600)
    assert watcher.check() is None  # nothing changed
    path.write_text(CONFIG.replace("hook-b", "hook-c"))
    assert watcher.check() is True
    assert [i.uid for i in applied[-1].contact_points["ops-team"].integrations] == ["hook-a", "hook-c"]
    path.write_text(CONFIG.replace("url: http://127.0.0.1:9/a", "title: '{{ broken'"))
    with caplog.at_level(logging.ERROR, "alertrelay.reload"):
        assert watcher.check() is False
    assert len(applied) == 1
    assert "new configuration refused (files changed); the previous one stays in force" in caplog.text
    assert 'integration "hook-a" (webhook): settings.url: Field required' in caplog.text
    assert watcher.check() is None  # the same broken file is not reported again every poll
    path.write_text(CONFIG.replace("url: http://127.0.0.1:9/a", "url: http://127.0.0.1:9/a\n          title: '{{ broken'"))
    with caplog.at_level(logging.ERROR, "alertrelay.reload"):
        assert watcher.check() is False  # templates are checked too, as check-config does
    assert 'integration "hook-a" (webhook): settings.title: template syntax error' in caplog.text
    assert watcher.check(forced=True) is False  # SIGHUP tries again
    path.write_text(CONFIG)
    assert watcher.check() is True and len(applied) == 2


def test_config_watcher_sees_files_added_to_a_folder(tmp_path):
    (tmp_path / "a.yaml").write_text(CONFIG)
    applied = []
    watcher = ConfigWatcher("test", applied.append, path=tmp_path, interval=3600)
    (tmp_path / "b.yaml").write_text(CONFIG.replace("ops-team", "db-team").replace("hook-", "db-"))
    assert watcher.check() is True
    assert sorted(applied[-1].contact_points) == ["db-team", "ops-team"]
    (tmp_path / "notes.txt").write_text("ignored")
    assert watcher.check() is None


def test_ingest_decoding_and_validation():
    config = load_config_text(CONFIG)
    with pytest.raises(Refused) as info:
        decode(b"[1, 2]", allow_list=False)
    assert info.value.status == 400 and info.value.reason == "not_an_object"
    assert decode(b'[{"a": 1}]', allow_list=True) == [{"a": 1}]
    event = {"receiver": "somebody", "alerts": [{"labels": {"alertname": "A"}, "startsAt": "2024-05-01T10:00:00Z"}]}
    [(event_id, body)] = prepare_events([event], config, contact_point="ops-team")
    assert json.loads(body)["receiver"] == "ops-team" and len(event_id) == 32
    with pytest.raises(Refused) as info:
        prepare_events([event], config)
    assert (info.value.status, info.value.message, info.value.reason) == (422, "unknown contact point 'somebody'",
                                                                           "unknown_contact_point")
    with pytest.raises(Refused) as info:
        prepare_events([], config)
    assert info.value.status == 422
