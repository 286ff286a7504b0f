"""Grafana OnCall / IRM (``type: oncall``): Grafana's webhook-shaped JSON to the OnCall integration URL.

Settings: :class:`contracts.integrations.oncall.OnCallSettings`. Body: Grafana's ``ExtendedData``
followed by ``version``, ``groupKey``, ``orgId``, ``title``, ``state``, ``message`` and
``truncatedAlerts``, in the order Go's ``encoding/json`` writes the ``oncallMessage`` struct.
Success: any 2xx.
"""

from __future__ import annotations

import base64

from contracts.gocompat import go_json
from contracts.integrations.oncall import OnCallSettings
from workers.delivery.http import USER_AGENT
from workers.delivery.rendering import Rendering
from workers.delivery.request import HttpRequest


def build(rendering: Rendering, settings: OnCallSettings) -> HttpRequest:
    """The request Grafana's OnCall notifier would send, keeping at most ``maxAlerts`` alerts."""
    rendering, truncated = rendering.truncated(settings.maxAlerts)
    data = rendering.template_data(truncated=truncated)
    body = {key: value for key, value in rendering.data.items() if key != "groupKey"}
    body.update(
        {
            "version": "1",
            "groupKey": rendering.data["groupKey"],
            "orgId": rendering.org_id,
            "title": rendering.render(settings.title, data),
            "state": "ok" if data.Status == "resolved" else "alerting",
            "message": rendering.render(settings.message, data),
            "truncatedAlerts": truncated,
        }
    )
    url = rendering.render(settings.url, data)
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    basic = settings.basic_auth()
    if basic is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
    authorization = settings.authorization()
    if authorization is not None:
        headers["Authorization"] = authorization
    return HttpRequest(
        method=settings.httpMethod,
        url=url,
        headers=headers,
        body=go_json(body).encode(),
        sensitive_headers=frozenset({"Authorization"} if "Authorization" in headers else set()),
    )
