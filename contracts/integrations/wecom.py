"""WeCom settings (``type: wecom``), as Grafana's WeCom contact point accepts them.

Two modes, chosen as Grafana chooses: with ``url`` the group robot webhook is used; without
it, ``secret`` (plus ``corp_id`` and ``agent_id``) selects the app ("apiapp") mode, which
fetches an access token from ``endpointUrl`` and sends through WeCom's message API.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator

from contracts.integrations.base import DEFAULT_MESSAGE, DEFAULT_TITLE, Settings
from contracts.integrations.googlechat import with_url_secrets

#: WeCom's API base; ``ALERTRELAY_API_URL_WECOM`` can point it elsewhere while it is the default.
DEFAULT_ENDPOINT = "https://qyapi.weixin.qq.com"
MSG_TYPES = ("markdown", "text")
DEFAULT_TO_USER = "@all"


def _text(value: Any) -> Any:
    """Ids written as YAML numbers (``agent_id: 1000002``) are read as the string they spell."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    return "" if value is None else value


class WeComSettings(Settings):
    url: SecretStr | None = None
    secret: SecretStr | None = None
    agent_id: str = ""
    corp_id: str = ""
    endpointUrl: str = DEFAULT_ENDPOINT
    msgtype: str = "markdown"
    message: str = Field(default=DEFAULT_MESSAGE, json_schema_extra={"template": True})
    title: str = Field(default=DEFAULT_TITLE, json_schema_extra={"template": True})
    touser: str = DEFAULT_TO_USER

    @field_validator("agent_id", "corp_id", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        return _text(value)

    @field_validator("endpointUrl", mode="before")
    @classmethod
    def _endpoint(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return DEFAULT_ENDPOINT
        return value.strip().rstrip("/") if isinstance(value, str) else value

    @field_validator("msgtype", mode="before")
    @classmethod
    def _msgtype(cls, value: Any) -> Any:
        return value if value in MSG_TYPES else "markdown"  # Grafana: anything else is markdown

    @field_validator("message", "title", "touser", mode="before")
    @classmethod
    def _defaults(cls, value: Any, info: Any) -> Any:
        if value in (None, ""):
            return {"message": DEFAULT_MESSAGE, "title": DEFAULT_TITLE, "touser": DEFAULT_TO_USER}[info.field_name]
        return value

    @model_validator(mode="after")
    def _mode(self) -> "WeComSettings":
        if not self.robot_url and not self.app_secret:
            raise ValueError("either url or secret is required")
        if not self.robot_url:
            if not self.agent_id.strip():
                raise ValueError("agent_id is required when secret (app mode) is used")
            if not self.corp_id.strip():
                raise ValueError("corp_id is required when secret (app mode) is used")
        return self

    def secret_values(self) -> list[str]:
        """The secrets, plus the ``key`` inside the group robot URL."""
        return with_url_secrets(super().secret_values(), self.robot_url)

    @property
    def robot_url(self) -> str:
        """The group robot webhook URL, or ``""`` in app mode."""
        return self.url.get_secret_value().strip() if self.url else ""

    @property
    def app_secret(self) -> str:
        return self.secret.get_secret_value() if self.secret else ""

    @property
    def app_mode(self) -> bool:
        return not self.robot_url
