"""PagerDuty settings (``type: pagerduty``), as Grafana's PagerDuty contact point accepts them.

Events API v2: the integration key is the routing key and travels in the body. Every
setting but ``integrationKey`` and ``url`` is a template; an empty value takes Grafana's default.
"""

from __future__ import annotations

import socket
from typing import Any

from pydantic import Field, SecretStr, field_validator

from contracts.integrations.base import DEFAULT_TITLE, Settings

DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"
DEFAULT_SEVERITY = "critical"
#: Severities PagerDuty accepts; anything else is sent as ``critical`` (Grafana logs a warning).
KNOWN_SEVERITIES = frozenset({"critical", "error", "warning", "info"})

#: Grafana's default ``custom_details``; user keys are merged over these.
DEFAULT_DETAILS = {
    "firing": '{{ template("__text_alert_list", Alerts.Firing) }}',
    "resolved": '{{ template("__text_alert_list", Alerts.Resolved) }}',
    "num_firing": "{{ Alerts.Firing | length }}",
    "num_resolved": "{{ Alerts.Resolved | length }}",
}


def _template(default: str) -> Any:
    return Field(default=default, json_schema_extra={"template": True})


def default_source() -> str:
    """Grafana's default ``source``: this host's name, else the client name."""
    try:
        return socket.gethostname() or "Grafana"
    except OSError:
        return "Grafana"


class PagerDutySettings(Settings):
    integrationKey: SecretStr
    severity: str = _template(DEFAULT_SEVERITY)
    class_: str = Field(default="default", alias="class", json_schema_extra={"template": True})
    component: str = _template("Grafana")
    group: str = _template("default")
    summary: str = _template(DEFAULT_TITLE)
    source: str = Field(default_factory=default_source, json_schema_extra={"template": True})
    client: str = _template("Grafana")
    client_url: str = _template("{{ ExternalURL }}")
    details: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_DETAILS))
    url: str = DEFAULT_URL

    @field_validator("integrationKey")
    @classmethod
    def _key(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("could not find integration key property in settings")
        return value

    @field_validator("severity", "class_", "component", "group", "summary", "client", "client_url", "url", mode="before")
    @classmethod
    def _defaults(cls, value: Any, info: Any) -> Any:
        """An empty value means Grafana's default, as in Grafana's config parser."""
        if value in (None, ""):
            return cls.model_fields[info.field_name].default
        return value

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, value: Any) -> Any:
        return default_source() if value in (None, "") else value

    @field_validator("details", mode="before")
    @classmethod
    def _details(cls, value: Any) -> Any:
        """User details are merged over Grafana's defaults (a user key replaces a default)."""
        if value is None:
            return dict(DEFAULT_DETAILS)
        if not isinstance(value, dict):
            raise ValueError("must be a mapping of name to template")
        return {**DEFAULT_DETAILS, **{str(k): v for k, v in value.items()}}

    def templated(self) -> dict[str, str]:
        fields = {
            "severity": self.severity,
            "class": self.class_,
            "component": self.component,
            "group": self.group,
            "summary": self.summary,
            "source": self.source,
            "client": self.client,
            "client_url": self.client_url,
        }
        fields.update({f"details.{key}": value for key, value in self.details.items()})
        return fields
