"""LINE settings (``type: LINE`` or ``line``), as Grafana's (deprecated) LINE Notify contact point accepts them.

LINE Notify was shut down on 31 March 2025. Grafana keeps the type so existing files load
(new ones cannot be created in its UI); so do we.
"""

from __future__ import annotations


from pydantic import Field, SecretStr, field_validator

from contracts.integrations.base import DEFAULT_MESSAGE, DEFAULT_TITLE, Settings, non_empty


class LineSettings(Settings):
    token: SecretStr
    title: str = Field(default=DEFAULT_TITLE, json_schema_extra={"template": True})
    description: str = Field(default=DEFAULT_MESSAGE, json_schema_extra={"template": True})

    @field_validator("token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        return SecretStr(non_empty(value.get_secret_value()))

