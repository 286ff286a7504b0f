"""One Dramatiq actor per integration type, each on its own queue ``alertrelay.<type>``.

A separate queue per type means a Slack outage fills only Slack's queue and never delays
Discord. The actor delivers with the in-process retries of the policy; a transient failure
becomes a Dramatiq delayed retry while the retry window lasts; a permanent failure, or a
transient one past the window, becomes a dead letter, and the job is acked only after the
dead letter is confirmed.
"""

from __future__ import annotations

import logging
import os
import random
import time
import traceback
from datetime import datetime, timezone
from typing import Any, Callable

import dramatiq
from dramatiq.middleware import CurrentMessage

from alertrelay import metrics
from contracts.dead_letter import DeadLetter
from contracts.job import Job
from contracts.registry import REGISTRY, IntegrationType
from workers import breaker, dead_letters, dedup, failover, runtime, status
from workers.delivery.core import deliver, secrets_of
from workers.delivery.errors import DeliveryError, redact, transient

log = logging.getLogger("alertrelay.worker")

FIRST_ATTEMPT = "alertrelay_first_attempt_ms"
#: ``ALERTRELAY_LOG_DELIVERIES=on`` logs every delivery at INFO (an audit trail); otherwise DEBUG.
DELIVERY_LOG_LEVEL = (
    logging.INFO if os.environ.get("ALERTRELAY_LOG_DELIVERIES", "off").lower() in ("on", "1", "true") else logging.DEBUG
)
ATTEMPTS = "alertrelay_attempts"


def _ms_to_time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


def _secrets_of(job: Job, current: runtime.Runtime) -> list[str]:
    integration = current.config.integration(job.contact_point, job.uid)
    return secrets_of(job.contact_point, integration, current) if integration else []


def process(job_data: dict[str, Any]) -> None:
    """Deliver one job, or schedule its retry, or dead-letter it."""
    message = CurrentMessage.get_current_message()
    options: dict[str, Any] = message.options if message is not None else {}
    now_ms = int(time.time() * 1000)
    first_ms = options.setdefault(FIRST_ATTEMPT, now_ms)
    job = Job.model_validate(job_data)
    current = runtime.current()
    attempts = [int(options.get(ATTEMPTS, 0))]

    def count_attempt() -> None:
        attempts[0] += 1

    suppressor = dedup.current()
    if suppressor is not None and suppressor.seen(job.id):
        log.info("job %s (%s %s/%s) was already delivered; duplicate suppressed", job.id, job.type, job.contact_point, job.uid)
        status.record_outcome(job, "duplicate")
        return
    breakers = breaker.current()
    wait = breakers.admit(job.uid)
    if wait > 0:
        _count_short_circuit(job)
        error = transient(f"circuit open for integration {job.uid!r} after repeated failures; next probe in {wait:.0f}s")
        _retry_or_dead_letter(job, error, options, first_ms, now_ms, attempts[0], current, delay=wait)
        return
    slot = breakers.enter(job.uid)
    if slot is None:
        _count_short_circuit(job)
        raise dramatiq.Retry(message="destination busy", delay=int(random.uniform(1000, 2000)))
    started = time.monotonic()
    try:
        deliver(job, current, on_attempt=count_attempt)
    except DeliveryError as exc:
        error = exc
    except Exception as exc:  # a bug must not lose the job: retry it like a transient failure
        secrets = _secrets_of(job, current)
        log.error("job %s: unexpected error\n%s", job.id, redact(traceback.format_exc(), secrets))
        error = transient(redact(f"internal error: {type(exc).__name__}: {exc}", secrets))
    else:
        breakers.record(job.uid, ok=True)
        if suppressor is not None:
            suppressor.record(job.id)
        log.log(  # off by default: a line per delivery costs ~15% of a worker's throughput
            DELIVERY_LOG_LEVEL,
            "delivered job %s (%s %s/%s) in %.0f ms after %d attempt(s)",
            job.id, job.type, job.contact_point, job.uid, (time.monotonic() - started) * 1000, attempts[0],
        )
        return
    finally:
        breakers.leave(job.uid, slot)
    # A permanent error means the destination answered: only transient ones count against it.
    if breakers.record(job.uid, ok=not error.transient):
        _metric(lambda m: m.circuit_opened.labels(metrics.integration_type(job.type)).inc())
    _retry_or_dead_letter(job, error, options, first_ms, now_ms, attempts[0], current)


def _metric(update: Callable[[Any], None]) -> None:
    try:
        update(metrics.worker())
    except Exception:  # noqa: BLE001 - metrics must never fail a delivery
        log.debug("metric update failed", exc_info=True)


def _count_short_circuit(job: Job) -> None:
    _metric(lambda m: m.short_circuited.labels(metrics.integration_type(job.type)).inc())


def _retry_or_dead_letter(
    job: Job, error: DeliveryError, options: dict[str, Any], first_ms: int, now_ms: int, attempts: int,
    current: runtime.Runtime, delay: float | None = None,
) -> None:
    """A transient failure within the retry window goes back to the delay queue; anything else is a dead letter."""
    options[ATTEMPTS] = attempts
    if error.transient:
        if delay is None:
            delay = current.policy.next_delay(int(options.get("retries", 0)), error)
        delay *= random.uniform(1.0, 1.1)
        age = (now_ms - first_ms) / 1000
        if age + delay <= current.policy.max_age:
            log.warning("job %s (%s %s/%s): %s; retry in %.1fs", job.id, job.type, job.contact_point, job.uid, error.message, delay)
            raise dramatiq.Retry(message=error.message, delay=int(delay * 1000))
    letter = DeadLetter(
        job=job,
        error=error.failure(),
        attempts=attempts,
        first_attempt_at=_ms_to_time(first_ms),
        last_attempt_at=datetime.now(timezone.utc),
    )
    letter = failover.send_fallback(letter, current.config)
    dead_letters.add(letter)
    status.record_outcome(job, "dead_lettered", letter.error)
    log.error(
        "job %s (%s %s/%s) dead-lettered as %s after %d attempt(s): %s",
        job.id, job.type, job.contact_point, job.uid, letter.id, attempts, error.message,
    )
    failover.tell_someone(letter, current.config)


def _actor_for(entry: IntegrationType) -> Callable[..., Any]:
    def deliver_job(job: dict[str, Any]) -> None:
        process(job)

    deliver_job.__name__ = deliver_job.__qualname__ = entry.actor_name
    deliver_job.__doc__ = f"Deliver one {entry.type} job."
    return dramatiq.actor(
        deliver_job,
        actor_name=entry.actor_name,
        queue_name=entry.queue_name,
        max_retries=100_000,  # the retry window, not a count, ends retrying (see process)
        min_backoff=1000,
        max_backoff=20 * 60 * 1000,
        time_limit=int(float(os.environ.get("ALERTRELAY_JOB_TIME_LIMIT", "120")) * 1000),
    )


def declare_actors() -> dict[str, Any]:
    """Register one actor per registered integration type on the current broker."""
    return {entry.type: _actor_for(entry) for entry in REGISTRY.values()}
