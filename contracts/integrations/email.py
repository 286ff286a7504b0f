"""Email settings (``type: email``), as Grafana's email contact point accepts them.

Only the recipients and the templates live in the contact point. The SMTP server is the
server's business (Grafana's ``grafana.ini`` ``[smtp]``; alertrelay's ``ALERTRELAY_SMTP_*``
environment, see ``docs/email.md``), so this model holds no secret.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from contracts.integrations.base import DEFAULT_TITLE, Settings

#: Grafana splits ``addresses`` on these characters and drops empty pieces.
_SEPARATORS = re.compile(r"[,;\n]")


def split_addresses(value: str) -> list[str]:
    """``a@x; b@x,\\nc@x`` → ``["a@x", "b@x", "c@x"]`` (pieces trimmed, empty ones dropped)."""
    return [piece.strip() for piece in _SEPARATORS.split(value) if piece.strip()]


class EmailSettings(Settings):
    addresses: str
    singleEmail: bool = False
    subject: str = Field(default=DEFAULT_TITLE, json_schema_extra={"template": True})
    #: Empty: Grafana's built-in body. Set: replaces the body text of both parts.
    message: str = Field(default="", json_schema_extra={"template": True})

    @field_validator("addresses", mode="before")
    @classmethod
    def _addresses(cls, value: Any) -> Any:
        if isinstance(value, list):  # a YAML list is a friendlier spelling of the same thing
            value = ";".join(str(v) for v in value)
        if not isinstance(value, str) or not split_addresses(value):
            raise ValueError("could not find addresses in settings")
        return value

    @field_validator("subject", mode="before")
    @classmethod
    def _default_subject(cls, value: Any) -> Any:
        return DEFAULT_TITLE if value in (None, "") else value

    @field_validator("message", mode="before")
    @classmethod
    def _message(cls, value: Any) -> Any:
        return "" if value is None else value

    @property
    def recipients(self) -> list[str]:
        return split_addresses(self.addresses)
