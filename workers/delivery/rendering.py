"""Everything an integration needs to format one notification, with no I/O."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts.event import Notification
from contracts.notification import extended_data
from workers.delivery.template_data import TemplateData
from workers.delivery.templates import Templates


@dataclass
class Rendering:
    notification: Notification
    templates: Templates
    now: datetime
    org_id: int = 1
    data: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.data = extended_data(self.notification, self.now)

    @property
    def group_key_hash(self) -> str:
        """``Key.Hash()``: SHA-256 of the group key, Grafana's PagerDuty ``dedup_key``, Opsgenie alias,
        VictorOps ``entity_id``: the same for the whole life of the alert group."""
        return hashlib.sha256(self.data["groupKey"].encode()).hexdigest()

    def truncated(self, max_alerts: int) -> tuple["Rendering", int]:
        """The same notification keeping only the first ``max_alerts`` alerts (0 = all)."""
        alerts = self.notification.alerts
        if not max_alerts or len(alerts) <= max_alerts:
            return self, 0
        kept = alerts[:max_alerts]
        status = "firing" if any(a.status == "firing" for a in kept) else "resolved"
        shorter = self.notification.model_copy(update={"alerts": kept, "status": status})
        return Rendering(shorter, self.templates, self.now, self.org_id), len(alerts) - max_alerts

    def template_data(self, truncated: int | None = None, variables: dict[str, str] | None = None) -> TemplateData:
        data = TemplateData.of(self.data, truncated=truncated, variables=variables)
        data.raw = self.data
        data.org_id = self.org_id
        return data

    def render(self, source: str, data: TemplateData | None = None) -> str:
        return self.templates.render(source, data or self.template_data())
