"""Property-based: arbitrary JSON and YAML never crash parsing, routing, rendering or loading."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from contracts.event import EventError, normalise, parse_event
from contracts.notification import extended_data
from contracts.provisioning import ConfigError, load_config
from workers.delivery.template_data import TemplateData
from workers.delivery.templates import Templates

NOW = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
times = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)).map(
    lambda d: d.isoformat()
)
labels = st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=30), min_size=1, max_size=5)
alerts = st.fixed_dictionaries(
    {"labels": labels, "startsAt": times},
    optional={
        "annotations": st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=40), max_size=5),
        "endsAt": times,
        "generatorURL": st.text(max_size=40),
    },
)
events = st.fixed_dictionaries(
    {"receiver": st.text(min_size=1, max_size=20), "alerts": st.lists(alerts, min_size=1, max_size=4)},
    optional={"externalURL": st.sampled_from(["", "https://g.example/", "http://h/grafana"]), "groupLabels": labels},
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_arbitrary_bytes_are_an_event_or_a_reason(body):
    try:
        parse_event(body)
    except EventError as exc:
        assert str(exc)


@settings(max_examples=200, deadline=None)
@given(events, st.dictionaries(st.text(min_size=1, max_size=10), json_values, max_size=3))
def test_any_valid_event_renders_the_default_texts(event, extra):
    body = json.dumps({**extra, **event}).encode()
    try:
        parsed = parse_event(body)
    except EventError:
        return  # the extra keys may make it invalid; that is a reason, not a crash
    data = TemplateData.of(extended_data(normalise(parsed, NOW), NOW))
    templates = Templates()
    title = templates.render('{{ template "default.title" . }}', data)
    message = templates.render('{{ template "default.message" . }}', data)
    assert title.startswith("[") and message.startswith("**")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(json_values)
def test_arbitrary_yaml_is_a_config_or_precise_errors(tmp_path: Path, document):
    path = tmp_path / "prov.yaml"
    path.write_text(yaml.safe_dump(document))
    try:
        load_config(path, env={})
    except ConfigError as exc:
        assert exc.errors and all(str(path) in line or line.startswith(str(path)) for line in exc.errors)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.fixed_dictionaries({
    "uid": st.text(max_size=8), "type": st.sampled_from(["webhook", "slack", "nope", ""]),
    "settings": json_values, "disableResolveMessage": json_values,
}), max_size=3))
def test_arbitrary_receivers_are_validated_not_crashed(tmp_path: Path, receivers):
    path = tmp_path / "prov.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": 1, "contactPoints": [{"name": "cp", "receivers": receivers}]}))
    try:
        load_config(path, env={})
    except ConfigError as exc:
        assert exc.errors


def test_oversized_events_are_rejected_with_the_limit(monkeypatch):
    monkeypatch.setenv("ALERTRELAY_MAX_EVENT_BYTES", "1000")
    try:
        parse_event(b" " * 1001)
    except EventError as exc:
        assert "event too large: 1001 bytes (limit 1000" in str(exc)
    else:
        raise AssertionError("not rejected")
