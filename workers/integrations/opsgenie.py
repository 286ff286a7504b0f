"""Opsgenie (``type: opsgenie``): create an alert while the group fires, close it once resolved.

Settings: :class:`contracts.integrations.opsgenie.OpsgenieSettings`. Create: ``POST <apiUrl>``
with Grafana's ``opsGenieCreateMessage`` (alias = SHA-256 of the group key, tags/details from
the common labels, ``og_priority``, responders). Close (``autoClose``, every alert resolved):
``POST <apiUrl>/<alias>/close?identifierType=alias`` with ``{"source":"Grafana"}``; without
``autoClose`` nothing is sent. Auth: ``Authorization: GenieKey <apiKey>``. Success: any 2xx;
429 and 5xx are retried by the shared classification.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from contracts.gocompat import go_json
from contracts.integrations.base import DEFAULT_MESSAGE, DEFAULT_TITLE
from contracts.integrations.opsgenie import DEFAULT_API_URL, OpsgenieSettings, Responder
from workers.delivery.endpoints import api_url
from workers.delivery.http import USER_AGENT
from workers.delivery.rendering import Rendering
from workers.delivery.request import HttpRequest
from workers.delivery.urls import alert_list_url
from workers.delivery.template_data import TemplateData
from workers.delivery.templates import TemplateError
from workers.delivery.truncate import truncate_runes

MAX_MESSAGE_RUNES = 130
PRIORITIES = frozenset({"P1", "P2", "P3", "P4", "P5"})
SOURCE = "Grafana"


def build(rendering: Rendering, settings: OpsgenieSettings) -> HttpRequest | None:
    """The create or close request; ``None`` for a resolved group without ``autoClose``."""
    alias = rendering.group_key_hash
    if rendering.data["status"] == "resolved":
        if not settings.autoClose:
            return None
        url = f"{endpoint(settings.apiUrl)}/{alias}/close?identifierType=alias"
        return _request(url, go_json({"source": SOURCE}), settings)
    data = rendering.template_data()
    body = go_json(create_message(rendering, settings, data, alias))
    return _request(endpoint(create_url(rendering, settings, data)), body, settings)


def create_url(rendering: Rendering, settings: OpsgenieSettings, data: TemplateData) -> str:
    """The rendered ``apiUrl``; the raw value when it fails to render, as in Grafana."""
    try:
        return rendering.render(settings.apiUrl, data)
    except TemplateError:
        return settings.apiUrl


def _request(url: str, body: str, settings: OpsgenieSettings) -> HttpRequest:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Authorization": f"GenieKey {settings.apiKey.get_secret_value()}",
    }
    return HttpRequest("POST", url, headers, body.encode(), sensitive_headers=frozenset({"Authorization"}))


def create_message(rendering: Rendering, settings: OpsgenieSettings, data: TemplateData, alias: str) -> dict[str, Any]:
    """Grafana's create message, keys in its JSON order (``omitempty`` fields left out when empty)."""
    list_url = alert_list_url(rendering.data["externalURL"])
    labels = {name: rendering.render(value, data) for name, value in sorted(data.CommonLabels.items())}
    message = {
        "alias": alias,
        "message": truncate_runes(rendering.render(settings.message, data), MAX_MESSAGE_RUNES)[0],
        "description": description(rendering, settings, data, list_url),
        "details": details(rendering, settings, labels, list_url),
        "source": SOURCE,
        "responders": [r for responder in settings.responders for r in render_responder(rendering, responder, data)],
        "tags": sorted(f"{k}:{v}" for k, v in labels.items()) if settings.sendTagsAs in ("tags", "both") else [],
        "priority": priority(settings, data),
    }
    return {k: v for k, v in message.items() if k in ("alias", "message", "details", "source", "tags") or v}


def description(rendering: Rendering, settings: OpsgenieSettings, data: TemplateData, list_url: str) -> str:
    """The rendered description; when blank, Grafana's title, rule list URL and message."""
    text = rendering.render(settings.description, data) if settings.description else ""
    if text.strip():
        return text
    title = rendering.render(DEFAULT_TITLE, data)
    body = rendering.render(DEFAULT_MESSAGE, data)
    return f"{title}\n{list_url}\n\n{body}"


def details(rendering: Rendering, settings: OpsgenieSettings, labels: dict[str, str], list_url: str) -> dict[str, str]:
    """``url`` always; the common labels and image URLs too for ``sendTagsAs`` details/both."""
    found: dict[str, str] = {"url": list_url}
    if settings.sendTagsAs in ("details", "both"):
        found.update(labels)
        images = [a["imageURL"] for a in rendering.data["alerts"] if a.get("imageURL")]
        if images:
            found["image_urls"] = ", ".join(images)
    return dict(sorted(found.items()))


def priority(settings: OpsgenieSettings, data: TemplateData) -> str:
    """The ``og_priority`` common label when it is exactly P1..P5 and overriding is on."""
    value = data.CommonLabels.get("og_priority", "")
    return value if settings.overridePriority and value in PRIORITIES else ""


def render_responder(rendering: Rendering, responder: Responder, data: TemplateData) -> list[dict[str, str]]:
    """A responder's rendered fields; none when all render empty; ``teams`` split into teams."""
    fields = {name: rendering.render(getattr(responder, name), data) for name in ("id", "name", "username", "type")}
    if not any(fields.values()):
        return []
    if fields["type"] == "teams":
        return [{"name": team, "type": "team"} for team in fields["name"].split(",") if team]
    return [{**{k: v for k, v in fields.items() if k != "type" and v}, "type": fields["type"]}]






def endpoint(url: str) -> str:
    """The configured URL; Opsgenie's own host follows ``ALERTRELAY_API_URL_OPSGENIE``."""
    if urlsplit(url).netloc == urlsplit(DEFAULT_API_URL).netloc:
        return api_url("opsgenie", url)
    return url
