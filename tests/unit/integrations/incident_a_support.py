"""Shared by the incident-A unit tests (PagerDuty, Opsgenie, VictorOps, Pushover, Sensu Go):
notifications with a fixed clock, and one real send through the delivery core."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from contracts.event import normalise, parse_event
from contracts.integrations.base import Settings
from contracts.job import Job
from contracts.provisioning import Config, ConfigError, ContactPoint, Integration, load_config
from workers.delivery.core import prepare, send_prepared
from workers.delivery.errors import DeliveryError
from workers.delivery.rendering import Rendering
from workers.delivery.retry import RetryPolicy
from workers.delivery.templates import Templates
from workers.runtime import Runtime

NOW = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)
EXTERNAL_URL = "https://grafana.example.com/"
#: The group key of Grafana's own notifier tests, and its SHA-256 as those tests expect it.
GROUP_KEY = "alertname"
GROUP_HASH = "6e3538104c14b583da237e9693b76debbc17f0f8058ef20492e5853096cf8733"


def alert(instance: str, resolved: bool = False, **extra: Any) -> dict[str, Any]:
    return {
        "labels": {"alertname": "Disk", "instance": instance, **extra.pop("labels", {})},
        "annotations": {"summary": f"disk {instance}"},
        "startsAt": "2024-05-01T10:00:00Z",
        **({"endsAt": "2024-05-01T10:20:00Z"} if resolved else {}),
        **extra,
    }


def rendering(
    *alerts: dict[str, Any], templates: dict[str, str] | None = None, external_url: str = EXTERNAL_URL,
    group_key: str = GROUP_KEY,
) -> Rendering:
    """A notification to contact point ``ops`` rendered at :data:`NOW`."""
    raw = {"receiver": "ops", "externalURL": external_url, "groupKey": group_key, "alerts": list(alerts)}
    event = parse_event(json.dumps(raw).encode())
    return Rendering(normalise(event, NOW), Templates(templates), NOW)


def message_block(instance: str, **labels: str) -> str:
    """One alert of ``__text_alert_list`` for :func:`alert` data."""
    pairs = {"alertname": "Disk", "instance": instance, **labels}
    names = ["alertname", *sorted(k for k in pairs if k != "alertname")]
    label_lines = "".join(f" - {k} = {pairs[k]}\n" for k in names)
    matchers = "&".join(f"matcher={k}%3D{pairs[k]}" for k in names)
    return (
        f"\nValue: [no value]\nLabels:\n{label_lines}Annotations:\n - summary = disk {instance}\n"
        f"Silence: {EXTERNAL_URL}alerting/silence/new?alertmanager=grafana&{matchers}\n"
    )


def deliver_once(type_name: str, settings: Settings, notification: Rendering) -> DeliveryError | None:
    """One attempt through the delivery core (prepare + send, errors redacted), as a worker does it."""
    integration = Integration(uid="u1", type=type_name, settings=settings, contact_point="ops")
    config = Config(contact_points={"ops": ContactPoint(name="ops", integrations=[integration])})
    runtime = Runtime(config, Templates(), RetryPolicy.from_env())
    job = Job.for_integration("evt-1", "ops", "u1", type_name, notification.notification)
    prepared = prepare(job, runtime, now=NOW)
    try:
        send_prepared(prepared)
    except DeliveryError as exc:
        return exc
    return None


def config_errors(tmp_path: Any, type_name: str, settings: dict[str, Any]) -> list[str]:
    """The errors the provisioning loader reports for one integration (empty when it loads)."""
    path = tmp_path / "provisioning.json"
    receiver = {"uid": "u1", "type": type_name, "settings": settings}
    path.write_text(json.dumps({"apiVersion": 1, "contactPoints": [{"name": "ops", "receivers": [receiver]}]}))
    try:
        load_config(path, env={})
    except ConfigError as exc:
        return exc.errors
    return []
