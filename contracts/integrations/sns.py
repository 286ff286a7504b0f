"""Amazon SNS settings (``type: sns``), as Grafana's SNS contact point accepts them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from contracts.integrations.base import DEFAULT_MESSAGE, DEFAULT_TITLE, Settings


def is_arn(value: str) -> bool:
    """aws-sdk-go's ``arn.Parse``: ``arn:partition:service:region:account:resource`` (6 parts)."""
    parts = value.split(":", 5)
    return len(parts) == 6 and parts[0] == "arn"


class SigV4(BaseModel):
    """``sigv4``: region and credentials for request signing."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    region: str = ""
    access_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    profile: str = ""
    role_arn: str = ""
    #: alertrelay extension (not in Grafana): the ``ExternalId`` passed to STS AssumeRole.
    external_id: str = ""

    @property
    def static_keys(self) -> tuple[str, str] | None:
        access = self.access_key.get_secret_value() if self.access_key else ""
        secret = self.secret_key.get_secret_value() if self.secret_key else ""
        return (access, secret) if access and secret else None


class SnsSettings(Settings):
    api_url: str = ""
    sigv4: SigV4 = Field(default_factory=SigV4)
    topic_arn: str = Field(default="", json_schema_extra={"template": True})
    phone_number: str = Field(default="", json_schema_extra={"template": True})
    target_arn: str = Field(default="", json_schema_extra={"template": True})
    subject: str = Field(default=DEFAULT_TITLE, json_schema_extra={"template": True})
    message: str = Field(default=DEFAULT_MESSAGE, json_schema_extra={"template": True})
    #: Names and values are both templated; each becomes a ``String`` message attribute.
    attributes: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for key, default in (("subject", DEFAULT_TITLE), ("message", DEFAULT_MESSAGE)):
            if data.get(key) in (None, ""):
                data[key] = default
        for key in ("api_url", "topic_arn", "phone_number", "target_arn"):
            if data.get(key) is None:
                data.pop(key, None)
        if data.get("sigv4") is None:
            data.pop("sigv4", None)
        if data.get("attributes") is None:
            data.pop("attributes", None)
        return data

    @model_validator(mode="after")
    def _targets_and_keys(self) -> "SnsSettings":
        if self.topic_arn and not is_arn(self.topic_arn):
            raise ValueError("invalid topic ARN provided")
        if self.target_arn and not is_arn(self.target_arn):
            raise ValueError("invalid target ARN provided")
        if not (self.topic_arn or self.target_arn or self.phone_number):
            raise ValueError("must specify topic_arn, target_arn, or phone_number")
        access = bool(self.sigv4.access_key and self.sigv4.access_key.get_secret_value())
        secret = bool(self.sigv4.secret_key and self.sigv4.secret_key.get_secret_value())
        if access != secret:
            raise ValueError("must specify both access key and secret key")
        return self

    def templated(self) -> dict[str, str]:
        fields = super().templated()
        for name, value in self.attributes.items():
            fields[f"attributes.{name} (name)"] = name
            fields[f"attributes.{name}"] = value
        return fields
