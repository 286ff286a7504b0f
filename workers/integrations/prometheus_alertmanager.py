"""Alertmanager (``type: prometheus-alertmanager``): the batch's alerts posted to every Alertmanager.

Settings: :class:`contracts.integrations.prometheus_alertmanager.AlertmanagerSettings`. Body: a
JSON array with, per alert, its raw ``labels`` and ``annotations`` (Grafana-private ``__x__``
keys kept, ``image`` added when the alert has an image URL), ``startsAt``, ``endsAt`` and
``generatorURL``. No templates. One ``POST <url>/api/v2/alerts`` per configured URL; the
notification succeeds if ANY of them answers 2xx. When all fail, the combined failure is
transient if any single failure was, so a later attempt may still reach one of them.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from contracts.event import Alert
from contracts.gocompat import ZERO_TIME, go_json
from contracts.integrations.prometheus_alertmanager import AlertmanagerSettings
from workers.delivery import http
from workers.delivery.errors import DeliveryError, redact
from workers.delivery.http import USER_AGENT
from workers.delivery.rendering import Rendering
from workers.delivery.request import HttpRequest

log = logging.getLogger("alertrelay.integrations.prometheus_alertmanager")


@dataclass
class AlertmanagerRequest:
    """The same alerts for each Alertmanager URL: one :class:`HttpRequest` per URL."""

    requests: list[HttpRequest]

    def sensitive_values(self) -> list[str]:
        return [value for request in self.requests for value in request.sensitive_values()]

    def preview(self, secrets: list[str], show_secrets: bool = False) -> dict[str, Any]:
        """``{"requests": [{"method", "url", "headers", "body"}, ...]}``, one entry per URL."""
        return {"requests": [request.preview(secrets, show_secrets) for request in self.requests]}


def build(rendering: Rendering, settings: AlertmanagerSettings) -> AlertmanagerRequest:
    """The requests Grafana's Alertmanager notifier would send, one per configured URL."""
    body = go_json([alert_json(alert, rendering.now) for alert in rendering.notification.alerts]).encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    sensitive: frozenset[str] = frozenset()
    basic = settings.basic_auth()
    if basic is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
        sensitive = frozenset({"Authorization"})
    return AlertmanagerRequest(
        [
            HttpRequest(method="POST", url=url, headers=dict(headers), body=body, sensitive_headers=sensitive)
            for url in settings.urls()
        ]
    )


def alert_json(alert: Alert, now: datetime) -> dict[str, Any]:
    """One alert as Grafana marshals it: full label and annotation sets, sorted like Go maps."""
    annotations = dict(alert.annotations)
    if alert.imageURL:
        annotations["image"] = alert.imageURL
    return {
        "labels": dict(sorted(alert.labels.items())),
        "annotations": dict(sorted(annotations.items())),
        "startsAt": alert.startsAt,
        "endsAt": ends_at(alert, now),
        "generatorURL": alert.generatorURL,
    }


def ends_at(alert: Alert, now: datetime) -> datetime:
    """A resolved alert's end (``now`` if the event gave none, so the receiver still resolves it);
    the zero time for a firing one, which Alertmanager reads as "not set"."""
    if alert.status == "resolved":
        return alert.endsAt or now
    return ZERO_TIME


def send(request: AlertmanagerRequest, settings: AlertmanagerSettings) -> None:
    """Post to every URL; raise only if all of them failed (a partial failure is logged, as in Grafana)."""
    failures: list[tuple[str, DeliveryError]] = []
    for one in request.requests:
        try:
            http.send(one)
        except DeliveryError as exc:
            failures.append((_where(one.url), exc))
    if request.requests and len(failures) == len(request.requests):
        raise combined(failures)
    if failures:
        secrets = sorted(set(settings.secret_values() + request.sensitive_values()), key=len, reverse=True)
        for where, error in failures:
            log.warning("failed to send to Alertmanager %s (another one accepted): %s", where, redact(error.message, secrets))


def combined(failures: list[tuple[str, DeliveryError]]) -> DeliveryError:
    """One error for "every URL failed": transient if any was; details of each, status of the last
    failure of the deciding kind; a ``Retry-After`` only if every transient failure gave one."""
    kind = "transient" if any(error.transient for _, error in failures) else "permanent"
    deciding = [error for _, error in failures if error.kind == kind][-1]
    hints = [error.retry_after for _, error in failures if error.transient]
    retry_after = min(hints) if hints and all(h is not None for h in hints) else None  # type: ignore[type-var]
    detail = "; ".join(f"{where}: {error.message}" for where, error in failures)
    return DeliveryError(
        kind,
        f"failed to send alert to Alertmanager: {detail}",
        status_code=deciding.status_code,
        body_excerpt=deciding.body_excerpt,
        retry_after=retry_after,
    )


def _where(url: str) -> str:
    """``scheme://host:port`` of a URL, without any ``user:password@``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"
