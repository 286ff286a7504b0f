"""LINE (``type: LINE``, alias ``line``): a LINE Notify message. Deprecated.

LINE Notify was shut down on 31 March 2025; from 1 April 2025 every ``notify-api.line.me``
API is unavailable. The integration is kept so that existing provisioning files still load
and so that it sends, exactly as Grafana did, to the configured endpoint
(``ALERTRELAY_API_URL_LINE`` replaces ``https://notify-api.line.me``, e.g. for a
LINE-Notify-compatible relay); against LINE itself every send now fails.

Settings: :class:`contracts.integrations.line.LineSettings`. Request: ``POST
https://notify-api.line.me/api/notify`` with ``Authorization: Bearer <token>`` and the form
field ``message=<title>\\n<description>``, cut to 1000 runes (ending ``…``). Success: any 2xx.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from contracts.integrations.line import LineSettings
from workers.delivery.endpoints import api_url
from workers.delivery.http import USER_AGENT
from workers.delivery.rendering import Rendering
from workers.delivery.request import HttpRequest
from workers.delivery.truncate import truncate_runes

API_URL = "https://notify-api.line.me/api/notify"
MAX_MESSAGE_RUNES = 1000
log = logging.getLogger("alertrelay.integrations.line")


def build(rendering: Rendering, settings: LineSettings) -> HttpRequest:
    """The request Grafana's LINE notifier would send."""
    data = rendering.template_data()
    text = f"{rendering.render(settings.title, data)}\n{rendering.render(settings.description, data)}"
    message, truncated = truncate_runes(text, MAX_MESSAGE_RUNES)
    if truncated:
        log.warning("LINE message longer than %d runes, truncated", MAX_MESSAGE_RUNES)
    return HttpRequest(
        method="POST",
        url=api_url("line", API_URL),
        headers={
            "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
            "User-Agent": USER_AGENT,
            "Authorization": f"Bearer {settings.token.get_secret_value()}",
        },
        body=urlencode({"message": message}).encode(),
        sensitive_headers=frozenset({"Authorization"}),
    )
