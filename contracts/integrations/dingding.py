"""DingDing settings (``type: dingding``), as Grafana's DingDing (DingTalk) contact point accepts them."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator

from contracts.integrations.base import DEFAULT_MESSAGE, DEFAULT_TITLE, Settings, non_empty
from contracts.integrations.googlechat import with_url_secrets

DEFAULT_MSG_TYPE = "link"


class DingDingSettings(Settings):
    #: The robot URL with its ``access_token``: a secret and a template.
    url: SecretStr = Field(json_schema_extra={"template": True})
    #: ``link`` or ``actionCard``; a template; anything but ``actionCard`` is sent as ``link``.
    msgType: str = Field(default=DEFAULT_MSG_TYPE, json_schema_extra={"template": True})
    title: str = Field(default=DEFAULT_TITLE, json_schema_extra={"template": True})
    message: str = Field(default=DEFAULT_MESSAGE, json_schema_extra={"template": True})

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        return SecretStr(non_empty(value.get_secret_value()))

    @field_validator("msgType", "title", "message", mode="before")
    @classmethod
    def _defaults(cls, value: Any, info: Any) -> Any:
        if value in (None, ""):
            return {"msgType": DEFAULT_MSG_TYPE, "title": DEFAULT_TITLE, "message": DEFAULT_MESSAGE}[info.field_name]
        return value

    def templated(self) -> dict[str, str]:
        return {"url": self.url.get_secret_value(), "msgType": self.msgType, "title": self.title, "message": self.message}

    def secret_values(self) -> list[str]:
        """The URL and the ``access_token`` inside it."""
        return with_url_secrets(super().secret_values(), self.url.get_secret_value())
