"""Delivery status per contact point and integration, shared by every worker through Redis.

Grafana shows, for each integration of a contact point, when it was last tried, how long
that took and the error it ended with. alertrelay keeps the same in Redis
(``ALERTRELAY_REDIS_URL``), so every worker process on every host writes to one place and
``alertrelay status`` or ``GET /api/v1/status`` on the ingest reads it, with counts of what
became of each delivery run. Without ``ALERTRELAY_REDIS_URL`` the feature is off and says so.

One record is one Redis hash per integration (key ``alertrelay:status:<prefix><contact
point>/<uid>``, both URL-quoted) plus a set indexing them. A record is written after each
delivery run of a job (its in-process attempts included): the time the run started, its
duration, its outcome and its error (already redacted of secrets), and the outcome's
counter is incremented, all in one MULTI/EXEC. A Redis failure never delays or fails a
delivery: the write is skipped and Redis is left alone for a while.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable
from urllib.parse import quote, urlsplit, urlunsplit

log = logging.getLogger("alertrelay.status")

KEY_PREFIX = "alertrelay:status:"
COUNTERS = ("delivered", "retry_scheduled", "dead_lettered", "duplicate", "error")
ZERO_TIME = "0001-01-01T00:00:00.000Z"
#: After a failed write, leave Redis alone this long (seconds) so deliveries never wait on it.
BACKOFF_SECONDS = 10.0
OFF_MESSAGE = (
    "delivery status is off: set ALERTRELAY_REDIS_URL (e.g. redis://127.0.0.1:6379/0) "
    "for the workers and for this command"
)


class StatusUnavailable(Exception):
    """Delivery status cannot be read: not configured, or Redis cannot be reached."""


def redis_url() -> str | None:
    return os.environ.get("ALERTRELAY_REDIS_URL") or None


def safe_redis_url(url: str) -> str:
    """The Redis URL with any password masked, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def prom_duration(seconds: float) -> str:
    """A duration the way Prometheus (and so Grafana's status API) prints one: ``152ms``, ``1s500ms``, ``0s``."""
    ms = int(round(seconds * 1000))
    if ms <= 0:
        return "0s"
    out = ""
    for unit, size in (("y", 31_536_000_000), ("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000),
                       ("m", 60_000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            out += f"{ms // size}{unit}"
            ms %= size
    return out


def _iso_ms(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Attempt:
    """One delivery run of a job, as recorded."""

    contact_point: str
    uid: str
    type: str
    started_at: datetime
    duration: float
    outcome: str
    error: str | None = None


class StatusStore:
    """Reads and writes delivery status records in Redis."""

    def __init__(self, url: str, prefix: str | None = None):
        import redis

        self.url = url
        self.client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.prefix = KEY_PREFIX + (os.environ.get("ALERTRELAY_REDIS_PREFIX", "") if prefix is None else prefix)
        self.index = self.prefix + "index"
        self._quiet_until = 0.0

    def key(self, contact_point: str, uid: str) -> str:
        return f"{self.prefix}{quote(contact_point, safe='')}/{quote(uid, safe='')}"

    def record(self, attempt: Attempt) -> bool:
        """Write one run; False (and no exception) when Redis is unavailable."""
        if time.monotonic() < self._quiet_until:
            return False
        key = self.key(attempt.contact_point, attempt.uid)
        fields = {"contact_point": attempt.contact_point, "uid": attempt.uid, "type": attempt.type}
        if attempt.outcome != "duplicate":  # a suppressed duplicate was not an attempt: only counted
            fields.update({
                "last_attempt": _iso_ms(attempt.started_at),
                "last_duration_ms": f"{attempt.duration * 1000:.3f}",
                "last_outcome": attempt.outcome,
                "last_error": attempt.error or "",
            })
        if attempt.outcome == "delivered":
            fields["last_delivered"] = _iso_ms(attempt.started_at)
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(key, mapping=fields)
            pipe.hincrby(key, attempt.outcome if attempt.outcome in COUNTERS else "error", 1)
            pipe.sadd(self.index, key)
            pipe.execute()
            return True
        except Exception as exc:  # noqa: BLE001 - status is best effort; delivery goes on
            self._quiet_until = time.monotonic() + BACKOFF_SECONDS
            log.warning("delivery status not recorded (Redis at %s: %s); retrying in %.0fs",
                        safe_redis_url(self.url), type(exc).__name__, BACKOFF_SECONDS)
            return False

    def read(self) -> list[dict[str, str]]:
        """Every record, decoded; raises :class:`StatusUnavailable` when Redis cannot be read."""
        try:
            keys = sorted(k.decode() for k in self.client.smembers(self.index))
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.hgetall(key)
            rows = pipe.execute()
        except Exception as exc:  # noqa: BLE001
            raise StatusUnavailable(f"cannot read delivery status from Redis at {safe_redis_url(self.url)}: {exc}") from None
        return [{k.decode(): v.decode() for k, v in row.items()} for row in rows if row]

    def clear(self) -> int:
        """Delete every record under this prefix (tests, and operators starting afresh)."""
        keys = [k.decode() for k in self.client.smembers(self.index)]
        if keys:
            self.client.delete(*keys)
        self.client.delete(self.index)
        return len(keys)


_lock = threading.Lock()
_store: StatusStore | None = None
_loaded = False


def current() -> StatusStore | None:
    """This process's store, or ``None`` when ``ALERTRELAY_REDIS_URL`` is unset."""
    global _store, _loaded
    with _lock:
        if not _loaded:
            url = redis_url()
            _store = StatusStore(url) if url else None
            _loaded = True
        return _store


def open_store() -> StatusStore:
    """The store for a reader (CLI, ingest); :class:`StatusUnavailable` with a clear message when off."""
    url = redis_url()
    if not url:
        raise StatusUnavailable(OFF_MESSAGE)
    return StatusStore(url)


# -- the actor's hook ---------------------------------------------------------------------------

_notes = threading.local()


def record_outcome(job: Any, outcome: str, error: Any = None) -> None:
    """Tell the delivery middleware what became of the job this thread is running.

    The middleware sees "returned" or "raised Retry"; the actor calls this where that is not
    enough (a dead letter also returns normally). ``error`` is a :class:`Failure` or text.
    """
    _notes.value = (outcome, getattr(error, "message", error), getattr(error, "kind", None))


def take_note() -> tuple[str, str | None, str | None] | None:
    """The outcome noted for this thread's job (and forget it)."""
    note = getattr(_notes, "value", None)
    _notes.value = None
    return note


# -- reading: Grafana's receivers-status shape ---------------------------------------------------


def _integration_view(uid: str, type_name: str, row: dict[str, str] | None, configured: bool) -> dict[str, Any]:
    row = row or {}
    duration_ms = float(row.get("last_duration_ms") or 0)
    return {
        "uid": uid,
        "name": type_name,
        "lastNotifyAttempt": row.get("last_attempt") or ZERO_TIME,
        "lastNotifyAttemptDuration": prom_duration(duration_ms / 1000),
        "lastNotifyAttemptError": row.get("last_error", ""),
        "lastOutcome": row.get("last_outcome", ""),
        "lastDelivered": row.get("last_delivered") or ZERO_TIME,
        "counts": {name: int(row.get(name) or 0) for name in COUNTERS},
        "configured": configured,
        "circuit": _circuit(uid),
    }


def _circuit(uid: str) -> str:
    """The destination's circuit breaker, as every worker sees it (Redis holds it for all)."""
    from workers import breaker

    return breaker.current().describe(uid)


def report(rows: Iterable[dict[str, str]], config: Any = None) -> list[dict[str, Any]]:
    """Contact points with their integrations' status, like Grafana's receivers status API.

    With ``config``, every configured integration is listed (never tried: zero time), in
    configuration order; records of integrations no longer configured follow, marked so.
    """
    by_key = {(r.get("contact_point", ""), r.get("uid", "")): r for r in rows}
    points: dict[str, list[dict[str, Any]]] = {}
    if config is not None:
        for point in config.contact_points.values():
            points[point.name] = [
                _integration_view(i.uid, i.type, by_key.pop((point.name, i.uid), None), True) for i in point.integrations
            ]
    for (name, uid), row in sorted(by_key.items()):
        points.setdefault(name, []).append(_integration_view(uid, row.get("type", ""), row, config is None))
    return [{"name": name, "integrations": integrations} for name, integrations in points.items()]


def table(view: list[dict[str, Any]]) -> list[str]:
    """``report`` as a readable table, one line per integration."""
    from alertrelay.options import format_table

    head = ["CONTACT POINT", "UID", "TYPE", "LAST ATTEMPT", "DURATION", "OUTCOME", "OK", "RETRY", "DEAD", "CIRCUIT", "LAST ERROR"]
    rows = []
    for point in view:
        for i in point["integrations"]:
            never = i["lastNotifyAttempt"] == ZERO_TIME
            counts = i["counts"]
            rows.append([
                point["name"], i["uid"], i["name"], "never" if never else i["lastNotifyAttempt"][:23].replace("T", " "),
                "-" if never else i["lastNotifyAttemptDuration"], (i["lastOutcome"] or "-") + ("" if i["configured"] else " (removed)"),
                str(counts["delivered"]), str(counts["retry_scheduled"]), str(counts["dead_lettered"]), i["circuit"],
                " ".join(i["lastNotifyAttemptError"].split())[:100] or "-",
            ])
    return format_table(head, rows)
