"""Sensu Go (``type: sensugo``): one event on the Sensu Go events API per notification.

Settings: :class:`contracts.integrations.sensugo.SensuGoSettings`. Request: ``POST
<url>/api/core/v2/namespaces/<namespace>/events`` with ``Authorization: Key <apikey>`` and
Grafana's event (keys in alphabetical order, as Go encodes a map): check ``status`` 2 while
any alert fires, 0 once all are resolved. Success: any 2xx.
"""

from __future__ import annotations

from typing import Any
from contracts.gocompat import go_json
from contracts.integrations.sensugo import SensuGoSettings
from workers.delivery.http import USER_AGENT
from workers.delivery.rendering import Rendering
from workers.delivery.request import HttpRequest
from workers.delivery.urls import alert_list_url
from workers.delivery.template_data import TemplateData

DEFAULT_NAME = "default"
#: Grafana sends a fixed check interval of one day.
INTERVAL_SECONDS = 86400


def build(rendering: Rendering, settings: SensuGoSettings) -> HttpRequest:
    """The request Grafana's Sensu Go notifier would send for this notification."""
    data = rendering.template_data()
    namespace = rendering.render(settings.namespace, data) or DEFAULT_NAME
    return HttpRequest(
        method="POST",
        url=f"{settings.url.removesuffix('/')}/api/core/v2/namespaces/{namespace}/events",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Authorization": f"Key {settings.apikey.get_secret_value()}",
        },
        body=go_json(event(rendering, settings, data, namespace)).encode(),
        sensitive_headers=frozenset({"Authorization"}),
    )


def event(rendering: Rendering, settings: SensuGoSettings, data: TemplateData, namespace: str) -> dict[str, Any]:
    """Grafana's event body, every map's keys sorted."""
    list_url = alert_list_url(rendering.data["externalURL"])
    labels = {"ruleURL": list_url}
    image = next((a["imageURL"] for a in rendering.data["alerts"] if a.get("imageURL")), None)
    if image:
        labels["imageURL"] = image
    return {
        "check": {
            "handlers": [rendering.render(settings.handler, data)] if settings.handler else None,
            "interval": INTERVAL_SECONDS,
            "issued": int(rendering.now.timestamp()),
            "metadata": {
                "labels": dict(sorted(labels.items())),
                "name": rendering.render(settings.check, data) or DEFAULT_NAME,
            },
            "output": rendering.render(settings.message, data),
            "status": 2 if data.Status == "firing" else 0,
        },
        "entity": {
            "metadata": {
                "name": rendering.render(settings.entity, data) or DEFAULT_NAME,
                "namespace": namespace,
            },
        },
        "ruleUrl": list_url,
    }

