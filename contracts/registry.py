"""The integration registry: one line per provisioning ``type``.

Each line names the settings model (what a provisioning file may say) and the sender module
in ``workers.integrations`` (what is sent). The sender is named as a dotted path so that
``contracts`` never imports ``workers``.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.integrations.base import Settings
from contracts.integrations.webhook import WebhookSettings


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
        # chat B
        # incident A
        # incident B
        # protocol
    )
}

_LOOKUP = {name.lower(): entry for entry in REGISTRY.values() for name in (entry.type, *entry.aliases)}


def lookup(type_name: str) -> IntegrationType | None:
    """The registry entry for a provisioning ``type``, case-insensitive as in Grafana."""
    return _LOOKUP.get(type_name.strip().lower())
