"""Recognisable secrets for every integration type, and the search for them in what alertrelay keeps or prints.

Every ``SecretStr`` setting of every registered integration type (found by walking its
settings model, nested models included) gets a distinct marker ``MARKER-<uid>-<field>-7f3a``.
Markers that do not travel inside a URL also end in ``+/=``, characters that URL, form and
base64 encodings change, so a secret redacted only in its raw form still shows up. The
provisioning entries point every destination at local servers (:class:`EchoReceiver`,
:class:`SmtpEcho`), and :func:`leaks` looks for each marker raw, URL-encoded and
base64-encoded (at every byte alignment, as inside ``Basic user:password`` or SMTP ``AUTH
PLAIN``), and for anything starting ``MARKER`` (a secret cut short).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import types
import typing
from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import quote, quote_plus

from pydantic import BaseModel, SecretStr
from werkzeug import Request, Response

from contracts.registry import REGISTRY
from workers.delivery.errors import BODY_EXCERPT_BYTES

MARKER_PREFIX = "MARKER-"
MARKER_TAIL = "-7f3a"
ENCODED_SUFFIX = "+/="
#: The value of a secret whose entry gives no shape for it.
PLAIN = "{marker}" + ENCODED_SUFFIX
CONTACT_POINT = "secrets-cp"
#: Types whose fixed public endpoint is pointed at the local receiver (``ALERTRELAY_API_URL_<TYPE>``).
API_URL_TYPES = ("telegram", "webex", "line", "pagerduty", "opsgenie", "pushover", "threema", "sns", "slack", "wecom")
SMTP_USER = "smtp-user"


def marker(uid: str, field: str) -> str:
    return f"{MARKER_PREFIX}{uid}-{field}{MARKER_TAIL}"


SMTP_PASSWORD = marker("email", "smtp.password") + ENCODED_SUFFIX
#: The access token the fake WeCom hands out: not a setting, but a credential derived from one.
WECOM_ACCESS_TOKEN = marker("wecom-app", "access_token")


# --- which settings are secret ----------------------------------------------------------


def secret_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted provisioning keys of every ``SecretStr`` field of ``model``, nested models included."""
    found: list[str] = []
    for name, info in model.model_fields.items():
        key = prefix + (info.alias or name)
        found += _secret_paths_in(info.annotation, key)
    return found


def _secret_paths_in(annotation: Any, key: str) -> list[str]:
    if annotation is SecretStr:
        return [key]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return secret_paths(annotation, key + ".")
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return [p for arg in typing.get_args(annotation) for p in _secret_paths_in(arg, key)]
    if origin in (list, tuple, set, frozenset):
        return [p for arg in typing.get_args(annotation) for p in _secret_paths_in(arg, key + "[]")]
    if origin is dict:
        return [p for arg in typing.get_args(annotation)[1:] for p in _secret_paths_in(arg, key + "{}")]
    return []


# --- the provisioning entries -----------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One integration: non-secret settings, and shapes (``{marker}`` templates) for some secrets.

    ``secrets``: the secret keys this entry sets (``None``: every secret key of its type).
    Placeholders: ``{marker}`` (this secret's marker), ``{url_marker}`` (a password inside a
    non-secret URL), ``{base}``/``{tls_base}``/``{host}`` (the local HTTP(S) receivers),
    ``{mqtt}``, ``{run}`` and ``{ca_pem}``/``{cert_pem}``/``{key_pem}``.
    """

    uid: str
    type: str
    settings: dict[str, Any]
    secrets: tuple[str, ...] | None = None


WEBHOOK_SECRETS = tuple(p for p in secret_paths(REGISTRY["webhook"].settings) if p != "authorization_credentials")

ENTRIES: tuple[Entry, ...] = (
    Entry("webhook-basic", "webhook", {
        "url": "{tls_base}/t/webhook-basic", "username": "alice",
        "tlsConfig": {"caCertificate": "{marker}\n{ca_pem}", "clientCertificate": "{marker}\n{cert_pem}",
                      "clientKey": "{marker}\n{key_pem}"},
    }, secrets=WEBHOOK_SECRETS),
    Entry("webhook-bearer", "webhook", {"url": "{base}/t/webhook-bearer", "authorization_scheme": "Token"},
          secrets=("authorization_credentials",)),
    Entry("webhook-urlcreds", "webhook", {"url": "http://alice:{url_marker}@{host}/t/webhook-urlcreds"}, secrets=()),
    Entry("slack", "slack", {"url": "{base}/t/slack/services/T0/B0/{marker}", "recipient": "#ops"}),
    Entry("telegram", "telegram", {"bottoken": "{marker}", "chatid": "-1001234"}),
    Entry("discord", "discord", {"url": "{base}/t/discord/api/webhooks/1/{marker}"}),
    Entry("teams", "teams", {"url": "{base}/t/teams"}),
    Entry("googlechat", "googlechat", {"url": "{base}/t/googlechat/v1/spaces/S/messages?key={marker}&token=t0k"}),
    Entry("webex", "webex", {"room_id": "room-1"}),
    Entry("dingding", "dingding", {"url": "{base}/t/dingding/robot/send?access_token={marker}"}),
    Entry("wecom", "wecom", {"url": "{base}/t/wecom/cgi-bin/webhook/send?key={marker}"}),
    Entry("wecom-app", "wecom", {"endpointUrl": "{base}/t/wecom-app", "corp_id": "corp-1", "agent_id": "1000002"},
          secrets=("secret",)),
    Entry("line", "line", {}),
    Entry("pagerduty", "pagerduty", {}),
    Entry("opsgenie", "opsgenie", {}),
    Entry("victorops", "victorops", {"url": "{base}/t/victorops/integrations/generic/20131114/alert/{marker}/routing-1"}),
    Entry("pushover", "pushover", {}),
    Entry("sensugo", "sensugo", {"url": "{base}/t/sensugo"}),
    Entry("threema", "threema", {"gateway_id": "*ALRTRLY", "recipient_id": "ECHOECHO"}),
    Entry("oncall-basic", "oncall", {"url": "{base}/t/oncall-basic", "username": "oc-user"}, secrets=("password",)),
    Entry("oncall-bearer", "oncall", {"url": "{base}/t/oncall-bearer"}, secrets=("authorization_credentials",)),
    Entry("alertmanager", "prometheus-alertmanager", {"url": "{base}/t/alertmanager", "basicAuthUser": "am-user"}),
    Entry("alertmanager-urlcreds", "prometheus-alertmanager",
          {"url": "http://am-user:{url_marker}@{host}/t/alertmanager-urlcreds"}, secrets=()),
    Entry("kafka", "kafka", {"kafkaRestProxy": "{base}/t/kafka", "kafkaTopic": "alerts", "username": "kafka-user"}),
    Entry("email", "email", {"addresses": "oncall@example.com"}),
    Entry("mqtt", "mqtt", {"brokerUrl": "{mqtt}", "topic": "alertrelay/secrets/{run}", "username": "mqtt-user"}),
    Entry("sns", "sns", {"topic_arn": "arn:aws:sns:eu-west-1:123456789012:alerts",
                         "sigv4": {"region": "eu-west-1", "access_key": "{marker}"}}),
)

#: Markers no destination ever receives: PEMs (used locally for TLS), the HMAC key, the SigV4
#: secret key (signing only), the WeCom app secret in robot mode, the MQTT TLS files of a
#: plain-TCP broker, and secrets sent over MQTT/SMTP rather than HTTP.
NOT_SENT_OVER_HTTP = frozenset(
    [marker("webhook-basic", f"tlsConfig.{k}") for k in ("caCertificate", "clientCertificate", "clientKey")]
    + [marker("mqtt", f"tlsConfig.{k}") for k in ("caCertificate", "clientCertificate", "clientKey")]
    + [marker("webhook-basic", "hmacConfig.secret"), marker("sns", "sigv4.secret_key"), marker("wecom", "secret"),
       marker("mqtt", "password"), marker("email", "smtp.password")]
)


def _set(settings: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for key in parents:
        settings = settings.setdefault(key, {})
    settings[last] = value


def _get(settings: dict[str, Any], path: str) -> Any:
    for key in path.split("."):
        if not isinstance(settings, dict) or key not in settings:
            return None
        settings = settings[key]
    return settings


def _fill(value: Any, context: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**context)
    if isinstance(value, dict):
        return {k: _fill(v, context) for k, v in value.items()}
    return value


@dataclass
class Generated:
    """The provisioning file, the markers it holds and which secret keys of each type it covered."""

    config: dict[str, Any]
    markers: list[str]
    covered: dict[str, set[str]]

    def text(self) -> str:
        return json.dumps(self.config, indent=1)  # JSON is YAML; no quoting surprises


def generate(context: dict[str, str], entries: Iterable[Entry] = ENTRIES) -> Generated:
    """Every entry with every secret it covers set to its marker (shaped as the entry says)."""
    receivers, markers = [], []
    covered: dict[str, set[str]] = {t: set() for t in REGISTRY}
    for entry in entries:
        settings = _fill(entry.settings, {**context, "marker": "{marker}", "url_marker": marker(entry.uid, "url.password")})
        paths = secret_paths(REGISTRY[entry.type].settings)
        wanted = paths if entry.secrets is None else list(entry.secrets)
        for path in wanted:
            assert path in paths, f"{entry.uid}: {path} is not a secret of {entry.type}"
            shape = _get(settings, path) or PLAIN
            _set(settings, path, shape.replace("{marker}", marker(entry.uid, path)))
            markers.append(marker(entry.uid, path))
            covered[entry.type].add(path)
        if marker(entry.uid, "url.password") in json.dumps(settings):
            markers.append(marker(entry.uid, "url.password"))
        receivers.append({"uid": entry.uid, "type": entry.type, "settings": settings})
    config = {"apiVersion": 1, "contactPoints": [{"orgId": 1, "name": CONTACT_POINT, "receivers": receivers}]}
    return Generated(config, markers + [SMTP_PASSWORD.removesuffix(ENCODED_SUFFIX), WECOM_ACCESS_TOKEN], covered)


def environment(base: str, smtp_port: int) -> dict[str, str]:
    """Fixed public endpoints at the local receiver, and the SMTP server with its marker password."""
    env = {f"ALERTRELAY_API_URL_{t.upper().replace('-', '_')}": f"{base}/api/{t}" for t in API_URL_TYPES}
    env.update({
        "ALERTRELAY_SMTP_HOST": "127.0.0.1",
        "ALERTRELAY_SMTP_PORT": str(smtp_port),
        "ALERTRELAY_SMTP_USER": SMTP_USER,
        "ALERTRELAY_SMTP_PASSWORD": SMTP_PASSWORD,
        "ALERTRELAY_SMTP_FROM_ADDRESS": "grafana@example.com",
        "ALERTRELAY_SMTP_STARTTLS_POLICY": "NoStartTLS",
        "ALERTRELAY_SMTP_TIMEOUT": "5",
    })
    return env


# --- finding markers --------------------------------------------------------------------


def base64_cores(value: str) -> set[str]:
    """Base64 text that encodes ``value`` whatever bytes precede it (all three alignments),
    in the standard and URL-safe alphabets; the characters mixed with neighbours are cut off."""
    cores = set()
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + value.encode()).decode().rstrip("=")
        core = encoded[(0, 2, 3)[pad]: -4]
        if len(core) >= 12:
            cores |= {core, core.replace("+", "-").replace("/", "_")}
    return cores


def forms(value: str) -> dict[str, str]:
    """Every spelling of ``value`` to look for → what it is."""
    found = {core: "base64" for core in base64_cores(value)}
    found.update({quote_plus(value): "form-encoded", quote(value, safe=""): "url-encoded", value: "raw"})
    return found


def leaks(sources: dict[str, str], markers: Iterable[str]) -> list[str]:
    """``"<source>: <marker> (<form>) in …context…"`` for every marker found, in any form.

    Anything starting ``MARKER-`` counts too: a secret cut short (say by an excerpt limit) is
    still a leak."""
    spellings = {spelling: (m, kind) for m in markers for spelling, kind in forms(m).items()}
    spellings.update({form: ("MARKER- prefix", kind) for form, kind in forms(MARKER_PREFIX[:-1]).items() if len(form) >= 6})
    found = []
    for source, text in sources.items():
        for spelling, (name, kind) in spellings.items():
            at = text.find(spelling)
            if at >= 0:
                found.append(f"{source}: {name} ({kind}, {text.count(spelling)}×), first in "
                             f"…{text[max(0, at - 80): at + len(spelling) + 40]!r}…")
    return found


def seen(texts: Iterable[str], markers: Iterable[str]) -> set[str]:
    """The markers that occur, in any form, in ``texts``."""
    blob = "\n".join(texts)
    return {m for m in markers if any(spelling in blob for spelling in forms(m))}


# --- local receivers --------------------------------------------------------------------


def describe_request(request: Request) -> str:
    """Everything a request carried: what an echoing server or proxy would put in an error page."""
    headers = "".join(f"{name}: {value}\n" for name, value in request.headers.items())
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
    return f"{headers}{request.method} {raw}\n{request.url}\n\n{request.get_data(as_text=True)}"


class EchoReceiver:
    """The HTTP side of every integration. ``ok``: each request succeeds the way its integration
    checks success. ``fail``: the first two requests to a path answer 500, later ones 400, each
    echoing everything the request carried (headers, URL, body); the second one padded so that
    a secret is cut in two by the body-excerpt limit."""

    def __init__(self, mode: str):
        assert mode in ("ok", "fail")
        self.mode = mode
        self.counts: dict[str, int] = {}
        self.received: list[str] = []
        self.answered: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        seen_text = describe_request(request)
        with self._lock:
            count = self.counts[request.path] = self.counts.get(request.path, 0) + 1
            self.received.append(seen_text)
        response = self._answer(request, count, seen_text)
        with self._lock:
            self.answered.append(response.get_data(as_text=True))
        return response

    def _answer(self, request: Request, count: int, seen_text: str) -> Response:
        if request.path.endswith("/cgi-bin/gettoken") and (self.mode == "ok" or count > 1):
            body = {"errcode": 0, "errmsg": "ok", "access_token": WECOM_ACCESS_TOKEN, "expires_in": 7200}
            return Response(json.dumps(body), content_type="application/json")
        if self.mode == "ok":
            return Response('{"ok": true}', content_type="application/json")
        text = f"rejected, you sent:\n{seen_text}"
        if count == 2:
            text = cut_through_secret(text)
        return Response(text, status=500 if count <= 2 else 400, content_type="text/plain")


def cut_through_secret(text: str, limit: int = BODY_EXCERPT_BYTES, inside: int = 12) -> str:
    """``text`` padded so that its first marker straddles the ``limit``-byte excerpt that error
    messages keep: only its first ``inside`` bytes make it into the excerpt."""
    at = text.encode().find(MARKER_PREFIX.encode())
    return "." * max(0, limit - inside - at) + text if at >= 0 else text


class SmtpEcho:
    """aiosmtpd handler. ``ok``: any AUTH succeeds and messages are kept. ``fail``: AUTH is
    refused (first 454, then 535) with a reply that echoes the AUTH line and its decoded form."""

    def __init__(self, mode: str):
        self.mode = mode
        self.auth_lines: list[str] = []
        self.messages: list[bytes] = []

    async def handle_AUTH(self, server: Any, session: Any, envelope: Any, args: list[str]) -> str:  # noqa: N802
        self.auth_lines.append(" ".join(args))
        if self.mode == "ok":
            return "235 2.7.0 Authentication successful"
        decoded = base64.b64decode(args[1]) if len(args) > 1 else b""
        code = "454 4.7.0" if len(self.auth_lines) == 1 else "535 5.7.8"
        return f"{code} refused AUTH {' '.join(args)} = {decoded!r}"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope.content)
        return "250 OK"


def event(event_id: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "receiver": CONTACT_POINT,
        "externalURL": "https://grafana.example.com/",
        "alerts": [{
            "labels": {"alertname": "HighCPU", "grafana_folder": "Infra", "instance": "web-1"},
            "annotations": {"summary": "CPU at 97.5%"},
            "startsAt": "2024-05-01T10:00:00Z",
            "generatorURL": "https://grafana.example.com/alerting/grafana/cpu/view",
        }],
    }


def redacted_count(text: str) -> int:
    return len(re.findall(r"\[REDACTED\]", text))
