"""Grafana OnCall / IRM settings (``type: oncall``), as Grafana's OnCall contact point accepts them."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from contracts.integrations.base import DEFAULT_MESSAGE, DEFAULT_TITLE, Settings, non_empty, optional_number

_INTEGER = re.compile(r"[+-]?\d+")


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


class OnCallSettings(Settings):
    """The OnCall integration URL, its method, one kind of authentication, alert cap and templates."""

    url: str = Field(json_schema_extra={"template": True})
    httpMethod: Literal["POST", "PUT"] = "POST"
    username: str = ""
    password: SecretStr | None = None
    authorization_scheme: str = ""
    authorization_credentials: SecretStr | None = None
    maxAlerts: int = 0
    title: str = Field(default=DEFAULT_TITLE, json_schema_extra={"template": True})
    message: str = Field(default=DEFAULT_MESSAGE, json_schema_extra={"template": True})

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return non_empty(value)

    @field_validator("httpMethod", mode="before")
    @classmethod
    def _method(cls, value: Any) -> Any:
        return (value or "POST").upper() if isinstance(value, str) or value is None else value

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


    @model_validator(mode="after")
    def _auth(self) -> "OnCallSettings":
        basic = bool(self.username and _secret(self.password))
        if basic and _secret(self.authorization_credentials):
            raise ValueError("both HTTP basic authentication and the Authorization header are set; use one")
        return self

    def basic_auth(self) -> tuple[str, str] | None:
        """(user, password) when both are set, as Grafana's sender requires."""
        password = _secret(self.password)
        return (self.username, password) if self.username and password else None

    def authorization(self) -> str | None:
        """The ``Authorization`` header value; the scheme defaults to ``Bearer`` as in Grafana."""
        credentials = _secret(self.authorization_credentials)
        if not credentials:
            return None
        return f"{self.authorization_scheme or 'Bearer'} {credentials}"
