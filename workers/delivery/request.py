"""The request an integration would send, as data: built without I/O, sent by shared code."""

from __future__ import annotations

import email.policy
import json
from email.parser import BytesParser
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qsl

import httpx

from workers.delivery.errors import REDACTED, redact


@dataclass
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""
    #: Headers whose whole value is a credential (masked in previews).
    sensitive_headers: frozenset[str] = frozenset()
    #: The integration's success test on a 2xx response (Slack's ``ok``, ...); raises DeliveryError.
    check: Callable[[httpx.Response], None] | None = field(default=None, repr=False)
    #: TLS options for this destination: ``verify`` for httpx (bool, or an ssl context).
    verify: Any = True

    def sensitive_values(self) -> list[str]:
        """Credentials derived from secrets (``Basic <base64>``), so they are redacted too."""
        values = []
        for name, value in self.headers.items():
            if name.lower() in {h.lower() for h in self.sensitive_headers}:
                values += [value, value.split(" ", 1)[-1]]
        return values

    def preview(self, secrets: list[str], show_secrets: bool = False) -> dict[str, Any]:
        """``{"method", "url", "headers", "body"}`` with the body parsed and secrets masked."""
        headers = dict(self.headers)
        if not show_secrets:
            for name in headers:
                if name.lower() in {h.lower() for h in self.sensitive_headers}:
                    headers[name] = REDACTED
        view = {"method": self.method, "url": self.url, "headers": headers, "body": parse_body(self.body, headers)}
        return view if show_secrets else mask(view, secrets)


def parse_body(body: bytes, headers: dict[str, str]) -> Any:
    """JSON as JSON, form fields as an object, anything else as text."""
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "").lower()
    text = body.decode("utf-8", errors="replace")
    if "json" in content_type:
        try:
            return json.loads(text)
        except ValueError:
            return text
    if "application/x-www-form-urlencoded" in content_type:
        return dict(parse_qsl(text, keep_blank_values=True))
    if content_type.startswith("multipart/"):
        return parse_multipart(body, content_type)
    return text


def parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    """Multipart fields as field → value (text), files as ``{"filename", "size"}``."""
    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        if filename:
            fields[str(name)] = {"filename": filename, "size": len(payload)}
        else:
            fields[str(name)] = payload.decode("utf-8", errors="replace")
    return fields


def mask(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: mask(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, secrets) for v in value]
    return value
