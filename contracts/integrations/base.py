"""What every integration's settings model shares."""

from __future__ import annotations

from typing import Any, Iterator

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator, model_validator

DEFAULT_TITLE = '{{ template("default.title") }}'
DEFAULT_MESSAGE = '{{ template("default.message") }}'


class Settings(BaseModel):
    """Base of settings models. Unknown keys are ignored, as Grafana ignores them.

    Secrets are ``SecretStr`` so that printing a settings object never shows them, and
    :meth:`secret_values` can list them for redaction.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_template_means_default(cls, data: Any) -> Any:
        """As in Grafana, a templated setting left empty renders its default template."""
        if isinstance(data, dict):
            for name in template_fields(cls):
                default = cls.model_fields[name].default
                if name in data and data[name] in (None, "") and isinstance(default, str) and default:
                    data = {k: v for k, v in data.items() if k != name}
        return data

    def templated(self) -> dict[str, str]:
        """Setting name → template source, for every templated setting (checked at load)."""
        return {name: getattr(self, name) for name in template_fields(type(self)) if getattr(self, name)}

    def secret_values(self) -> list[str]:
        """Every non-empty secret held, nested models included, longest first."""
        found = {value for value in _walk_secrets(self) if value}
        return sorted(found, key=len, reverse=True)


def _walk_secrets(value: Any) -> Iterator[str]:
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _walk_secrets(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk_secrets(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _walk_secrets(item)


def optional_number(value: Any) -> Any:
    """Grafana's ``OptionalNumber``: a number or a (possibly quoted) string; empty → None."""
    if value is None or isinstance(value, (int, float)):
        return value
    text = str(value).strip().strip('"').strip()
    return text or None


def template_fields(model: type[BaseModel]) -> list[str]:
    """Names of the fields a model marks as templated (``json_schema_extra={"template": True}``)."""
    return [
        name
        for name, info in model.model_fields.items()
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("template")
    ]


def non_empty(value: str) -> str:
    if not value or not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


__all__ = [
    "DEFAULT_MESSAGE",
    "DEFAULT_TITLE",
    "Settings",
    "field_validator",
    "non_empty",
    "optional_number",
    "template_fields",
]
