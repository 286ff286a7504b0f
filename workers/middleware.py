"""Dramatiq middleware that watches every job: metrics, delivery status and log context.

Around each message it binds the job's event id and job id to the thread's log context,
counts the job in flight, and afterwards records what became of it: ``delivered`` (the
actor returned), ``retry_scheduled`` (it raised :class:`dramatiq.Retry`), ``dead_lettered``
or ``duplicate`` (noted by the actor through :func:`workers.status.record_outcome`), or
``error`` (anything else escaped the actor; Dramatiq retries it). Each outcome updates the
Prometheus metrics and, when Redis is configured, the shared delivery status.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

from alertrelay import logs, metrics
from workers import status

log = logging.getLogger("alertrelay.worker")


class _Run:
    """What the middleware remembers about the job a thread is running."""

    __slots__ = ("job", "type", "started_at", "started")

    def __init__(self, job: dict[str, Any], type_name: str):
        self.job = job
        self.type = type_name
        self.started_at = datetime.now(timezone.utc)
        self.started = time.monotonic()


def _job_of(message: Any) -> dict[str, Any]:
    args = getattr(message, "args", None) or ()
    return args[0] if args and isinstance(args[0], dict) else {}


def _latency(job: dict[str, Any]) -> float | None:
    created = job.get("created_at")
    if not isinstance(created, str):
        return None
    try:
        moment = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (datetime.now(timezone.utc) - moment).total_seconds())


def outcome_of(exception: BaseException | None, note: tuple[str, str | None, str | None] | None) -> tuple[str, str | None, str | None]:
    """(outcome, error text, failure kind) of one run, from the actor's note or what it raised."""
    if note is not None:
        return note
    if exception is None:
        return "delivered", None, None
    if isinstance(exception, dramatiq.Retry):
        return "retry_scheduled", str(getattr(exception, "message", "") or "retry scheduled"), "transient"
    # Only the type: the text of an unexpected exception was never redacted.
    return "error", f"internal error: {type(exception).__name__} (see the worker log)", None


class DeliveryObserver(Middleware):
    """Metrics, delivery status and log context for every job a worker runs."""

    def __init__(self) -> None:
        self._local = threading.local()

    # Nothing here may raise: an exception in a middleware hook would fail the job itself.

    def before_process_message(self, broker: Any, message: Any) -> None:
        job = _job_of(message)
        run = _Run(job, metrics.integration_type(str(job.get("type", ""))))
        status.take_note()  # drop anything a previous job left behind
        logs.bind(event_id=job.get("event_id"), job_id=message.message_id)
        try:
            metrics.worker().in_flight.labels(run.type).inc()
        except Exception:  # noqa: BLE001
            log.exception("job metrics unavailable")
            return
        self._local.run = run

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None, exception: BaseException | None = None) -> None:
        run: _Run | None = getattr(self._local, "run", None)
        self._local.run = None
        if run is None:
            logs.clear()
            return
        try:
            outcome, error, kind = outcome_of(exception, status.take_note())
            duration = time.monotonic() - run.started
            self._count(run, outcome, duration, kind)
            self._record(run, outcome, duration, error)
        except Exception:  # noqa: BLE001
            log.exception("could not record the outcome of job %s", message.message_id)
        finally:
            self._leave(run)

    def after_skip_message(self, broker: Any, message: Any) -> None:
        run: _Run | None = getattr(self._local, "run", None)
        self._local.run = None
        if run is not None:
            self._leave(run)
        logs.clear()

    @staticmethod
    def _leave(run: _Run) -> None:
        try:
            metrics.worker().in_flight.labels(run.type).dec()
        except Exception:  # noqa: BLE001
            log.exception("job metrics unavailable")
        logs.clear()

    @staticmethod
    def _count(run: _Run, outcome: str, duration: float, kind: str | None) -> None:
        m = metrics.worker()
        m.deliveries.labels(run.type, outcome).inc()
        m.duration.labels(run.type, outcome).observe(duration)
        if outcome == "delivered":
            latency = _latency(run.job)
            if latency is not None:
                m.latency.labels(run.type).observe(latency)
        elif outcome == "retry_scheduled":
            m.retries.labels(run.type).inc()
        elif outcome == "dead_lettered":
            m.dead_letters.labels(run.type, kind if kind in ("transient", "permanent") else "unknown").inc()

    @staticmethod
    def _record(run: _Run, outcome: str, duration: float, error: str | None) -> None:
        store = status.current()
        point, uid = run.job.get("contact_point"), run.job.get("uid")
        if store is None or not isinstance(point, str) or not isinstance(uid, str):
            return
        attempt = status.Attempt(point, uid, str(run.job.get("type", "")), run.started_at, duration, outcome, error)
        if not store.record(attempt):
            metrics.worker().status_write_failures.inc()
