"""Google Chat, Webex, DingDing, WeCom and LINE through ``alertrelay preview``, and WeCom's
app mode (token fetch, cache, refresh) against a local HTTP server.

The preview tests run the real command line in a subprocess; they need no RabbitMQ. The
WeCom test drives the worker's delivery path in-process (``workers.delivery.core.deliver``:
settings looked up, request built, ``wecom.send`` with the retry policy), which is what a
worker actor runs for a job, without a broker in between.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from werkzeug import Request, Response

from contracts.event import parse_event
from contracts.provisioning import load_config
from router.routing import route
from tests.harness import cli
from workers.delivery.core import deliver
from workers.delivery.errors import DeliveryError
from workers.delivery.retry import RetryPolicy
from workers.delivery.templates import Templates
from workers.integrations import wecom
from workers.runtime import Runtime

NOW = "2024-05-01T10:05:00Z"
STARTS = "2024-05-01T10:00:00Z"

CONFIG = """
apiVersion: 1
contactPoints:
  - orgId: 1
    name: chat-b
    receivers:
      - uid: gchat
        type: googlechat
        settings:
          url: https://chat.googleapis.com/v1/spaces/AAAA/messages?key=gc-k3y-value&token=gc-t0ken-value
      - uid: webex
        type: webex
        settings:
          room_id: room-42
          bot_token: $WEBEX_TOKEN
          message: '{{ template "default.title" . }}'
      - uid: ding
        type: dingding
        settings:
          url: https://oapi.dingtalk.com/robot/send?access_token=dd-t0ken-value
          msgType: actionCard
          title: 'Alert: {{ CommonLabels.alertname }}'
          message: '{{ CommonAnnotations.summary }}'
      - uid: wecom-robot
        type: wecom
        settings:
          url: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=r0bot-key-value
          msgtype: text
          message: '{{ CommonAnnotations.summary }}'
      - uid: wecom-app
        type: wecom
        settings:
          secret: app-s3cret-value
          corp_id: corp-1
          agent_id: 1000002
          touser: ops-oncall
      - uid: line
        type: LINE
        settings:
          token: line-t0ken-value
          description: '{{ CommonAnnotations.summary }}'
"""

SECRETS = ["gc-k3y-value", "gc-t0ken-value", "webex-t0ken-value", "dd-t0ken-value", "r0bot-key-value",
           "app-s3cret-value", "line-t0ken-value"]

EVENT = {
    "receiver": "chat-b",
    "externalURL": "https://grafana.example.com/",
    "alerts": [
        {
            "labels": {"alertname": "HighCPU", "instance": "web-1", "severity": "critical"},
            "annotations": {"summary": "CPU at 97.5% & rising", "__values__": '{"B":97.5}'},
            "startsAt": STARTS,
            "generatorURL": "https://grafana.example.com/alerting/grafana/cpu/view",
            "imageURL": "https://img.example/cpu.png",
        }
    ],
}

TITLE = "[FIRING:1] HighCPU (web-1 critical)"
MESSAGE = (
    "**Firing**\n\nValue: B=97.5\nLabels:\n - alertname = HighCPU\n - instance = web-1\n - severity = critical\n"
    "Annotations:\n - summary = CPU at 97.5% & rising\nSource: https://grafana.example.com/alerting/grafana/cpu/view\n"
    "Silence: https://grafana.example.com/alerting/silence/new?alertmanager=grafana&matcher=alertname%3DHighCPU"
    "&matcher=instance%3Dweb-1&matcher=severity%3Dcritical\n"
)
JSON = {"Content-Type": "application/json", "User-Agent": "Grafana"}
LINK = "dingtalk://dingtalkclient/page/link?pc_slide=false&url=https%3A%2F%2Fgrafana.example.com%2Falerting%2Flist"


def expected_requests(secrets_shown: bool, overridden: bool) -> dict[str, dict[str, Any]]:
    """uid → the whole ``request`` object ``alertrelay preview`` must print."""
    def masked(value: str) -> str:
        return value if secrets_shown else "[REDACTED]"

    webex_base = "http://127.0.0.1:9001/webex" if overridden else "https://webexapis.com"
    wecom_base = "http://127.0.0.1:9002" if overridden else "https://qyapi.weixin.qq.com"
    line_base = "http://127.0.0.1:9003" if overridden else "https://notify-api.line.me"
    return {
        "gchat": {
            "method": "POST",
            "url": masked("https://chat.googleapis.com/v1/spaces/AAAA/messages?key=gc-k3y-value&token=gc-t0ken-value"),
            "headers": {"Content-Type": "application/json; charset=UTF-8", "User-Agent": "Grafana"},
            "body": {
                "previewText": TITLE,
                "fallbackText": TITLE,
                "cards": [
                    {"header": {"title": TITLE}, "sections": [{"widgets": [
                        {"textParagraph": {"text": MESSAGE}},
                        {"buttons": [{"textButton": {"text": "OPEN IN GRAFANA",
                                                     "onClick": {"openLink": {"url": "https://grafana.example.com/alerting/list"}}}}]},
                        {"textParagraph": {"text": "Grafana | 01 May 24 10:05 UTC"}},
                    ]}]},
                    {"header": {"title": "Screenshots"}, "sections": [{"widgets": [
                        {"textParagraph": {"text": "firing: HighCPU"}},
                        {"image": {"imageUrl": "https://img.example/cpu.png"}},
                    ]}]},
                ],
            },
        },
        "webex": {
            "method": "POST",
            "url": f"{webex_base}/v1/messages",
            "headers": {**JSON, "Authorization": masked("Bearer webex-t0ken-value")},
            "body": {"roomId": "room-42", "markdown": TITLE, "files": ["https://img.example/cpu.png"]},
        },
        "ding": {
            "method": "POST",
            "url": masked("https://oapi.dingtalk.com/robot/send?access_token=dd-t0ken-value"),
            "headers": JSON,
            "body": {"actionCard": {"singleTitle": "More", "singleURL": LINK, "text": "CPU at 97.5% & rising",
                                    "title": "Alert: HighCPU"}, "msgtype": "actionCard"},
        },
        "wecom-robot": {
            "method": "POST",
            "url": masked("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=r0bot-key-value"),
            "headers": JSON,
            "body": {"msgtype": "text", "text": {"content": f"{TITLE}\nCPU at 97.5% & rising\n"}},
        },
        "wecom-app": {
            "method": "POST",
            "url": f"{wecom_base}/cgi-bin/message/send?access_token=ACCESS_TOKEN",
            "headers": JSON,
            "body": {"agentid": "1000002", "markdown": {"content": f"# {TITLE}\n{MESSAGE}\n"}, "msgtype": "markdown",
                     "touser": "ops-oncall"},
        },
        "line": {
            "method": "POST",
            "url": f"{line_base}/api/notify",
            "headers": {"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8", "User-Agent": "Grafana",
                        "Authorization": masked("Bearer line-t0ken-value")},
            "body": {"message": f"{TITLE}\nCPU at 97.5% & rising"},
        },
    }


def run_preview(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    config, event = tmp_path / "provisioning.yaml", tmp_path / "event.json"
    config.write_text(CONFIG)
    event.write_text(json.dumps(EVENT))
    environment = {**os.environ, "WEBEX_TOKEN": "webex-t0ken-value", **(env or {})}
    for name in ("ALERTRELAY_API_URL_WEBEX", "ALERTRELAY_API_URL_WECOM", "ALERTRELAY_API_URL_LINE"):
        if not env or name not in env:
            environment.pop(name, None)
    result = cli(environment, "preview", "--event", str(event), "--config", str(config), "--now", NOW, *extra)
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_preview_prints_every_chat_b_request_with_secrets_masked(tmp_path: Path) -> None:
    lines = run_preview(tmp_path)
    assert [(x["contact_point"], x["uid"], x["type"]) for x in lines] == [
        ("chat-b", "gchat", "googlechat"), ("chat-b", "webex", "webex"), ("chat-b", "ding", "dingding"),
        ("chat-b", "wecom-robot", "wecom"), ("chat-b", "wecom-app", "wecom"), ("chat-b", "line", "line"),
    ]
    expected = expected_requests(secrets_shown=False, overridden=False)
    for line in lines:
        assert line["request"] == expected[line["uid"]], line["uid"]
    printed = json.dumps(lines)
    for secret in SECRETS:
        assert secret not in printed


def test_preview_with_secrets_and_endpoint_overrides(tmp_path: Path) -> None:
    env = {
        "ALERTRELAY_API_URL_WEBEX": "http://127.0.0.1:9001/webex",
        "ALERTRELAY_API_URL_WECOM": "http://127.0.0.1:9002",
        "ALERTRELAY_API_URL_LINE": "http://127.0.0.1:9003",
    }
    lines = run_preview(tmp_path, "--show-secrets", env=env)
    expected = expected_requests(secrets_shown=True, overridden=True)
    assert {line["uid"]: line["request"] for line in lines} == expected
    assert "app-s3cret-value" not in json.dumps(lines)  # the app secret only ever goes to the token request


# --- WeCom app mode against a local server ------------------------------------------------

APP_CONFIG = """
apiVersion: 1
contactPoints:
  - name: wecom-app
    receivers:
      - uid: app
        type: wecom
        settings:
          secret: app-s3cret-value
          corp_id: corp-1
          agent_id: 1000002
          touser: zhangsan|lisi
          message: '{{ CommonAnnotations.summary }}'
"""


class FakeWeCom:
    """WeCom's gettoken and message/send, with tokens t1, t2, ... and scripted send answers."""

    def __init__(self) -> None:
        self.tokens_issued = 0
        self.sends: list[tuple[str, Any]] = []
        self.send_answers: list[dict[str, Any]] = []

    def gettoken(self, request: Request) -> Response:
        assert request.method == "POST"
        assert request.args.get("corpid") == "corp-1" and request.args.get("corpsecret") == "app-s3cret-value"
        self.tokens_issued += 1
        return json_response({"errcode": 0, "errmsg": "ok", "access_token": f"t{self.tokens_issued}", "expires_in": 7200})

    def send(self, request: Request) -> Response:
        self.sends.append((request.args.get("access_token", ""), request.get_data()))
        answer = self.send_answers.pop(0) if self.send_answers else {"errcode": 0, "errmsg": "ok"}
        return json_response(answer)


def json_response(value: Any) -> Response:
    return Response(json.dumps(value), status=200, content_type="application/json")


@pytest.fixture
def fake_wecom(make_receiver: Any, monkeypatch: pytest.MonkeyPatch) -> FakeWeCom:
    server, fake = make_receiver(), FakeWeCom()
    server.expect_request("/cgi-bin/gettoken").respond_with_handler(fake.gettoken)
    server.expect_request("/cgi-bin/message/send", method="POST").respond_with_handler(fake.send)
    monkeypatch.setenv("ALERTRELAY_API_URL_WECOM", server.url_for("/"))
    wecom.TOKENS.clear()
    return fake


def app_job(tmp_path: Path, summary: str) -> tuple[Any, Runtime]:
    path = tmp_path / "wecom.yaml"
    path.write_text(APP_CONFIG)
    config = load_config(path, env={})
    event = {"receiver": "wecom-app", "alerts": [{"labels": {"alertname": "Disk"}, "annotations": {"summary": summary},
                                                  "startsAt": STARTS}]}
    [job] = route(parse_event(json.dumps(event).encode()), config).jobs
    return job, Runtime(config, Templates(config.templates), RetryPolicy(in_process_attempts=1))


def expected_body(summary: str) -> bytes:
    content = json.dumps(f"# [FIRING:1] Disk \n{summary}\n")
    return ('{"agentid":"1000002","markdown":{"content":%s},"msgtype":"markdown","touser":"zhangsan|lisi"}' % content).encode()


def test_wecom_app_token_is_cached_and_refreshed_after_42001(tmp_path: Path, fake_wecom: FakeWeCom) -> None:
    first, runtime = app_job(tmp_path, "disk 91%")
    second, _ = app_job(tmp_path, "disk 95%")

    deliver(first, runtime)
    deliver(second, runtime)
    assert fake_wecom.tokens_issued == 1, "two sends, one token fetch"
    assert fake_wecom.sends == [("t1", expected_body("disk 91%")), ("t1", expected_body("disk 95%"))]

    fake_wecom.send_answers = [{"errcode": 42001, "errmsg": "access_token expired"}]
    third, _ = app_job(tmp_path, "disk 99%")
    deliver(third, runtime)
    assert fake_wecom.tokens_issued == 2, "a 42001 answer fetches a new token"
    assert fake_wecom.sends[2:] == [("t1", expected_body("disk 99%")), ("t2", expected_body("disk 99%"))]

    deliver(first, runtime)
    assert fake_wecom.tokens_issued == 2 and fake_wecom.sends[-1][0] == "t2", "the new token is cached in turn"


def test_wecom_app_gives_up_after_one_refresh(tmp_path: Path, fake_wecom: FakeWeCom) -> None:
    job, runtime = app_job(tmp_path, "disk 91%")
    fake_wecom.send_answers = [{"errcode": 40014, "errmsg": "invalid access_token"}] * 2
    with pytest.raises(DeliveryError) as info:
        deliver(job, runtime)
    assert info.value.transient and "errcode 40014" in info.value.message
    assert [token for token, _ in fake_wecom.sends] == ["t1", "t2"] and fake_wecom.tokens_issued == 2
    deliver(job, runtime)  # the rejected token was dropped: the next job fetches a fresh one
    assert fake_wecom.tokens_issued == 3 and fake_wecom.sends[-1][0] == "t3"
