"""Fixed public endpoints, overridable per type with ``ALERTRELAY_API_URL_<TYPE>``.

``ALERTRELAY_API_URL_TELEGRAM=http://127.0.0.1:9000`` replaces the scheme, host, port and
base path of Telegram's ``https://api.telegram.org``, so tests and staging can point any
integration at a local server. Settings that already hold a URL are not affected.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit


def env_name(type_name: str) -> str:
    return "ALERTRELAY_API_URL_" + type_name.upper().replace("-", "_")


def api_url(type_name: str, url: str, base: str | None = None) -> str:
    """``url`` (a full URL of the public API) with its base replaced by the override, if set.

    ``base`` is the part of ``url`` the override stands for (default: scheme and host).
    """
    override = os.environ.get(env_name(type_name))
    if not override:
        return url
    parts = urlsplit(url)
    base_path = urlsplit(base).path.rstrip("/") if base else ""
    rest = parts.path[len(base_path):] if base_path and parts.path.startswith(base_path) else parts.path
    target = urlsplit(override.rstrip("/"))
    return urlunsplit((target.scheme, target.netloc, target.path + rest, parts.query, parts.fragment))
