"""Google Chat (``type: googlechat``): a legacy Cards v1 message to an incoming webhook.

Settings: :class:`contracts.integrations.googlechat.GoogleChatSettings`. Body: ``previewText``,
``fallbackText`` and ``cards`` — one card with the title as header and, in one section, the
message, an "OPEN IN GRAFANA" button to ``<externalURL>/alerting/list`` (only when that URL
is absolute) and a version line, then a "Screenshots" card when alerts carry an
``imageURL``. Grafana sends ``cards``, not ``cardsV2``, and neither do we. Success: any 2xx.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from contracts.gocompat import go_json
from contracts.integrations.googlechat import GoogleChatSettings
from workers.delivery.http import USER_AGENT
from workers.delivery.rendering import Rendering
from workers.delivery.request import HttpRequest
from workers.delivery.urls import join_url_path

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def build(rendering: Rendering, settings: GoogleChatSettings) -> HttpRequest:
    """The request Grafana's Google Chat notifier would send."""
    data = rendering.template_data()
    widgets: list[dict[str, Any]] = []
    message = rendering.render(settings.message, data)
    if message:  # Google rejects an empty text paragraph
        widgets.append(_paragraph(message))
    rule_url = join_url_path(rendering.data["externalURL"], "/alerting/list")
    if not settings.hide_open_button and urlsplit(rule_url).scheme:
        widgets.append({"buttons": [{"textButton": {"text": "OPEN IN GRAFANA", "onClick": {"openLink": {"url": rule_url}}}}]})
    if not settings.hide_version_info:
        widgets.append(_paragraph(f"{_product(data.AppVersion)} | {rfc822(rendering.now)}"))
    title = rendering.render(settings.title, data)
    cards = [{"header": {"title": title}, "sections": [{"widgets": widgets or None}]}]
    screenshots = _screenshot_card(rendering.data["alerts"])
    if screenshots:
        cards.append(screenshots)
    body = {"previewText": title, "fallbackText": title, "cards": cards}
    return HttpRequest(
        method="POST",
        url=rendering.render(settings.url.get_secret_value(), data),
        headers={"Content-Type": "application/json; charset=UTF-8", "User-Agent": USER_AGENT},
        body=go_json(body).encode(),
    )


def _paragraph(text: str) -> dict[str, Any]:
    return {"textParagraph": {"text": text}}


def _product(version: str) -> str:
    """Grafana writes ``Grafana v<version>``; without a known version we write ``Grafana``."""
    return f"Grafana v{version}" if version else "Grafana"


def _screenshot_card(alerts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One section per alert with a public image URL, as Grafana's "Screenshots" card."""
    sections = [
        {"widgets": [_paragraph(f"{a['status']}: {a['labels'].get('alertname', '')}"), {"image": {"imageUrl": a["imageURL"]}}]}
        for a in alerts
        if a.get("imageURL")
    ]
    return {"header": {"title": "Screenshots"}, "sections": sections} if sections else None


def rfc822(moment: datetime) -> str:
    """Go's ``time.RFC822`` (``02 Jan 06 15:04 MST``) in UTC, independent of the locale."""
    utc = moment.astimezone(timezone.utc)
    return f"{utc.day:02d} {_MONTHS[utc.month - 1]} {utc.year % 100:02d} {utc:%H:%M} UTC"

