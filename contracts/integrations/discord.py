"""Discord settings (``type: discord``), as Grafana's Discord contact point accepts them."""

from __future__ import annotations


from pydantic import Field, SecretStr, field_validator

from contracts.integrations.base import DEFAULT_MESSAGE, DEFAULT_TITLE, Settings

_TEMPLATE = {"template": True}


class DiscordSettings(Settings):
    #: The webhook URL: a secret (it embeds the webhook token) and a template.
    url: SecretStr = Field(json_schema_extra=_TEMPLATE)
    title: str = Field(default=DEFAULT_TITLE, json_schema_extra=_TEMPLATE)
    message: str = Field(default=DEFAULT_MESSAGE, json_schema_extra=_TEMPLATE)
    avatar_url: str = Field(default="", json_schema_extra=_TEMPLATE)
    use_discord_username: bool = False
    use_embed_description: bool = False

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("could not find webhook url property in settings")
        return value


    def templated(self) -> dict[str, str]:
        fields = {"url": self.url.get_secret_value(), "title": self.title, "message": self.message}
        if self.avatar_url:
            fields["avatar_url"] = self.avatar_url
        return fields
