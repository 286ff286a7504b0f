"""Sensu Go settings (``type: sensugo``), as Grafana's Sensu Go contact point accepts them."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator

from contracts.integrations.base import DEFAULT_MESSAGE, Settings, non_empty


def _template(default: str) -> Any:
    return Field(default=default, json_schema_extra={"template": True})


class SensuGoSettings(Settings):
    #: The backend API base, e.g. ``http://sensu-api.local:8080``.
    url: str
    apikey: SecretStr
    #: Each renders per notification; an empty result means ``default`` (handler: none).
    entity: str = _template("")
    check: str = _template("")
    namespace: str = _template("")
    handler: str = _template("")
    message: str = _template(DEFAULT_MESSAGE)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            return non_empty(value)
        except ValueError:
            raise ValueError("could not find URL property in settings") from None

    @field_validator("apikey")
    @classmethod
    def _apikey(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("could not find the API key property in settings")
        return value

    @field_validator("entity", "check", "namespace", "handler", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("message", mode="before")
    @classmethod
    def _message(cls, value: Any) -> Any:
        return DEFAULT_MESSAGE if value in (None, "") else value
