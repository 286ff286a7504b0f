"""Telegram (``type: telegram``): Bot API ``sendMessage`` as multipart/form-data.

Settings: :class:`contracts.integrations.telegram.TelegramSettings`. Fields: ``chat_id``,
``message_thread_id``, ``disable_notification``, ``text`` (≤ 4096 runes), ``parse_mode``,
``disable_web_page_preview``, ``protect_content``; booleans only when true. Success: 2xx
(and, on top of Grafana, not ``"ok": false``). A 429's ``parameters.retry_after`` is honoured.
Alerts carry no images in alertrelay, so Grafana's ``sendPhoto`` step never applies.
"""

from __future__ import annotations

import hashlib
import json

import httpx

from contracts.integrations.telegram import TelegramSettings
from workers.delivery import http
from workers.delivery.endpoints import api_url
from workers.delivery.errors import DeliveryError, body_excerpt, permanent
from workers.delivery.http import USER_AGENT
from workers.delivery.rendering import Rendering
from workers.delivery.request import HttpRequest
from workers.delivery.truncate import truncate_runes

API_BASE = "https://api.telegram.org"
MAX_TEXT_RUNES = 4096


def build(rendering: Rendering, settings: TelegramSettings) -> HttpRequest:
    """The ``sendMessage`` request Grafana's Telegram notifier would send."""
    content_type, body = multipart_form(fields(rendering, settings))
    url = api_url("telegram", f"{API_BASE}/bot{settings.bottoken.get_secret_value()}/sendMessage")
    return HttpRequest(
        method="POST",
        url=url,
        headers={"Content-Type": content_type, "User-Agent": USER_AGENT},
        body=body,
        check=check_response,
    )


def fields(rendering: Rendering, settings: TelegramSettings) -> list[tuple[str, str]]:
    """The form fields in Grafana's order (chat fields first, then the message fields)."""
    text, _ = truncate_runes(rendering.render(settings.message), MAX_TEXT_RUNES)
    out = [("chat_id", settings.chatid)]
    if settings.message_thread_id:
        out.append(("message_thread_id", settings.message_thread_id))
    if settings.disable_notifications:
        out.append(("disable_notification", "true"))
    out.append(("text", text))
    if settings.parse_mode:
        out.append(("parse_mode", settings.parse_mode))
    if settings.disable_web_page_preview:
        out.append(("disable_web_page_preview", "true"))
    if settings.protect_content:
        out.append(("protect_content", "true"))
    return out


def multipart_form(form: list[tuple[str, str]]) -> tuple[str, bytes]:
    """(Content-Type, body) as Go's ``multipart.Writer.WriteField`` writes them.

    The boundary is derived from the content rather than random, so the same notification
    always yields the same bytes (stable previews and tests); a hash of the content cannot
    occur inside it.
    """
    digest = hashlib.sha256(json.dumps(form).encode()).hexdigest()[:60]
    parts = []
    for name, value in form:
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        parts.append(f'Content-Disposition: form-data; name="{quoted}"\r\n\r\n{value}'.encode())
    delimiter = f"--{digest}\r\n".encode()
    body = delimiter + (b"\r\n" + delimiter).join(parts) + f"\r\n--{digest}--\r\n".encode()
    return f"multipart/form-data; boundary={digest}", body


def check_response(response: httpx.Response) -> None:
    """A 2xx whose JSON says ``"ok": false`` is a failure (Grafana checks the status only)."""
    try:
        result = response.json()
    except ValueError:
        return
    if isinstance(result, dict) and result.get("ok") is False:
        description = str(result.get("description") or "unknown error")
        raise permanent(
            f"telegram API error: {description}", status_code=response.status_code, body_excerpt=body_excerpt(response)
        )


def send(request: HttpRequest, settings: TelegramSettings) -> None:
    """The shared sender, plus the wait a 429 asks for in its body (``parameters.retry_after``),
    which Telegram gives there rather than (only) in a ``Retry-After`` header."""
    try:
        http.send(request)
    except DeliveryError as exc:
        if exc.status_code == 429:
            hint = retry_after_hint(exc.body_excerpt or "")
            if hint is not None:
                exc.retry_after = hint
        raise


def retry_after_hint(body: str) -> float | None:
    """``parameters.retry_after`` (seconds) of a Bot API error body, if there is one."""
    try:
        value = json.loads(body).get("parameters", {}).get("retry_after")
    except (ValueError, AttributeError):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return float(value)
