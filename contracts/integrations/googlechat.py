"""Google Chat settings (``type: googlechat``), as Grafana's Google Chat contact point accepts them."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from pydantic import Field, SecretStr, field_validator

from contracts.integrations.base import DEFAULT_MESSAGE, DEFAULT_TITLE, Settings, non_empty


#: Query values shorter than this are not treated as credentials (``alt=json`` is not one).
MIN_URL_SECRET_LENGTH = 8


def url_secret_parts(url: str) -> list[str]:
    """The credentials inside a secret webhook URL: long query values (raw and decoded) and
    the userinfo password, so a receiver that echoes only ``key=...`` is redacted too."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = [parts.password or ""]
    for pair in parts.query.split("&"):
        found.append(pair.partition("=")[2])
    found += [value for _, value in parse_qsl(parts.query, keep_blank_values=True)]
    return [value for value in found if len(value) >= MIN_URL_SECRET_LENGTH]


def with_url_secrets(secrets: list[str], url: str) -> list[str]:
    """``secrets`` plus the credentials inside ``url``, longest first (redaction order)."""
    return sorted(set(secrets) | set(url_secret_parts(url)), key=len, reverse=True)


class GoogleChatSettings(Settings):
    #: The incoming-webhook URL: a secret (it holds the key and token) and a template.
    url: SecretStr = Field(json_schema_extra={"template": True})
    title: str = Field(default=DEFAULT_TITLE, json_schema_extra={"template": True})
    message: str = Field(default=DEFAULT_MESSAGE, json_schema_extra={"template": True})
    hide_open_button: bool = False
    hide_version_info: bool = False

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        return SecretStr(non_empty(value.get_secret_value()))


    def templated(self) -> dict[str, str]:
        return {"url": self.url.get_secret_value(), "title": self.title, "message": self.message}

    def secret_values(self) -> list[str]:
        return with_url_secrets(super().secret_values(), self.url.get_secret_value())
