"""MQTT settings (``type: mqtt``), as Grafana's MQTT contact point accepts them."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from contracts.integrations.base import DEFAULT_MESSAGE, Settings, non_empty, optional_number
from contracts.integrations.webhook import TlsConfig

PLAIN_SCHEMES = frozenset({"tcp", "mqtt"})
TLS_SCHEMES = frozenset({"ssl", "tls", "mqtts"})
WEBSOCKET_SCHEMES = frozenset({"ws", "wss"})


class MqttSettings(Settings):
    brokerUrl: str
    topic: str
    messageFormat: Literal["json", "text"] = "json"
    message: str = Field(default=DEFAULT_MESSAGE, json_schema_extra={"template": True})
    #: Empty: a random ``grafana_<n>`` per connection (Grafana draws one per config load).
    clientId: str = ""
    username: str = ""
    password: SecretStr | None = None
    qos: int = 0
    retain: bool = False
    tlsConfig: TlsConfig | None = None

    @field_validator("brokerUrl")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        value = non_empty(value)
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"failed to parse broker URL: {exc}") from None
        scheme = parts.scheme.lower()
        if scheme not in PLAIN_SCHEMES | TLS_SCHEMES | WEBSOCKET_SCHEMES:
            raise ValueError(f"unsupported scheme {parts.scheme!r}: use tcp, mqtt, ssl, tls, mqtts, ws or wss")
        if not parts.hostname:
            raise ValueError("the broker URL has no host")
        if port is None:
            raise ValueError("the broker URL must include a port (e.g. tcp://broker:1883)")
        return value

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: str) -> str:
        if not value:
            raise ValueError("MQTT topic must be specified")
        if any(c in value for c in "+#\0"):
            raise ValueError("a topic to publish to cannot contain the wildcards + or # (or NUL)")
        return value

    @field_validator("messageFormat", mode="before")
    @classmethod
    def _format(cls, value: Any) -> Any:
        if value in (None, ""):
            return "json"
        if value not in ("json", "text"):
            raise ValueError("invalid message format, must be 'json' or 'text'")
        return value

    @field_validator("message", mode="before")
    @classmethod
    def _default_message(cls, value: Any) -> Any:
        return DEFAULT_MESSAGE if value in (None, "") else value

    @field_validator("qos", mode="before")
    @classmethod
    def _qos(cls, value: Any) -> int:
        number = optional_number(value)
        if number is None:
            return 0
        try:
            level = int(number) if not isinstance(number, float) or number.is_integer() else None
        except (TypeError, ValueError):
            level = None
        if level is None:
            raise ValueError(f"failed to parse QoS: {value!r} is not an integer")
        if level not in (0, 1, 2):
            raise ValueError(f"invalid QoS level: {level}. Must be 0, 1 or 2")
        return level

    @property
    def scheme(self) -> str:
        return urlsplit(self.brokerUrl).scheme.lower()

    @property
    def uses_tls(self) -> bool:
        return self.scheme in TLS_SCHEMES or self.scheme == "wss"
