"""Webhook (``type: webhook``): Grafana's JSON notification body to any URL.

Settings: :class:`contracts.integrations.webhook.WebhookSettings`. Body: Grafana's
``ExtendedData`` plus ``version``, ``groupKey``, ``truncatedAlerts``, ``orgId``, ``title``,
``state`` and ``message``, or the rendered ``payload.template``. Success: any 2xx.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from contracts.gocompat import go_json
from contracts.integrations.webhook import WebhookSettings
from workers.delivery.http import USER_AGENT, ssl_context
from workers.delivery.rendering import Rendering
from workers.delivery.request import HttpRequest

NOOP_URL = "grafana://noop"


def build(rendering: Rendering, settings: WebhookSettings) -> HttpRequest | None:
    """The request Grafana's webhook notifier would send; ``None`` for ``grafana://noop``."""
    rendering, truncated = rendering.truncated(settings.maxAlerts)
    variables = settings.payload.vars if settings.payload else {}
    data = rendering.template_data(truncated=truncated, variables=variables)
    url = rendering.render(settings.url, data)
    if url == NOOP_URL:
        return None
    if settings.payload and settings.payload.template:
        body = rendering.render(settings.payload.template, data)
    else:
        body = go_json(
            {
                **rendering.data,
                "version": "1",
                "groupKey": rendering.data["groupKey"],
                "truncatedAlerts": truncated,
                "orgId": rendering.org_id,
                "title": rendering.render(settings.title, data),
                "state": "ok" if data.Status == "resolved" else "alerting",
                "message": rendering.render(settings.message, data),
            }
        )
    payload = body.encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    sensitive = set()
    if settings.username and settings.password and settings.password.get_secret_value():
        token = base64.b64encode(f"{settings.username}:{settings.password.get_secret_value()}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
        sensitive.add("Authorization")
    headers.update(settings.headers)
    if settings.authorization_credentials and settings.authorization_credentials.get_secret_value():
        scheme = settings.authorization_scheme or "Bearer"
        headers["Authorization"] = f"{scheme} {settings.authorization_credentials.get_secret_value()}"
        sensitive.add("Authorization")
    if settings.hmacConfig:
        signed = payload
        if settings.hmacConfig.timestampHeader:
            timestamp = str(int(rendering.now.timestamp()))
            headers[settings.hmacConfig.timestampHeader] = timestamp
            signed = timestamp.encode() + b":" + payload
        secret = settings.hmacConfig.secret.get_secret_value().encode()
        headers[settings.hmacConfig.header] = hmac.new(secret, signed, hashlib.sha256).hexdigest()
    return HttpRequest(
        method=settings.httpMethod,
        url=url,
        headers=headers,
        body=payload,
        sensitive_headers=frozenset(sensitive),
        verify=_verify(settings),
    )


def _verify(settings: WebhookSettings) -> object:
    tls = settings.tlsConfig
    if tls is None:
        return True

    def pem(value: object) -> str:
        return value.get_secret_value() if value is not None else ""  # type: ignore[attr-defined]

    return ssl_context(pem(tls.caCertificate), pem(tls.clientCertificate), pem(tls.clientKey), tls.insecureSkipVerify)
