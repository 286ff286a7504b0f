"""PagerDuty, Opsgenie, VictorOps, Pushover and Sensu Go end to end.

``alertrelay preview`` (a subprocess, no broker) for all five, and the whole pipeline on real
RabbitMQ for PagerDuty and Opsgenie: a trigger and its resolve, a create and its close.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest
from werkzeug import Response

from tests.harness import cli, wait_for

NOW = "2024-05-01T10:30:00Z"
SECRETS = {
    "PD_KEY": "pd-routing-key-a1b2c3d4",
    "OG_KEY": "og-genie-key-e5f6a7b8",
    "VO_KEY": "vo-rest-key-c9d0e1f2a3b4",
    "PO_USER": "po-user-key-a5b6c7d8",
    "PO_TOKEN": "po-app-token-e9f0a1b2",
    "SENSU_KEY": "sensu-api-key-c3d4e5f6",
}
VO_URL = f"https://alert.victorops.com/integrations/generic/20131114/alert/{SECRETS['VO_KEY']}/ops"

CONFIG = f"""
apiVersion: 1
contactPoints:
  - orgId: 1
    name: incident-a
    receivers:
      - uid: pd
        type: pagerduty
        settings:
          integrationKey: $PD_KEY
          source: grafana-host
          severity: '{{{{ .CommonLabels.severity }}}}'
      - uid: og
        type: opsgenie
        settings:
          apiKey: ${{OG_KEY}}
          sendTagsAs: both
          responders:
            - type: teams
              name: ops,dba
      - uid: vo
        type: victorops
        settings:
          url: {VO_URL.replace(SECRETS["VO_KEY"], "$VO_KEY")}
          messageType: warning
      - uid: po
        type: pushover
        settings:
          userKey: $PO_USER
          apiToken: $PO_TOKEN
          priority: 2
          okPriority: -1
          retry: 60
          expire: 3600
          sound: siren
          okSound: magic
      - uid: se
        type: sensugo
        settings:
          url: http://sensu.local:8080/
          apikey: $SENSU_KEY
          namespace: '{{{{ CommonLabels.team }}}}'
          handler: pagerduty
"""

GROUP_KEY = '{}:{alertname="DiskFull"}'
GROUP_HASH = hashlib.sha256(GROUP_KEY.encode()).hexdigest()
LIST_URL = "https://grafana.example.com/alerting/list"
LABELS = {"alertname": "DiskFull", "instance": "db-1", "og_priority": "P2", "severity": "warning", "team": "dba"}
TITLE = "[FIRING:1] DiskFull (db-1 P2 warning dba)"
BLOCK = (
    "\nValue: [no value]\nLabels:\n - alertname = DiskFull\n - instance = db-1\n - og_priority = P2\n"
    " - severity = warning\n - team = dba\nAnnotations:\n - summary = disk 97% full\n"
    "Source: https://grafana.example.com/alerting/grafana/disk/view\n"
    "Silence: https://grafana.example.com/alerting/silence/new?alertmanager=grafana&matcher=alertname%3DDiskFull"
    "&matcher=instance%3Ddb-1&matcher=og_priority%3DP2&matcher=severity%3Dwarning&matcher=team%3Ddba\n"
)
MESSAGE = "**Firing**\n" + BLOCK
JSON_HEADERS = {"Content-Type": "application/json", "User-Agent": "Grafana"}


def event(resolved: bool = False, event_id: str = "evt-disk") -> dict:
    item = {
        "labels": LABELS,
        "annotations": {"summary": "disk 97% full"},
        "startsAt": "2024-05-01T10:00:00Z",
        "generatorURL": "https://grafana.example.com/alerting/grafana/disk/view",
    }
    if resolved:
        item["endsAt"] = "2024-05-01T10:20:00Z"
    return {"id": event_id, "receiver": "incident-a", "externalURL": "https://grafana.example.com/", "alerts": [item]}


def preview(tmp_path: Path, body: dict, *flags: str) -> dict[str, dict]:
    path = tmp_path / "incident-a.yaml"
    path.write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTRELAY_API_URL_")} | SECRETS
    out = cli(env, "preview", "--config", str(path), "--event", "-", "--now", NOW, *flags, input_text=json.dumps(body))
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    assert [(line["contact_point"], line["type"]) for line in lines] == [
        ("incident-a", t) for t in ("pagerduty", "opsgenie", "victorops", "pushover", "sensugo")
    ]
    return {line["uid"]: line["request"] for line in lines}


def test_preview_of_a_firing_group(tmp_path):
    requests = preview(tmp_path, event())
    assert requests["pd"] == {
        "method": "POST", "url": "https://events.pagerduty.com/v2/enqueue", "headers": JSON_HEADERS,
        "body": {
            "routing_key": "[REDACTED]", "dedup_key": GROUP_HASH, "event_action": "trigger",
            "payload": {
                "summary": TITLE, "source": "grafana-host", "severity": "warning", "class": "default",
                "component": "Grafana", "group": "default",
                "custom_details": {"firing": BLOCK, "num_firing": "1", "num_resolved": "0", "resolved": ""},
            },
            "client": "Grafana", "client_url": "https://grafana.example.com/",
            "links": [{"href": "https://grafana.example.com/", "text": "External URL"}],
        },
    }
    assert requests["og"] == {
        "method": "POST", "url": "https://api.opsgenie.com/v2/alerts",
        "headers": {**JSON_HEADERS, "Authorization": "[REDACTED]"},
        "body": {
            "alias": GROUP_HASH, "message": TITLE, "description": f"{TITLE}\n{LIST_URL}\n\n{MESSAGE}",
            "details": {**LABELS, "url": LIST_URL}, "source": "Grafana",
            "responders": [{"name": "ops", "type": "team"}, {"name": "dba", "type": "team"}],
            "tags": [f"{k}:{v}" for k, v in LABELS.items()], "priority": "P2",
        },
    }
    assert requests["vo"] == {
        "method": "POST", "url": "[REDACTED]", "headers": JSON_HEADERS,
        "body": {
            "alert_url": LIST_URL, "entity_display_name": TITLE, "entity_id": GROUP_HASH, "message_type": "WARNING",
            "monitoring_tool": "Grafana v", "state_message": MESSAGE, "timestamp": 1714559400,
        },
    }
    po = requests["po"]
    assert po["url"] == "https://api.pushover.net/1/messages.json"
    assert po["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")
    assert po["body"] == {
        "user": "[REDACTED]", "token": "[REDACTED]", "priority": "2", "retry": "60", "expire": "3600", "title": TITLE,
        "url": LIST_URL, "url_title": "Show alert rule", "message": MESSAGE.strip(), "sound": "siren", "html": "1",
    }
    assert list(po["body"]) == ["user", "token", "priority", "retry", "expire", "title", "url", "url_title",
                                "message", "sound", "html"]
    assert requests["se"] == {
        "method": "POST", "url": "http://sensu.local:8080/api/core/v2/namespaces/dba/events",
        "headers": {**JSON_HEADERS, "Authorization": "[REDACTED]"},
        "body": {
            "check": {
                "handlers": ["pagerduty"], "interval": 86400, "issued": 1714559400,
                "metadata": {"labels": {"ruleURL": LIST_URL}, "name": "default"}, "output": MESSAGE, "status": 2,
            },
            "entity": {"metadata": {"name": "default", "namespace": "dba"}},
            "ruleUrl": LIST_URL,
        },
    }


def test_preview_of_a_resolved_group(tmp_path):
    requests = preview(tmp_path, event(resolved=True))
    assert requests["pd"]["body"]["event_action"] == "resolve"
    assert requests["pd"]["body"]["dedup_key"] == GROUP_HASH
    assert requests["og"]["url"] == f"https://api.opsgenie.com/v2/alerts/{GROUP_HASH}/close?identifierType=alias"
    assert requests["og"]["body"] == {"source": "Grafana"}
    assert requests["vo"]["body"]["message_type"] == "RECOVERY"
    assert requests["vo"]["body"]["entity_id"] == GROUP_HASH
    po = requests["po"]["body"]
    assert (po["priority"], po["sound"], "retry" in po) == ("-1", "magic", False)
    assert requests["se"]["body"]["check"]["status"] == 0


def test_preview_masks_every_secret_unless_asked(tmp_path):
    path = tmp_path / "incident-a.yaml"
    path.write_text(CONFIG)
    env = {**os.environ, **SECRETS}
    masked = cli(env, "preview", "--config", str(path), "--event", "-", input_text=json.dumps(event())).stdout
    shown = cli(env, "preview", "--config", str(path), "--event", "-", "--show-secrets", input_text=json.dumps(event())).stdout
    for secret in SECRETS.values():
        assert secret not in masked
        assert secret in shown
    requests = {json.loads(line)["uid"]: json.loads(line)["request"] for line in shown.splitlines()}
    assert requests["og"]["headers"]["Authorization"] == f"GenieKey {SECRETS['OG_KEY']}"
    assert requests["se"]["headers"]["Authorization"] == f"Key {SECRETS['SENSU_KEY']}"
    assert requests["vo"]["url"] == VO_URL


def test_check_config_names_a_bad_detail_template(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(CONFIG.replace(
        "          severity: '{{ .CommonLabels.severity }}'",
        "          severity: '{{ .CommonLabels.severity }}'\n          details:\n            broken: '{{ nope( }}'",
    ))
    result = cli({**os.environ, **SECRETS}, "check-config", str(path), check=False)
    assert result.returncode == 1
    assert 'integration "pd" (pagerduty): settings.details.broken: template syntax error' in result.stdout + result.stderr


PIPELINE_CONFIG = """
apiVersion: 1
contactPoints:
  - name: incident-a
    receivers:
      - uid: pd
        type: pagerduty
        settings:
          integrationKey: $PD_KEY
      - uid: og
        type: opsgenie
        settings:
          apiKey: $OG_KEY
"""


@pytest.mark.integration
def test_trigger_then_resolve_reach_pagerduty_and_opsgenie(pipeline_factory, make_receiver):
    server = make_receiver()
    accepted = lambda request: Response('{"status":"success"}', status=202, content_type="application/json")  # noqa: E731
    server.expect_request("/v2/enqueue", method="POST").respond_with_handler(accepted)
    server.expect_request("/v2/alerts", method="POST").respond_with_handler(accepted)
    server.expect_request(f"/v2/alerts/{GROUP_HASH}/close", method="POST",
                          query_string="identifierType=alias").respond_with_handler(accepted)
    base = server.url_for("/").rstrip("/")
    env = {"ALERTRELAY_API_URL_PAGERDUTY": base, "ALERTRELAY_API_URL_OPSGENIE": base,
           "PD_KEY": SECRETS["PD_KEY"], "OG_KEY": SECRETS["OG_KEY"]}
    with pipeline_factory(PIPELINE_CONFIG, env=env, types=("pagerduty", "opsgenie")) as pipeline:
        pipeline.publish(event(event_id="evt-fire"))
        wait_for(lambda: len(server.log) >= 2, what="the trigger and the create")
        pipeline.publish(event(resolved=True, event_id="evt-resolve"))
        wait_for(lambda: len(server.log) >= 4, what="the resolve and the close")
        time.sleep(0.5)  # nothing more may arrive
        assert pipeline.dead_letters() == []
    assert len(server.log) == 4
    assert all(response.status_code == 202 for _, response in server.log)
    by_path: dict[str, list] = {}
    for request, _ in server.log:
        by_path.setdefault(request.path, []).append(request)

    trigger, resolve = by_path["/v2/enqueue"]
    for request, action in ((trigger, "trigger"), (resolve, "resolve")):
        assert request.headers["Content-Type"] == "application/json"
        assert "Authorization" not in request.headers
        assert request.get_data().endswith(b"}\n")
        body = request.get_json()
        assert (body["event_action"], body["dedup_key"], body["routing_key"]) == (action, GROUP_HASH, SECRETS["PD_KEY"])
    assert resolve.get_json()["payload"]["custom_details"]["num_resolved"] == "1"

    [create] = by_path["/v2/alerts"]
    [close] = by_path[f"/v2/alerts/{GROUP_HASH}/close"]
    for request in (create, close):
        assert request.method == "POST"
        assert request.headers["Authorization"] == f"GenieKey {SECRETS['OG_KEY']}"
    assert create.get_json()["alias"] == GROUP_HASH
    assert create.get_json()["priority"] == "P2"
    assert close.args.to_dict() == {"identifierType": "alias"}
    assert close.get_json() == {"source": "Grafana"}
    assert trigger.get_json()["dedup_key"] == create.get_json()["alias"]
