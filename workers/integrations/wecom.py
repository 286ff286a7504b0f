"""WeCom (``type: wecom``): a markdown or text message by group robot webhook or by app.

Settings: :class:`contracts.integrations.wecom.WeComSettings`. Body (Go map, so keys sorted):
``{"markdown": {"content": "# <title>\\n<message>\\n"}, "msgtype": "markdown"}``, or with
``msgtype: text`` ``{"msgtype": "text", "text": {"content": "<title>\\n<message>\\n"}}``.
No truncation.

*Group robot* (``url`` set): ``POST <url>``; success is any 2xx, as in Grafana.

*App* (``secret``, ``corp_id``, ``agent_id``): the body also has ``agentid`` (a string) and
``touser``, and goes to ``POST <endpointUrl>/cgi-bin/message/send?access_token=<token>``. The
token is I/O, so :func:`build` stays pure by writing the literal placeholder
``access_token=ACCESS_TOKEN`` (WeCom's own documentation spells it so), which is what
``alertrelay preview`` shows; :func:`send` fetches the token and fills it in. The token comes
from ``POST <endpointUrl>/cgi-bin/gettoken?corpid=..&corpsecret=..`` (a non-2xx answer or an
``errcode`` other than 0 is a failure, as in Grafana) and is cached in-process per endpoint,
corp_id and secret until ``expires_in`` minus five minutes — what Grafana intends; its own
cache reads a misspelt field and never holds. When the message API answers ``errcode``
42001 (token expired) or 40014 (invalid token), the token is dropped, a new one fetched and
the message sent once more. Apart from that, like Grafana, the message answer's
``errcode`` is not read: any 2xx is success. ``ALERTRELAY_API_URL_WECOM`` replaces the
default ``https://qyapi.weixin.qq.com`` (not an ``endpointUrl`` set in the settings).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import quote

import httpx

from contracts.gocompat import go_json
from contracts.integrations.wecom import DEFAULT_ENDPOINT, WeComSettings
from workers.delivery import http
from workers.delivery.endpoints import api_url
from workers.delivery.errors import DeliveryError, from_response, from_transport, permanent, transient
from workers.delivery.http import USER_AGENT
from workers.delivery.rendering import Rendering
from workers.delivery.request import HttpRequest

#: What :func:`build` writes where the access token goes; :func:`send` replaces it.
ACCESS_TOKEN_PLACEHOLDER = "ACCESS_TOKEN"
_TOKEN_QUERY = "access_token="
#: Message-API errcodes that mean "fetch a new token": 42001 expired, 40014 invalid.
TOKEN_REJECTED = frozenset({42001, 40014})
#: gettoken errcodes worth retrying later: -1 system busy, 45009 API frequency limit.
TRANSIENT_ERRCODES = frozenset({-1, 45009})
#: Seconds before WeCom's ``expires_in`` at which a cached token is given up.
EXPIRY_MARGIN = 300.0
JSON_HEADERS = {"Content-Type": "application/json", "User-Agent": USER_AGENT}


def build(rendering: Rendering, settings: WeComSettings) -> HttpRequest:
    """The request Grafana's WeCom notifier would send (app mode: token as a placeholder)."""
    data = rendering.template_data()
    title = rendering.render(settings.title, data)
    message = rendering.render(settings.message, data)
    content = f"# {title}\n{message}\n" if settings.msgtype == "markdown" else f"{title}\n{message}\n"
    body: dict[str, Any] = {"msgtype": settings.msgtype, settings.msgtype: {"content": content}}
    url = settings.robot_url
    if settings.app_mode:
        body["agentid"] = settings.agent_id
        body["touser"] = settings.touser
        url = message_url(settings, ACCESS_TOKEN_PLACEHOLDER)
    return HttpRequest(method="POST", url=url, headers=dict(JSON_HEADERS), body=go_json(dict(sorted(body.items()))).encode())


def send(request: HttpRequest, settings: WeComSettings) -> None:
    """Send once. App mode: with a cached or fresh token, and once more after a token rejection."""
    if not settings.app_mode:
        http.send(request)
        return
    key = (endpoint(settings), settings.corp_id, settings.app_secret)
    used: list[str] = []
    try:
        for _ in (1, 2):
            token = TOKENS.get(key, lambda: fetch_token(settings))
            used.append(token)
            errcode = _rejected_token(http.send(with_token(request, token)))
            if errcode is None:
                return
            TOKENS.invalidate(key, token)
        raise transient(f"WeCom rejected a freshly fetched access token (errcode {errcode})")
    except DeliveryError as exc:
        raise exc.redacted(sorted(set(used) | {settings.app_secret}, key=len, reverse=True)) from None


def endpoint(settings: WeComSettings) -> str:
    """The API base: ``endpointUrl``, or the default as ``ALERTRELAY_API_URL_WECOM`` may replace it."""
    if settings.endpointUrl == DEFAULT_ENDPOINT:
        return api_url("wecom", DEFAULT_ENDPOINT)
    return settings.endpointUrl


def message_url(settings: WeComSettings, token: str) -> str:
    return f"{endpoint(settings)}/cgi-bin/message/send?{_TOKEN_QUERY}{token}"


def token_url(settings: WeComSettings) -> str:
    corp, secret = quote(settings.corp_id, safe=""), quote(settings.app_secret, safe="")
    return f"{endpoint(settings)}/cgi-bin/gettoken?corpid={corp}&corpsecret={secret}"


def with_token(request: HttpRequest, token: str) -> HttpRequest:
    """The built request with the placeholder replaced by ``token``."""
    placeholder = _TOKEN_QUERY + ACCESS_TOKEN_PLACEHOLDER
    if not request.url.endswith(placeholder):
        raise permanent("WeCom app request has no access token placeholder")
    return dataclasses.replace(request, url=request.url[: -len(placeholder)] + _TOKEN_QUERY + quote(token, safe=""))


def fetch_token(settings: WeComSettings) -> tuple[str, float]:
    """A new access token and how long it may be cached (seconds), from WeCom's gettoken API."""
    try:
        response = http.client().post(token_url(settings), headers=JSON_HEADERS)
    except httpx.HTTPError as exc:
        raise from_transport(exc) from None
    if not 200 <= response.status_code < 300:
        raise from_response(response, "WeCom token request status")
    answer = _json(response)
    if answer is None:
        raise transient("WeCom token answer is not a JSON object")
    errcode = _errcode(answer)
    if errcode:
        kind = transient if errcode in TRANSIENT_ERRCODES else permanent
        raise kind(f"WeCom token request failed: errcode {errcode}: {answer.get('errmsg', '')}".rstrip(": "))
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise transient("WeCom token answer has no access_token")
    lifetime = answer.get("expires_in", answer.get("expire_in", 0))
    try:
        return token, max(0.0, float(lifetime) - EXPIRY_MARGIN)
    except (TypeError, ValueError):
        return token, 0.0


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        answer = response.json()
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def _errcode(answer: dict[str, Any]) -> int:
    try:
        return int(answer.get("errcode") or 0)
    except (TypeError, ValueError):
        return 0


def _rejected_token(response: httpx.Response) -> int | None:
    """The errcode when the message API refused the token; ``None`` otherwise (not read further)."""
    answer = _json(response)
    errcode = _errcode(answer) if answer is not None else 0
    return errcode if errcode in TOKEN_REJECTED else None


@dataclass
class _Token:
    value: str
    expires_at: float


class TokenCache:
    """Access tokens per (endpoint, corp_id, secret), shared by a worker's threads.

    One lock per key: concurrent sends for the same app wait for one fetch instead of each
    fetching (WeCom rate-limits gettoken).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._lock = threading.Lock()
        self._key_locks: dict[tuple[str, ...], threading.Lock] = {}
        self._tokens: dict[tuple[str, ...], _Token] = {}

    def _lock_for(self, key: tuple[str, ...]) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def get(self, key: tuple[str, ...], fetch: Callable[[], tuple[str, float]]) -> str:
        """The cached token for ``key`` while it is fresh; otherwise ``fetch()``'s, cached."""
        with self._lock_for(key):
            cached = self._tokens.get(key)
            if cached is not None and cached.expires_at > self.clock():
                return cached.value
            value, lifetime = fetch()
            if lifetime > 0:
                self._tokens[key] = _Token(value, self.clock() + lifetime)
            else:
                self._tokens.pop(key, None)
            return value

    def invalidate(self, key: tuple[str, ...], value: str) -> None:
        """Forget ``value`` for ``key`` (unless another thread already replaced it)."""
        with self._lock_for(key):
            cached = self._tokens.get(key)
            if cached is not None and cached.value == value:
                del self._tokens[key]

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


TOKENS = TokenCache()
