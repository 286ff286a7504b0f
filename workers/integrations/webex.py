"""Cisco Webex Teams (``type: webex``): a Markdown message to a room through Webex's messages API.

Settings: :class:`contracts.integrations.webex.WebexSettings`. Body: ``{"roomId", "markdown",
"files"}`` — ``roomId`` left out when empty, ``markdown`` cut to 4096 bytes (ending ``…``),
``files`` holding the first alert image URL, left out when there is none (Webex takes one
attachment per message). ``Authorization: Bearer <bot_token>`` only when a token is set.
The default ``api_url`` goes through ``ALERTRELAY_API_URL_WEBEX``. Success: any 2xx.
"""

from __future__ import annotations

import logging
from typing import Any

from contracts.gocompat import go_json
from contracts.integrations.webex import DEFAULT_API_URL, WebexSettings
from workers.delivery.endpoints import api_url
from workers.delivery.http import USER_AGENT
from workers.delivery.rendering import Rendering
from workers.delivery.request import HttpRequest
from workers.delivery.truncate import truncate_bytes

MAX_MESSAGE_BYTES = 4096
log = logging.getLogger("alertrelay.integrations.webex")


def build(rendering: Rendering, settings: WebexSettings) -> HttpRequest:
    """The request Grafana's Webex notifier would send."""
    data = rendering.template_data()
    message, truncated = truncate_bytes(rendering.render(settings.message, data), MAX_MESSAGE_BYTES)
    if truncated:
        log.warning("Webex message longer than %d bytes, truncated", MAX_MESSAGE_BYTES)
    body: dict[str, Any] = {}
    if settings.room_id:
        body["roomId"] = settings.room_id
    body["markdown"] = message
    image = next((a["imageURL"] for a in rendering.data["alerts"] if a.get("imageURL")), None)
    if image:
        body["files"] = [image]
    url = rendering.render(settings.api_url, data)
    if settings.api_url == DEFAULT_API_URL:
        url = api_url("webex", url)
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    token = settings.bot_token.get_secret_value() if settings.bot_token else ""
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return HttpRequest(
        method="POST",
        url=url,
        headers=headers,
        body=go_json(body).encode(),
        sensitive_headers=frozenset({"Authorization"} if token else set()),
    )
