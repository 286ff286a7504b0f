import json
from datetime import datetime, timezone

import pytest

from contracts.event import EventError, normalise, parse_event

NOW = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)


def body(**event):
    return json.dumps(event).encode()


def alert(instance, **extra):
    return {"labels": {"alertname": "HighCPU", "instance": instance}, "startsAt": "2024-05-01T10:00:00Z", **extra}


def test_minimal_event_derives_status_fingerprint_group_and_order():
    event = parse_event(body(receiver="ops", alerts=[
        alert("web-2"),
        alert("web-1", endsAt="2024-05-01T10:20:00Z"),
        alert("web-3", endsAt="2024-05-01T11:00:00Z"),  # ends in the future: still firing
    ]))
    n = normalise(event, NOW)
    assert [a.labels["instance"] for a in n.alerts] == ["web-1", "web-2", "web-3"]
    assert [a.status for a in n.alerts] == ["resolved", "firing", "firing"]
    assert n.alerts[2].endsAt is None, "firing alerts carry the zero endsAt"
    assert n.status == "firing"
    assert n.groupLabels == {"alertname": "HighCPU"}
    assert n.groupKey == '{}:{alertname="HighCPU"}'
    assert n.alerts[0].fingerprint == "e4da87a3498b5bd1"


def test_event_without_id_gets_a_stable_content_id():
    raw = body(receiver="ops", alerts=[alert("a")])
    assert parse_event(raw).id == parse_event(raw).id
    assert parse_event(body(receiver="ops", id="mine", alerts=[alert("a")])).id == "mine"


def test_alertmanager_v4_payload_keeps_its_fingerprints_and_group():
    am = {
        "version": "4", "receiver": "team-x", "status": "resolved", "groupKey": '{}/{team="x"}:{alertname="A"}',
        "groupLabels": {"alertname": "A"}, "externalURL": "http://am:9093",
        "alerts": [{"status": "resolved", "labels": {"alertname": "A"}, "annotations": {},
                    "startsAt": "2024-05-01T10:00:00Z", "endsAt": "2024-05-01T10:10:00Z",
                    "generatorURL": "http://prom/graph", "fingerprint": "0123456789abcdef"}],
        "commonLabels": {"alertname": "A"}, "commonAnnotations": {}, "truncatedAlerts": 0,
    }
    n = normalise(parse_event(json.dumps(am).encode()), NOW)
    assert n.groupKey == '{}/{team="x"}:{alertname="A"}'
    assert n.alerts[0].fingerprint == "0123456789abcdef"
    assert n.status == "resolved" and not n.precomputed


def test_grafana_webhook_payload_keeps_its_derived_fields():
    grafana = {
        "receiver": "ops\\.team", "status": "firing", "version": "1", "groupKey": "{}:{}", "orgId": 1,
        "alerts": [{"status": "firing", "labels": {"alertname": "TestAlert"}, "annotations": {},
                    "startsAt": "2024-05-01T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "",
                    "fingerprint": "57c6d9296de2ad39", "silenceURL": "https://g/alerting/silence/new?x=1",
                    "dashboardURL": "", "panelURL": "", "values": None, "valueString": "[ metric='foo' ]"}],
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "https://g/",
        "title": "t", "state": "alerting", "message": "m",
    }
    n = normalise(parse_event(json.dumps(grafana).encode()), NOW)
    assert n.precomputed
    assert n.alerts[0].silenceURL == "https://g/alerting/silence/new?x=1"
    assert n.alerts[0].valueString == "[ metric='foo' ]"
    assert n.alerts[0].endsAt is None


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"{not json", "malformed JSON"),
        (b"[1, 2]", "an event must be a JSON object"),
        (body(alerts=[alert("a")]), "receiver: Field required"),
        (body(receiver="ops", alerts=[]), "alerts: List should have at least 1 item"),
        (body(receiver="ops", alerts=[{"labels": {}, "startsAt": "2024-05-01T10:00:00Z"}]), "alerts.0.labels"),
        (body(receiver="ops", alerts=[{"labels": {"a": "b"}, "startsAt": "soon"}]), "alerts.0.startsAt"),
    ],
)
def test_bad_events_get_a_readable_reason(raw, reason):
    with pytest.raises(EventError) as err:
        parse_event(raw)
    assert reason in str(err.value)
