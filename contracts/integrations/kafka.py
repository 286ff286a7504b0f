"""Kafka REST Proxy settings (``type: kafka``), as Grafana's Kafka contact point accepts them."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from contracts.integrations.base import DEFAULT_MESSAGE, DEFAULT_TITLE, Settings, non_empty


class KafkaSettings(Settings):
    """The REST Proxy endpoint, topic, API version (v2 or v3 with a cluster id), basic auth, templates."""

    kafkaRestProxy: str
    kafkaTopic: str = Field(json_schema_extra={"template": True})
    username: str = ""
    password: SecretStr | None = None
    apiVersion: Literal["v2", "v3"] = "v2"
    kafkaClusterId: str = Field(default="", json_schema_extra={"template": True})
    description: str = Field(default=DEFAULT_TITLE, json_schema_extra={"template": True})
    details: str = Field(default=DEFAULT_MESSAGE, json_schema_extra={"template": True})

    @field_validator("kafkaRestProxy")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        value = non_empty(value).rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL of the Kafka REST Proxy")
        return value

    @field_validator("kafkaTopic")
    @classmethod
    def _topic(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("apiVersion", mode="before")
    @classmethod
    def _api_version(cls, value: Any) -> Any:
        if value in (None, ""):
            return "v2"
        if value not in ("v2", "v3"):
            raise ValueError(f"unsupported api version: {value}; use v2 or v3")
        return value


    @model_validator(mode="after")
    def _cluster_id(self) -> "KafkaSettings":
        if self.apiVersion == "v3" and not self.kafkaClusterId:
            raise ValueError("kafkaClusterId must be set when apiVersion is v3")
        return self

    def basic_auth(self) -> tuple[str, str] | None:
        """(user, password) when both are set, as Grafana's sender requires."""
        password = self.password.get_secret_value() if self.password else ""
        return (self.username, password) if self.username and password else None
