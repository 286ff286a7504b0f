"""VictorOps (``type: victorops``): one REST-endpoint incident update per notification.

Settings: :class:`contracts.integrations.victorops.VictorOpsSettings`. Body: Grafana's JSON
(keys in alphabetical order, as Go encodes a map) with ``entity_id`` = SHA-256 of the group
key, so VictorOps pairs the ``RECOVERY`` with the incident it opened. ``message_type`` is
``RECOVERY`` once every alert is resolved, else the upper-cased rendered ``messageType``
(``CRITICAL`` when it renders empty). Success: any 2xx.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from contracts.gocompat import go_json
from contracts.integrations.victorops import DEFAULT_MESSAGE_TYPE, VictorOpsSettings
from workers.delivery.http import USER_AGENT
from workers.delivery.rendering import Rendering
from workers.delivery.request import HttpRequest
from workers.delivery.urls import alert_list_url
from workers.delivery.template_data import TemplateData
from workers.delivery.templates import TemplateError
from workers.delivery.truncate import truncate_runes

RECOVERY = "RECOVERY"
MAX_STATE_MESSAGE_RUNES = 20480
#: URL path segments this long are taken for keys (the REST URL ends ``/<api key>/<routing key>``).
MIN_KEY_SEGMENT = 16


@dataclass
class VictorOpsRequest(HttpRequest):
    """The whole URL is the secret; its key segments are redacted on their own too, so an error
    body that echoes only the API key does not leak it."""

    def sensitive_values(self) -> list[str]:
        segments = [s for s in urlsplit(self.url).path.split("/") if len(s) >= MIN_KEY_SEGMENT]
        return super().sensitive_values() + segments


def build(rendering: Rendering, settings: VictorOpsSettings) -> VictorOpsRequest:
    """The request Grafana's VictorOps notifier would send for this notification."""
    data = rendering.template_data()
    return VictorOpsRequest(
        method="POST",
        url=target_url(rendering, settings, data),
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        body=go_json(body(rendering, settings, data)).encode(),
    )


def body(rendering: Rendering, settings: VictorOpsSettings, data: TemplateData) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "alert_url": alert_list_url(rendering.data["externalURL"]),
        "entity_display_name": rendering.render(settings.title, data),
        "entity_id": rendering.group_key_hash,
        "message_type": message_type(rendering, settings, data),
        "monitoring_tool": f"Grafana v{data.AppVersion}",
        "state_message": truncate_runes(rendering.render(settings.description, data), MAX_STATE_MESSAGE_RUNES)[0],
        "timestamp": int(rendering.now.timestamp()),
    }
    image = next((a["imageURL"] for a in rendering.data["alerts"] if a.get("imageURL")), None)
    if image:
        fields["image_url"] = image
    return dict(sorted(fields.items()))


def message_type(rendering: Rendering, settings: VictorOpsSettings, data: TemplateData) -> str:
    """``RECOVERY`` when all alerts are resolved; else the rendered type upper-cased, or ``CRITICAL``."""
    if data.Status == "resolved":
        return RECOVERY
    return rendering.render(settings.messageType, data).upper() or DEFAULT_MESSAGE_TYPE


def target_url(rendering: Rendering, settings: VictorOpsSettings, data: TemplateData) -> str:
    """The rendered ``url``; the raw value when it fails to render, as in Grafana."""
    raw = settings.url.get_secret_value()
    try:
        return rendering.render(raw, data)
    except TemplateError:
        return raw

