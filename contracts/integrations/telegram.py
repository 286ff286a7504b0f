"""Telegram settings (``type: telegram``), as Grafana's Telegram contact point accepts them."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator

from contracts.integrations.base import DEFAULT_MESSAGE, Settings, optional_number

#: Accepted ``parse_mode`` values (matched case-insensitively) → what the Bot API gets; "" = not sent.
PARSE_MODES = {"html": "HTML", "markdown": "Markdown", "markdownv2": "MarkdownV2", "none": ""}
INT32 = range(-(2**31), 2**31)


def _number_text(value: Any) -> str:
    """An ``OptionalNumber`` as the text Grafana keeps (quotes stripped, ``null``/``""`` → "")."""
    number = optional_number(value)
    if number is None:
        return ""
    if isinstance(number, bool):
        raise ValueError("must be a number or a string")
    return str(number)


class TelegramSettings(Settings):
    bottoken: SecretStr
    chatid: str
    message_thread_id: str = ""
    message: str = Field(default=DEFAULT_MESSAGE, json_schema_extra={"template": True})
    parse_mode: str = "HTML"
    disable_web_page_preview: bool = False
    protect_content: bool = False
    disable_notifications: bool = False

    @field_validator("bottoken")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("could not find Bot Token in settings")
        return value

    @field_validator("chatid", mode="before")
    @classmethod
    def _chat_id(cls, value: Any) -> str:
        text = _number_text(value)
        if not text:
            raise ValueError("could not find Chat Id in settings")
        return text

    @field_validator("message_thread_id", mode="before")
    @classmethod
    def _thread_id(cls, value: Any) -> str:
        text = _number_text(value)
        if not text:
            return ""
        try:
            number = int(text)
        except ValueError:
            raise ValueError("message thread id must be an integer") from None
        if number not in INT32:
            raise ValueError("message thread id must be an int32")
        return text

    @field_validator("message", mode="before")
    @classmethod
    def _default_message(cls, value: Any) -> Any:
        return DEFAULT_MESSAGE if value in (None, "") else value

    @field_validator("parse_mode", mode="before")
    @classmethod
    def _parse_mode(cls, value: Any) -> str:
        if value in (None, ""):
            return "HTML"  # Grafana's default when the key is missing
        mode = PARSE_MODES.get(str(value).lower())
        if mode is None:
            raise ValueError("unknown parse_mode, must be Markdown, MarkdownV2, HTML or None")
        return mode
