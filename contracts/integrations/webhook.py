"""Webhook settings (``type: webhook``), as Grafana's webhook contact point accepts them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from contracts.integrations.base import optional_number
from contracts.integrations.webhook_style import WebhookStyleSettings

#: Headers Grafana refuses in ``headers`` because the sender owns them.
FORBIDDEN_HEADERS = frozenset(
    h.lower()
    for h in (
        "Host", "Accept-Encoding", "Accept-Charset", "Content-Encoding", "Content-Length", "Authorization",
        "User-Agent", "Transfer-Encoding", "Connection", "Upgrade", "Trailer", "TE", "Proxy-Authorization",
        "Proxy-Authenticate", "Cookie", "Set-Cookie", "Referer", "Origin", "X-Forwarded-For", "X-Real-IP",
        "Via", "Forwarded", "Expect", "Keep-Alive", "Date", "Max-Forwards",
    )
)


class HmacConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    secret: SecretStr
    header: str = "X-Grafana-Alerting-Signature"
    timestampHeader: str = ""

    @field_validator("secret")
    @classmethod
    def _secret_set(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("must not be empty")
        return value

    @field_validator("header", mode="before")
    @classmethod
    def _default_header(cls, value: Any) -> Any:
        return value or "X-Grafana-Alerting-Signature"


class TlsConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    insecureSkipVerify: bool = False
    caCertificate: SecretStr | None = None
    clientCertificate: SecretStr | None = None
    clientKey: SecretStr | None = None


class CustomPayload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    template: str = Field(default="", json_schema_extra={"template": True})
    vars: dict[str, str] = Field(default_factory=dict)


class WebhookSettings(WebhookStyleSettings):
    headers: dict[str, str] = Field(default_factory=dict)
    payload: CustomPayload | None = None
    tlsConfig: TlsConfig | None = None
    hmacConfig: HmacConfig | None = None

    @field_validator("maxAlerts", mode="before")
    @classmethod
    def _max_alerts(cls, value: Any) -> int:
        number = optional_number(value)
        try:
            return max(0, int(float(number))) if number is not None else 0
        except (TypeError, ValueError):
            return 0  # Grafana turns an invalid value into "no limit"


    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted(name for name in value if name.lower() in FORBIDDEN_HEADERS)
        if bad:
            raise ValueError(f"these headers cannot be set: {', '.join(bad)}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _unsupported(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("http_config"):
            raise ValueError("http_config (OAuth2) is not supported by alertrelay yet; remove it")
        return data

    def templated(self) -> dict[str, str]:
        fields = {"url": self.url, "title": self.title, "message": self.message}
        if self.payload and self.payload.template:
            fields["payload.template"] = self.payload.template
        return fields
