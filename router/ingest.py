"""``alertrelay ingest``: an HTTP API that publishes alert events into ``alertrelay.events``.

Senders that speak HTTP — Prometheus Alertmanager's webhook receiver, Grafana's webhook
contact point, scripts — post here instead of speaking AMQP. Every event is validated as
the router would validate it (so a bad event is refused at once with a 4xx and a reason,
instead of being accepted and then rejected), then published persistently, and the
request is answered **202 only after RabbitMQ confirmed every event** of it. When the
broker does not confirm, the answer is **503**, which Alertmanager and Grafana treat as
"try again later".

Routes: ``POST /webhook/alertmanager``, ``POST /webhook/grafana`` (the contact point is the
payload's ``receiver`` unless ``?contact_point=`` names one), ``POST /api/v1/events`` (one
event or a JSON array of events), ``GET /api/v1/status`` (delivery status), ``GET /healthz``,
``GET /readyz``, ``GET /metrics``, and the OpenAPI description at ``/openapi.json`` (``/docs``).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from alertrelay import logs, metrics
from alertrelay.amqp import ConfirmedPublisher, connect
from contracts import topology
from contracts.event import AlertEvent, EventError, parse_event
from contracts.provisioning import Config
from router.routing import find_contact_point

log = logging.getLogger("alertrelay.ingest")

DEFAULT_MAX_BYTES = 4 * 1024 * 1024
DEFAULT_PUBLISHERS = 4
MAX_EVENTS_PER_REQUEST = 1000
SOURCE_HEADER = "x-alertrelay-source"


class Refused(Exception):
    """A request the ingest answers with a 4xx; ``reason`` is the metric label."""

    def __init__(self, status: int, message: str, reason: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason
        self.errors = errors or []


# -- settings ------------------------------------------------------------------------------------


def _tokens_from(env: dict[str, str]) -> tuple[str, ...]:
    tokens = [t.strip() for t in env.get("ALERTRELAY_INGEST_TOKEN", "").split(",")]
    file = env.get("ALERTRELAY_INGEST_TOKEN_FILE")
    if file:
        tokens += [line.strip() for line in Path(file).read_text().splitlines()]
    return tuple(t for t in tokens if t and not t.startswith("#"))


@dataclass
class IngestSettings:
    """What ``alertrelay ingest`` reads from the environment (see the README)."""

    tokens: tuple[str, ...] = ()
    max_body_bytes: int = DEFAULT_MAX_BYTES
    publishers: int = DEFAULT_PUBLISHERS

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "IngestSettings":
        env = dict(os.environ) if env is None else env
        return cls(
            tokens=_tokens_from(env),
            max_body_bytes=int(env.get("ALERTRELAY_INGEST_MAX_BYTES", DEFAULT_MAX_BYTES)),
            publishers=max(1, int(env.get("ALERTRELAY_INGEST_PUBLISHERS", DEFAULT_PUBLISHERS))),
        )


# -- publishing ----------------------------------------------------------------------------------


class PublisherPool:
    """A few confirm-mode publishers shared by the request threads, one request at a time each.

    Each publisher tries twice, briefly, before giving up, so a broker outage becomes a
    prompt 503 and not a request hanging until the sender times out.
    """

    def __init__(self, size: int = DEFAULT_PUBLISHERS, url: str | None = None):
        self.url = url
        self._idle: "queue.Queue[ConfirmedPublisher]" = queue.Queue()
        self._all = [ConfirmedPublisher(url, attempts=2, retry_seconds=5.0) for _ in range(size)]
        for publisher in self._all:
            self._idle.put(publisher)
        self._ready_at = 0.0
        self._ready = False
        self._ready_lock = threading.Lock()

    def publish(self, bodies: list[tuple[str, bytes]], source: str) -> None:
        """Publish each (event id, body); returns once the broker confirmed all of them."""
        publisher = self._idle.get()
        try:
            for event_id, body in bodies:
                publisher.publish(
                    "", body, exchange=topology.EVENTS_EXCHANGE, message_id=event_id,
                    content_type="application/json", headers={SOURCE_HEADER: source},
                )
        finally:
            self._idle.put(publisher)

    def reachable(self, max_age: float = 2.0) -> bool:
        """Whether RabbitMQ accepts a connection (cached for ``max_age`` seconds)."""
        with self._ready_lock:
            if time.monotonic() - self._ready_at < max_age:
                return self._ready
            try:
                connect(self.url, attempts=1).close()
                self._ready = True
            except Exception:  # noqa: BLE001 - any failure means "not ready"
                self._ready = False
            self._ready_at = time.monotonic()
            return self._ready

    def close(self) -> None:
        for publisher in self._all:
            publisher.close()


# -- the application state -----------------------------------------------------------------------


@dataclass
class Ingest:
    """What the routes share; ``config`` is swapped whole when the provisioning is reloaded."""

    config: Config
    settings: IngestSettings = field(default_factory=IngestSettings)
    pool: PublisherPool | None = None

    def publisher_pool(self) -> PublisherPool:
        if self.pool is None:
            self.pool = PublisherPool(self.settings.publishers)
        return self.pool


def _encode(raw: dict[str, Any]) -> bytes:
    return json.dumps(raw, separators=(",", ":"), ensure_ascii=False).encode()


def prepare_events(items: list[Any], config: Config, contact_point: str | None = None) -> list[tuple[str, bytes]]:
    """Validate every event as the router will; (event id, body) each, or :class:`Refused` listing every problem."""
    if not items:
        raise Refused(422, "no events in the request", "invalid_event")
    if len(items) > MAX_EVENTS_PER_REQUEST:
        raise Refused(413, f"too many events in one request (at most {MAX_EVENTS_PER_REQUEST})", "too_large")
    prepared: list[tuple[str, bytes]] = []
    errors: list[dict[str, Any]] = []
    for index, raw in enumerate(items):
        if isinstance(raw, dict) and contact_point:
            raw = {**raw, "receiver": contact_point}
        body = _encode(raw)
        try:
            event = parse_event(body)
            if find_contact_point(config, event.receiver) is None:
                raise EventError(f"unknown contact point {event.receiver!r}")
        except EventError as exc:
            errors.append({"index": index, "error": str(exc), "reason": metrics.reject_reason(str(exc))})
            continue
        prepared.append((event.id or "", body))
    if errors:
        first = errors[0]
        message = first["error"] if len(items) == 1 else f"{len(errors)} of {len(items)} event(s) refused; nothing was published"
        raise Refused(422, message, first["reason"], errors if len(items) > 1 else [])
    return prepared


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or :class:`Refused` (413) as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Refused(413, f"request body larger than {limit} bytes", "too_large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"request body larger than {limit} bytes", "too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def decode(body: bytes, allow_list: bool) -> list[Any]:
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Refused(400, f"malformed JSON: {exc}", "malformed_json") from None
    if isinstance(parsed, list) and allow_list:
        return parsed
    if not isinstance(parsed, dict):
        expected = "a JSON object or an array of them" if allow_list else "a JSON object"
        raise Refused(400, f"the body must be {expected}, got {type(parsed).__name__}", "not_an_object")
    return [parsed]


# -- the HTTP application ------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="ALERTRELAY_INGEST_TOKEN (when set)")


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else ({"Retry-After": "5"} if status == 503 else None)
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


EXAMPLES: dict[str, Any] = {
    "alertmanager": {
        "receiver": "ops-team", "status": "firing", "version": "4", "groupKey": '{}:{alertname="HighCPU"}',
        "externalURL": "http://alertmanager:9093", "groupLabels": {"alertname": "HighCPU"},
        "commonLabels": {"alertname": "HighCPU"}, "commonAnnotations": {}, "truncatedAlerts": 0,
        "alerts": [{"status": "firing", "labels": {"alertname": "HighCPU", "instance": "web-1"},
                    "annotations": {"summary": "CPU at 97%"}, "startsAt": "2024-05-01T10:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus:9090/graph",
                    "fingerprint": "1e0a6b7c2f4d5e6a"}],
    },
    "event": {
        "receiver": "ops-team", "externalURL": "https://grafana.example.com/",
        "alerts": [{"labels": {"alertname": "HighCPU", "instance": "web-1"}, "annotations": {"summary": "CPU at 97%"},
                    "startsAt": "2024-05-01T10:00:00Z"}],
    },
}


def _body_spec(description: str, example: Any, allow_list: bool = False) -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/AlertEvent"}
    schema = {"oneOf": [ref, {"type": "array", "items": ref}]} if allow_list else ref
    return {"requestBody": {"required": True, "description": description,
                            "content": {"application/json": {"schema": schema, "example": example}}}}


RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"description": "Published; RabbitMQ confirmed every event."},
    400: {"description": "Not JSON, or not the JSON shape expected."},
    401: {"description": "Missing or wrong bearer token."},
    413: {"description": "Body larger than ALERTRELAY_INGEST_MAX_BYTES, or too many events."},
    422: {"description": "An event failed validation or names an unknown contact point; nothing was published."},
    503: {"description": "RabbitMQ did not confirm: retry later (Retry-After is set)."},
}


def create_app(state: Ingest) -> FastAPI:
    """The ingest's ASGI application over ``state`` (config, settings, publishers)."""
    app = FastAPI(
        title="alertrelay ingest",
        version=_version(),
        description="Publishes alert events into RabbitMQ for alertrelay. Every accepted request was confirmed by the broker.",
    )
    app.state.ingest = state

    def authorize(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:
        tokens = state.settings.tokens
        if not tokens:
            return
        given = credentials.credentials.encode() if credentials is not None else b""
        if not any(hmac.compare_digest(given, token.encode()) for token in tokens):
            raise Refused(401, "missing or invalid bearer token", "unauthorized")

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> JSONResponse:
        source = request.scope.get("alertrelay_source")
        if source and exc.reason != "unauthorized":
            metrics.ingest().events_rejected.labels(source, exc.reason).inc()
        log.warning("refused %s %s: %d %s", request.method, request.url.path, exc.status, exc.message)
        return _error(exc.status, exc.message, **({"errors": exc.errors} if exc.errors else {}))

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        route = request.scope.get("route")
        endpoint = getattr(route, "path", None) or "other"
        metrics.ingest().requests.labels(endpoint, str(response.status_code)).inc()
        return response

    async def accept(request: Request, source: str, allow_list: bool, contact_point: str | None) -> JSONResponse:
        request.scope["alertrelay_source"] = source
        body = await read_body(request, state.settings.max_body_bytes)
        items = decode(body, allow_list)
        metrics.ingest().events_received.labels(source).inc(len(items))
        prepared = prepare_events(items, state.config, contact_point)
        started = time.monotonic()
        try:
            await run_in_threadpool(state.publisher_pool().publish, prepared, source)
        except Exception as exc:  # noqa: BLE001 - whatever the broker trouble, the sender must retry
            metrics.ingest().publish_failures.labels(source).inc()
            log.error("could not publish %d event(s) from %s: %s", len(prepared), source, exc)
            return _error(503, "RabbitMQ did not confirm the event(s); try again later")
        metrics.ingest().publish_duration.observe(time.monotonic() - started)
        metrics.ingest().events_published.labels(source).inc(len(prepared))
        for event_id, _ in prepared:
            with logs.bound(event_id=event_id):
                log.info("published event %s from %s", event_id, source)
        return JSONResponse({"status": "accepted", "events": [event_id for event_id, _ in prepared]}, status_code=202)

    contact_point_query = Query(None, description="Contact point to use instead of the payload's receiver.")

    @app.post("/webhook/alertmanager", status_code=202, responses=RESPONSES, dependencies=[Depends(authorize)],
              openapi_extra=_body_spec("Prometheus Alertmanager's webhook payload (version 4).", EXAMPLES["alertmanager"]))
    async def alertmanager_webhook(request: Request, contact_point: str | None = contact_point_query) -> JSONResponse:
        """Alertmanager `webhook_configs` receiver: one notification per request."""
        return await accept(request, "alertmanager", False, contact_point)

    @app.post("/webhook/grafana", status_code=202, responses=RESPONSES, dependencies=[Depends(authorize)],
              openapi_extra=_body_spec("The payload Grafana's webhook contact point sends (version 1).", EXAMPLES["event"]))
    async def grafana_webhook(request: Request, contact_point: str | None = contact_point_query) -> JSONResponse:
        """Grafana webhook contact point: one notification per request."""
        return await accept(request, "grafana", False, contact_point)

    @app.post("/api/v1/events", status_code=202, responses=RESPONSES, dependencies=[Depends(authorize)],
              openapi_extra=_body_spec("One event, or a JSON array of events, in any accepted shape.", EXAMPLES["event"], True))
    async def events(request: Request) -> JSONResponse:
        """alertrelay events: all are validated first; either all are published or none."""
        return await accept(request, "api", True, None)

    @app.get("/api/v1/status", dependencies=[Depends(authorize)],
             responses={503: {"description": "Delivery status is off (no ALERTRELAY_REDIS_URL) or Redis is unreachable."}})
    async def delivery_status() -> JSONResponse:
        """Last delivery attempt, its duration and error, and counts, per contact point and integration."""
        from workers import status

        def read() -> list[dict[str, Any]]:
            return status.report(status.open_store().read(), state.config)

        try:
            return JSONResponse(await run_in_threadpool(read))
        except status.StatusUnavailable as exc:
            return _error(503, str(exc))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"description": "RabbitMQ is not reachable."}})
    async def readyz() -> JSONResponse:
        """Ready when RabbitMQ accepts connections (checked at most every 2 s)."""
        if await run_in_threadpool(state.publisher_pool().reachable):
            return JSONResponse({"status": "ready"})
        return _error(503, "RabbitMQ is not reachable")

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus_metrics() -> Response:
        """Prometheus metrics of this ingest process."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _version() -> str:
    from alertrelay import __version__

    return __version__


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's description plus the event schema the request bodies refer to."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    event_schema = AlertEvent.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(event_schema.pop("$defs", {}))
    components["AlertEvent"] = event_schema
    app.openapi_schema = schema
    return schema


def _exit_cleanly(_signum: int, _frame: Any) -> None:
    raise SystemExit(0)


def serve(config: Config, host: str, port: int, settings: IngestSettings | None = None) -> None:
    """Run the ingest until SIGTERM/SIGINT (in-flight requests finish), reloading config as it changes."""
    import uvicorn

    from alertrelay import reload

    state = Ingest(config=config, settings=settings or IngestSettings.from_env())
    if not state.settings.tokens:
        log.warning("ingest accepts requests without a token: set ALERTRELAY_INGEST_TOKEN to require one")
    watcher = reload.watch("ingest", lambda new: setattr(state, "config", new), current=config)
    app = create_app(state)
    log.info("ingest listening on http://%s:%d (OpenAPI at /docs)", host, port)
    # uvicorn finishes in-flight requests on SIGTERM/SIGINT, then raises the signal again
    # for the previous handler: make that a clean exit (0), like the router and workers.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_cleanly)
    try:
        uvicorn.run(app, host=host, port=port, log_config=None, proxy_headers=False, timeout_graceful_shutdown=30)
    finally:
        if watcher is not None:
            watcher.stop()
        if state.pool is not None:
            state.pool.close()
