"""Slack, Telegram, Discord and Teams end to end: ``alertrelay preview`` for all four, and the
real pipeline (router + worker on RabbitMQ) against a local server for Slack and Telegram."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from werkzeug import Request, Response

from tests.harness import cli, wait_for
from workers.delivery.request import parse_multipart

NOW = "2024-05-01T10:30:00Z"
NOW_TS = 1714559400
SOURCE = "https://grafana.example.com/alerting/grafana/cpu/view?orgId=1"
SLACK_HOOK = "https://hooks.slack.com/services/T0/B0/hooksecret123"
SLACK_TOKEN = "xoxb-test-token-987"
BOT_TOKEN = "4242:bot-secret-abc"
DISCORD_HOOK = "https://discord.com/api/webhooks/77/discord-secret-xyz"
TEAMS_URL = "https://prod.westeurope.logic.azure.com/workflows/w1/triggers/manual/paths/invoke"
TITLE = "[FIRING:1] HighCPU Infra (web-1 critical)"
SILENCE = (
    "https://grafana.example.com/alerting/silence/new?alertmanager=grafana&matcher=alertname%3DHighCPU"
    "&matcher=grafana_folder%3DInfra&matcher=instance%3Dweb-1&matcher=severity%3Dcritical&orgId=1"
)
MESSAGE = (
    "**Firing**\n\nValue: B=97.5, C=1\nLabels:\n - alertname = HighCPU\n - grafana_folder = Infra\n"
    " - instance = web-1\n - severity = critical\nAnnotations:\n - summary = CPU at 97.5%\n"
    f"Source: {SOURCE}\nSilence: {SILENCE}\n"
)
TEAMS_MESSAGE = (
    "**Firing**\n\nValue: B=97.5, C=1\nLabels:\n - alertname = HighCPU\n - grafana_folder = Infra\n"
    " - instance = web-1\n - severity = critical\n\nAnnotations:\n - summary = CPU at 97.5%\n\n"
    f"Source: [{SOURCE}]({SOURCE})\n\nSilence: [{SILENCE}]({SILENCE})\n\n\n"
)
FOOTER_ICON = "https://grafana.com/static/assets/img/fav32.png"


def event(event_id: str = "evt-chat", receiver: str = "chat") -> dict[str, object]:
    return {
        "id": event_id,
        "receiver": receiver,
        "externalURL": "https://grafana.example.com/",
        "alerts": [{
            "labels": {"alertname": "HighCPU", "grafana_folder": "Infra", "instance": "web-1", "severity": "critical"},
            "annotations": {"summary": "CPU at 97.5%", "__values__": '{"B":97.5,"C":1}', "__orgId__": "1"},
            "startsAt": "2024-05-01T10:00:00Z",
            "generatorURL": "https://grafana.example.com/alerting/grafana/cpu/view",
        }],
    }


def slack_attachment(ts: int = NOW_TS) -> dict[str, object]:
    return {
        "title": TITLE, "title_link": SOURCE, "text": MESSAGE, "fallback": TITLE, "footer": "Grafana",
        "footer_icon": FOOTER_ICON, "color": "#D63232", "ts": ts,
    }


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTRELAY_")}
    return {**env, **extra}


PREVIEW_CONFIG = f"""
apiVersion: 1
contactPoints:
  - orgId: 1
    name: chat
    receivers:
      - uid: slack-hook
        type: slack
        settings:
          url: {SLACK_HOOK}
          mentionChannel: here
          mentionUsers: U1,U2
      - uid: slack-bot
        type: slack
        settings:
          recipient: "#ops"
          username: alertbot
        secureSettings:
          token: {SLACK_TOKEN}
      - uid: tg
        type: telegram
        settings:
          bottoken: "{BOT_TOKEN}"
          chatid: -100123
          parse_mode: None
      - uid: dc
        type: discord
        settings:
          url: {DISCORD_HOOK}
          avatar_url: https://img.example/bot.png
      - uid: ms
        type: Teams
        settings:
          url: {TEAMS_URL}
"""


def preview(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> dict[str, dict[str, object]]:
    config, event_file = tmp_path / "chat.yaml", tmp_path / "event.json"
    config.write_text(PREVIEW_CONFIG)
    event_file.write_text(json.dumps(event()))
    out = cli(env or clean_env(), "preview", "--config", str(config), "--event", str(event_file), "--now", NOW, *extra)
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return {line["uid"]: line for line in lines}


def test_preview_shows_all_four_requests_with_secrets_masked(tmp_path):
    shown = preview(tmp_path)
    assert {uid: line["type"] for uid, line in shown.items()} == {
        "slack-hook": "slack", "slack-bot": "slack", "tg": "telegram", "dc": "discord", "ms": "teams",
    }
    json_headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Grafana"}
    assert shown["slack-hook"]["request"] == {
        "method": "POST", "url": "[REDACTED]", "headers": json_headers,
        "body": {"username": "Grafana", "attachments": [
            {**slack_attachment(), "pretext": "<!here|here> <@U1><@U2>", "mrkdwn_in": ["pretext"]}]},
    }
    assert shown["slack-bot"]["request"] == {
        "method": "POST", "url": "https://slack.com/api/chat.postMessage",
        "headers": {**json_headers, "Authorization": "[REDACTED]"},
        "body": {"channel": "#ops", "username": "alertbot", "attachments": [slack_attachment()]},
    }
    telegram = shown["tg"]["request"]
    assert telegram["url"] == "https://api.telegram.org/bot[REDACTED]/sendMessage"
    assert telegram["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")
    assert telegram["body"] == {"chat_id": "-100123", "text": MESSAGE}
    assert shown["dc"]["request"] == {
        "method": "POST", "url": "[REDACTED]", "headers": {"Content-Type": "application/json", "User-Agent": "Grafana"},
        "body": {"username": "Grafana", "content": MESSAGE, "avatar_url": "https://img.example/bot.png", "embeds": [{
            "title": TITLE, "type": "rich", "url": "https://grafana.example.com/alerting/list", "color": 14037554,
            "footer": {"text": "Grafana", "icon_url": FOOTER_ICON}}]},
    }
    assert shown["ms"]["request"] == {
        "method": "POST", "url": TEAMS_URL, "headers": {"Content-Type": "application/json", "User-Agent": "Grafana"},
        "body": {"attachments": [{"content": {
            "body": [
                {"type": "TextBlock", "text": TITLE, "color": "attention", "size": "large", "weight": "bolder", "wrap": True},
                {"type": "TextBlock", "text": TEAMS_MESSAGE, "wrap": True},
                {"type": "ActionSet", "actions": [{"type": "Action.OpenUrl", "title": "View URL",
                                                   "url": "https://grafana.example.com/alerting/list"}]},
            ],
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.4", "msTeams": {"width": "Full"}},
            "contentType": "application/vnd.microsoft.card.adaptive"}],
            "summary": TITLE, "type": "message"},
    }
    everything = json.dumps(shown)
    for secret in (SLACK_HOOK, SLACK_TOKEN, BOT_TOKEN, DISCORD_HOOK, "hooksecret123", "discord-secret-xyz"):
        assert secret not in everything


def test_preview_show_secrets_and_endpoint_overrides(tmp_path):
    env = clean_env(ALERTRELAY_API_URL_SLACK="http://127.0.0.1:9/", ALERTRELAY_API_URL_TELEGRAM="http://127.0.0.1:9/tg")
    shown = preview(tmp_path, "--show-secrets", env=env)
    assert shown["slack-hook"]["request"]["url"] == SLACK_HOOK  # a configured URL is not overridden
    assert shown["slack-bot"]["request"]["url"] == "http://127.0.0.1:9/api/chat.postMessage"
    assert shown["slack-bot"]["request"]["headers"]["Authorization"] == f"Bearer {SLACK_TOKEN}"
    assert shown["tg"]["request"]["url"] == f"http://127.0.0.1:9/tg/bot{BOT_TOKEN}/sendMessage"
    assert shown["dc"]["request"]["url"] == DISCORD_HOOK


def test_check_config_names_the_field_without_the_secret(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(f"""
apiVersion: 1
contactPoints:
  - name: chat
    receivers:
      - uid: s
        type: slack
        settings: {{token: {SLACK_TOKEN}, mentionChannel: all}}
      - uid: t
        type: telegram
        settings: {{bottoken: "{BOT_TOKEN}", chatid: 1, message_thread_id: x}}
""")
    result = cli(clean_env(), "check-config", str(config), check=False)
    out = result.stdout + result.stderr
    assert result.returncode == 1
    assert 'integration "s" (slack): settings.mentionChannel: invalid value for mentionChannel' in out
    assert 'integration "t" (telegram): settings.message_thread_id: message thread id must be an integer' in out
    assert SLACK_TOKEN not in out and BOT_TOKEN not in out


# --- the whole pipeline -------------------------------------------------------------------------

PIPELINE_CONFIG = """
apiVersion: 1
contactPoints:
  - name: chat
    receivers:
      - uid: slack-hook
        type: slack
        settings:
          url: {hook}
          mentionGroups: S1
      - uid: slack-bot
        type: slack
        settings:
          recipient: C0123
          token: {token}
      - uid: tg
        type: telegram
        settings:
          bottoken: "{bot}"
          chatid: "-100123"
          message_thread_id: 9
          disable_notifications: true
"""


def pipeline_config(server) -> str:  # type: ignore[no-untyped-def]
    return PIPELINE_CONFIG.format(hook=server.url_for("/services/T0/B0/hook"), token=SLACK_TOKEN, bot=BOT_TOKEN)


def overrides(server) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"ALERTRELAY_API_URL_SLACK": server.url_for(""), "ALERTRELAY_API_URL_TELEGRAM": server.url_for("")}


def within_clock(ts: object, before: float, after: float) -> bool:
    return isinstance(ts, int) and int(before) <= ts <= int(after) + 1


@pytest.mark.integration
def test_slack_both_modes_and_telegram_through_the_pipeline(pipeline_factory, make_receiver):
    server = make_receiver()
    server.expect_request("/services/T0/B0/hook", method="POST").respond_with_data("ok", content_type="text/html")
    server.expect_request("/api/chat.postMessage", method="POST").respond_with_json({"ok": True, "channel": "C0123", "ts": "1.2"})
    server.expect_request(f"/bot{BOT_TOKEN}/sendMessage", method="POST").respond_with_json({"ok": True, "result": {}})
    before = time.time()
    with pipeline_factory(pipeline_config(server), types=("slack", "telegram"), env=overrides(server)) as pipeline:
        pipeline.publish(event())
        wait_for(lambda: len(server.log) >= 3, what="three deliveries")
        time.sleep(0.5)  # nothing more may arrive
        assert pipeline.dead_letters() == []
    after = time.time()
    assert len(server.log) == 3
    by_path = {request.path: request for request, _ in server.log}

    hook = by_path["/services/T0/B0/hook"]
    body = json.loads(hook.get_data())
    assert within_clock(body["attachments"][0]["ts"], before, after)
    ts = body["attachments"][0]["ts"]
    assert body == {"username": "Grafana", "attachments": [
        {**slack_attachment(ts), "pretext": "<!subteam^S1>", "mrkdwn_in": ["pretext"]}]}
    assert hook.headers["Content-Type"] == "application/json; charset=utf-8"
    assert "Authorization" not in hook.headers

    bot = by_path["/api/chat.postMessage"]
    body = json.loads(bot.get_data())
    ts = body["attachments"][0]["ts"]
    assert within_clock(ts, before, after)
    assert body == {"channel": "C0123", "username": "Grafana", "attachments": [slack_attachment(ts)]}
    assert bot.headers["Authorization"] == f"Bearer {SLACK_TOKEN}"
    assert bot.headers["User-Agent"] == "Grafana"

    tg = by_path[f"/bot{BOT_TOKEN}/sendMessage"]
    assert tg.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    fields = parse_multipart(tg.get_data(), tg.headers["Content-Type"])
    assert fields == {"chat_id": "-100123", "message_thread_id": "9", "disable_notification": "true",
                      "text": MESSAGE, "parse_mode": "HTML"}
    assert list(fields) == ["chat_id", "message_thread_id", "disable_notification", "text", "parse_mode"]


SLACK_ONLY = """
apiVersion: 1
contactPoints:
  - name: chat
    receivers:
      - uid: slack-hook
        type: slack
        settings:
          url: {hook}
"""


@pytest.mark.integration
def test_slack_429_with_retry_after_is_retried_and_delivered(pipeline_factory, make_receiver):
    server = make_receiver()
    seen: list[float] = []

    def handler(request: Request) -> Response:
        seen.append(time.monotonic())
        if len(seen) == 1:
            return Response("rate_limited", status=429, headers={"Retry-After": "1"}, content_type="text/plain")
        return Response("ok", status=200, content_type="text/html")

    server.expect_request("/hook").respond_with_handler(handler)
    config = SLACK_ONLY.format(hook=server.url_for("/hook"))
    with pipeline_factory(config, types=("slack", "telegram")) as pipeline:
        pipeline.publish(event("evt-slack-429"))
        wait_for(lambda: len(seen) >= 2, what="the retried delivery")
        time.sleep(0.5)
        assert pipeline.dead_letters() == []
    assert len(seen) == 2, "delivered once after the 429, then nothing more"
    assert 0.95 <= seen[1] - seen[0] < 5, "Retry-After: 1 must be waited for"
    first, second = (request.get_data() for request, _ in server.log)
    assert json.loads(first)["attachments"][0]["title"] == TITLE
    assert json.loads(first)["attachments"][0]["text"] == json.loads(second)["attachments"][0]["text"]


TELEGRAM_ONLY = """
apiVersion: 1
contactPoints:
  - name: chat
    receivers:
      - uid: tg
        type: telegram
        settings:
          bottoken: "{bot}"
          chatid: "-100999"
"""


@pytest.mark.integration
def test_telegram_ok_false_400_is_a_permanent_dead_letter(pipeline_factory, make_receiver):
    server = make_receiver()
    answer = {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
    server.expect_request(f"/bot{BOT_TOKEN}/sendMessage").respond_with_json(answer, status=400)
    config = TELEGRAM_ONLY.format(bot=BOT_TOKEN)
    with pipeline_factory(config, types=("slack", "telegram"), env=overrides(server)) as pipeline:
        pipeline.publish(event("evt-tg-400"))
        [letter] = wait_for(lambda: pipeline.dead_letters(), what="a dead letter")
        time.sleep(0.5)
        assert len(server.log) == 1, "a permanent failure must not be retried"
        assert letter["kind"] == "permanent" and letter["status_code"] == 400 and letter["attempts"] == 1
        assert (letter["contact_point"], letter["uid"], letter["type"]) == ("chat", "tg", "telegram")
        assert "chat not found" in letter["error"]
        shown = pipeline.cli("dead-letters", "show", letter["id"]).stdout
        logs = pipeline.logs()
    assert BOT_TOKEN not in json.dumps(letter) + shown + logs
