"""Grafana OnCall / IRM settings (``type: oncall``), as Grafana's OnCall contact point accepts them."""

from __future__ import annotations

import re
from typing import Any

from pydantic import field_validator

from contracts.integrations.base import optional_number
from contracts.integrations.webhook_style import WebhookStyleSettings

_INTEGER = re.compile(r"[+-]?\d+")


class OnCallSettings(WebhookStyleSettings):
    """The OnCall integration URL, its method, one kind of authentication, alert cap and templates."""

    @field_validator("maxAlerts", mode="before")
    @classmethod
    def _max_alerts(cls, value: Any) -> int:
        """Grafana parses the number with ``strconv.Atoi``: anything but an integer means "no limit"."""
        number = optional_number(value)
        if isinstance(number, bool) or number is None:
            return 0
        if isinstance(number, int):
            return max(0, number)
        text = str(number)
        return max(0, int(text)) if _INTEGER.fullmatch(text) else 0
