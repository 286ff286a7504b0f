"""Alertmanager settings (``type: prometheus-alertmanager``), as Grafana's Alertmanager contact point accepts them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr, field_validator

from contracts.integrations.base import Settings

ALERTS_PATH = "/api/v2/alerts"


def split_urls(value: str) -> list[str]:
    """Grafana's comma-separated list: entries trimmed, blank ones dropped."""
    return [entry.strip() for entry in value.split(",") if entry.strip()]


def alerts_url(base: str) -> str:
    """The v2 alerts endpoint of one Alertmanager: one trailing ``/`` removed, the path appended."""
    return base.removesuffix("/") + ALERTS_PATH


class AlertmanagerSettings(Settings):
    """One or more Alertmanager base URLs (comma-separated) and optional basic auth."""

    url: str
    basicAuthUser: str = ""
    basicAuthPassword: SecretStr | None = None

    @field_validator("url", mode="before")
    @classmethod
    def _url(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError("must be a string: one URL or a comma-separated list of URLs")
        entries = split_urls(value)
        if not entries:
            raise ValueError("must name at least one Alertmanager URL")
        for index, entry in enumerate(entries, 1):
            parts = urlsplit(entry)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                # The entry itself is not echoed: it may carry user:password@.
                raise ValueError(f"entry {index} of {len(entries)} is not an http:// or https:// URL")
        return value

    def urls(self) -> list[str]:
        """Every ``<url>/api/v2/alerts`` to post to, in the order given."""
        return [alerts_url(entry) for entry in split_urls(self.url)]

    def basic_auth(self) -> tuple[str, str] | None:
        """(user, password) when both are set, as Grafana's sender requires."""
        password = self.basicAuthPassword.get_secret_value() if self.basicAuthPassword else ""
        return (self.basicAuthUser, password) if self.basicAuthUser and password else None
