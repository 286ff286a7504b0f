"""Choosing a contact point for an event and expanding it into jobs. Pure: no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from contracts.event import AlertEvent, EventError, Notification, normalise
from contracts.job import Job
from contracts.provisioning import Config, ContactPoint


@dataclass
class Routed:
    contact_point: ContactPoint
    jobs: list[Job]


def find_contact_point(config: Config, receiver: str) -> ContactPoint | None:
    """The contact point an event names. Grafana's own payload escapes the receiver with
    ``regexp.QuoteMeta`` (``ops\\.team``), so the unescaped name is tried too."""
    point = config.contact_points.get(receiver)
    if point is None and "\\" in receiver:
        point = config.contact_points.get(re.sub(r"\\(.)", r"\1", receiver))
    return point


def route(event: AlertEvent, config: Config, now: datetime | None = None) -> Routed:
    """One job per integration of the event's contact point (see :func:`jobs_for`)."""
    point = find_contact_point(config, event.receiver)
    if point is None:
        raise EventError(f"unknown contact point {event.receiver!r}")
    notification = normalise(event, now).model_copy(update={"receiver": point.name})
    return Routed(contact_point=point, jobs=jobs_for(point, event.id or "", notification))


def jobs_for(point: ContactPoint, event_id: str, notification: Notification, **extra: object) -> list[Job]:
    """One job per integration of ``point``; ``extra`` sets further job fields (fallback marks).

    Integrations with ``disableResolveMessage`` get only the firing alerts, and nothing at
    all when every alert is resolved (Grafana's behaviour).
    """
    jobs = []
    for integration in point.integrations:
        data = notification
        if integration.disable_resolve_message:
            if not notification.firing:
                continue
            data = notification.only_firing()
        job = Job.for_integration(event_id, point.name, integration.uid, integration.type, data)
        jobs.append(job.model_copy(update=extra) if extra else job)
    return jobs
