"""Slack (``type: slack``): one legacy attachment, to an incoming webhook or chat.postMessage.

Settings: :class:`contracts.integrations.slack.SlackSettings`. Body: ``channel``, ``username``,
``icon_emoji``, ``icon_url`` and one attachment (title ≤ 1024 runes, text, fallback, footer
≤ 300 runes, colour, ``ts``, mentions in ``pretext``). Success is Grafana's test, which reads
the body of 2xx *and* 4xx answers: JSON must say ``"ok": true``, anything else must be ``ok``.
Alerts carry no images in alertrelay, so Grafana's image upload step never applies.
"""

from __future__ import annotations

import json
from typing import Callable
import httpx

from contracts.dead_letter import FailureKind
from contracts.gocompat import go_json
from contracts.integrations.slack import API_URL, SlackSettings
from workers.delivery import http
from workers.delivery.endpoints import api_url
from workers.delivery.errors import (
    TRANSIENT_STATUS,
    DeliveryError,
    body_excerpt,
    from_transport,
    kind_of_status,
    retry_after_seconds,
)
from workers.delivery.http import USER_AGENT
from workers.delivery.rendering import Rendering
from workers.delivery.request import HttpRequest
from workers.delivery.urls import join_url_path
from workers.delivery.template_data import TemplateData
from workers.delivery.truncate import truncate_runes

MAX_TITLE_RUNES = 1024
MAX_FOOTER_RUNES = 300
FOOTER_ICON_URL = "https://grafana.com/static/assets/img/fav32.png"

#: Bodies of a failed incoming webhook that Grafana explains in its own words.
WEBHOOK_ERRORS = {
    "user_not_found": "the user does not exist or is invalid",
    "channel_not_found": "the channel does not exist or is invalid",
    "channel_is_archived": "cannot send an incoming webhook for an archived channel",
    "posting_to_general_channel_denied": "cannot send an incoming webhook to the #general channel",
    "no_service": "the incoming webhook is either disabled, removed, or invalid",
    "no_text": "cannot send an incoming webhook without a message",
}
#: Slack API ``error`` codes that say "try again later" (our classification; Grafana retries nothing).
TRANSIENT_ERRORS = frozenset({"ratelimited", "rate_limited", "internal_error", "fatal_error",
                              "service_unavailable", "request_timeout"})


def build(rendering: Rendering, settings: SlackSettings) -> HttpRequest:
    """The request Grafana's Slack notifier would send (images aside)."""
    data = rendering.template_data()
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
    if settings.bearer_token:
        headers["Authorization"] = f"Bearer {settings.bearer_token}"
    return HttpRequest(
        method="POST",
        url=_target(settings),
        headers=headers,
        body=go_json(message(rendering, settings, data)).encode(),
        sensitive_headers=frozenset({"Authorization"}) if settings.bearer_token else frozenset(),
        check=check_response,
    )


def message(rendering: Rendering, settings: SlackSettings, data: TemplateData) -> dict[str, object]:
    """Grafana's ``slackMessage``: keys in its field order, ``omitempty`` keys left out when empty."""

    def render(source: str) -> str:
        return rendering.render(source, data)

    title, _ = truncate_runes(render(settings.title), MAX_TITLE_RUNES)
    footer, _ = truncate_runes(render(settings.footer), MAX_FOOTER_RUNES)
    attachment: dict[str, object] = {
        "title": title,
        "title_link": title_link(rendering),
        "text": render(settings.text),
        "fallback": title,
        "footer": footer,
        "footer_icon": FOOTER_ICON_URL,
        "color": render(settings.color),
        "ts": int(rendering.now.timestamp()),
    }
    mentions = mention_text(settings, render)
    if mentions:
        attachment.update(pretext=mentions, mrkdwn_in=["pretext"])
    head = {
        "channel": render(settings.recipient),
        "username": render(settings.username),
        "icon_emoji": render(settings.icon_emoji),
        "icon_url": render(settings.icon_url),
    }
    attachment = {k: v for k, v in attachment.items() if v or k in ("text", "fallback", "footer", "footer_icon")}
    return {**{k: v for k, v in head.items() if v}, "attachments": [attachment]}


def mention_text(settings: SlackSettings, render: Callable[[str], str]) -> str:
    """``<!here|here>``, ``<!subteam^G>``…, ``<@U>``…: one space between kinds, none within."""
    parts = []
    channel = settings.mentionChannel.strip()
    if channel:
        parts.append(f"<!{channel}|{channel}>")
    if settings.mentionGroups:
        parts.append("".join(f"<!subteam^{render(g)}>" for g in settings.mentionGroups))
    if settings.mentionUsers:
        parts.append("".join(f"<@{render(u)}>" for u in settings.mentionUsers))
    return " ".join(parts)


def title_link(rendering: Rendering) -> str:
    """The alerts' common ``generatorURL``, else ``<externalURL>/alerting/list``."""
    urls = {alert["generatorURL"] for alert in rendering.data["alerts"]}
    if len(urls) == 1 and "" not in urls:
        return urls.pop()
    return join_url_path(rendering.data["externalURL"], "/alerting/list")




def _target(settings: SlackSettings) -> str:
    """``url`` or ``endpointUrl``; Slack's own chat.postMessage honours ``ALERTRELAY_API_URL_SLACK``."""
    target = settings.target_url
    return api_url("slack", target) if target == API_URL else target


def send(request: HttpRequest, settings: SlackSettings) -> None:
    """Send once. Slack needs its own step only because Grafana's success test also reads the
    body of 4xx answers, which the shared sender turns into errors before any check runs."""
    try:
        response = http.client(request.verify).request(
            request.method, request.url, headers=request.headers, content=request.body
        )
    except httpx.HTTPError as exc:
        raise from_transport(exc) from None
    check_response(response)


def check_response(response: httpx.Response) -> None:
    """Grafana's Slack success test, classified: 429/408/5xx and Slack's "try later" codes are transient."""
    status = response.status_code
    if status < 200 or 300 <= status < 400 or status >= 500:
        raise _failure(response, f"unexpected {status // 100}xx status code: {status}", kind_of_status(status))
    problem, code = _body_problem(response)
    if problem is None:
        return
    later = status in TRANSIENT_STATUS or code in TRANSIENT_ERRORS
    raise _failure(response, problem, "transient" if later else "permanent")


def _body_problem(response: httpx.Response) -> tuple[str | None, str]:
    """(Grafana's error text or ``None`` for success, Slack's error code)."""
    body = response.content
    if response.headers.get("Content-Type", "").startswith("application/json"):
        if not body:
            return "unexpected empty response", ""
        try:
            result = json.loads(body)
        except ValueError as exc:
            return f"failed to unmarshal response: {exc}", ""
        if not isinstance(result, dict):
            return "failed to unmarshal response: not a JSON object", ""
        if result.get("ok") is True:
            return None, ""
        code = str(result.get("error") or "")
        return f"failed to send request: {code}", code
    if body == b"ok":
        return None, ""
    text = body.decode("utf-8", errors="replace")
    return WEBHOOK_ERRORS.get(text, f"failed incoming webhook: {text[:1024]}"), text


def _failure(response: httpx.Response, message: str, kind: FailureKind) -> DeliveryError:
    return DeliveryError(
        kind,
        message,
        status_code=response.status_code,
        body_excerpt=body_excerpt(response),
        retry_after=retry_after_seconds(response),
    )
