"""Cisco Webex Teams settings (``type: webex``), as Grafana's Webex contact point accepts them."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator

from contracts.integrations.base import DEFAULT_MESSAGE, Settings

#: Webex's messages API; ``ALERTRELAY_API_URL_WEBEX`` can point it elsewhere.
DEFAULT_API_URL = "https://webexapis.com/v1/messages"


class WebexSettings(Settings):
    """Grafana validates neither ``room_id`` nor ``bot_token``; Webex answers 4xx without them."""

    api_url: str = Field(default=DEFAULT_API_URL, json_schema_extra={"template": True})
    room_id: str = ""
    bot_token: SecretStr | None = None
    message: str = Field(default=DEFAULT_MESSAGE, json_schema_extra={"template": True})

    @field_validator("api_url", "message", mode="before")
    @classmethod
    def _defaults(cls, value: Any, info: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return DEFAULT_API_URL if info.field_name == "api_url" else DEFAULT_MESSAGE
        return value.strip() if info.field_name == "api_url" and isinstance(value, str) else value

    @field_validator("room_id", mode="before")
    @classmethod
    def _room(cls, value: Any) -> Any:
        return "" if value is None else value
