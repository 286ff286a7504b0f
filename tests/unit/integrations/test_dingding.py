"""DingDing payloads built without a network: whole ``link`` and ``actionCard`` bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError
from werkzeug import Response

from contracts.integrations.dingding import DingDingSettings
from tests.unit.integrations.chat_b_data import ALERT1, ALERT2, MESSAGE1, MESSAGE_RESOLVED, RESOLVED, TITLE1, TITLE_RESOLVED
from tests.unit.integrations.chat_b_data import delivery_error, rendering
from workers.integrations import dingding

URL = "https://oapi.dingtalk.com/robot/send?access_token=dd-t0ken-value"
LINK = "dingtalk://dingtalkclient/page/link?pc_slide=false&url=http%3A%2F%2Flocalhost%2Falerting%2Flist"


def go(text: str) -> str:
    """A JSON string as Go's encoding/json writes it (``&``, ``<``, ``>`` escaped)."""
    return json.dumps(text, ensure_ascii=False).replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


GO_LINK = go(LINK)


def settings(**kw: Any) -> DingDingSettings:
    return DingDingSettings.model_validate({"url": URL, **kw})


CASES = [
    ("default link, one alert", {}, [ALERT1],
     '{"link":{"messageUrl":%s,"text":%s,"title":"%s"},"msgtype":"link"}' % (GO_LINK, go(MESSAGE1), TITLE1)),
    ("actionCard, custom message", {"msgType": "actionCard", "message": "{{ Alerts.Firing | length }} alerts are firing, "
                                    "{{ Alerts.Resolved | length }} are resolved"}, [ALERT1, ALERT2],
     '{"actionCard":{"singleTitle":"More","singleURL":%s,"text":"2 alerts are firing, 0 are resolved",'
     '"title":"[FIRING:2]  "},"msgtype":"actionCard"}' % GO_LINK),
    ("custom title and message", {"title": "Alerts firing: {{ Alerts.Firing | length }}", "message": "customMessage"},
     [ALERT1], '{"link":{"messageUrl":%s,"text":"customMessage","title":"Alerts firing: 1"},"msgtype":"link"}' % GO_LINK),
    ("unknown msgType is sent as link", {"msgType": "markdown", "message": "m", "title": "t"}, [ALERT1],
     '{"link":{"messageUrl":%s,"text":"m","title":"t"},"msgtype":"link"}' % GO_LINK),
    ("msgType is a template", {"msgType": "{{ 'actionCard' if Status == 'firing' else 'link' }}", "message": "m", "title": "t"},
     [ALERT1], '{"actionCard":{"singleTitle":"More","singleURL":%s,"text":"m","title":"t"},"msgtype":"actionCard"}' % GO_LINK),
    ("resolved", {}, [RESOLVED],
     '{"link":{"messageUrl":%s,"text":%s,"title":"%s"},"msgtype":"link"}' % (GO_LINK, go(MESSAGE_RESOLVED), TITLE_RESOLVED)),
]


@pytest.mark.parametrize("name,raw,alerts,expected", CASES, ids=[c[0] for c in CASES])
def test_whole_payloads_byte_exact(name: str, raw: dict[str, Any], alerts: list[dict[str, Any]], expected: str) -> None:
    request = dingding.build(rendering(*alerts), settings(**raw))
    assert request.method == "POST" and request.url == URL
    assert request.headers == {"Content-Type": "application/json", "User-Agent": "Grafana"}
    assert request.body.decode() == expected  # Go map: keys sorted


def test_message_link_follows_the_external_url() -> None:
    assert dingding.message_link("https://g.example/grafana/") == (
        "dingtalk://dingtalkclient/page/link?pc_slide=false&url=https%3A%2F%2Fg.example%2Fgrafana%2Falerting%2Flist"
    )
    assert dingding.message_link("") == "dingtalk://dingtalkclient/page/link?pc_slide=false&url=%2Falerting%2Flist"


def test_go_json_escaping() -> None:
    request = dingding.build(rendering(), settings(message="<b>&</b>", title="t"))
    assert '"text":"\\u003cb\\u003e\\u0026\\u003c/b\\u003e"' in request.body.decode()


def test_url_is_a_template() -> None:
    request = dingding.build(rendering(), settings(url="https://oapi.dingtalk.com/robot/send?access_token={{ CommonLabels.lbl1 }}"))
    assert request.url == "https://oapi.dingtalk.com/robot/send?access_token=val1"


@pytest.mark.parametrize("raw,error", [({}, "url\n  Field required"), ({"url": ""}, "must not be empty")])
def test_settings_validation(raw: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError) as info:
        DingDingSettings.model_validate(raw)
    assert error in str(info.value)


def test_defaults_and_secrets() -> None:
    s = DingDingSettings.model_validate({"url": URL, "msgType": "", "title": None, "message": ""})
    assert (s.msgType, s.title, s.message) == ("link", '{{ template("default.title") }}', '{{ template("default.message") }}')
    assert s.secret_values() == [URL, "dd-t0ken-value"]
    assert set(s.templated()) == {"url", "msgType", "title", "message"}


def test_preview_masks_the_url() -> None:
    s = settings()
    view = dingding.build(rendering(), s).preview(s.secret_values())
    assert view["url"] == "[REDACTED]" and "dd-t0ken-value" not in json.dumps(view)


def test_errcode_in_a_200_is_not_read_as_grafana_does(httpserver: Any) -> None:
    httpserver.expect_request("/robot/send").respond_with_json({"errcode": 310000, "errmsg": "keywords not in content"})
    s = settings(url=httpserver.url_for("/robot/send") + "?access_token=dd-t0ken-value")
    from workers.delivery import http

    assert http.send(dingding.build(rendering(), s)).status_code == 200


def test_no_secret_in_delivery_errors(httpserver: Any) -> None:
    httpserver.expect_request("/robot/send").respond_with_handler(
        lambda r: Response("token " + r.args.get("access_token", "") + " rejected", status=403)
    )
    s = settings(url=httpserver.url_for("/robot/send") + "?access_token=dd-t0ken-value")
    error = delivery_error("dingding", s, dingding.build(rendering(), s))
    assert error.kind == "permanent" and error.status_code == 403
    assert "dd-t0ken-value" not in error.message + (error.body_excerpt or "")


def test_too_many_requests_is_transient(httpserver: Any) -> None:
    httpserver.expect_request("/robot/send").respond_with_data("slow down", status=429, headers={"Retry-After": "2"})
    s = settings(url=httpserver.url_for("/robot/send"))
    error = delivery_error("dingding", s, dingding.build(rendering(), s))
    assert error.transient and error.retry_after == 2
