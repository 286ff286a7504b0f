"""TLS is verified by default on every outgoing connection; skipping verification is a setting
only where Grafana has one; ``amqps://`` broker URLs give verified TLS connection parameters."""

from __future__ import annotations

import json
import ssl
import typing
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
import trustme
from pydantic import BaseModel

from contracts.event import normalise, parse_event
from contracts.integrations.mqtt import MqttSettings
from contracts.integrations.webhook import WebhookSettings
from contracts.registry import REGISTRY
from tests import secret_markers as sm
from workers.delivery import http
from workers.delivery.rendering import Rendering
from workers.delivery.request import HttpRequest
from workers.delivery.templates import Templates
from workers.integrations import mqtt, sender, wecom, webhook
from workers.integrations.smtp_config import SmtpConfig

NOW = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)
#: Per-integration "skip TLS verification" settings in Grafana (spec/integrations-b.md: MQTT
#: ``tlsConfig.insecureSkipVerify``, webhook ``tlsConfig.insecureSkipVerify``). Email's
#: ``[smtp] skip_verify`` is server-wide (``ALERTRELAY_SMTP_SKIP_VERIFY``), not per integration.
GRAFANA_SKIP_VERIFY = {"mqtt": {"tlsConfig.insecureSkipVerify"}, "webhook": {"tlsConfig.insecureSkipVerify"}}


def is_verifying(context: Any) -> bool:
    return isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_the_shared_http_client_verifies_certificates_by_default():
    assert HttpRequest("POST", "https://example.com/", {}).verify is True
    http.close_clients()
    assert is_verifying(http.client().direct_transport.ssl_context())  # type: ignore[attr-defined]
    assert is_verifying(http.client(True).direct_transport.ssl_context())  # type: ignore[attr-defined]
    http.close_clients()


@pytest.fixture
def pems() -> dict[str, str]:
    ca = trustme.CA()
    client = ca.issue_cert("client.example.com")
    return {"ca_pem": ca.cert_pem.bytes().decode(), "cert_pem": client.cert_chain_pems[0].bytes().decode(),
            "key_pem": client.private_key_pem.bytes().decode()}


class RecordingClient:
    """Stands in for the shared httpx client: records the ``verify`` each send asked for."""

    def __init__(self, verify: Any, calls: list[Any]):
        self.verify, self.calls = verify, calls

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        self.calls.append(self.verify)
        body = {"ok": True, "errcode": 0, "access_token": "tok-123", "expires_in": 7200}
        return httpx.Response(200, json=body, request=httpx.Request(method, url))

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)


def test_every_http_integration_sends_with_verification_on(monkeypatch, pems):
    """Every HTTP send of every integration (its own ``send`` included: Slack, WeCom's token,
    SNS) asks the client for verification; a configured CA replaces the trust store and still verifies."""
    calls: list[Any] = []
    monkeypatch.setattr(http, "client", lambda verify=True: RecordingClient(verify, calls))
    wecom.TOKENS.clear()
    context = {"base": "https://receiver.example.com", "host": "receiver.example.com", "tls_base": "https://tls.example.com",
               "mqtt": "tcp://127.0.0.1:1883", "run": "r", **pems}
    generated = sm.generate(context)
    event = normalise(parse_event(json_event()), NOW)
    seen: dict[str, list[Any]] = {}
    for receiver in generated.config["contactPoints"][0]["receivers"]:
        if receiver["type"] in ("email", "mqtt"):
            continue  # not HTTP: see the next tests
        settings = REGISTRY[receiver["type"]].settings.model_validate(receiver["settings"])
        module = sender(receiver["type"])
        request = module.build(Rendering(event, Templates(), NOW, 1), settings)
        calls.clear()
        if hasattr(module, "send"):
            module.send(request, settings)
        else:
            http.send(request)
        seen[receiver["uid"]] = list(calls)
    wecom.TOKENS.clear()
    assert set(seen) == {e.uid for e in sm.ENTRIES} - {"email", "mqtt"} and all(seen.values())
    custom_ca = seen.pop("webhook-basic")
    assert all(is_verifying(v) for v in custom_ca), "a webhook with its own CA still verifies"
    assert {uid: v for uid, v in seen.items() if any(x is not True for x in v)} == {}


def test_mqtt_and_smtp_verify_by_default():
    settings = MqttSettings.model_validate({"brokerUrl": "mqtts://broker.example.com:8883", "topic": "t"})
    assert is_verifying(mqtt._tls_context(settings))
    assert is_verifying(SmtpConfig().ssl_context())


def test_skip_verify_is_a_setting_only_where_grafana_has_one():
    found = {name: set(skip_verify_paths(entry.settings)) for name, entry in REGISTRY.items()}
    assert {name: paths for name, paths in found.items() if paths} == GRAFANA_SKIP_VERIFY


def test_skip_verify_turns_verification_off_only_when_set(pems):
    rendering = Rendering(normalise(parse_event(json_event()), NOW), Templates(), NOW, 1)
    on = WebhookSettings.model_validate({"url": "https://h/", "tlsConfig": {"caCertificate": pems["ca_pem"]}})
    off = WebhookSettings.model_validate({"url": "https://h/", "tlsConfig": {"insecureSkipVerify": True}})
    assert is_verifying(webhook.build(rendering, on).verify)
    assert webhook.build(rendering, off).verify is False
    insecure = MqttSettings.model_validate({"brokerUrl": "mqtts://b:8883", "topic": "t", "tlsConfig": {"insecureSkipVerify": True}})
    assert mqtt._tls_context(insecure).verify_mode == ssl.CERT_NONE


@pytest.mark.parametrize(
    ("url", "port"),
    [("amqps://alertrelay:pw@rabbit.example.com/prod", 5671), ("amqps://alertrelay:pw@rabbit.example.com:5999/%2F", 5999)],
)
def test_amqps_urls_give_verified_tls_parameters(url, port):
    from alertrelay.amqp import connection_parameters, safe_url
    from workers.broker import make_broker

    for params in (connection_parameters(url), make_broker(url).parameters):  # CLI and router; Dramatiq workers
        assert params.ssl_options is not None and is_verifying(params.ssl_options.context)
        assert (params.host, params.port) == ("rabbit.example.com", port)
    assert connection_parameters("amqp://guest:guest@127.0.0.1/%2F").ssl_options is None
    assert ":pw@" not in safe_url(url)


def skip_verify_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted keys of boolean settings that turn certificate verification off, nested models included."""
    found = []
    for name, info in model.model_fields.items():
        key = prefix + (info.alias or name)
        lowered = name.lower()
        if info.annotation is bool and ("insecure" in lowered or ("skip" in lowered and "verif" in lowered)):
            found.append(key)
        for arg in (info.annotation, *typing.get_args(info.annotation)):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                found += skip_verify_paths(arg, key + ".")
    return found


def json_event() -> bytes:
    return json.dumps(sm.event("evt-tls")).encode()
