"""Pushover settings (``type: pushover``), as Grafana's Pushover contact point accepts them."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator

from contracts.integrations.base import DEFAULT_MESSAGE, DEFAULT_TITLE, Settings, optional_number


def _template(default: str) -> Any:
    return Field(default=default, json_schema_extra={"template": True})


class PushoverSettings(Settings):
    #: Comma-separated user keys; a secret that is also rendered as a template at send time.
    userKey: SecretStr
    apiToken: SecretStr
    device: str = _template("")
    #: Pushover priorities: 2 emergency, 1 high, 0 normal, -1 low, -2 lowest (not range-checked, as in Grafana).
    priority: int = 0
    okPriority: int = 0
    #: Seconds; sent only with emergency priority.
    retry: int = 0
    expire: int = 0
    sound: str = _template("")
    okSound: str = _template("")
    uploadImage: bool = True
    title: str = _template(DEFAULT_TITLE)
    message: str = _template(DEFAULT_MESSAGE)

    @field_validator("userKey")
    @classmethod
    def _user_key(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("user key not found")
        return value

    @field_validator("apiToken")
    @classmethod
    def _api_token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("API token not found")
        return value

    @field_validator("priority", "okPriority", mode="before")
    @classmethod
    def _priority(cls, value: Any) -> int:
        """Grafana's ``OptionalNumber``: empty is 0, anything but an integer is an error."""
        number = optional_number(value)
        if number is None:
            return 0
        if isinstance(number, bool) or isinstance(number, float) or not str(number).lstrip("-").isdigit():
            raise ValueError(f"must be an integer (2, 1, 0, -1 or -2), got {value!r}")
        return int(number)

    @field_validator("retry", "expire", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> int:
        """As in Grafana, a value that is not an integer becomes 0."""
        number = optional_number(value)
        try:
            return int(str(number)) if number is not None and not isinstance(number, (bool, float)) else 0
        except ValueError:
            return 0

    @field_validator("device", "sound", "okSound", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("uploadImage", mode="before")
    @classmethod
    def _upload(cls, value: Any) -> Any:
        return True if value is None else value

    @field_validator("title", "message", mode="before")
    @classmethod
    def _defaults(cls, value: Any, info: Any) -> Any:
        if value in (None, ""):
            return DEFAULT_TITLE if info.field_name == "title" else DEFAULT_MESSAGE
        return value
