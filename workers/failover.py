"""What happens after a dead letter: fallback contact points, and telling someone.

Fallback: an integration (or a whole contact point) may name ``fallbackContactPoint``. When
one of its jobs becomes a dead letter, the same notification is sent once through the
fallback contact point. Each fallback job carries ``fallback_of`` (the dead letter it
stands in for) and an annotation ``fallback_for`` that the receiving human sees; the dead
letter records the fallback and its job ids. Chains are followed at most
``ALERTRELAY_FALLBACK_MAX_DEPTH`` deep (default 2); cycles are refused at config load.

Telling someone: with ``ALERTRELAY_FAILURE_CONTACT_POINT`` set, that contact point gets a
notification, rendered with the same templates, when dead letters appear: at most one per
integration every ``ALERTRELAY_FAILURE_NOTIFY_INTERVAL`` seconds (default 300), counting
the dead letters since the previous one.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime, timezone

from contracts.dead_letter import DeadLetter
from contracts.event import Alert, Notification
from contracts.gocompat import fingerprint, labelset_string
from contracts.job import FallbackOrigin, Job, job_message
from contracts.provisioning import Config
from contracts.registry import REGISTRY
from router.routing import jobs_for
from workers import dead_letters

log = logging.getLogger("alertrelay.failover")
FAILURE_ALERTNAME = "AlertrelayDeliveryFailed"


def max_depth() -> int:
    return int(os.environ.get("ALERTRELAY_FALLBACK_MAX_DEPTH", "2"))


def _publish(jobs: list[Job]) -> None:
    publisher = dead_letters.publisher()
    for job in jobs:
        entry = REGISTRY[job.type]
        publisher.publish(entry.queue_name, job_message(job, queue_name=entry.queue_name, actor_name=entry.actor_name),
                          message_id=job.id, content_type="application/json")


def send_fallback(letter: DeadLetter, config: Config) -> DeadLetter:
    """Send the dead-lettered notification through its fallback contact point, once; returns the marked letter."""
    job = letter.job
    point = config.contact_points.get(job.contact_point)
    target_name = point.fallback_for(job.uid) if point else None
    if target_name is None or target_name not in config.contact_points:
        return letter
    if job.fallback_depth >= max_depth():
        log.warning("job %s: fallback %r not followed (depth %d reached)", job.id, target_name, job.fallback_depth)
        return letter
    origin = FallbackOrigin(dead_letter_id=letter.id, job_id=job.id, contact_point=job.contact_point, uid=job.uid, type=job.type)
    note = f"{job.contact_point}/{job.uid} ({job.type}) failed: {letter.error.message[:300]}"
    alerts = [a.model_copy(update={"annotations": {**a.annotations, "fallback_for": note}}) for a in job.notification.alerts]
    notification = job.notification.model_copy(update={"alerts": alerts, "receiver": target_name})
    jobs = jobs_for(
        config.contact_points[target_name], f"{job.event_id}/fallback/{job.id}", notification,
        fallback_of=origin, fallback_depth=job.fallback_depth + 1,
    )
    _publish(jobs)
    log.warning("job %s: sent through fallback contact point %r as %d job(s)", job.id, target_name, len(jobs))
    return letter.model_copy(update={"fallback_contact_point": target_name, "fallback_job_ids": [j.id for j in jobs]})


class FailureNotifier:
    """Rate-limited, per-integration notices of dead letters to a contact point of your choice."""

    def __init__(self, contact_point: str, interval: float, redis_url: str | None):
        self.contact_point = contact_point
        self.interval = interval
        self.lock = threading.Lock()
        self.last_sent: dict[str, float] = {}
        self.pending: dict[str, int] = {}
        self.redis = None
        if redis_url:
            import redis

            self.redis = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self.prefix = "alertrelay:failure-notice:" + os.environ.get("ALERTRELAY_REDIS_PREFIX", "")

    def _due(self, key: str) -> int:
        """Dead letters to report for ``key`` now (0 = not yet: one was reported within the interval)."""
        if self.redis is not None:
            try:
                count = int(self.redis.incr(self.prefix + key + ":count"))
                if self.redis.set(self.prefix + key + ":sent", "1", nx=True, ex=max(1, int(self.interval))):
                    self.redis.decrby(self.prefix + key + ":count", count)
                    return count
                return 0
            except Exception as exc:  # noqa: BLE001 - fall back to this process's memory
                log.warning("failure notices: Redis unavailable (%s)", type(exc).__name__)
        with self.lock:
            self.pending[key] = self.pending.get(key, 0) + 1
            now = time.monotonic()
            if now - self.last_sent.get(key, -1e9) < self.interval:
                return 0
            self.last_sent[key] = now
            return self.pending.pop(key)

    def notify(self, letter: DeadLetter, config: Config) -> None:
        job = letter.job
        if job.contact_point == self.contact_point or self.contact_point not in config.contact_points:
            return  # never report failures of the failure contact point to itself
        key = f"{job.contact_point}/{job.uid}"
        count = self._due(key)
        if not count:
            return
        now = datetime.now(timezone.utc)
        labels = {"alertname": FAILURE_ALERTNAME, "contact_point": job.contact_point, "integration": job.uid, "type": job.type}
        alert = Alert(
            status="firing",
            labels=labels,
            annotations={
                "summary": f"{count} notification(s) to {job.contact_point}/{job.uid} ({job.type}) could not be delivered",
                "description": letter.error.message[:1000],
                "dead_letter": letter.id,
                "runbook": f"alertrelay dead-letters list --contact-point {job.contact_point} --uid {job.uid}",
            },
            startsAt=now,
            fingerprint=fingerprint(labels),
        )
        group = {"alertname": FAILURE_ALERTNAME, "contact_point": job.contact_point, "integration": job.uid}
        notification = Notification(
            receiver=self.contact_point, status="firing", alerts=[alert], groupLabels=group,
            externalURL=job.notification.externalURL, groupKey="{}:" + labelset_string(group),
        )
        jobs = jobs_for(config.contact_points[self.contact_point], f"failure/{key}/{letter.id}", notification)
        _publish(jobs)
        log.warning("told contact point %r about %d dead letter(s) of %s", self.contact_point, count, key)


_lock = threading.Lock()
_notifier: FailureNotifier | None = None
_loaded = False


def failure_notifier() -> FailureNotifier | None:
    global _notifier, _loaded
    with _lock:
        if not _loaded:
            name = os.environ.get("ALERTRELAY_FAILURE_CONTACT_POINT")
            if name:
                _notifier = FailureNotifier(
                    name, float(os.environ.get("ALERTRELAY_FAILURE_NOTIFY_INTERVAL", "300")), os.environ.get("ALERTRELAY_REDIS_URL")
                )
            _loaded = True
        return _notifier


def tell_someone(letter: DeadLetter, config: Config) -> None:
    notifier = failure_notifier()
    if notifier is not None:
        try:
            notifier.notify(letter, config)
        except Exception:  # noqa: BLE001 - a failed notice must not turn into a lost dead letter
            log.exception("could not send the failure notice for dead letter %s", letter.id)
