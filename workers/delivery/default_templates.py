"""Grafana's built-in named templates, written in Python for byte-exact output.

Each function takes the template "dot" (the :class:`TemplateData`, or a list of alerts for
the list helpers) and returns exactly the text Grafana's Go template of the same name
renders. User templates with the same name replace them, as in Grafana.
"""

from __future__ import annotations

from typing import Any, Callable

from contracts.gocompat import go_float, go_json
from workers.delivery.template_data import AlertView, TemplateData


def subject(data: TemplateData) -> str:
    """``default.title`` / ``__subject``."""
    status = data.Status.upper()
    head = f"[{status}"
    if data.Status == "firing":
        head += f":{len(data.Alerts.Firing)}"
        if data.Alerts.Resolved:
            head += f", RESOLVED:{len(data.Alerts.Resolved)}"
    head += "] "
    text = head + " ".join(data.GroupLabels.SortedPairs.Values) + " "
    if len(data.CommonLabels) > len(data.GroupLabels):
        extra = data.CommonLabels.Remove(data.GroupLabels.Names)
        text += "(" + " ".join(extra.SortedPairs.Values) + ")"
    return text


def values_list(alert: AlertView) -> str:
    """``__text_values_list``."""
    if not alert.Values:
        return "[no value]"
    return ", ".join(f"{k}={go_float(v)}" for k, v in sorted(alert.Values.items()))


def _kv_lines(kv: Any) -> str:
    return "".join(f" - {p.Name} = {p.Value}\n" for p in kv.SortedPairs)


def _links(alert: AlertView, markdown: bool) -> str:
    out = ""
    for label, url in (
        ("Source", alert.GeneratorURL),
        ("Silence", alert.SilenceURL),
        ("Dashboard", alert.DashboardURL),
        ("Panel", alert.PanelURL),
    ):
        if url:
            out += f"{label}: [{url}]({url})\n\n" if markdown else f"{label}: {url}\n"
    return out


def text_alert_list(alerts: list[AlertView]) -> str:
    """``__text_alert_list``: a blank line, then Value, Labels, Annotations and links per alert."""
    out = ""
    for alert in alerts:
        out += f"\nValue: {values_list(alert)}\nLabels:\n{_kv_lines(alert.Labels)}"
        out += f"Annotations:\n{_kv_lines(alert.Annotations)}{_links(alert, markdown=False)}"
    return out


def teams_text_alert_list(alerts: list[AlertView]) -> str:
    """``__teams_text_alert_list``: like the text list, with blank lines and Markdown links."""
    out = ""
    for alert in alerts:
        out += f"\nValue: {values_list(alert)}\nLabels:\n{_kv_lines(alert.Labels)}\n"
        out += f"Annotations:\n{_kv_lines(alert.Annotations)}\n{_links(alert, markdown=True)}\n"
    return out


def _message(data: TemplateData, alert_list: Callable[[list[AlertView]], str]) -> str:
    out = ""
    firing, resolved = data.Alerts.Firing, data.Alerts.Resolved
    if firing:
        out += "**Firing**\n" + alert_list(firing)
        if resolved:
            out += "\n\n"
    if resolved:
        out += "**Resolved**\n" + alert_list(resolved)
    return out


def message(data: TemplateData) -> str:
    """``default.message``."""
    return _message(data, text_alert_list)


def teams_message(data: TemplateData) -> str:
    """``teams.default.message``."""
    return _message(data, teams_text_alert_list)


def slack_footer(data: TemplateData) -> str:
    """``slack.default.footer``: ``Grafana v<AppVersion>``, or ``Grafana`` without a version."""
    return "Grafana" + (f" v{data.AppVersion}" if data.AppVersion else "")


def webhook_payload(data: TemplateData) -> str:
    """``webhook.default.payload``: the notification as pretty JSON (1-space indent, sorted keys)."""
    raw = data.raw
    first_org = raw["alerts"][0].get("orgId") if raw.get("alerts") else None
    payload = {
        "alerts": raw.get("alerts", []),
        "commonAnnotations": raw.get("commonAnnotations", {}),
        "commonLabels": raw.get("commonLabels", {}),
        "externalURL": raw.get("externalURL", ""),
        "groupKey": raw.get("groupKey", ""),
        "groupLabels": raw.get("groupLabels", {}),
        "message": message(data),
        "orgId": first_org,
        "receiver": raw.get("receiver", ""),
        "state": "ok" if data.Status == "resolved" else "alerting",
        "status": data.Status,
        "title": subject(data),
        "truncatedAlerts": data.TruncatedAlerts or 0,
        "version": "1",
    }
    return go_json(payload, indent=" ")


def _alerts_of(dot: Any) -> list[AlertView]:
    return list(dot.Alerts if isinstance(dot, TemplateData) else dot)


#: Name → function of the dot. The ``__`` helpers take a list of alerts, as in Grafana.
BUILTINS: dict[str, Callable[[Any], str]] = {
    "__subject": subject,
    "default.title": subject,
    "default.message": message,
    "teams.default.message": teams_message,
    "webhook.default.payload": webhook_payload,
    "slack.default.footer": slack_footer,
    "__text_values_list": values_list,
    "__text_alert_list": lambda dot: text_alert_list(_alerts_of(dot)),
    "__teams_text_alert_list": lambda dot: teams_text_alert_list(_alerts_of(dot)),
}
