"""Microsoft Teams (``type: teams``): Grafana's v1 Adaptive Card message to a Workflows URL.

Settings: :class:`contracts.integrations.teams.TeamsSettings`. Body: a ``message`` with one
Adaptive Card attachment (title block coloured ``attention``/``good``, message block, a
"View URL" action to the alert list) and ``summary`` = the title. Success: any 2xx; for a
legacy ``*.webhook.office.com`` connector the body must also be exactly ``1``.
Alerts carry no images in alertrelay, so no ``ImageSet`` is built.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from contracts.gocompat import go_json
from contracts.integrations.teams import TeamsSettings
from workers.delivery.errors import body_excerpt, permanent, transient
from workers.delivery.http import USER_AGENT
from workers.delivery.rendering import Rendering
from workers.delivery.request import HttpRequest
from workers.delivery.urls import join_url_path

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
LEGACY_HOST_SUFFIX = "webhook.office.com"


def build(rendering: Rendering, settings: TeamsSettings) -> HttpRequest:
    """The request Grafana's Teams notifier would send when there are no images."""
    data = rendering.template_data()
    title = rendering.render(settings.title, data)
    card = {
        "body": [
            {"type": "TextBlock", "text": title, "color": "attention" if data.Status == "firing" else "good",
             "size": "large", "weight": "bolder", "wrap": True},
            {"type": "TextBlock", "text": rendering.render(settings.message, data), "wrap": True},
            {"type": "ActionSet", "actions": [
                {"type": "Action.OpenUrl", "title": "View URL",
                 "url": join_url_path(rendering.data["externalURL"], "/alerting/list")},
            ]},
        ],
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": "1.4",
        "msTeams": {"width": "Full"},
    }
    body: dict[str, object] = {
        "attachments": [{"content": card, "contentType": "application/vnd.microsoft.card.adaptive"}],
    }
    if title:
        body["summary"] = title
    body["type"] = "message"
    url = rendering.render(settings.url, data)
    return HttpRequest(
        method="POST",
        url=url,
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        body=go_json(body).encode(),
        check=check_legacy_response if is_legacy_connector(url) else None,
    )


def is_legacy_connector(url: str) -> bool:
    """An Office 365 connector (``*.webhook.office.com``), which reports errors in a 2xx body."""
    try:
        host = urlsplit(url).netloc.rpartition("@")[2]  # Go's URL.Host: with the port, as written
    except ValueError:
        return False
    return host.endswith(LEGACY_HOST_SUFFIX)


def check_legacy_response(response: httpx.Response) -> None:
    """A connector's 2xx is a success only with the body ``1``; otherwise the body is the error.

    Connectors report throttling as a 2xx whose text names HTTP error 429: that one is transient.
    """
    text = response.text
    if response.content == b"1":
        return
    error = transient if "429" in text else permanent
    raise error(f"webhook failed validation: {text[:1024]}", status_code=response.status_code,
                body_excerpt=body_excerpt(response))
