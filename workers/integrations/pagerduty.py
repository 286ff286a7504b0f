"""PagerDuty (``type: pagerduty``): an Events API v2 event per notification.

Settings: :class:`contracts.integrations.pagerduty.PagerDutySettings`. Body: Grafana's
``pagerDutyMessage`` — ``trigger`` while any alert fires, ``resolve`` once all are resolved,
both with ``dedup_key`` = SHA-256 of the group key so PagerDuty pairs them. Success: any 2xx
(PagerDuty answers 202); 429 and 5xx are retried by the shared classification.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import urlsplit

from contracts.gocompat import go_json
from contracts.integrations.pagerduty import DEFAULT_SEVERITY, DEFAULT_URL, KNOWN_SEVERITIES, PagerDutySettings
from workers.delivery.endpoints import api_url
from workers.delivery.http import USER_AGENT
from workers.delivery.rendering import Rendering
from workers.delivery.request import HttpRequest
from workers.delivery.template_data import TemplateData
from workers.delivery.truncate import truncate_runes

#: PagerDuty's limits: summary in runes, whole event in bytes.
MAX_SUMMARY_RUNES = 1024
MAX_EVENT_BYTES = 512000
OVERSIZE_DETAILS = {
    "error": "Custom details have been removed because the original event exceeds the maximum size of 512KB"
}


def build(rendering: Rendering, settings: PagerDutySettings) -> HttpRequest:
    """The request Grafana's PagerDuty notifier would send for this notification."""
    data = rendering.template_data()
    body = encode(message(rendering, settings, data))
    return HttpRequest(
        method="POST",
        url=endpoint(settings.url),
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        body=body,
    )


def message(rendering: Rendering, settings: PagerDutySettings, data: TemplateData) -> dict[str, Any]:
    """The event as a dict in Grafana's JSON field order (``omitempty`` fields left out when empty)."""
    render = partial(rendering.render, data=data)
    details = {key: render(source) for key, source in sorted(settings.details.items())}
    payload = omit_empty(
        {
            "summary": truncate_runes(render(settings.summary), MAX_SUMMARY_RUNES)[0],
            "source": render(settings.source),
            "severity": severity(render(settings.severity)),
            "class": render(settings.class_),
            "component": render(settings.component),
            "group": render(settings.group),
            "custom_details": details,
        },
        keep=("summary", "source", "severity"),
    )
    images = [{"src": a["imageURL"]} for a in rendering.data["alerts"] if a.get("imageURL")]
    return omit_empty(
        {
            "routing_key": settings.integrationKey.get_secret_value(),
            "dedup_key": rendering.group_key_hash,
            "event_action": "resolve" if data.Status == "resolved" else "trigger",
            "payload": payload,
            "client": render(settings.client),
            "client_url": render(settings.client_url),
            "links": [{"href": rendering.data["externalURL"], "text": "External URL"}],
            "images": images,
        },
        keep=("event_action", "payload"),
    )


def encode(event: dict[str, Any]) -> bytes:
    """Go's ``json.Encoder`` output (trailing newline); custom details dropped above 512000 bytes."""
    body = (go_json(event) + "\n").encode()
    if len(body) <= MAX_EVENT_BYTES:
        return body
    event = {**event, "payload": {**event["payload"], "custom_details": OVERSIZE_DETAILS}}
    return (go_json(event) + "\n").encode()


def severity(rendered: str) -> str:
    """Lower-cased; an unknown severity becomes ``critical`` as in Grafana."""
    value = rendered.lower()
    return value if value in KNOWN_SEVERITIES else DEFAULT_SEVERITY




def endpoint(url: str) -> str:
    """The configured URL; PagerDuty's own host follows ``ALERTRELAY_API_URL_PAGERDUTY``."""
    if urlsplit(url).netloc == urlsplit(DEFAULT_URL).netloc:
        return api_url("pagerduty", url)
    return url


def omit_empty(fields: dict[str, Any], keep: tuple[str, ...]) -> dict[str, Any]:
    """Go's ``omitempty``: empty strings, lists and maps are left out, except ``keep``."""
    return {k: v for k, v in fields.items() if k in keep or v not in ("", [], {}, None)}
