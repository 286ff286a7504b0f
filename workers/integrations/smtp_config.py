"""The SMTP server the email integration sends through, read from ``ALERTRELAY_SMTP_*``.

Grafana keeps its SMTP server in ``grafana.ini`` ``[smtp]``, not in the contact point, so a
provisioning file never names it; alertrelay reads the same settings from the environment.
``docs/email.md`` has the table of variables. The password is kept out of ``repr`` and is
listed by :meth:`SmtpConfig.secret_values` so that errors can be redacted of it.
"""

from __future__ import annotations

import base64
import os
import re
import ssl
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Mapping

PREFIX = "ALERTRELAY_SMTP_"
STARTTLS_POLICIES = ("OpportunisticStartTLS", "MandatoryStartTLS", "NoStartTLS")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_HOST_WITH_PORT = re.compile(r"^([^:\[\]]+):(\d+)$")


@dataclass(frozen=True)
class SmtpConfig:
    """Grafana's ``[smtp]`` section, as alertrelay reads it."""

    host: str = "localhost"
    port: int = 25
    user: str = ""
    password: str = field(default="", repr=False)
    from_address: str = "admin@grafana.localhost"
    from_name: str = "Grafana"
    starttls_policy: str = "OpportunisticStartTLS"
    implicit_tls: bool = False
    skip_verify: bool = False
    ehlo_identity: str = ""
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    timeout: float = 10.0
    sent_by: str = "Grafana"

    def secret_values(self) -> list[str]:
        """What must never be printed: the password, also as it travels in ``AUTH PLAIN`` and
        ``AUTH LOGIN`` (base64), which a server may quote back in its refusal."""
        if not self.password:
            return []
        plain = base64.b64encode(f"\0{self.user}\0{self.password}".encode()).decode()
        return [plain, base64.b64encode(self.password.encode()).decode(), self.password]

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS settings for STARTTLS and implicit TLS (cached: files are read once)."""
        return _context(self.ca_file, self.cert_file, self.key_file, self.skip_verify)


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(PREFIX + name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{PREFIX}{name}: {raw!r} is not true or false")


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = (env.get(PREFIX + name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{PREFIX}{name}: {raw!r} is not a number") from None
    if value <= 0:
        raise ValueError(f"{PREFIX}{name}: must be greater than 0")
    return value


def _policy(env: Mapping[str, str]) -> str:
    raw = (env.get(PREFIX + "STARTTLS_POLICY") or "").strip()
    if not raw:
        return "OpportunisticStartTLS"
    for policy in STARTTLS_POLICIES:
        if raw.lower() == policy.lower():
            return policy
    raise ValueError(f"{PREFIX}STARTTLS_POLICY: {raw!r} is not one of {', '.join(STARTTLS_POLICIES)}")


def load(env: Mapping[str, str] | None = None) -> SmtpConfig:
    """Read the SMTP settings; a bad value is a ``ValueError`` naming the variable."""
    env = os.environ if env is None else env
    host = (env.get(PREFIX + "HOST") or "localhost").strip()
    port_text = (env.get(PREFIX + "PORT") or "").strip()
    match = _HOST_WITH_PORT.match(host)
    if match and not port_text:  # Grafana's ini writes host:port in one value
        host, port_text = match.group(1), match.group(2)
    if not port_text:
        port = 465 if _flag(env, "TLS", False) else 25
    elif port_text.isdigit() and 0 < int(port_text) < 65536:
        port = int(port_text)
    else:
        raise ValueError(f"{PREFIX}PORT: {port_text!r} is not a port number")
    # As in Grafana's mailer, port 465 means implicit TLS unless ALERTRELAY_SMTP_TLS says otherwise.
    implicit_tls = _flag(env, "TLS", port == 465)
    cert_file = (env.get(PREFIX + "CERT_FILE") or "").strip()
    key_file = (env.get(PREFIX + "KEY_FILE") or "").strip()
    if bool(cert_file) != bool(key_file):
        raise ValueError(f"{PREFIX}CERT_FILE and {PREFIX}KEY_FILE must be set together")
    return SmtpConfig(
        host=host,
        port=port,
        user=env.get(PREFIX + "USER") or "",
        password=env.get(PREFIX + "PASSWORD") or "",
        from_address=(env.get(PREFIX + "FROM_ADDRESS") or "admin@grafana.localhost").strip(),
        from_name=env.get(PREFIX + "FROM_NAME", "Grafana"),
        starttls_policy=_policy(env),
        implicit_tls=implicit_tls,
        skip_verify=_flag(env, "SKIP_VERIFY", False),
        ehlo_identity=(env.get(PREFIX + "EHLO_IDENTITY") or "").strip(),
        ca_file=(env.get(PREFIX + "CA_FILE") or "").strip(),
        cert_file=cert_file,
        key_file=key_file,
        timeout=_number(env, "TIMEOUT", 10.0),
        sent_by=env.get(PREFIX + "SENT_BY") or "Grafana",
    )


@lru_cache(maxsize=16)
def _context(ca_file: str, cert_file: str, key_file: str, skip_verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file or None)
    if skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert_file:
        context.load_cert_chain(cert_file, key_file)
    return context
