"""Slack settings (``type: slack``), as Grafana's Slack contact point accepts them.

Two modes, chosen as Grafana chooses them: without a ``token`` the target (``url``) is an
incoming webhook; with a ``token`` the message is posted with ``Authorization: Bearer`` to
``url`` if set, else to ``endpointUrl`` (default: chat.postMessage).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from contracts.integrations.base import DEFAULT_MESSAGE, DEFAULT_TITLE, Settings

#: Slack's chat.postMessage, the default ``endpointUrl``.
API_URL = "https://slack.com/api/chat.postMessage"
#: Grafana's ``DefaultMessageColor``: red while anything fires, green once all resolved.
DEFAULT_COLOR = '{% if Status == "firing" %}#D63232{% else %}#36a64f{% endif %}'
DEFAULT_FOOTER = '{{ template("slack.default.footer") }}'
DEFAULT_USERNAME = "Grafana"

_TEMPLATE = {"template": True}
_DEFAULTS = {"title": DEFAULT_TITLE, "text": DEFAULT_MESSAGE, "username": DEFAULT_USERNAME,
             "color": DEFAULT_COLOR, "footer": DEFAULT_FOOTER}


def comma_list(value: Any) -> list[str]:
    """Grafana's ``CommaSeparatedStrings``: split on ``,``, items trimmed, empty items dropped."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    return [item.strip() for item in items if item.strip()]


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


class SlackSettings(Settings):
    endpointUrl: str = API_URL
    url: SecretStr | None = None
    token: SecretStr | None = None
    recipient: str = Field(default="", json_schema_extra=_TEMPLATE)
    text: str = Field(default=DEFAULT_MESSAGE, json_schema_extra=_TEMPLATE)
    title: str = Field(default=DEFAULT_TITLE, json_schema_extra=_TEMPLATE)
    username: str = Field(default=DEFAULT_USERNAME, json_schema_extra=_TEMPLATE)
    icon_emoji: str = Field(default="", json_schema_extra=_TEMPLATE)
    icon_url: str = Field(default="", json_schema_extra=_TEMPLATE)
    mentionChannel: str = ""
    mentionUsers: list[str] = Field(default_factory=list)
    mentionGroups: list[str] = Field(default_factory=list)
    color: str = Field(default=DEFAULT_COLOR, json_schema_extra=_TEMPLATE)
    footer: str = Field(default=DEFAULT_FOOTER, json_schema_extra=_TEMPLATE)

    @field_validator("endpointUrl", mode="before")
    @classmethod
    def _endpoint(cls, value: Any) -> Any:
        return value or API_URL

    @field_validator("title", "text", "username", "color", "footer", mode="before")
    @classmethod
    def _default_templates(cls, value: Any, info: Any) -> Any:
        return _DEFAULTS[info.field_name] if value in (None, "") else value

    @field_validator("recipient", mode="before")
    @classmethod
    def _recipient(cls, value: Any) -> Any:
        return (value or "").strip() if isinstance(value, str) or value is None else value

    @field_validator("mentionUsers", "mentionGroups", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> list[str]:
        return comma_list(value)

    @field_validator("mentionChannel")
    @classmethod
    def _mention_channel(cls, value: str) -> str:
        if value not in ("", "here", "channel"):
            raise ValueError(f"invalid value for mentionChannel: {value!r} (use here, channel or leave it empty)")
        return value

    @model_validator(mode="after")
    def _chat_api_needs(self) -> "SlackSettings":
        for name, value in (("url", _secret(self.url)), ("endpointUrl", self.endpointUrl)):
            if value and urlsplit(value.strip()).scheme not in ("http", "https"):
                raise ValueError(f"{name} must be an http:// or https:// URL")
        if self.target_url == API_URL:
            if not self.recipient:
                raise ValueError("recipient must be specified when using the Slack chat API")
            if not self.bearer_token:
                raise ValueError("token must be specified when using the Slack chat API")
        return self

    @property
    def target_url(self) -> str:
        """Where the message goes: ``url`` if set, else ``endpointUrl``."""
        return _secret(self.url).strip() or self.endpointUrl.strip()

    @property
    def bearer_token(self) -> str:
        return _secret(self.token)

    @property
    def is_incoming_webhook(self) -> bool:
        """Grafana's rule: no token means an incoming webhook."""
        return not self.bearer_token

    def templated(self) -> dict[str, str]:
        fields = super().templated()
        for name in ("mentionUsers", "mentionGroups"):
            fields.update({f"{name}[{i}]": item for i, item in enumerate(getattr(self, name))})
        return fields
