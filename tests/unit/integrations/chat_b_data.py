"""Shared test data for the chat B integrations (Google Chat, Webex, DingDing, WeCom, LINE).

The alerts mirror grafana/alerting's own notifier tests (``alert1`` with ``lbl1=val1``, a
dashboard and a panel, group labels ``{alertname: ""}``), so the expected titles read as
Grafana's tests do; the message bodies below were checked line by line against
``default.message`` (our dashboard URLs carry Grafana's ``from``/``to`` range).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from contracts.event import normalise, parse_event
from contracts.provisioning import Integration
from workers.delivery.core import Prepared, send_prepared
from workers.delivery.errors import DeliveryError
from workers.delivery.rendering import Rendering
from workers.delivery.templates import Templates

NOW = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)
STARTS = "2024-05-01T10:00:00Z"

ALERT1 = {
    "labels": {"alertname": "alert1", "lbl1": "val1"},
    "annotations": {"ann1": "annv1", "__dashboardUid__": "abcd", "__panelId__": "efgh", "__values__": '{"A": 1234}'},
    "startsAt": STARTS,
}
ALERT2 = {"labels": {"alertname": "alert1", "lbl1": "val2"}, "annotations": {"ann1": "annv2"}, "startsAt": STARTS}
RESOLVED = {**ALERT2, "endsAt": "2024-05-01T10:20:00Z"}

TITLE1 = "[FIRING:1]  (val1)"
MESSAGE1 = (
    "**Firing**\n\nValue: A=1234\nLabels:\n - alertname = alert1\n - lbl1 = val1\nAnnotations:\n - ann1 = annv1\n"
    "Silence: http://localhost/alerting/silence/new?alertmanager=grafana&matcher=alertname%3Dalert1&matcher=lbl1%3Dval1\n"
    "Dashboard: http://localhost/d/abcd?from=1714554000000&to=1714559400000\n"
    "Panel: http://localhost/d/abcd?from=1714554000000&to=1714559400000&viewPanel=efgh\n"
)
TITLE_RESOLVED = "[RESOLVED]  (val2)"
MESSAGE_RESOLVED = (
    "**Resolved**\n\nValue: [no value]\nLabels:\n - alertname = alert1\n - lbl1 = val2\nAnnotations:\n - ann1 = annv2\n"
    "Silence: http://localhost/alerting/silence/new?alertmanager=grafana&matcher=alertname%3Dalert1&matcher=lbl1%3Dval2\n"
)


def rendering(*alerts: dict[str, Any], external: str = "http://localhost", templates: dict[str, str] | None = None) -> Rendering:
    """The notification Grafana's tests use: given alerts (default ``ALERT1``), group labels ``{alertname: ""}``."""
    event = {"receiver": "ops", "externalURL": external, "groupLabels": {"alertname": ""}, "alerts": list(alerts or [ALERT1])}
    return Rendering(normalise(parse_event(json.dumps(event).encode()), NOW), Templates(templates), NOW)


def delivery_error(type_name: str, settings: Any, request: Any) -> DeliveryError:
    """Send ``request`` the way a worker does (secrets redacted) and return the error it raised."""
    integration = Integration(uid="u", type=type_name, settings=settings, contact_point="ops")
    secrets = sorted(set(settings.secret_values() + request.sensitive_values()), key=len, reverse=True)
    try:
        send_prepared(Prepared(integration, request, secrets))
    except DeliveryError as exc:
        return exc
    raise AssertionError("the send did not fail")
