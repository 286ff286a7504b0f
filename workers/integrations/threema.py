"""Threema Gateway (``type: threema``): a text message through the gateway's ``send_simple`` API.

Settings: :class:`contracts.integrations.threema.ThreemaSettings`. Body: the URL-encoded form
``from``, ``secret``, ``text``, ``to`` (keys sorted, as Go's ``url.Values.Encode``); ``text`` is
an emoji, the title, the description, the alert list URL and one line per alert image.
Success: any 2xx. The endpoint is overridable with ``ALERTRELAY_API_URL_THREEMA``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote_plus, urlencode

from contracts.integrations.threema import ThreemaSettings
from workers.delivery.endpoints import api_url
from workers.delivery.http import USER_AGENT
from workers.delivery.rendering import Rendering
from workers.delivery.request import HttpRequest
from workers.delivery.urls import go_path_join

API_URL = "https://msgapi.threema.ch/send_simple"
FIRING_EMOJI = "\u26a0\ufe0f "  # warning sign
RESOLVED_EMOJI = "\u2705 "  # check mark button


@dataclass
class ThreemaRequest(HttpRequest):
    """An HTTP request whose body carries the API secret form-encoded, which is redacted too."""

    encoded_secrets: list[str] = field(default_factory=list, repr=False)

    def sensitive_values(self) -> list[str]:
        return super().sensitive_values() + self.encoded_secrets


def build(rendering: Rendering, settings: ThreemaSettings) -> ThreemaRequest:
    """The request Grafana's Threema notifier would send."""
    secret = settings.api_secret.get_secret_value()
    form = {
        "from": settings.gateway_id,
        "secret": secret,
        "text": message_text(rendering, settings),
        "to": settings.recipient_id,
    }
    return ThreemaRequest(
        method="POST",
        url=api_url("threema", API_URL),
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT},
        body=urlencode(sorted(form.items())).encode(),
        encoded_secrets=[quote_plus(secret)] if quote_plus(secret) != secret else [],
    )


def message_text(rendering: Rendering, settings: ThreemaSettings) -> str:
    """Grafana's layout, including its ``path.Join`` on the whole external URL (``http:/host/...``)."""
    data = rendering.template_data()
    emoji = RESOLVED_EMOJI if data.Status == "resolved" else FIRING_EMOJI
    title = rendering.render(settings.title, data)
    description = rendering.render(settings.description, data)
    text = f"{emoji}{title}\n\n*Message:*\n{description}\n*URL:* {go_path_join(data.ExternalURL, '/alerting/list')}\n"
    for alert in rendering.data["alerts"]:
        if alert.get("imageURL"):
            text += f"*Image:* {alert['imageURL']}\n"
    return text
