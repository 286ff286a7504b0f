"""The request an integration would send, as data: built without I/O, sent by shared code."""

from __future__ import annotations

import base64
import email.policy
import json
from email.parser import BytesParser
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qsl, unquote, urlsplit

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
        """Credentials derived from secrets (``Basic <base64>``), so they are redacted too, and
        those of a ``user:password@`` URL (httpx sends them as Basic authentication)."""
        values = url_credentials(self.url)
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


def url_credentials(url: str) -> list[str]:
    """The password of a ``scheme://user:password@host`` URL, as written and decoded, and the
    ``Basic`` token httpx makes of the user info; ``[]`` without a password."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return []
    if not password:
        return []
    userinfo = f"{unquote(parts.username or '')}:{unquote(password)}"
    return [password, unquote(password), base64.b64encode(userinfo.encode()).decode()]


#: Shorter URL parts are not redacted on their own (``/``, ``alt=json`` and ``v1`` are no credentials).
MIN_URL_PART = 8
#: Path segments this long are taken for tokens (Slack's and Discord's webhook tokens, VictorOps keys).
MIN_PATH_SEGMENT = 16


def url_secret_parts(value: str) -> list[str]:
    """The pieces of a secret URL that a receiver may echo without the rest ("Cannot POST
    /services/T0/B0/<token>"): its path (with and without the query), long path segments,
    the query and its long values (raw and decoded), the password. ``[]`` for a non-URL."""
    try:
        parts = urlsplit(value.strip())
        password = parts.password
    except ValueError:
        return []
    if not (parts.scheme and parts.netloc):
        return []
    found = [parts.path, f"{parts.path}?{parts.query}" if parts.query else "", parts.query, password or ""]
    found += [unquote(part) for part in parts.path.split("/") if len(part) >= MIN_PATH_SEGMENT]
    found += [pair.partition("=")[2] for pair in parts.query.split("&")]
    found += [item for _, item in parse_qsl(parts.query, keep_blank_values=True)]
    return [part for part in found if len(part) >= MIN_URL_PART and part.strip("/")]


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
