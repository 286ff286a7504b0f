"""Delivery failures and the rule that sorts them into transient and permanent.

Transient (retried): connection errors, timeouts, 408, 429 and 5xx. Permanent (dead-lettered
at once): every other 4xx, invalid settings, unknown contact points, template errors.
Every message is redacted of the integration's secrets before it is stored or logged.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from urllib.parse import quote, quote_plus

import httpx

from contracts.dead_letter import Failure, FailureKind

TRANSIENT_STATUS = frozenset({408, 429}) | frozenset(range(500, 600))
BODY_EXCERPT_BYTES = 1024
REDACTED = "[REDACTED]"


#: ``scheme://user:password@``: the password is masked whoever's it is.
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*:)[^\s/?#@]+@")
#: A text ending in this much of a secret's beginning ends in a secret cut short by an excerpt limit.
MIN_CUT_SECRET = 6


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with every secret value (longest first) replaced by ``[REDACTED]``, also where it
    appears URL- or form-encoded (a query string, a form body), escaped (an exception quoting
    ``b'Bearer tok\\n'``, a JSON body), or cut short at the end of the text (a body excerpt stops
    at a byte limit, wherever a secret is), and with the password of any
    ``scheme://user:password@`` URL masked."""
    for secret in secrets:
        if secret and len(secret) >= 3:
            for spelling in dict.fromkeys((secret, quote(secret, safe=""), quote(secret), quote_plus(secret),
                                           repr(secret.encode())[2:-1], json.dumps(secret)[1:-1])):
                text = text.replace(spelling, REDACTED)
                text = _redact_cut_end(text, spelling)
    return _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + "@", text)


def _redact_cut_end(text: str, secret: str) -> str:
    """``text`` with its longest ending that is a beginning of ``secret`` (at least
    ``MIN_CUT_SECRET`` characters) replaced by ``[REDACTED]``."""
    tail = text[-(len(secret) - 1):] if len(secret) > 1 else ""
    at = tail.find(secret[0])
    while 0 <= at <= len(tail) - MIN_CUT_SECRET:
        if secret.startswith(tail[at:]):
            return text[: len(text) - len(tail) + at] + REDACTED
        at = tail.find(secret[0], at + 1)
    return text


class DeliveryError(Exception):
    """A failed attempt. ``retry_after`` (seconds) is the destination's own hint, if any."""

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        *,
        status_code: int | None = None,
        body_excerpt: str | None = None,
        retry_after: float | None = None,
        quick_retry: bool = True,
    ):
        """``quick_retry=False``: do not retry inside the worker (a timeout would hold a thread again)."""
        super().__init__(message)
        self.quick_retry = quick_retry
        self.kind = kind
        self.message = message
        self.status_code = status_code
        self.body_excerpt = body_excerpt
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        return self.kind == "transient"

    def redacted(self, secrets: list[str]) -> "DeliveryError":
        return DeliveryError(
            self.kind,
            redact(self.message, secrets),
            status_code=self.status_code,
            body_excerpt=redact(self.body_excerpt, secrets) if self.body_excerpt is not None else None,
            retry_after=self.retry_after,
            quick_retry=self.quick_retry,
        )

    def failure(self) -> Failure:
        return Failure(kind=self.kind, message=self.message, status_code=self.status_code, body_excerpt=self.body_excerpt)


def transient(message: str, **kw: object) -> DeliveryError:
    return DeliveryError("transient", message, **kw)  # type: ignore[arg-type]


def permanent(message: str, **kw: object) -> DeliveryError:
    return DeliveryError("permanent", message, **kw)  # type: ignore[arg-type]


def kind_of_status(status_code: int) -> FailureKind:
    return "transient" if status_code in TRANSIENT_STATUS else "permanent"


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` as seconds (RFC 9110: delay-seconds or an HTTP date)."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


def body_excerpt(response: httpx.Response) -> str:
    return response.content[:BODY_EXCERPT_BYTES].decode("utf-8", errors="replace")


def from_response(response: httpx.Response, what: str = "webhook response status") -> DeliveryError:
    """The error for a non-2xx response, in Grafana's words, classified by status code."""
    excerpt = body_excerpt(response)
    return DeliveryError(
        kind_of_status(response.status_code),
        f"{what} {response.status_code} {response.reason_phrase}: {excerpt}".rstrip(": "),
        status_code=response.status_code,
        body_excerpt=excerpt,
        retry_after=retry_after_seconds(response),
    )


def from_transport(exc: httpx.HTTPError) -> DeliveryError:
    """A transport failure; the URL is left out (it may hold a token), as Grafana redacts it."""
    if isinstance(exc, httpx.TimeoutException):
        return transient(f"the receiver timed out: {type(exc).__name__}", quick_retry=False)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return permanent(f"unsupported URL: {exc}")
    if isinstance(exc, httpx.LocalProtocolError):  # e.g. a header value our settings made illegal
        return permanent(f"invalid request: {exc}")
    reason = str(exc).split(" for url")[0] or type(exc).__name__
    return transient(f"connection error: {type(exc).__name__}: {reason}")
