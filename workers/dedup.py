"""Optional duplicate suppression keyed by job id (Redis).

At-least-once is the floor: a worker killed after the destination accepted a job but
before the ack sends it again. With ``ALERTRELAY_REDIS_URL`` set, a job id is recorded
(with a TTL, ``ALERTRELAY_DEDUP_TTL`` seconds, default 3600) only after its destination
accepted it, and a job whose id is recorded is acked without sending. Without Redis the
feature is off. If Redis fails, delivery goes on without suppression (never a loss).
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger("alertrelay.dedup")
KEY_PREFIX = "alertrelay:delivered:"


class Dedup:
    def __init__(self, url: str, ttl: int):
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.ttl = ttl
        self.prefix = KEY_PREFIX + os.environ.get("ALERTRELAY_REDIS_PREFIX", "")

    def seen(self, job_id: str) -> bool:
        try:
            return bool(self.client.exists(self.prefix + job_id))
        except Exception as exc:  # noqa: BLE001 - Redis trouble must never stop delivery
            log.warning("duplicate check skipped (Redis: %s)", type(exc).__name__)
            return False

    def record(self, job_id: str) -> None:
        try:
            self.client.set(self.prefix + job_id, b"1", ex=self.ttl)
        except Exception as exc:  # noqa: BLE001
            log.warning("could not record delivered job %s (Redis: %s)", job_id, type(exc).__name__)


_lock = threading.Lock()
_instance: Dedup | None = None
_loaded = False


def current() -> Dedup | None:
    """This process's suppressor, or ``None`` when ``ALERTRELAY_REDIS_URL`` is unset."""
    global _instance, _loaded
    with _lock:
        if not _loaded:
            url = os.environ.get("ALERTRELAY_REDIS_URL")
            if url and os.environ.get("ALERTRELAY_DEDUP", "on").lower() not in ("off", "0", "false"):
                _instance = Dedup(url, int(os.environ.get("ALERTRELAY_DEDUP_TTL", "3600")))
            _loaded = True
        return _instance
