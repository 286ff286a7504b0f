"""VictorOps settings (``type: victorops``), as Grafana's VictorOps (Splunk On-Call) contact point accepts them."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator

from contracts.integrations.base import DEFAULT_MESSAGE, DEFAULT_TITLE, Settings

DEFAULT_MESSAGE_TYPE = "CRITICAL"


class VictorOpsSettings(Settings):
    #: The REST endpoint URL with its routing key: a secret, and a template (rendered at send time).
    url: SecretStr
    messageType: str = Field(default=DEFAULT_MESSAGE_TYPE, json_schema_extra={"template": True})
    title: str = Field(default=DEFAULT_TITLE, json_schema_extra={"template": True})
    description: str = Field(default=DEFAULT_MESSAGE, json_schema_extra={"template": True})

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("could not find victorops url property in settings")
        return value

    @field_validator("messageType", "title", "description", mode="before")
    @classmethod
    def _defaults(cls, value: Any, info: Any) -> Any:
        """An empty value means Grafana's default."""
        if value in (None, ""):
            return cls.model_fields[info.field_name].default
        return value
