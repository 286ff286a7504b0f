"""DingDing (``type: dingding``): a DingTalk robot ``link`` or ``actionCard`` message.

Settings: :class:`contracts.integrations.dingding.DingDingSettings`. Body (Go map, so keys
sorted): ``{"link": {"messageUrl", "text", "title"}, "msgtype": "link"}``, or with
``msgType: actionCard`` ``{"actionCard": {"singleTitle": "More", "singleURL", "text",
"title"}, "msgtype": "actionCard"}``. The link opens ``<externalURL>/alerting/list`` outside
the DingTalk client. Success: any 2xx. Like Grafana we do not read DingTalk's ``errcode``,
so a 200 carrying an error counts as delivered. No truncation.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from contracts.gocompat import go_json
from contracts.integrations.dingding import DingDingSettings
from workers.delivery.http import USER_AGENT
from workers.delivery.rendering import Rendering
from workers.delivery.request import HttpRequest
from workers.delivery.urls import join_url_path


def build(rendering: Rendering, settings: DingDingSettings) -> HttpRequest:
    """The request Grafana's DingDing notifier would send."""
    data = rendering.template_data()
    link = message_link(rendering.data["externalURL"])
    message = rendering.render(settings.message, data)
    title = rendering.render(settings.title, data)
    msg_type = rendering.render(settings.msgType, data)
    return HttpRequest(
        method="POST",
        url=rendering.render(settings.url.get_secret_value(), data),
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        body=go_json(body(msg_type, link, title, message)).encode(),
    )


def message_link(external_url: str) -> str:
    """DingTalk's link that opens Grafana's alert list in the browser, not in the client."""
    query = urlencode([("pc_slide", "false"), ("url", join_url_path(external_url, "/alerting/list"))])
    return "dingtalk://dingtalkclient/page/link?" + query


def body(msg_type: str, link: str, title: str, message: str) -> dict[str, Any]:
    """The message object, keys in Go's sorted map order; anything but ``actionCard`` is ``link``."""
    if msg_type == "actionCard":
        card = {"singleTitle": "More", "singleURL": link, "text": message, "title": title}
        return {"actionCard": card, "msgtype": "actionCard"}
    return {"link": {"messageUrl": link, "text": message, "title": title}, "msgtype": "link"}
