"""Delivering one job: look its settings up, build the request, send it with retries.

Settings are read from the provisioning at send time by contact point and uid, never from
the job, so no secret travels through the broker, and a dead letter replayed after its
URL was fixed goes to the fixed URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from contracts.job import Job
from contracts.provisioning import Integration
from workers.delivery import http
from workers.delivery.errors import DeliveryError, permanent
from workers.delivery.rendering import Rendering
from workers.delivery.request import url_secret_parts
from workers.delivery.templates import TemplateError
from workers.integrations import sender
from workers.runtime import Runtime


@dataclass
class Prepared:
    """A job ready to send: its integration, its request (``None``: nothing to send), its secrets."""

    integration: Integration
    request: Any
    secrets: list[str]


def prepare(job: Job, runtime: Runtime, now: datetime | None = None) -> Prepared:
    """Build the request for ``job``; a missing integration or a template error is permanent."""
    integration = runtime.config.integration(job.contact_point, job.uid)
    if integration is None:
        raise permanent(f"unknown contact point {job.contact_point!r} or integration uid {job.uid!r} in the configuration")
    if integration.type != job.type:
        raise permanent(f"integration {job.uid!r} is now of type {integration.type!r}, the job is for {job.type!r}")
    secrets = secrets_of(job.contact_point, integration, runtime)
    rendering = Rendering(job.notification, runtime.templates, now or datetime.now(timezone.utc), integration.org_id)
    try:
        request = sender(integration.type).build(rendering, integration.settings)
    except TemplateError as exc:
        raise permanent(str(exc)).redacted(secrets) from None
    if request is not None and hasattr(request, "sensitive_values"):
        secrets = _longest_first(secrets + request.sensitive_values())
    return Prepared(integration, request, secrets)


def secrets_of(contact_point: str, integration: Integration, runtime: Runtime) -> list[str]:
    """The integration's secrets and the parts of its secret URLs, once per loaded configuration."""
    key = (contact_point, integration.uid)
    secrets = runtime.secret_cache.get(key)
    if secrets is None:
        values = integration.settings.secret_values()
        secrets = runtime.secret_cache[key] = _longest_first(values + [part for value in values for part in url_secret_parts(value)])
    return secrets


def _longest_first(secrets: list[str]) -> list[str]:
    """Redaction order: a secret that contains another is replaced first."""
    return sorted(set(secrets), key=len, reverse=True)


def send_prepared(prepared: Prepared) -> None:
    """One attempt; raises a redacted :class:`DeliveryError` on failure."""
    if prepared.request is None:
        return
    module = sender(prepared.integration.type)
    try:
        if hasattr(module, "send"):
            module.send(prepared.request, prepared.integration.settings)
        else:
            http.send(prepared.request)
    except DeliveryError as exc:
        raise exc.redacted(prepared.secrets) from None


def deliver(job: Job, runtime: Runtime, on_attempt: Any = None) -> None:
    """Prepare and send ``job`` with the in-process retries of the runtime's policy."""
    prepared = prepare(job, runtime)
    runtime.policy.run(lambda: send_prepared(prepared), on_attempt=on_attempt)
