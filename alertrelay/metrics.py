"""Prometheus metrics of the router, the workers and the ingest.

Each process kind exposes its metrics on its own port: the router on
``ALERTRELAY_METRICS_PORT`` (default 9101), the workers on ``ALERTRELAY_METRICS_PORT``
(default 9102; one endpoint for all worker processes of an ``alertrelay worker``, in
prometheus_client's multiprocess mode), the ingest on its HTTP port at ``/metrics``.
``ALERTRELAY_METRICS_PORT=off`` turns the router's and workers' endpoints off.

Labels only ever hold bounded values: integration types from the registry, fixed outcome
and reason words, HTTP status codes and route names. Never a contact point, uid, URL, error
text or anything else from an event or a setting (so never a secret either). Per contact
point figures are in the delivery status (``alertrelay status``).

Metrics are created on first use, not at import: a worker process must point
prometheus_client at its multiprocess directory before the first metric exists.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from functools import wraps
from typing import Any, Callable, TypeVar

log = logging.getLogger("alertrelay.metrics")
T = TypeVar("T")
_create_lock = threading.RLock()


def _once(make: Callable[[], T]) -> Callable[[], T]:
    """Create a set of metrics on first use, once, even when threads race to it (a metric
    registered twice is an error)."""
    made: list[T] = []

    @wraps(make)
    def get() -> T:
        if not made:
            with _create_lock:
                if not made:
                    made.append(make())
        return made[0]

    return get

DEFAULT_PORTS = {"router": 9101, "worker": 9102}
OFF = ("off", "false", "no", "none", "")

#: Why an event was refused (the ``reason`` label); see :func:`reject_reason`.
REJECT_REASONS = ("malformed_json", "not_an_object", "invalid_event", "unknown_contact_point", "too_large", "other")
#: What became of one delivery run of a job (the ``outcome`` label).
OUTCOMES = ("delivered", "retry_scheduled", "dead_lettered", "error")

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
JOB_QUEUE_PREFIX = "alertrelay."


def metrics_port(kind: str) -> int | None:
    """The port of ``kind``'s metrics endpoint, or ``None`` when turned off."""
    value = os.environ.get("ALERTRELAY_METRICS_PORT")
    if value is None:
        return DEFAULT_PORTS.get(kind)
    if value.strip().lower() in OFF:
        return None
    port = int(value)
    return port or None


def metrics_host() -> str:
    return os.environ.get("ALERTRELAY_METRICS_HOST", "0.0.0.0")


def integration_type(name: str) -> str:
    """``name`` if it is a registered integration type, else ``unknown`` (keeps the label bounded)."""
    from contracts.registry import REGISTRY

    return name if name in REGISTRY else "unknown"


def reject_reason(message: str) -> str:
    """The ``reason`` label for an event refused with ``message`` (an :class:`EventError` text)."""
    text = message.removeprefix("rejected: ")
    for prefix, reason in (
        ("malformed JSON", "malformed_json"),
        ("an event must be a JSON object", "not_an_object"),
        ("invalid event", "invalid_event"),
        ("unknown contact point", "unknown_contact_point"),
        ("event too large", "too_large"),
    ):
        if text.startswith(prefix):
            return reason
    return "other"


def enable_multiprocess(directory: str) -> None:
    """Make every metric this process (and its children) creates from now on write to ``directory``."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    from prometheus_client import values

    values.ValueClass = values.get_value_class()


@dataclass
class ConfigMetrics:
    reloads: Any
    last_success: Any
    last_successful: Any


@dataclass
class RouterMetrics:
    events_received: Any
    events_rejected: Any
    jobs_published: Any


@dataclass
class WorkerMetrics:
    deliveries: Any
    duration: Any
    latency: Any
    retries: Any
    dead_letters: Any
    in_flight: Any
    status_write_failures: Any
    circuit_opened: Any
    short_circuited: Any


@dataclass
class IngestMetrics:
    requests: Any
    events_received: Any
    events_rejected: Any
    events_published: Any
    publish_failures: Any
    publish_duration: Any


@_once
def config() -> ConfigMetrics:
    from prometheus_client import Counter, Gauge

    return ConfigMetrics(
        reloads=Counter("alertrelay_config_reloads", "Configuration reloads attempted, by result (ok, error).", ["result"]),
        last_success=Gauge(
            "alertrelay_config_last_reload_success_timestamp_seconds",
            "When the configuration in force was loaded (Unix time).",
            multiprocess_mode="max",
        ),
        last_successful=Gauge(
            "alertrelay_config_last_reload_successful",
            "1 if the last configuration (re)load succeeded, 0 if it was refused and the previous one stays in force.",
            multiprocess_mode="min",
        ),
    )


@_once
def router() -> RouterMetrics:
    from prometheus_client import Counter

    return RouterMetrics(
        events_received=Counter("alertrelay_router_events_received", "Events the router consumed."),
        events_rejected=Counter(
            "alertrelay_router_events_rejected", "Events the router sent to alertrelay.rejected, by reason.", ["reason"]
        ),
        jobs_published=Counter("alertrelay_router_jobs_published", "Jobs the router published, by integration type.", ["type"]),
    )


@_once
def worker() -> WorkerMetrics:
    from prometheus_client import Counter, Gauge, Histogram

    return WorkerMetrics(
        deliveries=Counter(
            "alertrelay_deliveries",
            "Delivery runs of a job, by integration type and outcome (delivered, retry_scheduled, dead_lettered, error).",
            ["type", "outcome"],
        ),
        duration=Histogram(
            "alertrelay_delivery_duration_seconds",
            "Time one delivery run took (its in-process attempts included), by type and outcome.",
            ["type", "outcome"],
            buckets=DURATION_BUCKETS,
        ),
        latency=Histogram(
            "alertrelay_delivery_latency_seconds",
            "From the job's creation by the router to its delivery, by type.",
            ["type"],
            buckets=LATENCY_BUCKETS,
        ),
        retries=Counter("alertrelay_delivery_retries", "Delayed retries scheduled after a transient failure, by type.", ["type"]),
        dead_letters=Counter(
            "alertrelay_dead_letters", "Jobs dead-lettered, by type and failure kind (transient, permanent).", ["type", "kind"]
        ),
        in_flight=Gauge("alertrelay_jobs_in_flight", "Jobs being delivered right now, by type.", ["type"], multiprocess_mode="livesum"),
        status_write_failures=Counter(
            "alertrelay_status_write_failures", "Delivery status records that could not be written to Redis."
        ),
        circuit_opened=Counter(
            "alertrelay_circuit_opened", "Circuit breakers opened after a run of transient failures, by type.", ["type"]
        ),
        short_circuited=Counter(
            "alertrelay_circuit_short_circuited",
            "Jobs sent back to the delay queue without a network call (breaker open or destination busy), by type.",
            ["type"],
        ),
    )


@_once
def ingest() -> IngestMetrics:
    from prometheus_client import Counter, Histogram

    return IngestMetrics(
        requests=Counter("alertrelay_ingest_requests", "HTTP requests to the ingest, by route and status code.", ["endpoint", "code"]),
        events_received=Counter(
            "alertrelay_ingest_events_received", "Events received over HTTP, by source (alertmanager, grafana, api).", ["source"]
        ),
        events_rejected=Counter(
            "alertrelay_ingest_events_rejected", "Events refused over HTTP with a 4xx, by source and reason.", ["source", "reason"]
        ),
        events_published=Counter(
            "alertrelay_ingest_events_published", "Events published to alertrelay.events and confirmed, by source.", ["source"]
        ),
        publish_failures=Counter(
            "alertrelay_ingest_publish_failures", "Requests answered 503 because RabbitMQ did not confirm, by source.", ["source"]
        ),
        publish_duration=Histogram(
            "alertrelay_ingest_publish_duration_seconds",
            "Time to publish a request's events and receive RabbitMQ's confirms.",
            buckets=DURATION_BUCKETS,
        ),
    )


def observe_decision(decision: Any) -> None:
    """Count one routed or rejected event (the router's hook; ``decision`` is a router Decision)."""
    m = router()
    m.events_received.inc()
    if decision.rejected:
        m.events_rejected.labels(reject_reason(decision.summary)).inc()
        return
    for message in decision.messages:
        m.jobs_published.labels(integration_type(message.routing_key.removeprefix(JOB_QUEUE_PREFIX))).inc()


def serve(kind: str) -> int | None:
    """Start ``kind``'s metrics endpoint in a background thread; the port, or ``None`` if off or busy."""
    port = metrics_port(kind)
    if port is None:
        log.info("%s metrics endpoint is off (ALERTRELAY_METRICS_PORT=off)", kind)
        return None
    from prometheus_client import start_http_server

    try:
        start_http_server(port, addr=metrics_host())
    except OSError as exc:
        log.error("%s metrics endpoint not started: cannot listen on %s:%d (%s)", kind, metrics_host(), port, exc)
        return None
    log.info("%s metrics on http://%s:%d/metrics", kind, metrics_host(), port)
    return port
