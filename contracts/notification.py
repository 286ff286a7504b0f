"""Grafana's extended notification data, derived from a normalised :class:`Notification`.

The result is a plain dict in the exact key order of Grafana's ``ExtendedData`` JSON, so the
webhook integration can send it as it is and templates can wrap it. It is computed at render
time because Grafana's dashboard URLs of firing alerts end at "now".
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from contracts.event import Alert, Notification
from contracts.gocompat import ZERO_TIME, quote_meta

ANNOTATION_ORG_ID = "__orgId__"
ANNOTATION_DASHBOARD_UID = "__dashboardUid__"
ANNOTATION_PANEL_ID = "__panelId__"
ANNOTATION_VALUES = "__values__"
ANNOTATION_VALUE_STRING = "__value_string__"
LABEL_RULE_UID = "__alert_rule_uid__"


def is_private(name: str) -> bool:
    """Grafana hides keys that start and end with ``__`` from templates and payloads."""
    return name.startswith("__") and name.endswith("__")


def public(kv: dict[str, str]) -> dict[str, str]:
    """The key/value pairs a template sees, in sorted key order (Go map order)."""
    return {k: kv[k] for k in sorted(kv) if not is_private(k)}


def sorted_pairs(kv: dict[str, str]) -> list[tuple[str, str]]:
    """Alertmanager's ``KV.SortedPairs``: byte order, but ``alertname`` always first."""
    names = sorted(kv)
    if "alertname" in kv:
        names.remove("alertname")
        names.insert(0, "alertname")
    return [(k, kv[k]) for k in names]


def common(maps: list[dict[str, str]]) -> dict[str, str]:
    """Pairs identical in every map (computed on full maps), then private keys removed."""
    if not maps:
        return {}
    shared = dict(maps[0])
    for other in maps[1:]:
        shared = {k: v for k, v in shared.items() if other.get(k) == v}
    return public(shared)


def _to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _with_query(url: str, path: str | None, params: list[tuple[str, str]]) -> str:
    """Add query params the way Go re-encodes a URL: keys sorted, repeated keys in order."""
    parts = urlsplit(url)
    existing = parse_qsl(parts.query, keep_blank_values=True)
    replaced = {k for k, _ in params if k in ("orgId", "from", "to", "viewPanel")}
    merged = [(k, v) for k, v in existing if k not in replaced] + params
    order = sorted({k for k, _ in merged})
    query = urlencode([(k, v) for key in order for k, v in merged if k == key])
    new_path = parts.path
    if path is not None:
        new_path = "/".join(p for p in (parts.path.rstrip("/"), path.lstrip("/")) if p != "")
        if not new_path.startswith("/"):
            new_path = "/" + new_path
    return urlunsplit((parts.scheme, parts.netloc, new_path, query, parts.fragment))


def _org_params(org_id: str | None) -> list[tuple[str, str]]:
    return [("orgId", org_id)] if org_id is not None else []


def silence_url(external_url: str, labels: dict[str, str], org_id: str | None) -> str:
    if not external_url:
        return ""
    return _silence_url(external_url, tuple(sorted(labels.items())), org_id)


@lru_cache(maxsize=4096)
def _silence_url(external_url: str, label_items: tuple[tuple[str, str], ...], org_id: str | None) -> str:
    """Cached: the jobs of one event (one per integration) share their alerts' silence URLs."""
    labels = dict(label_items)
    params = [("alertmanager", "grafana")]
    rule_uid = labels.get(LABEL_RULE_UID)
    if rule_uid:
        params.append(("matcher", f"{LABEL_RULE_UID}={rule_uid}"))
    for name, value in sorted_pairs(labels):
        if is_private(name) or (rule_uid and name in ("alertname", "grafana_folder")):
            continue
        params.append(("matcher", f"{name}={value}"))
    return _with_query(external_url, "/alerting/silence/new", params + _org_params(org_id))


def dashboard_url(external_url: str, alert: Alert, org_id: str | None, now: datetime) -> str:
    dashboard_uid = alert.annotations.get(ANNOTATION_DASHBOARD_UID)
    if not external_url or not dashboard_uid:
        return ""
    params = _org_params(org_id)
    params += [
        ("from", str(_to_ms(alert.startsAt - timedelta(hours=1)))),
        ("to", str(_to_ms(alert.endsAt or now))),
    ]
    return _with_query(external_url, f"/d/{dashboard_uid}", params)


def panel_url(dashboard: str, alert: Alert) -> str:
    panel_id = alert.annotations.get(ANNOTATION_PANEL_ID)
    if not dashboard or panel_id is None:
        return ""
    return _with_query(dashboard, None, [("viewPanel", panel_id)])


def parse_values(raw: str | None) -> dict[str, float] | None:
    """``__values__`` as refID → float, sorted; ``None`` when absent or invalid (as Grafana)."""
    if raw is None:
        return None
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    values: dict[str, float] = {}
    for key in sorted(parsed):
        value = parsed[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return None
        values[key] = float(value)
    return values


def extend_alert(alert: Alert, external_url: str, now: datetime, precomputed: bool) -> dict[str, Any]:
    """One alert in Grafana's ``ExtendedAlert`` JSON order (omitempty fields left out)."""
    org_id = alert.annotations.get(ANNOTATION_ORG_ID)
    generator = alert.generatorURL
    if org_id is not None and generator and not precomputed:
        generator = _with_query(generator, None, [("orgId", org_id)])
    if precomputed:
        silence = alert.silenceURL or ""
        dashboard = alert.dashboardURL or ""
        panel = alert.panelURL or ""
        values = alert.values
        value_string = alert.valueString or ""
        rule_uid = alert.ruleUID or ""
        org = alert.orgId
    else:
        base = external_url
        silence = silence_url(base, alert.labels, org_id)
        dashboard = dashboard_url(base, alert, org_id, now)
        panel = panel_url(dashboard, alert)
        values = parse_values(alert.annotations.get(ANNOTATION_VALUES))
        value_string = alert.annotations.get(ANNOTATION_VALUE_STRING, "")
        rule_uid = alert.labels.get(LABEL_RULE_UID, "")
        org = int(org_id) if org_id is not None and org_id.lstrip("-").isdigit() else None
    out: dict[str, Any] = {
        "status": alert.status,
        "labels": public(alert.labels),
        "annotations": public(alert.annotations),
        "startsAt": alert.startsAt,
        "endsAt": alert.endsAt if alert.status == "resolved" and alert.endsAt else ZERO_TIME,
        "generatorURL": generator,
        "fingerprint": alert.fingerprint,
        "silenceURL": silence,
        "dashboardURL": dashboard,
        "panelURL": panel,
    }
    if rule_uid:
        out["ruleUID"] = rule_uid
    out["values"] = dict(sorted(values.items())) if values is not None else None
    out["valueString"] = value_string
    if alert.imageURL:
        out["imageURL"] = alert.imageURL
    if org is not None:
        out["orgId"] = org
    return out


def extended_data(notification: Notification, now: datetime) -> dict[str, Any]:
    """Grafana's ``ExtendedData`` for a notification, as a JSON-shaped dict in Go field order."""
    alerts = [extend_alert(a, notification.externalURL, now, notification.precomputed) for a in notification.alerts]
    return {
        "receiver": quote_meta(notification.receiver),
        "status": notification.status,
        "alerts": alerts,
        "groupLabels": dict(sorted(notification.groupLabels.items())),
        "commonLabels": common([a.labels for a in notification.alerts]),
        "commonAnnotations": common([a.annotations for a in notification.alerts]),
        "externalURL": notification.externalURL,
        "groupKey": notification.groupKey,
    }
