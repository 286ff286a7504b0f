"""Threema, OnCall, Alertmanager and Kafka: previews through the CLI, a real Alertmanager, Kafka v3 errors.

The Alertmanager test runs Debian's ``prometheus-alertmanager`` (installed by
``.ci/setup.d/alertmanager.sh``) on a free loopback port with basic auth, sends through the
whole pipeline (router + worker on RabbitMQ) and reads the alerts back from its API.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from contracts.event import normalise, parse_event
from contracts.integrations.kafka import KafkaSettings
from contracts.provisioning import Integration
from tests.alertmanager_server import RunningAlertmanager, binary, free_port, run_alertmanager
from tests.harness import cli, wait_for
from workers.delivery.core import Prepared, send_prepared
from workers.delivery.errors import DeliveryError
from workers.delivery.rendering import Rendering
from workers.delivery.templates import Templates
from workers.integrations import kafka

pytestmark = pytest.mark.integration

SECRETS = {"THREEMA_SECRET": "thr-s3cret-1", "ONCALL_PASSWORD": "onc-pa55-w0rd", "AM_PASSWORD": "am-pa55-w0rd",
           "KAFKA_PASSWORD": "kfk-pa55-w0rd"}

CONFIG = """
apiVersion: 1
contactPoints:
  - orgId: 1
    name: incident-b
    receivers:
      - uid: threema-1
        type: threema
        settings:
          gateway_id: "*ALRTRLY"
          recipient_id: ECHOECHO
          api_secret: $THREEMA_SECRET
      - uid: oncall-1
        type: oncall
        settings:
          url: https://oncall.example.com/integrations/v1/grafana_alerting/abc/
          username: relay
          password: $ONCALL_PASSWORD
          maxAlerts: 1
      - uid: am-1
        type: prometheus-alertmanager
        settings:
          url: http://am1.example:9093, http://am2.example:9093/
          basicAuthUser: relay
          basicAuthPassword: $AM_PASSWORD
      - uid: kafka-1
        type: kafka
        settings:
          kafkaRestProxy: https://kafka.example.com:8082/kafka/
          kafkaTopic: alerts-{{ CommonLabels.grafana_folder | lower }}
          apiVersion: v3
          kafkaClusterId: lkc-abcd
          username: relay
          password: $KAFKA_PASSWORD
"""

GENERATOR = "https://grafana.example.com/alerting/grafana/rule-1/view"
EVENT = {
    "id": "evt-incident-b",
    "receiver": "incident-b",
    "externalURL": "https://grafana.example.com/",
    "alerts": [
        {"labels": {"alertname": "HighCPU", "grafana_folder": "Infra", "instance": "web-1", "__alert_rule_uid__": "rule-1"},
         "annotations": {"summary": "CPU at 97.5%", "__values__": '{"B":97.5}', "__orgId__": "1"},
         "startsAt": "2024-05-01T10:00:00Z", "generatorURL": GENERATOR},
        {"labels": {"alertname": "HighCPU", "grafana_folder": "Infra", "instance": "web-2", "__alert_rule_uid__": "rule-1"},
         "annotations": {"summary": "CPU at 91%", "__orgId__": "1"},
         "startsAt": "2024-05-01T09:00:00Z", "endsAt": "2024-05-01T10:10:00Z", "generatorURL": GENERATOR},
    ],
}


def alert_block(instance: str, value: str, summary: str) -> str:
    return (
        f"\nValue: {value}\nLabels:\n - alertname = HighCPU\n - grafana_folder = Infra\n - instance = {instance}\n"
        f"Annotations:\n - summary = {summary}\nSource: {GENERATOR}?orgId=1\n"
        "Silence: https://grafana.example.com/alerting/silence/new?alertmanager=grafana"
        f"&matcher=__alert_rule_uid__%3Drule-1&matcher=instance%3D{instance}&orgId=1\n"
    )


FIRING_ONLY = "**Firing**\n" + alert_block("web-1", "B=97.5", "CPU at 97.5%")
MESSAGE = FIRING_ONLY + "\n\n**Resolved**\n" + alert_block("web-2", "[no value]", "CPU at 91%")
TITLE = "[FIRING:1, RESOLVED:1] HighCPU Infra "
GROUP_KEY = '{}:{alertname="HighCPU", grafana_folder="Infra"}'

EXPECTED_THREEMA = {
    "method": "POST",
    "url": "https://msgapi.threema.ch/send_simple",
    "headers": {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "Grafana"},
    "body": {"from": "*ALRTRLY", "secret": "[REDACTED]", "to": "ECHOECHO",
             "text": f"\u26a0\ufe0f {TITLE}\n\n*Message:*\n{MESSAGE}\n*URL:* https:/grafana.example.com/alerting/list\n"},
}
EXPECTED_ONCALL = {
    "method": "POST",
    "url": "https://oncall.example.com/integrations/v1/grafana_alerting/abc/",
    "headers": {"Content-Type": "application/json", "User-Agent": "Grafana", "Authorization": "[REDACTED]"},
    "body": {
        "receiver": "incident-b",
        "status": "firing",
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "HighCPU", "grafana_folder": "Infra", "instance": "web-1"},
            "annotations": {"summary": "CPU at 97.5%"},
            "startsAt": "2024-05-01T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": f"{GENERATOR}?orgId=1",
            "fingerprint": "9621d31eba8df2a8",
            "silenceURL": "https://grafana.example.com/alerting/silence/new?alertmanager=grafana"
                          "&matcher=__alert_rule_uid__%3Drule-1&matcher=instance%3Dweb-1&orgId=1",
            "dashboardURL": "",
            "panelURL": "",
            "ruleUID": "rule-1",
            "values": {"B": 97.5},
            "valueString": "",
            "orgId": 1,
        }],
        "groupLabels": {"alertname": "HighCPU", "grafana_folder": "Infra"},
        "commonLabels": {"alertname": "HighCPU", "grafana_folder": "Infra", "instance": "web-1"},
        "commonAnnotations": {"summary": "CPU at 97.5%"},
        "externalURL": "https://grafana.example.com/",
        "version": "1",
        "groupKey": GROUP_KEY,
        "orgId": 1,
        "title": "[FIRING:1] HighCPU Infra (web-1)",
        "state": "alerting",
        "message": FIRING_ONLY,
        "truncatedAlerts": 1,
    },
}
AM_BODY = [
    {"labels": {"__alert_rule_uid__": "rule-1", "alertname": "HighCPU", "grafana_folder": "Infra", "instance": "web-1"},
     "annotations": {"__orgId__": "1", "__values__": '{"B":97.5}', "summary": "CPU at 97.5%"},
     "startsAt": "2024-05-01T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": GENERATOR},
    {"labels": {"__alert_rule_uid__": "rule-1", "alertname": "HighCPU", "grafana_folder": "Infra", "instance": "web-2"},
     "annotations": {"__orgId__": "1", "summary": "CPU at 91%"},
     "startsAt": "2024-05-01T09:00:00Z", "endsAt": "2024-05-01T10:10:00Z", "generatorURL": GENERATOR},
]
EXPECTED_AM = {
    "requests": [
        {"method": "POST", "url": f"http://{host}:9093/api/v2/alerts",
         "headers": {"Content-Type": "application/json", "User-Agent": "Grafana", "Authorization": "[REDACTED]"},
         "body": AM_BODY}
        for host in ("am1.example", "am2.example")
    ]
}
EXPECTED_KAFKA = {
    "method": "POST",
    "url": "https://kafka.example.com:8082/kafka/v3/clusters/lkc-abcd/topics/alerts-infra/records",
    "headers": {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "Grafana",
                "Authorization": "[REDACTED]"},
    "body": {"value": {"type": "JSON", "data": {
        "description": TITLE,
        "client": "Grafana",
        "details": MESSAGE,
        "alert_state": "alerting",
        "client_url": "https://grafana.example.com/alerting/list",
        "incident_key": "c3cfd040797e93396a62bab6f9a1908d476051ee6678760d960fd5bccfc22e49",
    }}},
}


def _env(tmp_path: Path, config: str, **extra: str) -> dict[str, str]:
    path = tmp_path / "provisioning.yaml"
    path.write_text(config)
    return {**os.environ, **SECRETS, **extra, "ALERTRELAY_CONFIG": str(path)}


def _preview(env: dict[str, str], *flags: str) -> dict[str, dict]:
    out = cli(env, "preview", "--event", "-", "--now", "2024-05-01T10:30:00Z", *flags, input_text=json.dumps(EVENT)).stdout
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert [(l["contact_point"], l["type"]) for l in lines] == [
        ("incident-b", "threema"), ("incident-b", "oncall"), ("incident-b", "prometheus-alertmanager"), ("incident-b", "kafka")]
    return {line["uid"]: line["request"] for line in lines}


def test_preview_shows_every_request_whole_and_masks_secrets(tmp_path):
    env = _env(tmp_path, CONFIG)
    requests = _preview(env)
    assert requests["threema-1"] == EXPECTED_THREEMA
    assert requests["oncall-1"] == EXPECTED_ONCALL
    assert list(requests["oncall-1"]["body"]) == list(EXPECTED_ONCALL["body"])
    assert requests["am-1"] == EXPECTED_AM
    assert requests["kafka-1"] == EXPECTED_KAFKA
    printed = json.dumps(requests)
    for name, secret in SECRETS.items():
        assert secret not in printed, name
        assert base64.b64encode(f"relay:{secret}".encode()).decode() not in printed, name


def test_preview_with_show_secrets_and_threema_endpoint_override(tmp_path):
    env = _env(tmp_path, CONFIG, ALERTRELAY_API_URL_THREEMA="http://127.0.0.1:8999/gw")
    requests = _preview(env, "--show-secrets")
    assert requests["threema-1"]["url"] == "http://127.0.0.1:8999/gw/send_simple"
    assert requests["threema-1"]["body"]["secret"] == SECRETS["THREEMA_SECRET"]

    def basic(name: str) -> str:
        return "Basic " + base64.b64encode(f"relay:{SECRETS[name]}".encode()).decode()

    assert requests["oncall-1"]["headers"]["Authorization"] == basic("ONCALL_PASSWORD")
    assert [r["headers"]["Authorization"] for r in requests["am-1"]["requests"]] == [basic("AM_PASSWORD")] * 2
    assert requests["kafka-1"]["headers"]["Authorization"] == basic("KAFKA_PASSWORD")


def test_check_config_names_the_field_of_a_bad_setting(tmp_path):
    bad = CONFIG.replace('gateway_id: "*ALRTRLY"', "gateway_id: ALRTRLY").replace("apiVersion: v3", "apiVersion: v9")
    result = cli(_env(tmp_path, bad), "check-config", check=False)
    assert result.returncode == 1
    errors = result.stdout + result.stderr
    assert 'integration "threema-1" (threema): settings.gateway_id: invalid Threema Gateway ID: must start with a *' in errors
    assert 'integration "kafka-1" (kafka): settings.apiVersion: unsupported api version: v9' in errors


# --- Kafka v3: a 200 answer whose body reports an error -----------------------------------


def _kafka_rendering() -> Rendering:
    now = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)
    return Rendering(normalise(parse_event(json.dumps(EVENT).encode()), now), Templates(), now, 1)


@pytest.mark.parametrize(
    "answer, outcome",
    [
        ({"error_code": 400, "message": "record rejected for relay / kfk-pa55-w0rd"}, "permanent"),
        ({"error_code": 503, "message": "leader not available"}, "transient"),
        ({"cluster_id": "lkc-abcd", "topic_name": "alerts-infra"}, "permanent"),
        ({"error_code": 200, "cluster_id": "lkc-abcd", "topic_name": "alerts-infra", "offset": 7}, None),
    ],
    ids=["error_code-400", "error_code-503", "error_code-missing", "error_code-200"],
)
def test_kafka_v3_checks_error_code_of_a_200_answer(make_receiver, answer, outcome):
    server = make_receiver()
    path = "/kafka/v3/clusters/lkc-abcd/topics/alerts-infra/records"
    server.expect_request(path, method="POST").respond_with_json(answer, status=200)
    settings = KafkaSettings.model_validate({
        "kafkaRestProxy": server.url_for("/kafka/"), "kafkaTopic": "alerts-{{ CommonLabels.grafana_folder | lower }}",
        "apiVersion": "v3", "kafkaClusterId": "lkc-abcd", "username": "relay", "password": SECRETS["KAFKA_PASSWORD"],
    })
    request = kafka.build(_kafka_rendering(), settings)
    secrets = sorted(set(settings.secret_values() + request.sensitive_values()), key=len, reverse=True)
    prepared = Prepared(Integration(uid="kafka-1", type="kafka", settings=settings, contact_point="incident-b"), request, secrets)
    if outcome is None:
        send_prepared(prepared)
    else:
        with pytest.raises(DeliveryError) as info:
            send_prepared(prepared)
        error = info.value
        assert error.kind == outcome and error.status_code == 200
        assert error.message.startswith("failed to publish message to Kafka")
        assert SECRETS["KAFKA_PASSWORD"] not in error.message + (error.body_excerpt or "")
    [(received, _)] = server.log
    assert received.headers["Content-Type"] == "application/json" and received.headers["Accept"] == "application/json"
    assert received.authorization.username == "relay"
    assert received.get_json() == {"value": {"type": "JSON", "data": EXPECTED_KAFKA["body"]["value"]["data"]}}


# --- A real Alertmanager ----------------------------------------------------------------------

AM_USER = "relay"
#: bcrypt of SECRETS["AM_PASSWORD"] (cost 4, test only), for Alertmanager's web config.
AM_PASSWORD_BCRYPT = "$2b$04$4AMPtmdiqnL3W8oHfI2X8uZGjLQ3eix.1tY1UKfuawVDf/ksJPFE2"


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[RunningAlertmanager]:
    """Alertmanager on a free loopback port: no clustering, its own storage, basic auth required."""
    if binary() is None:
        pytest.fail("prometheus-alertmanager is not installed: run .ci/setup.d/alertmanager.sh")
    with run_alertmanager(
        tmp_path / "alertmanager",
        "route:\n  receiver: nowhere\nreceivers:\n  - name: nowhere\n",
        web_config_yaml=f"basic_auth_users:\n  {AM_USER}: {AM_PASSWORD_BCRYPT}\n",
        auth=(AM_USER, SECRETS["AM_PASSWORD"]),
    ) as running:
        yield running


def test_real_alertmanager_receives_alerts_through_the_pipeline(pipeline_factory, alertmanager, tmp_path):
    # The first URL has nobody listening: Grafana's rule is that one accepting Alertmanager is enough.
    config = f"""
apiVersion: 1
contactPoints:
  - orgId: 1
    name: am-team
    receivers:
      - uid: am-real
        type: prometheus-alertmanager
        settings:
          url: http://127.0.0.1:{free_port()}, {alertmanager.url}/
          basicAuthUser: {AM_USER}
          basicAuthPassword: $AM_PASSWORD
"""
    started = (datetime.now(timezone.utc) - timedelta(minutes=5)).replace(microsecond=0)
    labels = {"alertname": "AlertrelayE2E", "instance": "web-1", "severity": "critical", "__alert_rule_uid__": "rule-e2e"}
    annotations = {"summary": "disk almost full", "__values__": '{"A":93}'}
    event = {"id": "evt-am-firing", "receiver": "am-team", "externalURL": "https://grafana.example.com/",
             "alerts": [{"labels": labels, "annotations": annotations, "startsAt": started.isoformat(),
                         "generatorURL": "https://grafana.example.com/alerting/grafana/rule-e2e/view",
                         "imageURL": "https://img.example/e2e.png"}]}
    with pipeline_factory(config, env={"AM_PASSWORD": SECRETS["AM_PASSWORD"]}, types=("prometheus-alertmanager",)) as pipeline:
        preview = json.loads(pipeline.cli("preview", "--event", "-", input_text=json.dumps(event)).stdout)
        assert [r["url"] for r in preview["request"]["requests"]][1] == f"{alertmanager.url}/api/v2/alerts"
        assert {r["headers"]["Authorization"] for r in preview["request"]["requests"]} == {"[REDACTED]"}

        pipeline.publish(event)
        [alert] = wait_for(lambda: alertmanager.alerts(filter='alertname="AlertrelayE2E"'), what="the alert in Alertmanager")
        assert alert["labels"] == labels
        assert alert["annotations"] == {**annotations, "image": "https://img.example/e2e.png"}
        assert alert["generatorURL"] == "https://grafana.example.com/alerting/grafana/rule-e2e/view"
        assert datetime.fromisoformat(alert["startsAt"].replace("Z", "+00:00")) == started
        assert alert["status"]["state"] == "active"
        assert datetime.fromisoformat(alert["endsAt"].replace("Z", "+00:00")) > datetime.now(timezone.utc)

        # The resolution travels as an endsAt in the past: Alertmanager stops listing the alert.
        ended = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=1)
        resolved = json.loads(json.dumps(event))
        resolved["id"] = "evt-am-resolved"
        resolved["alerts"][0]["endsAt"] = ended.isoformat()
        pipeline.publish(resolved)
        wait_for(lambda: not alertmanager.alerts(filter='alertname="AlertrelayE2E"'), what="the resolution in Alertmanager")
        assert pipeline.dead_letters() == []
    logs = pipeline.logs()
    token = base64.b64encode(f"{AM_USER}:{SECRETS['AM_PASSWORD']}".encode()).decode()
    assert SECRETS["AM_PASSWORD"] not in logs and token not in logs
