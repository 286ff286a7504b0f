"""Pushover (``type: pushover``): one message per notification, as multipart/form-data.

Settings: :class:`contracts.integrations.pushover.PushoverSettings`. Fields, in Grafana's
order: ``user``, ``token``, ``priority`` (``okPriority`` when resolved), ``retry`` and
``expire`` (emergency priority 2 only), ``device`` (if set), ``title`` (≤250 runes), ``url``
(the alert list, ≤512 runes), ``url_title``, ``message`` (≤1024 runes, trimmed, ``(no
details)`` when empty), ``sound`` (``okSound`` when resolved; left out when ``default``),
``html=1``. Success: any 2xx.

The body is encoded here, with a boundary derived from the non-secret fields, so the same
notification always gives the same bytes (previews and tests compare them).
"""

from __future__ import annotations

import hashlib
from contracts.integrations.pushover import PushoverSettings
from workers.delivery.endpoints import api_url
from workers.delivery.http import USER_AGENT
from workers.delivery.rendering import Rendering
from workers.delivery.request import HttpRequest
from workers.delivery.urls import alert_list_url
from workers.delivery.template_data import TemplateData
from workers.delivery.truncate import truncate_runes

API_URL = "https://api.pushover.net/1/messages.json"
MAX_TITLE_RUNES = 250
MAX_MESSAGE_RUNES = 1024
MAX_URL_RUNES = 512
EMERGENCY = 2
NO_DETAILS = "(no details)"


def build(rendering: Rendering, settings: PushoverSettings) -> HttpRequest:
    """The request Grafana's Pushover notifier would send (without the image attachment)."""
    data = rendering.template_data()
    body, content_type = multipart(fields(rendering, settings, data), secret_count=2)
    return HttpRequest(
        method="POST",
        url=api_url("pushover", API_URL),
        headers={"Content-Type": content_type, "User-Agent": USER_AGENT},
        body=body,
    )


def fields(rendering: Rendering, settings: PushoverSettings, data: TemplateData) -> list[tuple[str, str]]:
    """The form fields in Grafana's order; the first two (user, token) are the secrets."""
    resolved = data.Status == "resolved"
    priority = settings.okPriority if resolved else settings.priority
    out = [
        ("user", rendering.render(settings.userKey.get_secret_value(), data)),
        ("token", settings.apiToken.get_secret_value()),
        ("priority", str(priority)),
    ]
    if priority == EMERGENCY:
        out += [("retry", str(settings.retry)), ("expire", str(settings.expire))]
    if settings.device:
        out.append(("device", rendering.render(settings.device, data)))
    out += [
        ("title", truncate_runes(rendering.render(settings.title, data), MAX_TITLE_RUNES)[0]),
        ("url", truncate_runes(alert_list_url(rendering.data["externalURL"]), MAX_URL_RUNES)[0]),
        ("url_title", "Show alert rule"),
        ("message", message(rendering.render(settings.message, data))),
    ]
    sound = rendering.render(settings.okSound if resolved else settings.sound, data)
    if sound != "default":
        out.append(("sound", sound))
    out.append(("html", "1"))
    return out


def message(rendered: str) -> str:
    """Truncated to 1024 runes, then trimmed; Pushover rejects an empty message."""
    text = truncate_runes(rendered, MAX_MESSAGE_RUNES)[0].strip()
    return text or NO_DETAILS


def multipart(form: list[tuple[str, str]], secret_count: int = 0) -> tuple[bytes, str]:
    """Encode text fields as Go's ``multipart.Writer`` does; returns (body, Content-Type).

    The boundary is a hash of the fields after the first ``secret_count`` (so it reveals
    nothing about a secret), re-hashed in the unlikely case it occurs in a value.
    """
    seed = "\x00".join(f"{k}={v}" for k, v in form[secret_count:]).encode()
    boundary = hashlib.sha256(seed).hexdigest()[:60]
    while any(boundary in value for _, value in form):
        boundary = hashlib.sha256(boundary.encode()).hexdigest()[:60]
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode()
        for name, value in form
    ]
    body = b"\r\n".join(parts) + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"

