"""Discord (``type: discord``): a webhook message with one rich embed.

Settings: :class:`contracts.integrations.discord.DiscordSettings`. Body: ``username``
(``Grafana`` unless ``use_discord_username``), ``content`` (≤ 2000 runes; empty with
``use_embed_description``), ``avatar_url``, and an embed with the title (≤ 256 runes),
the alert list link, the status colour and Grafana's footer. Success: any 2xx.
Alerts carry no images in alertrelay, so no image embeds or multipart uploads are built.
"""

from __future__ import annotations

from contracts.gocompat import go_json
from contracts.integrations.discord import DiscordSettings
from workers.delivery.http import USER_AGENT
from workers.delivery.rendering import Rendering
from workers.delivery.request import HttpRequest
from workers.delivery.template_data import TemplateData
from workers.delivery.truncate import truncate_runes
from workers.delivery.urls import join_url_path

MAX_CONTENT_RUNES = 2000
MAX_TITLE_RUNES = 256
FOOTER_ICON_URL = "https://grafana.com/static/assets/img/fav32.png"
#: ``#D63232`` and ``#36a64f`` as the decimal integers Discord expects.
COLOR_FIRING = 0xD63232
COLOR_RESOLVED = 0x36A64F


def build(rendering: Rendering, settings: DiscordSettings) -> HttpRequest:
    """The JSON request Grafana's Discord notifier would send when there are no images."""
    data = rendering.template_data()
    return HttpRequest(
        method="POST",
        url=rendering.render(settings.url.get_secret_value(), data),
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        body=go_json(message(rendering, settings, data)).encode(),
    )


def message(rendering: Rendering, settings: DiscordSettings, data: TemplateData) -> dict[str, object]:
    """Grafana's ``discordMessage`` in its field order, ``omitempty`` keys left out when empty."""
    content, _ = truncate_runes(rendering.render(settings.message, data), MAX_CONTENT_RUNES)
    title, _ = truncate_runes(rendering.render(settings.title, data), MAX_TITLE_RUNES)
    embed: dict[str, object] = {"title": title, "type": "rich"}
    if settings.use_embed_description:
        embed["description"] = content
    embed["url"] = join_url_path(rendering.data["externalURL"], "/alerting/list")
    embed["color"] = COLOR_FIRING if data.Status == "firing" else COLOR_RESOLVED
    embed["footer"] = {"text": footer_text(data), "icon_url": FOOTER_ICON_URL}
    body: dict[str, object] = {}
    if not settings.use_discord_username:
        body["username"] = "Grafana"
    body["content"] = "" if settings.use_embed_description else content
    if settings.avatar_url:
        avatar = rendering.render(settings.avatar_url, data)
        if avatar:
            body["avatar_url"] = avatar
    body["embeds"] = [{k: v for k, v in embed.items() if v != ""}]
    return body


def footer_text(data: TemplateData) -> str:
    """``Grafana v<version>``; plain ``Grafana`` when the version is unknown, as alertrelay's is."""
    return f"Grafana v{data.AppVersion}" if data.AppVersion else "Grafana"
