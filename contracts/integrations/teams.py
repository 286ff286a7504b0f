"""Microsoft Teams settings (``type: teams``), as Grafana's v1 Teams contact point accepts them."""

from __future__ import annotations


from pydantic import Field, field_validator

from contracts.integrations.base import DEFAULT_TITLE, Settings

#: Grafana's Teams message default (the built-in ``teams.default.message``).
DEFAULT_TEAMS_MESSAGE = '{{ template("teams.default.message") }}'
_TEMPLATE = {"template": True}


class TeamsSettings(Settings):
    #: A Workflows (Power Automate) URL or a legacy ``*.webhook.office.com`` connector; not a secret in Grafana.
    url: str = Field(json_schema_extra=_TEMPLATE)
    title: str = Field(default=DEFAULT_TITLE, json_schema_extra=_TEMPLATE)
    message: str = Field(default=DEFAULT_TEAMS_MESSAGE, json_schema_extra=_TEMPLATE)
    #: Accepted but unused, as in Grafana (a leftover of the MessageCard payload).
    sectiontitle: str = ""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("could not find url property in settings")
        return value.strip()

