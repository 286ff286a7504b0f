"""Default title and message: Grafana's text, byte for byte (spec/data-model.md §2.7 and §4.1)."""

from datetime import datetime, timezone
from pathlib import Path

import pytest

from contracts.event import normalise, parse_event
from contracts.notification import extended_data
from workers.delivery.template_data import TemplateData
from workers.delivery.templates import TemplateError, Templates

FIXTURES = Path(__file__).parent.parent / "fixtures"
NOW = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)


def data_of(raw: bytes, now=NOW) -> TemplateData:
    return TemplateData.of(extended_data(normalise(parse_event(raw), now), now))


@pytest.fixture
def worked_example() -> TemplateData:
    return data_of((FIXTURES / "worked_example_event.json").read_bytes())


def test_worked_example_title(worked_example):
    assert Templates().render('{{ template "default.title" . }}', worked_example) == "[FIRING:2, RESOLVED:1] HighCPU Infra (critical)"


def test_worked_example_message_byte_for_byte(worked_example):
    expected = (FIXTURES / "worked_example_message.txt").read_text()
    assert Templates().render('{{ template("default.message") }}', worked_example) == expected


def test_worked_example_fingerprints(worked_example):
    assert [a.Fingerprint for a in worked_example.Alerts] == ["fb7fa87336c0d377", "7ff027d8552182a8", "fe6614be17394a5d"]


def test_grafana_test_notification_text():
    raw = b'''{"receiver": "webhook", "externalURL": "http://localhost:3000/", "groupLabels": {"alertname": "TestAlert", "instance": "Grafana"},
      "alerts": [{"labels": {"alertname": "TestAlert", "instance": "Grafana"},
                  "annotations": {"summary": "Notification test", "__value_string__": "[ metric='foo' labels={instance=bar} value=10 ]"},
                  "startsAt": "2024-05-01T10:00:00Z"}]}'''
    data = data_of(raw)
    t = Templates()
    assert t.render('{{ template "default.title" . }}', data) == "[FIRING:1] TestAlert Grafana "
    assert t.render('{{ template "default.message" . }}', data) == (
        "**Firing**\n\nValue: [no value]\nLabels:\n - alertname = TestAlert\n - instance = Grafana\nAnnotations:\n"
        " - summary = Notification test\nSilence: http://localhost:3000/alerting/silence/new?alertmanager=grafana"
        "&matcher=alertname%3DTestAlert&matcher=instance%3DGrafana\n"
    )
    assert data.Alerts[0].Fingerprint == "57c6d9296de2ad39"


def test_empty_group_labels_give_the_double_space(worked_example):
    worked_example.GroupLabels.clear()
    assert Templates().render('{{ template("default.title") }}', worked_example) == "[FIRING:2, RESOLVED:1]  (HighCPU Infra critical)"


def test_user_templates_override_and_call_builtins(worked_example):
    t = Templates({"mine": '{{ define "my.title" }}{{ Status | upper }}: {{ template("default.title") }}{{ end }}',
                   "default.message": "custom {{ Alerts.Firing | length }} firing"})
    assert t.render('{{ template "my.title" . }}', worked_example) == "FIRING: [FIRING:2, RESOLVED:1] HighCPU Infra (critical)"
    assert t.render('{{ template("default.message") }}', worked_example) == "custom 2 firing"


def test_jinja_data_names_print_like_go(worked_example):
    t = Templates()
    alert = "{% for a in Alerts %}{{ a.Labels }}|{{ a.StartsAt }}|{{ a.Values }};{% endfor %}"
    out = t.render(alert, worked_example)
    assert out.startswith(
        "alertname=HighCPU, grafana_folder=Infra, instance=web-1, severity=critical|2024-05-01 10:00:00 +0000 UTC|map[B:97.5 C:1];"
    )
    assert t.render("{{ CommonLabels.SortedPairs.Names | join(',') }} {{ .GroupLabels.alertname }}", worked_example) == (
        "alertname,grafana_folder,severity HighCPU"
    )
    assert t.render("[{{ Nope.missing }}]", worked_example) == "[]"


def test_template_errors_and_sandbox(worked_example):
    t = Templates()
    with pytest.raises(TemplateError, match="syntax"):
        t.render("{{ unclosed", worked_example)
    with pytest.raises(TemplateError, match="not defined"):
        t.render('{{ template("nope") }}', worked_example)
    with pytest.raises(TemplateError, match="not allowed"):
        t.render("{{ ''.__class__.__mro__ }}", worked_example)
    with pytest.raises(TemplateError, match="maximum size"):
        t.render("{% for i in range(11000) %}{{ 'x' * 1000 }}{% endfor %}", worked_example)
