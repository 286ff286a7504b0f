"""Threema Gateway settings (``type: threema``), as Grafana's Threema contact point accepts them."""

from __future__ import annotations


from pydantic import Field, SecretStr, field_validator

from contracts.integrations.base import DEFAULT_MESSAGE, DEFAULT_TITLE, Settings

#: Grafana checks lengths with Go's ``len``, which counts bytes.
ID_LENGTH = 8


def _length(value: str) -> int:
    return len(value.encode())


class ThreemaSettings(Settings):
    """A Basic-mode gateway id, one recipient, the gateway's API secret and two templates."""

    gateway_id: str
    recipient_id: str
    api_secret: SecretStr
    title: str = Field(default=DEFAULT_TITLE, json_schema_extra={"template": True})
    description: str = Field(default=DEFAULT_MESSAGE, json_schema_extra={"template": True})

    @field_validator("gateway_id")
    @classmethod
    def _gateway_id(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty (the Threema Gateway ID)")
        if not value.startswith("*"):
            raise ValueError("invalid Threema Gateway ID: must start with a *")
        if _length(value) != ID_LENGTH:
            raise ValueError("invalid Threema Gateway ID: must be 8 characters long")
        return value

    @field_validator("recipient_id")
    @classmethod
    def _recipient_id(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty (the Threema Recipient ID)")
        if _length(value) != ID_LENGTH:
            raise ValueError("invalid Threema Recipient ID: must be 8 characters long")
        return value

    @field_validator("api_secret")
    @classmethod
    def _api_secret(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("must not be empty (the Threema API secret)")
        return value

