"""Email (``type: email``): Grafana's alert email over SMTP, with a text and an HTML part.

Settings: :class:`contracts.integrations.email.EmailSettings`; the SMTP server comes from
``ALERTRELAY_SMTP_*`` (:mod:`workers.integrations.smtp_config`, ``docs/email.md``).
Message: ``From: "<from name>" <from address>``, the templated subject, and a
``multipart/alternative`` body: the text part in the layout of Grafana's
``ng_alert_notification.txt``, then an HTML part carrying the same information as Grafana's
HTML template (title, counts, each alert's labels, annotations and links). With
``singleEmail: false`` every address gets its own message, as in Grafana.

Success: the SMTP server accepted the message for every recipient. Connection failures,
timeouts and 4xx replies are transient; a 5xx reply (for the sender, a recipient or the
data) is permanent. Recipients already accepted are not sent to again when an attempt is
retried in-process.
"""

from __future__ import annotations

import email.policy
import posixpath
import re
import smtplib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from jinja2 import Environment

from contracts.gocompat import go_float
from contracts.integrations.email import EmailSettings
from workers.delivery.errors import DeliveryError, permanent, transient
from workers.delivery.rendering import Rendering
from workers.delivery.request import mask
from workers.delivery.template_data import AlertView, TemplateData
from workers.integrations import smtp_config
from workers.integrations.smtp_config import SmtpConfig

#: Annotations the text part shows on their own lines, in this order (Grafana's txt layout).
TEXT_ANNOTATIONS = (("summary", "Summary"), ("description", "Description"), ("runbook_url", "Runbook"))
REPLY_EXCERPT = 512


@dataclass
class EmailRequest:
    """One notification's email(s): the headers and both bodies, and who already has it."""

    from_: str
    to: list[str]
    subject: str
    text: str
    html: str
    single_email: bool = False
    #: Recipients the server has accepted (across in-process retries of the same job).
    delivered: set[str] = field(default_factory=set, compare=False, repr=False)

    def recipient_groups(self) -> list[list[str]]:
        """The ``To`` list of each message: all at once, or one message per address."""
        return [list(self.to)] if self.single_email else [[address] for address in self.to]

    def message(self, to: list[str], now: datetime | None = None) -> EmailMessage:
        """The MIME message for one ``To`` list: text part first, HTML preferred."""
        message = EmailMessage(policy=email.policy.SMTP)
        message["From"] = self.from_
        message["To"] = ", ".join(to)
        message["Subject"] = self.subject
        message["Date"] = format_datetime(now or datetime.now(timezone.utc))
        message["Message-ID"] = make_msgid(domain=_domain(parseaddr(self.from_)[1]))
        message.set_content(self.text, charset="utf-8")
        message.add_alternative(self.html, subtype="html", charset="utf-8")
        return message

    def preview(self, secrets: list[str], show_secrets: bool = False) -> dict[str, Any]:
        """``{"from", "to", "subject", "text", "html"}``, secrets masked."""
        view = {"from": self.from_, "to": list(self.to), "subject": self.subject, "text": self.text, "html": self.html}
        return view if show_secrets else mask(view, secrets)


def build(rendering: Rendering, settings: EmailSettings) -> EmailRequest:
    """The email Grafana's email notifier would send (headers, text and HTML bodies)."""
    config = _config()
    data = rendering.template_data()
    subject = _one_line(rendering.render(settings.subject, data))
    message = rendering.render(settings.message, data) if settings.message else ""
    page_url = alert_page_url(data.ExternalURL)
    year = rendering.now.year
    return EmailRequest(
        from_=formataddr((config.from_name, config.from_address)),
        to=settings.recipients,
        subject=subject,
        text=text_body(data, message, page_url, config.sent_by, year),
        html=html_body(data, subject, message, page_url, config.sent_by, year),
        single_email=settings.singleEmail,
    )


def send(request: EmailRequest, settings: EmailSettings) -> None:
    """Hand the message(s) to the SMTP server; raises a :class:`DeliveryError` without the password."""
    config = _config()
    try:
        _send(request, config)
    except DeliveryError as exc:
        raise exc.redacted(config.secret_values()) from None


# --- the text and HTML bodies ------------------------------------------------------------


def alert_page_url(external_url: str) -> str:
    """``<external URL>/alerting/list?alertState=firing&view=state`` (Go's ``path.Join`` on the path)."""
    parts = urlsplit(external_url)
    path = posixpath.normpath(re.sub("/+", "/", parts.path + "/alerting/list"))
    return urlunsplit((parts.scheme, parts.netloc, path, "alertState=firing&view=state", ""))


def _pairs(kv: Any) -> str:
    return "".join(f"\n - {pair.Name} = {pair.Value}" for pair in kv.SortedPairs)


def _text_alert(alert: AlertView) -> str:
    """One alert of Grafana's txt layout: Alertname, Labels, Summary/Description/Runbook, Annotations."""
    labels, annotations = alert.Labels, alert.Annotations
    out = ""
    if labels.get("alertname"):
        out += f"\nAlertname: {labels['alertname']}"
        labels = labels.Remove(["alertname"])
    out += "\nLabels: " + _pairs(labels)
    for name, title in TEXT_ANNOTATIONS:
        if annotations.get(name):
            out += f"\n{title}: {annotations[name]}"
            annotations = annotations.Remove([name])
    if annotations:
        out += "\nAnnotations: " + _pairs(annotations)
    return out + "\n"


def default_text(data: TemplateData, page_url: str) -> str:
    """The built-in text body (``__default_message`` of ``ng_alert_notification.txt``)."""
    firing, resolved = data.Alerts.Firing, data.Alerts.Resolved
    out = f"You have {len(firing)} firing alert(s), and {len(resolved)} resolved alert(s) for {data.GroupLabels}\n\n"
    if firing:
        out += f"({len(firing)}) FIRING\n-----------\n" + "".join(_text_alert(a) for a in firing)
    if resolved:
        out += f"\n({len(resolved)}) RESOLVED\n-------------\n" + "".join(_text_alert(a) for a in resolved)
    return out + f"\nGo to the Alerts page: {page_url}"


def text_body(data: TemplateData, message: str, page_url: str, sent_by: str, year: int) -> str:
    """The text part: the custom message or the built-in body, then Grafana's footer."""
    body = message or default_text(data, page_url)
    return f"{body}\n\n\nSent by {sent_by} (c) {year} Grafana Labs\n"


_SAFE_SCHEMES = frozenset({"", "http", "https", "mailto"})


def _safe_url(url: Any) -> str:
    """Like Go's html/template: only web links (or relative ones) go into ``href``/``src``."""
    text = str(url or "")
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        return "#"
    return text if scheme in _SAFE_SCHEMES else "#"


_HTML = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
_HTML.filters["safe_url"] = _safe_url
_HTML.filters["plural"] = lambda n, one, many: one if n == 1 else many
_HTML.filters["lines"] = lambda text: str(text).split("\n")

_HTML_TEMPLATE = _HTML.from_string(
    """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
</head>
<body style="margin:0;padding:16px;background:#f4f5f5;font-family:Inter,Helvetica,Arial,sans-serif;font-size:14px;color:#000000;">
<div style="max-width:600px;margin:0 auto;background:#ffffff;padding:24px;">
<h1 style="font-size:20px;margin:0 0 12px 0;">{{ title }}</h1>
<p>
{% if firing %}<strong>{{ firing|length }} firing</strong> alert {{ firing|length|plural("instance", "instances") }}{% endif %}
{% if firing and resolved %}, {% endif %}
{% if resolved %}<strong>{{ resolved|length }} resolved</strong> alert {{ resolved|length|plural("instance", "instances") }}{% endif %}
</p>
{% if folder_heading %}
<h2 style="font-size:16px;">&#128193; {{ group_labels.grafana_folder }} &rsaquo; {{ group_labels.alertname }}</h2>
{% elif group_labels %}
<h2 style="font-size:16px;">{% for pair in group_labels.SortedPairs %}<span style="display:inline-block;margin-right:8px;">{{ pair.Name }}={{ pair.Value }}</span>{% endfor %}</h2>
{% endif %}
{% if message %}
<p>{% for line in message|lines %}{{ line }}<br>{% endfor %}</p>
{% else %}
{% for heading, alerts, colour in sections %}
<h3 style="font-size:15px;">{{ heading }}</h3>
{% for alert in alerts %}
<div style="border-bottom:1px solid #dddddd;padding:12px 0;">
<p style="margin:0 0 8px 0;"><span style="display:inline-block;padding:3px 10px;border-radius:3px;{{ colour }}">{{ alert.Status|capitalize }}</span>
 <strong>{{ alert.Labels.alertname }}</strong>
{% if alert.GeneratorURL %} <a href="{{ alert.GeneratorURL|safe_url }}" style="color:#3D71D9;">View alert</a>{% endif %}
</p>
{% if alert.ImageURL %}
<p><a href="{{ alert.ImageURL|safe_url }}"><img src="{{ alert.ImageURL|safe_url }}" alt="" width="600" style="width:100%;height:auto;border:0;"></a></p>
{% endif %}
{% if alert.Annotations.summary %}
<p style="margin:4px 0;">{{ alert.Annotations.summary }}</p>
{% endif %}
{% if alert.Annotations.description %}
<p style="margin:4px 0;">{% for line in alert.Annotations.description|lines %}{{ line }}<br>{% endfor %}</p>
{% endif %}
{% if alert.Values %}
<p style="margin:4px 0;font-family:monospace;">{% for ref, value in values(alert) %}{{ ref }}={{ value }}&nbsp; {% endfor %}</p>
{% endif %}
{% if alert.Labels %}
<h4 style="margin:8px 0 4px 0;">Labels</h4>
<table role="presentation" width="100%" style="border-collapse:collapse;table-layout:fixed;">
{% for pair in alert.Labels.SortedPairs %}
<tr><td width="40%" style="word-break:break-word;"><strong>{{ pair.Name }}</strong></td><td width="60%" style="word-break:break-word;">{{ pair.Value }}</td></tr>
{% endfor %}
</table>
{% endif %}
{% set others = other_annotations(alert) %}
{% if others %}
<h4 style="margin:8px 0 4px 0;">Annotations</h4>
<table role="presentation" width="100%" style="border-collapse:collapse;table-layout:fixed;">
{% for pair in others %}
<tr><td width="40%" style="word-break:break-word;"><strong>{{ pair.Name }}</strong></td><td width="60%" style="word-break:break-word;">{{ pair.Value }}</td></tr>
{% endfor %}
</table>
{% endif %}
<p style="margin:8px 0 0 0;">
{% for label, url in links(alert) %}<a href="{{ url|safe_url }}" style="display:inline-block;margin-right:8px;padding:5px 12px;border-radius:3px;background:#3D71D9;color:#ffffff;text-decoration:none;">{{ label }}</a>
{% endfor %}
</p>
</div>
{% endfor %}
{% endfor %}
{% endif %}
<p style="margin-top:16px;"><a href="{{ page_url|safe_url }}" style="color:#3D71D9;">Go to the Alerts page</a></p>
<p style="text-align:center;color:#555555;font-size:13px;">&copy; {{ year }} Grafana Labs. Sent by <a href="{{ app_url|safe_url }}" style="color:#6E9FFF;">{{ sent_by }}</a>.</p>
</div>
</body>
</html>
"""
)


def _values(alert: AlertView) -> list[tuple[str, str]]:
    return [(ref, go_float(value)) for ref, value in sorted((alert.Values or {}).items())]


def _other_annotations(alert: AlertView) -> list[Any]:
    return [p for p in alert.Annotations.SortedPairs if p.Name not in ("summary", "description")]


def _links(alert: AlertView) -> list[tuple[str, str]]:
    """The buttons under an alert, as in Grafana's HTML: Silence, Runbook, Dashboard, Panel."""
    candidates = (
        ("Silence", alert.SilenceURL),
        ("View runbook", alert.Annotations.get("runbook_url", "")),
        ("View dashboard", alert.DashboardURL),
        ("View panel", alert.PanelURL),
    )
    return [(label, url) for label, url in candidates if url]


def html_body(data: TemplateData, title: str, message: str, page_url: str, sent_by: str, year: int) -> str:
    """The HTML part: Grafana's information in a plain, escaped layout."""
    firing, resolved = data.Alerts.Firing, data.Alerts.Resolved
    sections = []
    if firing:
        sections.append((f"\U0001f525 {len(firing)} firing instances", firing, "background:#fae0e3;color:#931625;"))
    if resolved:
        sections.append((f"\u2705 {len(resolved)} resolved instances", resolved, "background:#e5f2e4;color:#32602b;"))
    return _HTML_TEMPLATE.render(
        title=title,
        message=message,
        firing=firing,
        resolved=resolved,
        group_labels=data.GroupLabels,
        folder_heading=data.GroupLabels.Names == ["alertname", "grafana_folder"],
        sections=sections,
        page_url=page_url,
        app_url=data.ExternalURL,
        sent_by=sent_by,
        year=year,
        values=_values,
        other_annotations=_other_annotations,
        links=_links,
    )


# --- SMTP ---------------------------------------------------------------------------------


def _config() -> SmtpConfig:
    try:
        return smtp_config.load()
    except ValueError as exc:
        raise permanent(f"SMTP configuration: {exc}") from None


def _one_line(text: str) -> str:
    """A header value cannot hold line breaks (they would inject headers)."""
    return re.sub(r"[\r\n]+", " ", text)


def _domain(address: str) -> str | None:
    return address.rpartition("@")[2] or None


def _envelope(address: str) -> str:
    """The bare address for ``RCPT TO`` (``Ops <ops@x>`` → ``ops@x``)."""
    return parseaddr(address)[1] or address.strip()


def _reply(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", errors="replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {text}".strip()[:REPLY_EXCERPT]


def _code_error(what: str, code: int, reply: bytes | str) -> DeliveryError:
    """4xx (and anything that is not a 5xx) is worth retrying; 5xx is the server's final word."""
    excerpt = _reply(code, reply)
    kind = "permanent" if 500 <= code < 600 else "transient"
    return DeliveryError(kind, f"{what}: {excerpt}", status_code=code, body_excerpt=excerpt)  # type: ignore[arg-type]


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    """Dial, say EHLO, upgrade with STARTTLS per policy, and log in when the server offers AUTH."""
    local_name = config.ehlo_identity or "localhost"
    client: smtplib.SMTP | None = None
    try:
        if config.implicit_tls:
            client = smtplib.SMTP_SSL(
                config.host, config.port, local_hostname=local_name, timeout=config.timeout, context=config.ssl_context()
            )
        else:
            client = smtplib.SMTP(config.host, config.port, local_hostname=local_name, timeout=config.timeout)
        client.ehlo()
        if not config.implicit_tls and config.starttls_policy != "NoStartTLS":
            if client.has_extn("starttls"):
                client.starttls(context=config.ssl_context())
                client.ehlo()
            elif config.starttls_policy == "MandatoryStartTLS":
                raise permanent("failed to dial SMTP server: the server does not offer STARTTLS (MandatoryStartTLS)")
        if config.user and client.has_extn("auth"):
            client.login(config.user, config.password)
        return client
    except DeliveryError:
        _close(client)
        raise
    except smtplib.SMTPResponseException as exc:
        _close(client)
        raise _code_error("failed to dial SMTP server", exc.smtp_code, exc.smtp_error) from None
    except (smtplib.SMTPException, OSError) as exc:
        _close(client)
        raise transient(f"failed to dial SMTP server: {type(exc).__name__}: {exc}") from None


def _close(client: smtplib.SMTP | None) -> None:
    if client is None:
        return
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _send(request: EmailRequest, config: SmtpConfig) -> None:
    """Send every message still owed; collect per-recipient failures into one error."""
    pending = [(to, [a for a in to if a not in request.delivered]) for to in request.recipient_groups()]
    pending = [(to, owed) for to, owed in pending if owed]
    if not pending:
        return
    client = _connect(config)
    errors: list[DeliveryError] = []
    try:
        for index, (to, owed) in enumerate(pending):
            try:
                errors += _send_one(client, request, config, to, owed)
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                lost = sorted({a for _, rest in pending[index:] for a in rest})
                errors.append(transient(f"failed to send notification to email addresses: {';'.join(lost)}: "
                                        f"connection lost: {type(exc).__name__}: {exc}"))
                break
    finally:
        _close(client)
    if errors:
        raise _combined(errors)


def _send_one(client: smtplib.SMTP, request: EmailRequest, config: SmtpConfig, to: list[str], owed: list[str]) -> list[DeliveryError]:
    """One message to the recipients still owed it; returns the failures (accepted ones are noted)."""
    what = f"failed to send notification to email addresses: {';'.join(owed)}"
    envelope = {_envelope(a): a for a in owed}
    try:
        refused = client.send_message(request.message(to), from_addr=config.from_address, to_addrs=list(envelope))
    except smtplib.SMTPRecipientsRefused as exc:
        refused = exc.recipients
    except smtplib.SMTPResponseException as exc:
        return [_code_error(what, exc.smtp_code, exc.smtp_error)]
    request.delivered.update(original for bare, original in envelope.items() if bare not in refused)
    return [
        _code_error(f"failed to send notification to email addresses: {envelope.get(bare, bare)}", code, reply)
        for bare, (code, reply) in refused.items()
    ]


def _combined(errors: list[DeliveryError]) -> DeliveryError:
    """One error for the attempt: transient if any part may succeed later, else permanent."""
    kind = "transient" if any(e.transient for e in errors) else "permanent"
    worst = next((e for e in errors if e.kind == kind), errors[0])
    return DeliveryError(
        kind,  # type: ignore[arg-type]
        "; ".join(e.message for e in errors),
        status_code=worst.status_code,
        body_excerpt=worst.body_excerpt,
    )
