"""WeCom requests built without a network (robot and app modes), the token cache, token errors."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from pydantic import ValidationError
from werkzeug import Response

from contracts.integrations.wecom import DEFAULT_ENDPOINT, WeComSettings
from contracts.provisioning import ConfigError, load_config
from tests.unit.integrations.chat_b_data import ALERT1, ALERT2, MESSAGE1, MESSAGE_RESOLVED, RESOLVED, TITLE1, TITLE_RESOLVED
from tests.unit.integrations.chat_b_data import delivery_error, rendering
from workers.delivery.errors import DeliveryError
from workers.integrations import wecom

ROBOT = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=r0bot-key-value"
SECRET = "app-s3cret-value"
APP = {"secret": SECRET, "corp_id": "corp-1", "agent_id": "1000002"}
APP_URL = "https://qyapi.weixin.qq.com/cgi-bin/message/send?access_token=ACCESS_TOKEN"
CUSTOM = "{{ Alerts.Firing | length }} alerts are firing, {{ Alerts.Resolved | length }} are resolved"


def go(text: str) -> str:
    """A JSON string as Go's encoding/json writes it (``&``, ``<``, ``>`` escaped)."""
    return json.dumps(text, ensure_ascii=False).replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


CASES = [
    ("robot markdown, one alert", {"url": ROBOT}, [ALERT1], ROBOT,
     '{"markdown":{"content":%s},"msgtype":"markdown"}' % go(f"# {TITLE1}\n{MESSAGE1}\n")),
    ("robot markdown, custom message", {"url": ROBOT, "message": CUSTOM}, [ALERT1, ALERT2], ROBOT,
     '{"markdown":{"content":"# [FIRING:2]  \\n2 alerts are firing, 0 are resolved\\n"},"msgtype":"markdown"}'),
    ("robot, custom title", {"url": ROBOT, "message": CUSTOM, "title": "This notification is {{ Status }}!"}, [ALERT1, ALERT2],
     ROBOT, '{"markdown":{"content":"# This notification is firing!\\n2 alerts are firing, 0 are resolved\\n"},"msgtype":"markdown"}'),
    ("robot text", {"url": ROBOT, "msgtype": "text"}, [ALERT1], ROBOT,
     '{"msgtype":"text","text":{"content":%s}}' % go(f"{TITLE1}\n{MESSAGE1}\n")),
    ("robot, invalid msgtype is markdown", {"url": ROBOT, "msgtype": "news", "message": "m", "title": "t"}, [ALERT1], ROBOT,
     '{"markdown":{"content":"# t\\nm\\n"},"msgtype":"markdown"}'),
    ("robot resolved", {"url": ROBOT}, [RESOLVED], ROBOT,
     '{"markdown":{"content":%s},"msgtype":"markdown"}' % go(f"# {TITLE_RESOLVED}\n{MESSAGE_RESOLVED}\n")),
    ("app markdown", APP, [ALERT1], APP_URL,
     '{"agentid":"1000002","markdown":{"content":%s},"msgtype":"markdown","touser":"@all"}' % go(f"# {TITLE1}\n{MESSAGE1}\n")),
    ("app text, custom touser", {**APP, "msgtype": "text", "message": CUSTOM, "touser": "zhangsan|lisi"}, [ALERT1, ALERT2],
     APP_URL, '{"agentid":"1000002","msgtype":"text","text":{"content":"[FIRING:2]  \\n2 alerts are firing, 0 are resolved\\n"},'
     '"touser":"zhangsan|lisi"}'),
    ("url wins over secret", {**APP, "url": ROBOT, "message": "m", "title": "t"}, [ALERT1], ROBOT,
     '{"markdown":{"content":"# t\\nm\\n"},"msgtype":"markdown"}'),
]


@pytest.mark.parametrize("name,raw,alerts,url,body", CASES, ids=[c[0] for c in CASES])
def test_whole_requests_byte_exact(name: str, raw: dict[str, Any], alerts: list[dict[str, Any]], url: str, body: str) -> None:
    request = wecom.build(rendering(*alerts), WeComSettings.model_validate(raw))
    assert request.method == "POST" and request.url == url
    assert request.headers == {"Content-Type": "application/json", "User-Agent": "Grafana"}
    assert request.body.decode() == body


def test_agent_id_written_as_a_yaml_number_is_sent_as_a_string() -> None:
    s = WeComSettings.model_validate({**APP, "agent_id": 1000002})
    assert json.loads(wecom.build(rendering(), s).body)["agentid"] == "1000002"


def test_endpoint_setting_and_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    custom = WeComSettings.model_validate({**APP, "endpointUrl": "https://wecom.proxy.example/"})
    assert wecom.build(rendering(), custom).url == "https://wecom.proxy.example/cgi-bin/message/send?access_token=ACCESS_TOKEN"
    assert wecom.token_url(custom) == "https://wecom.proxy.example/cgi-bin/gettoken?corpid=corp-1&corpsecret=app-s3cret-value"
    monkeypatch.setenv("ALERTRELAY_API_URL_WECOM", "http://127.0.0.1:9000/wc")
    default = WeComSettings.model_validate(APP)
    assert wecom.build(rendering(), default).url == "http://127.0.0.1:9000/wc/cgi-bin/message/send?access_token=ACCESS_TOKEN"
    assert wecom.token_url(default).startswith("http://127.0.0.1:9000/wc/cgi-bin/gettoken?")
    assert wecom.build(rendering(), custom).url.startswith("https://wecom.proxy.example/")  # a configured endpoint is kept


def test_placeholder_is_filled_with_the_token() -> None:
    request = wecom.build(rendering(), WeComSettings.model_validate(APP))
    filled = wecom.with_token(request, "tok/en+1")
    assert filled.url == "https://qyapi.weixin.qq.com/cgi-bin/message/send?access_token=tok%2Fen%2B1"
    assert filled.body == request.body and request.url == APP_URL


@pytest.mark.parametrize(
    "raw,error",
    [
        ({}, "either url or secret is required"),
        ({"url": "", "secret": ""}, "either url or secret is required"),
        ({"secret": SECRET, "corp_id": "c"}, "agent_id is required when secret (app mode) is used"),
        ({"secret": SECRET, "agent_id": "1"}, "corp_id is required when secret (app mode) is used"),
    ],
)
def test_settings_validation(raw: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError) as info:
        WeComSettings.model_validate(raw)
    assert error in str(info.value)


def test_config_errors_name_the_field_and_hide_the_secret(tmp_path: Any) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "apiVersion: 1\ncontactPoints:\n  - name: ops\n    receivers:\n      - uid: wc\n        type: wecom\n"
        f"        settings:\n          secret: {SECRET}\n          agent_id: 1\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    text = str(info.value)
    assert 'contact point "ops"' in text and "corp_id is required when secret (app mode) is used" in text
    assert SECRET not in text


def test_defaults_modes_and_secrets() -> None:
    s = WeComSettings.model_validate({"url": ROBOT, "msgtype": "", "message": "", "title": None, "touser": "", "endpointUrl": ""})
    assert (s.msgtype, s.touser, s.endpointUrl) == ("markdown", "@all", DEFAULT_ENDPOINT)
    assert (s.title, s.message) == ('{{ template("default.title") }}', '{{ template("default.message") }}')
    assert not s.app_mode and s.secret_values() == [ROBOT, "r0bot-key-value"]
    app = WeComSettings.model_validate(APP)
    assert app.app_mode and app.secret_values() == [SECRET] and SECRET not in repr(app)
    assert set(app.templated()) == {"title", "message"}


def test_previews_hide_secrets() -> None:
    robot = WeComSettings.model_validate({"url": ROBOT})
    assert wecom.build(rendering(), robot).preview(robot.secret_values())["url"] == "[REDACTED]"
    app = WeComSettings.model_validate(APP)
    view = wecom.build(rendering(), app).preview(app.secret_values())
    assert view["url"] == APP_URL and SECRET not in json.dumps(view)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_cache_holds_until_expiry_and_forgets_on_invalidate() -> None:
    clock, fetched = FakeClock(), []
    cache = wecom.TokenCache(clock)

    def fetch() -> tuple[str, float]:
        fetched.append(1)
        return f"t{len(fetched)}", 7200 - wecom.EXPIRY_MARGIN

    key = ("e", "corp", "secret")
    assert cache.get(key, fetch) == "t1" and cache.get(key, fetch) == "t1"
    clock.now += 6899
    assert cache.get(key, fetch) == "t1"
    clock.now += 2
    assert cache.get(key, fetch) == "t2"
    cache.invalidate(key, "stale-other")  # another thread's old token: ours stays
    assert cache.get(key, fetch) == "t2"
    cache.invalidate(key, "t2")
    assert cache.get(key, fetch) == "t3"
    assert cache.get(("e", "corp", "other-secret"), fetch) == "t4"  # per corp_id and secret
    assert len(fetched) == 4


def test_token_cache_fetches_once_for_concurrent_senders() -> None:
    cache, fetched = wecom.TokenCache(), []

    def fetch() -> tuple[str, float]:
        fetched.append(1)
        time.sleep(0.05)
        return "tok", 60.0

    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(("k",), fetch))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["tok"] * 8 and len(fetched) == 1


def test_token_without_lifetime_is_not_cached() -> None:
    cache, fetched = wecom.TokenCache(), []

    def fetch() -> tuple[str, float]:
        fetched.append(1)
        return "tok", 0.0

    cache.get(("k",), fetch)
    cache.get(("k",), fetch)
    assert len(fetched) == 2


def app_settings(server: Any) -> WeComSettings:
    return WeComSettings.model_validate({**APP, "endpointUrl": server.url_for("/")})


def fetch_error(server: Any) -> DeliveryError:
    with pytest.raises(DeliveryError) as info:
        wecom.fetch_token(app_settings(server))
    return info.value


def test_token_fetch_is_a_post_with_grafanas_headers(httpserver: Any) -> None:
    httpserver.expect_request(
        "/cgi-bin/gettoken", method="POST", query_string={"corpid": "corp-1", "corpsecret": SECRET}
    ).respond_with_json({"errcode": 0, "errmsg": "ok", "access_token": "tok-1", "expires_in": 7200})
    assert wecom.fetch_token(app_settings(httpserver)) == ("tok-1", 6900.0)
    request = httpserver.log[0][0]
    assert request.headers["Content-Type"] == "application/json" and request.headers["User-Agent"] == "Grafana"


@pytest.mark.parametrize(
    "answer,kind,text",
    [
        ({"errcode": 40001, "errmsg": "invalid credential"}, "permanent", "WeCom token request failed: errcode 40001: invalid credential"),
        ({"errcode": -1, "errmsg": "system busy"}, "transient", "errcode -1: system busy"),
        ({"errcode": 45009, "errmsg": "api freq out of limit"}, "transient", "errcode 45009"),
        ({"errcode": 0, "errmsg": "ok"}, "transient", "WeCom token answer has no access_token"),
        (["not", "an", "object"], "transient", "WeCom token answer is not a JSON object"),
    ],
)
def test_token_answer_errors(httpserver: Any, answer: Any, kind: str, text: str) -> None:
    httpserver.expect_request("/cgi-bin/gettoken").respond_with_json(answer)
    error = fetch_error(httpserver)
    assert error.kind == kind and text in error.message


@pytest.mark.parametrize("status,kind", [(429, "transient"), (502, "transient"), (403, "permanent")])
def test_token_http_errors_are_classified_and_retry_after_kept(httpserver: Any, status: int, kind: str) -> None:
    httpserver.expect_request("/cgi-bin/gettoken").respond_with_data("no", status=status, headers={"Retry-After": "4"})
    error = fetch_error(httpserver)
    assert (error.kind, error.status_code, error.retry_after) == (kind, status, 4)
    assert error.message.startswith(f"WeCom token request status {status}")


def test_no_secret_or_token_in_send_errors(httpserver: Any) -> None:
    wecom.TOKENS.clear()
    echo = lambda r: Response("bad request " + r.query_string.decode(), status=400)  # noqa: E731
    httpserver.expect_request("/cgi-bin/gettoken").respond_with_json({"errcode": 0, "access_token": "t0ken-abc-123", "expires_in": 7200})
    httpserver.expect_request("/cgi-bin/message/send").respond_with_handler(echo)
    s = app_settings(httpserver)
    error = delivery_error("wecom", s, wecom.build(rendering(), s))
    assert error.kind == "permanent" and "t0ken-abc-123" not in error.message and "[REDACTED]" in error.message
    httpserver.clear()
    httpserver.expect_request("/cgi-bin/gettoken").respond_with_handler(echo)
    wecom.TOKENS.clear()
    error = delivery_error("wecom", s, wecom.build(rendering(), s))
    assert SECRET not in error.message + (error.body_excerpt or "")


def test_no_key_in_robot_errors(httpserver: Any) -> None:
    httpserver.expect_request("/cgi-bin/webhook/send").respond_with_handler(
        lambda r: Response("invalid webhook url, key " + r.args["key"], status=404)
    )
    s = WeComSettings.model_validate({"url": httpserver.url_for("/cgi-bin/webhook/send") + "?key=r0bot-key-value"})
    error = delivery_error("wecom", s, wecom.build(rendering(), s))
    assert error.kind == "permanent" and "r0bot-key-value" not in error.message + (error.body_excerpt or "")


def test_robot_errcode_in_a_200_is_not_read_as_grafana_does(httpserver: Any) -> None:
    httpserver.expect_request("/cgi-bin/webhook/send").respond_with_json({"errcode": 93000, "errmsg": "invalid webhook url"})
    s = WeComSettings.model_validate({"url": httpserver.url_for("/cgi-bin/webhook/send") + "?key=k"})
    wecom.send(wecom.build(rendering(), s), s)  # no error
    assert len(httpserver.log) == 1
