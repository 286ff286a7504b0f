"""Settings shared by Grafana's webhook-style integrations (webhook, OnCall): a templated URL,
the method, one kind of authentication, an alert cap and the title/message templates."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from contracts.integrations.base import DEFAULT_MESSAGE, DEFAULT_TITLE, Settings, non_empty


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


class WebhookStyleSettings(Settings):
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

    @model_validator(mode="after")
    def _auth(self) -> "WebhookStyleSettings":
        if self.basic_auth() and _secret(self.authorization_credentials):
            raise ValueError("both HTTP basic authentication and the Authorization header are set; use one")
        return self

    def basic_auth(self) -> tuple[str, str] | None:
        """(user, password) when both are set, as Grafana's sender requires."""
        password = _secret(self.password)
        return (self.username, password) if self.username and password else None

    def authorization(self) -> str | None:
        """The ``Authorization`` header value; the scheme defaults to ``Bearer`` as in Grafana."""
        credentials = _secret(self.authorization_credentials)
        return f"{self.authorization_scheme or 'Bearer'} {credentials}" if credentials else None
