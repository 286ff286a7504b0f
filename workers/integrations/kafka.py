"""Kafka REST Proxy (``type: kafka``): one JSON record per notification, REST Proxy API v2 or v3.

Settings: :class:`contracts.integrations.kafka.KafkaSettings`. v2: ``POST <proxy>/topics/<topic>``
with ``{"records": [{"value": record}]}`` in ``application/vnd.kafka.json.v2+json``. v3:
``POST <proxy>/v3/clusters/<cluster>/topics/<topic>/records`` with
``{"value": {"type": "JSON", "data": record}}``. The record holds ``description``, ``client``,
``details``, ``alert_state``, ``client_url``, ``contexts`` (images) and ``incident_key`` (SHA-256
of the group key). Success: v2 any 2xx; v3 a 2xx whose JSON body has a 2xx ``error_code``.
"""

from __future__ import annotations

import base64
import json
from typing import Any
import httpx

from contracts.gocompat import go_json
from contracts.integrations.kafka import KafkaSettings
from workers.delivery.errors import DeliveryError, body_excerpt, kind_of_status
from workers.delivery.http import USER_AGENT
from workers.delivery.rendering import Rendering
from workers.delivery.request import HttpRequest
from workers.delivery.urls import join_url_path
from workers.delivery.template_data import TemplateData

V2_HEADERS = {"Content-Type": "application/vnd.kafka.json.v2+json", "Accept": "application/vnd.kafka.v2+json"}
V3_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def build(rendering: Rendering, settings: KafkaSettings) -> HttpRequest:
    """The request Grafana's Kafka notifier would send for the configured API version."""
    data = rendering.template_data()
    topic = rendering.render(settings.kafkaTopic, data)
    record = kafka_record(rendering, settings, data)
    if settings.apiVersion == "v3":
        cluster = rendering.render(settings.kafkaClusterId, data)
        url = f"{settings.kafkaRestProxy}/v3/clusters/{cluster}/topics/{topic}/records"
        body: dict[str, Any] = {"value": {"type": "JSON", "data": record}}
        headers, check = dict(V3_HEADERS), check_v3_response
    else:
        url = f"{settings.kafkaRestProxy}/topics/{topic}"
        body = {"records": [{"value": record}]}
        headers, check = dict(V2_HEADERS), None
    headers["User-Agent"] = USER_AGENT
    basic = settings.basic_auth()
    if basic is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
    return HttpRequest(
        method="POST",
        url=url,
        headers=headers,
        body=go_json(body).encode(),
        sensitive_headers=frozenset({"Authorization"} if basic else set()),
        check=check,
    )


def kafka_record(rendering: Rendering, settings: KafkaSettings, data: TemplateData) -> dict[str, Any]:
    """Grafana's record in its field order; every field but ``description`` is left out when empty."""
    images = [{"type": "image", "src": a["imageURL"]} for a in rendering.data["alerts"] if a.get("imageURL")]
    fields: dict[str, Any] = {
        "description": rendering.render(settings.description, data),
        "client": "Grafana",
        "details": rendering.render(settings.details, data),
        "alert_state": "ok" if data.Status == "resolved" else "alerting",
        "client_url": join_url_path(data.ExternalURL, "/alerting/list"),
        "contexts": images,
        "incident_key": rendering.group_key_hash,
    }
    return {key: value for key, value in fields.items() if key == "description" or value}




def check_v3_response(response: httpx.Response) -> None:
    """v3 answers 2xx even when the produce failed; the body's ``error_code`` must be 2xx too.

    A non-JSON body or a missing ``error_code`` is a failure, as in Grafana. The failure is
    classified by ``error_code`` like an HTTP status (408/429/5xx transient, else permanent).
    """
    excerpt = body_excerpt(response)
    code = _error_code(response.content)
    if code is not None and code // 100 == 2:
        return
    kind = kind_of_status(code) if code is not None and 100 <= code <= 599 else "permanent"
    raise DeliveryError(
        kind,
        f"failed to publish message to Kafka (error_code {code if code is not None else 'missing'}). response: {excerpt}",
        status_code=response.status_code,
        body_excerpt=excerpt,
    )


def _error_code(content: bytes) -> int | None:
    """``error_code`` of a JSON object body (matched case-insensitively, as Go does); None if absent."""
    try:
        parsed = json.loads(content)
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    value = parsed.get("error_code")
    if value is None:
        value = next((v for k, v in parsed.items() if k.lower() == "error_code"), None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None
