"""The alert event publishers send, and its normalised form that travels inside jobs.

Three shapes are accepted as one model: Grafana's webhook payload, Alertmanager's webhook
payload (version 4), and a minimal event (``receiver`` + ``alerts``). Whatever the shape,
:func:`normalise` turns it into a :class:`Notification`: alerts with their full label sets,
a status each, a fingerprint each, sorted in Alertmanager's dispatcher order, plus the
group labels and group key Grafana would have used.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from contracts.gocompat import fingerprint, labelset_string, parse_time

#: Grafana's default notification policy groups by these labels.
DEFAULT_GROUP_BY = ("grafana_folder", "alertname")

Status = Literal["firing", "resolved"]


class EventAlert(BaseModel):
    """One alert as published; the optional fields come from Grafana-shaped payloads."""

    model_config = ConfigDict(extra="ignore")

    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str = ""
    status: Status | None = None
    fingerprint: str | None = None
    silenceURL: str | None = None
    dashboardURL: str | None = None
    panelURL: str | None = None
    values: dict[str, float] | None = None
    valueString: str | None = None
    orgId: int | None = None
    ruleUID: str | None = None
    imageURL: str | None = None

    @field_validator("startsAt", "endsAt", mode="before")
    @classmethod
    def _parse_time(cls, value: Any) -> Any:
        if value is None or isinstance(value, datetime):
            return value
        if not isinstance(value, str):
            raise ValueError("must be an RFC 3339 timestamp string")
        try:
            return parse_time(value)
        except ValueError as exc:
            raise ValueError(f"not an RFC 3339 timestamp: {value!r}") from exc

    @field_validator("startsAt")
    @classmethod
    def _starts_set(cls, value: datetime | None) -> datetime:
        if value is None:
            raise ValueError("must be a real time, not the zero time")
        return value


class AlertEvent(BaseModel):
    """An event on ``alertrelay.events``: the union of the three accepted shapes."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = Field(default=None, min_length=1, max_length=200)
    receiver: str = Field(min_length=1)
    alerts: list[EventAlert] = Field(min_length=1)
    externalURL: str = ""
    groupLabels: dict[str, str] | None = None
    groupKey: str | None = None
    version: str | None = None


class Alert(BaseModel):
    """A normalised alert. Labels and annotations are the full sets, private keys included."""

    status: Status
    labels: dict[str, str]
    annotations: dict[str, str]
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str
    #: Set only when the publisher sent Grafana's already-derived fields; kept as given.
    silenceURL: str | None = None
    dashboardURL: str | None = None
    panelURL: str | None = None
    values: dict[str, float] | None = None
    valueString: str | None = None
    orgId: int | None = None
    ruleUID: str | None = None
    imageURL: str | None = None


class Notification(BaseModel):
    """The data of one notification to one contact point: what every template sees."""

    receiver: str
    status: Status
    alerts: list[Alert]
    groupLabels: dict[str, str]
    externalURL: str = ""
    groupKey: str
    #: True when the event was Grafana's own webhook payload (URLs and values given, not derived).
    precomputed: bool = False

    @property
    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if a.status == "firing"]

    def only_firing(self) -> "Notification":
        """The notification an integration with ``disableResolveMessage`` gets."""
        return self.model_copy(update={"alerts": self.firing, "status": "firing"})


class EventError(ValueError):
    """An event that cannot be routed; the message is the reason shown to operators."""


def max_event_bytes() -> int:
    """``ALERTRELAY_MAX_EVENT_BYTES`` (default 4 MiB): larger events are rejected, not parsed."""
    return int(os.environ.get("ALERTRELAY_MAX_EVENT_BYTES", 4 * 1024 * 1024))


def parse_event(body: bytes) -> AlertEvent:
    """Decode and validate one event body, raising :class:`EventError` with a readable reason."""
    limit = max_event_bytes()
    if len(body) > limit:
        raise EventError(f"event too large: {len(body)} bytes (limit {limit}, ALERTRELAY_MAX_EVENT_BYTES)")
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise EventError(f"malformed JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise EventError(f"an event must be a JSON object, got {type(raw).__name__}")
    try:
        event = AlertEvent.model_validate(raw)
    except ValidationError as exc:
        raise EventError("invalid event: " + describe_validation_error(exc)) from None
    if event.id is None:
        event.id = content_id(raw)
    return event


def describe_validation_error(exc: ValidationError) -> str:
    """Pydantic errors as ``alerts.0.startsAt: reason; ...`` without the input echoed."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def content_id(raw: dict[str, Any]) -> str:
    """A stable id for an event without one: the hash of its canonical JSON."""
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _label_set_before(a: dict[str, str], b: dict[str, str]) -> bool:
    """Prometheus ``LabelSet.Before``: fewer labels first, then the first differing name/value."""
    if len(a) != len(b):
        return len(a) < len(b)
    for name in sorted(set(a) | set(b)):
        if name not in a:
            return True
        if name not in b:
            return False
        if a[name] != b[name]:
            return a[name] < b[name]
    return False


def _dispatcher_compare(x: Alert, y: Alert) -> int:
    """Alertmanager's ``AlertSlice.Less``: by ``job``, then ``instance``, then the label set."""
    for key in ("job", "instance"):
        xv, yv = x.labels.get(key), y.labels.get(key)
        if xv is not None or yv is not None:
            if xv is None:
                return 1
            if yv is None:
                return -1
            if xv != yv:
                return -1 if xv < yv else 1
    if _label_set_before(x.labels, y.labels):
        return -1
    if _label_set_before(y.labels, x.labels):
        return 1
    return 0


def _default_group_labels(alerts: list[EventAlert]) -> dict[str, str]:
    """Labels of Grafana's default ``group_by`` that every alert shares."""
    group: dict[str, str] = {}
    for name in DEFAULT_GROUP_BY:
        values = {a.labels.get(name) for a in alerts}
        if len(values) == 1 and None not in values:
            group[name] = values.pop()  # type: ignore[assignment]
    return group


def normalise(event: AlertEvent, now: datetime | None = None) -> Notification:
    """Turn any accepted event shape into the notification Grafana would build from it."""
    now = now or datetime.now(timezone.utc)
    precomputed = event.version == "1" and any(a.fingerprint for a in event.alerts)
    alerts: list[Alert] = []
    for a in event.alerts:
        if a.status is not None:
            status = a.status
        else:
            status = "resolved" if a.endsAt is not None and a.endsAt <= now else "firing"
        alerts.append(
            Alert(
                status=status,
                labels=a.labels,
                annotations=a.annotations,
                startsAt=a.startsAt,
                endsAt=a.endsAt if status == "resolved" else None,
                generatorURL=a.generatorURL,
                fingerprint=a.fingerprint or fingerprint(a.labels),
                silenceURL=a.silenceURL if precomputed else None,
                dashboardURL=a.dashboardURL if precomputed else None,
                panelURL=a.panelURL if precomputed else None,
                values=a.values if precomputed else None,
                valueString=a.valueString if precomputed else None,
                orgId=a.orgId if precomputed else None,
                ruleUID=a.ruleUID if precomputed else None,
                imageURL=a.imageURL,
            )
        )
    alerts.sort(key=functools.cmp_to_key(_dispatcher_compare))
    group_labels = event.groupLabels if event.groupLabels is not None else _default_group_labels(event.alerts)
    group_key = event.groupKey or "{}:" + labelset_string(group_labels)
    return Notification(
        receiver=event.receiver,
        status="firing" if any(a.status == "firing" for a in alerts) else "resolved",
        alerts=alerts,
        groupLabels=group_labels,
        externalURL=event.externalURL,
        groupKey=group_key,
        precomputed=precomputed,
    )


#: Grafana's test alert (``newTestAlert``): firing, no generator URL, no values.
TEST_ALERT_LABELS = {"alertname": "TestAlert", "instance": "Grafana"}
TEST_ALERT_ANNOTATIONS = {"summary": "Notification test", "__value_string__": "[ metric='foo' labels={instance=bar} value=10 ]"}


def test_notification(
    type_name: str, now: datetime, labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
    external_url: str = "",
) -> Notification:
    """The notification Grafana's "Test contact point" sends to one integration.

    As in Grafana: the receiver is the integration's type, the group labels are all the test
    alert's labels, and the group key is ``<type>-<fingerprint>-<unix seconds>``.
    """
    alert_labels = {**TEST_ALERT_LABELS, **(labels or {})}
    alert = Alert(
        status="firing",
        labels=alert_labels,
        annotations={**TEST_ALERT_ANNOTATIONS, **(annotations or {})},
        startsAt=now,
        fingerprint=fingerprint(alert_labels),
    )
    return Notification(
        receiver=type_name,
        status="firing",
        alerts=[alert],
        groupLabels=dict(alert_labels),
        externalURL=external_url,
        groupKey=f"{type_name}-{fingerprint(alert_labels)}-{int(now.timestamp())}",
    )
