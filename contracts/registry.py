"""The integration registry: one line per provisioning ``type``.

Each line names the settings model (what a provisioning file may say) and the sender module
in ``workers.integrations`` (what is sent). The sender is named as a dotted path so that
``contracts`` never imports ``workers``.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.integrations.base import Settings
from contracts.integrations.email import EmailSettings
from contracts.integrations.mqtt import MqttSettings
from contracts.integrations.sns import SnsSettings
from contracts.integrations.kafka import KafkaSettings
from contracts.integrations.oncall import OnCallSettings
from contracts.integrations.prometheus_alertmanager import AlertmanagerSettings
from contracts.integrations.threema import ThreemaSettings
from contracts.integrations.discord import DiscordSettings
from contracts.integrations.slack import SlackSettings
from contracts.integrations.teams import TeamsSettings
from contracts.integrations.telegram import TelegramSettings
from contracts.integrations.opsgenie import OpsgenieSettings
from contracts.integrations.pagerduty import PagerDutySettings
from contracts.integrations.pushover import PushoverSettings
from contracts.integrations.sensugo import SensuGoSettings
from contracts.integrations.victorops import VictorOpsSettings
from contracts.integrations.webhook import WebhookSettings
from contracts.integrations.dingding import DingDingSettings
from contracts.integrations.googlechat import GoogleChatSettings
from contracts.integrations.line import LineSettings
from contracts.integrations.webex import WebexSettings
from contracts.integrations.wecom import WeComSettings


@dataclass(frozen=True)
class IntegrationType:
    type: str
    settings: type[Settings]
    sender: str
    #: Other spellings Grafana accepts for the same type (lookup is case-insensitive anyway).
    aliases: tuple[str, ...] = ()

    @property
    def queue_name(self) -> str:
        return f"alertrelay.{self.type}"

    @property
    def actor_name(self) -> str:
        return "deliver_" + self.type.replace("-", "_")


REGISTRY: dict[str, IntegrationType] = {
    entry.type: entry
    for entry in (
        IntegrationType("webhook", WebhookSettings, "workers.integrations.webhook"),
        # chat A
        IntegrationType("slack", SlackSettings, "workers.integrations.slack"),
        IntegrationType("telegram", TelegramSettings, "workers.integrations.telegram"),
        IntegrationType("discord", DiscordSettings, "workers.integrations.discord"),
        IntegrationType("teams", TeamsSettings, "workers.integrations.teams"),
        # chat B
        IntegrationType("googlechat", GoogleChatSettings, "workers.integrations.googlechat"),
        IntegrationType("webex", WebexSettings, "workers.integrations.webex"),
        IntegrationType("dingding", DingDingSettings, "workers.integrations.dingding"),
        IntegrationType("wecom", WeComSettings, "workers.integrations.wecom"),
        IntegrationType("line", LineSettings, "workers.integrations.line", aliases=("LINE",)),
        # incident A
        IntegrationType("pagerduty", PagerDutySettings, "workers.integrations.pagerduty"),
        IntegrationType("opsgenie", OpsgenieSettings, "workers.integrations.opsgenie"),
        IntegrationType("victorops", VictorOpsSettings, "workers.integrations.victorops"),
        IntegrationType("pushover", PushoverSettings, "workers.integrations.pushover"),
        IntegrationType("sensugo", SensuGoSettings, "workers.integrations.sensugo"),
        # incident B
        IntegrationType("threema", ThreemaSettings, "workers.integrations.threema"),
        IntegrationType("oncall", OnCallSettings, "workers.integrations.oncall"),
        IntegrationType("prometheus-alertmanager", AlertmanagerSettings, "workers.integrations.prometheus_alertmanager"),
        IntegrationType("kafka", KafkaSettings, "workers.integrations.kafka"),
        # protocol
        IntegrationType("email", EmailSettings, "workers.integrations.email"),
        IntegrationType("mqtt", MqttSettings, "workers.integrations.mqtt"),
        IntegrationType("sns", SnsSettings, "workers.integrations.sns"),
    )
}

_LOOKUP = {name.lower(): entry for entry in REGISTRY.values() for name in (entry.type, *entry.aliases)}


def lookup(type_name: str) -> IntegrationType | None:
    """The registry entry for a provisioning ``type``, case-insensitive as in Grafana."""
    return _LOOKUP.get(type_name.strip().lower())
