"""Template-facing views of Grafana's extended data, with Grafana's (Go) names.

Templates say ``Alerts.Firing``, ``CommonLabels.SortedPairs``, ``alert.StartsAt``: these
classes give the JSON-shaped dict from :mod:`contracts.notification` those names, and print
the way Go prints them (``a=b, c=d`` for a KV, ``2024-05-01 10:00:00 +0000 UTC`` for a time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts.gocompat import go_float, go_time
from contracts.notification import sorted_pairs


class GoTime(datetime):
    """A datetime that prints like Go's ``time.Time``."""

    @classmethod
    def of(cls, moment: datetime) -> "GoTime":
        return cls(
            moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second,
            moment.microsecond, tzinfo=moment.tzinfo,
        )

    def __str__(self) -> str:
        return go_time(self)

    def Unix(self) -> int:  # noqa: N802 - Go's name
        return int(self.timestamp())


@dataclass(frozen=True)
class Pair:
    Name: str
    Value: str

    def __str__(self) -> str:
        return f"{self.Name}={self.Value}"


class Pairs(list):
    """Alertmanager's ``Pairs``: prints as ``k=v, k=v``."""

    @property
    def Names(self) -> list[str]:  # noqa: N802
        return [p.Name for p in self]

    @property
    def Values(self) -> list[str]:  # noqa: N802
        return [p.Value for p in self]

    def __str__(self) -> str:
        return ", ".join(str(p) for p in self)


class KV(dict):
    """Alertmanager's ``KV`` (labels, annotations): sorted pairs with ``alertname`` first."""

    @property
    def SortedPairs(self) -> Pairs:  # noqa: N802
        return Pairs(Pair(k, v) for k, v in sorted_pairs(self))

    @property
    def Names(self) -> list[str]:  # noqa: N802
        return self.SortedPairs.Names

    @property
    def Values(self) -> list[str]:  # noqa: N802
        return self.SortedPairs.Values

    def Remove(self, names: list[str]) -> "KV":  # noqa: N802
        return KV({k: v for k, v in self.items() if k not in set(names)})

    def __str__(self) -> str:
        return str(self.SortedPairs)


class ValueMap(dict):
    """An alert's ``Values`` (refID → float); prints as Go's ``map[A:1 B:2]``."""

    def __str__(self) -> str:
        return "map[" + " ".join(f"{k}:{go_float(v)}" for k, v in sorted(self.items())) + "]"


@dataclass
class AlertView:
    """One alert under Grafana's template names."""

    Status: str
    Labels: KV
    Annotations: KV
    StartsAt: GoTime
    EndsAt: GoTime
    GeneratorURL: str
    Fingerprint: str
    SilenceURL: str
    DashboardURL: str
    PanelURL: str
    RuleUID: str
    Values: ValueMap | None
    ValueString: str
    ImageURL: str
    OrgID: int | None

    @classmethod
    def of(cls, raw: dict[str, Any]) -> "AlertView":
        values = raw.get("values")
        return cls(
            Status=raw["status"],
            Labels=KV(raw["labels"]),
            Annotations=KV(raw["annotations"]),
            StartsAt=GoTime.of(raw["startsAt"]),
            EndsAt=GoTime.of(raw["endsAt"]),
            GeneratorURL=raw["generatorURL"],
            Fingerprint=raw["fingerprint"],
            SilenceURL=raw["silenceURL"],
            DashboardURL=raw["dashboardURL"],
            PanelURL=raw["panelURL"],
            RuleUID=raw.get("ruleUID", ""),
            Values=ValueMap(values) if values is not None else None,
            ValueString=raw.get("valueString", ""),
            ImageURL=raw.get("imageURL", ""),
            OrgID=raw.get("orgId"),
        )


class AlertList(list):
    """``.Alerts`` with Grafana's ``Firing``/``Resolved``/``Len`` helpers."""

    @property
    def Firing(self) -> "AlertList":  # noqa: N802
        return AlertList(a for a in self if a.Status == "firing")

    @property
    def Resolved(self) -> "AlertList":  # noqa: N802
        return AlertList(a for a in self if a.Status == "resolved")

    @property
    def Len(self) -> int:  # noqa: N802
        return len(self)


@dataclass
class TemplateData:
    """The "dot" of every notification template."""

    Receiver: str
    Status: str
    Alerts: AlertList
    GroupLabels: KV
    CommonLabels: KV
    CommonAnnotations: KV
    ExternalURL: str
    GroupKey: str
    AppVersion: str = ""
    TruncatedAlerts: int | None = None
    Vars: dict[str, str] = field(default_factory=dict)
    #: The JSON-shaped data this view wraps, and the notifier's org, for payload templates.
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    org_id: int = 1

    @classmethod
    def of(cls, data: dict[str, Any], truncated: int | None = None, variables: dict[str, str] | None = None) -> "TemplateData":
        return cls(
            Receiver=data["receiver"],
            Status=data["status"],
            Alerts=AlertList(AlertView.of(a) for a in data["alerts"]),
            GroupLabels=KV(data["groupLabels"]),
            CommonLabels=KV(data["commonLabels"]),
            CommonAnnotations=KV(data["commonAnnotations"]),
            ExternalURL=data["externalURL"],
            GroupKey=data["groupKey"],
            TruncatedAlerts=truncated,
            Vars=dict(variables or {}),
        )

    def as_context(self) -> dict[str, Any]:
        """Top-level names for Jinja: ``{{ Status }}``, plus ``dot`` for the whole object."""
        context = {name: getattr(self, name) for name in self.__dataclass_fields__ if name[0].isupper()}
        context["dot"] = self
        return context
