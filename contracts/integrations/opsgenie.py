"""Opsgenie settings (``type: opsgenie``), as Grafana's Opsgenie contact point accepts them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from contracts.integrations.base import DEFAULT_TITLE, Settings

DEFAULT_API_URL = "https://api.opsgenie.com/v2/alerts"
RESPONDER_TYPES = ("team", "teams", "user", "escalation", "schedule")


class Responder(BaseModel):
    """One responder; every field is a template, rendered per notification."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = ""
    name: str = ""
    username: str = ""
    type: str = ""

    @field_validator("id", "name", "username", "type", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return "" if value is None else value

    @model_validator(mode="after")
    def _check(self) -> "Responder":
        """Grafana's checks. The type keeps its spelling: Grafana validates it lower-cased but
        sends it as written."""
        if not (self.id or self.name or self.username):
            raise ValueError("a responder must have at least one of id, username or name specified")
        if "{{" not in self.type:
            kind = self.type.lower()
            if kind not in RESPONDER_TYPES:
                raise ValueError(f"responder has unsupported type {self.type!r}; supported: {', '.join(RESPONDER_TYPES)}")
            if kind == "teams" and not self.name:
                raise ValueError("responder has type 'teams' but an empty name; it must be a comma-separated list of names")
        return self


class OpsgenieSettings(Settings):
    apiKey: SecretStr
    apiUrl: str = Field(default=DEFAULT_API_URL, json_schema_extra={"template": True})
    message: str = Field(default=DEFAULT_TITLE, json_schema_extra={"template": True})
    description: str = Field(default="", json_schema_extra={"template": True})
    autoClose: bool = True
    overridePriority: bool = True
    sendTagsAs: Literal["tags", "details", "both"] = "tags"
    responders: list[Responder] = Field(default_factory=list)

    @field_validator("apiKey")
    @classmethod
    def _key(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("could not find api key property in settings")
        return value

    @field_validator("apiUrl", mode="before")
    @classmethod
    def _api_url(cls, value: Any) -> Any:
        return DEFAULT_API_URL if value in (None, "") else value

    @field_validator("message", mode="before")
    @classmethod
    def _message(cls, value: Any) -> Any:
        """A blank message means Grafana's default (``default.title``)."""
        return DEFAULT_TITLE if value is None or (isinstance(value, str) and not value.strip()) else value

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("autoClose", "overridePriority", mode="before")
    @classmethod
    def _default_true(cls, value: Any) -> Any:
        return True if value is None else value

    @field_validator("sendTagsAs", mode="before")
    @classmethod
    def _send_tags_as(cls, value: Any) -> Any:
        if value in (None, ""):
            return "tags"
        if value not in ("tags", "details", "both"):
            raise ValueError(f"invalid value for sendTagsAs: {value!r} (use tags, details or both)")
        return value

    @field_validator("responders", mode="before")
    @classmethod
    def _responders(cls, value: Any) -> Any:
        return [] if value is None else value

    def templated(self) -> dict[str, str]:
        fields = {"apiUrl": self.apiUrl, "message": self.message}
        if self.description:
            fields["description"] = self.description
        for index, responder in enumerate(self.responders):
            for name in ("id", "name", "username", "type"):
                if getattr(responder, name):
                    fields[f"responders.{index}.{name}"] = getattr(responder, name)
        return fields
